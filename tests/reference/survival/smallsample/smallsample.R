# Reference values for the Cox small-sample cluster variance (CR2 / CR3 with
# Satterthwaite df, reunistat.models.survival.smallsample). Frozen for CI (no R).
# Run from the repository root with R survival 3.8-11:
#   Rscript tests/reference/survival/smallsample/smallsample.R
# Reads clustered.csv (14 clusters, seeded; see the README) and writes smallsample.json
# and sessionInfo.txt beside this script.
#
# Built independently of the Python code from R's own pieces: the coefficients,
# model variance and cluster scores of coxph (residuals(type = "score") summed by
# cluster, checked to reproduce coxph's robust variance), each cluster's share of
# the information by a plain loop over the risk sets, and the score-space CR2 with
# the Bell-McCaffrey df written with the full G x G matrix Omega. The same score-space
# formulas applied to a linear model are checked against clubSandwich (vcovCR CR2 and
# coef_test Satterthwaite), and those values are frozen too.
suppressMessages({
  library(survival, lib.loc = "/work/rlib/survival-3.8-11"); library(jsonlite)
  library(clubSandwich)
})
here <- "tests/reference/survival/smallsample"
d <- read.csv(file.path(here, "clustered.csv"))

mpow <- function(m, pow, tol = 1e-12) {
  e <- eigen((m + t(m)) / 2, symmetric = TRUE)
  v <- e$values
  s <- ifelse(v > tol, abs(v)^pow, 0)
  e$vectors %*% (s * t(e$vectors))
}

# each cluster's share of the information: sum over rows at risk of w r (x - xbar)(x - xbar)' dLambda
shares <- function(X, time, status, strata, w, g, b) {
  r <- exp(drop(X %*% b))
  lv <- sort(unique(g)); p <- ncol(X)
  out <- array(0, c(length(lv), p, p))
  for (s in unique(strata)) {
    ii <- which(strata == s)
    for (t in sort(unique(time[ii][status[ii] == 1]))) {
      R <- ii[time[ii] >= t]
      D <- ii[time[ii] == t & status[ii] == 1]
      s0 <- sum(w[R] * r[R])
      xbar <- colSums(w[R] * r[R] * X[R, , drop = FALSE]) / s0
      dl <- sum(w[D]) / s0
      for (i in R) {
        e <- X[i, ] - xbar
        k <- match(g[i], lv)
        out[k, , ] <- out[k, , ] + w[i] * r[i] * dl * outer(e, e)
      }
    }
  }
  out
}

# score-space CR2 / CR3 and Bell-McCaffrey df (Omega formed in full)
score_cr <- function(U, S, V) {
  G <- nrow(U); p <- ncol(U)
  Vh <- mpow(V, 0.5)
  A2 <- A3 <- B <- vector("list", G)
  for (k in 1:G) {
    B[[k]] <- Vh %*% S[k, , ] %*% Vh
    gap <- diag(p) - B[[k]]
    A2[[k]] <- mpow(gap, -0.5); A3[[k]] <- mpow(gap, -1)
  }
  cov <- function(A) {
    D <- t(sapply(1:G, function(k) drop(Vh %*% A[[k]] %*% Vh %*% U[k, ])))
    if (p == 1) D <- t(D)
    crossprod(D)
  }
  df <- sapply(1:p, function(j) {
    s <- Vh[, j]
    ww <- sapply(1:G, function(k) drop(t(s) %*% A3[[k]] %*% B[[k]] %*% s))
    Y <- t(sapply(1:G, function(k) drop(A2[[k]] %*% B[[k]] %*% s)))
    Om <- diag(ww) - Y %*% t(Y)
    sum(diag(Om))^2 / sum(Om^2)
  })
  list(cov_cr2 = unname(cov(A2)), cov_cr3 = unname(cov(A3)), df = df)
}

cox_case <- function(tcol, ties, strata, weighted) {
  w <- if (weighted) d$wt else rep(1, nrow(d))
  f <- if (strata) {
    as.formula(paste0("Surv(", tcol, ", status) ~ x1 + x2 + pil + strata(s)"))
  } else {
    as.formula(paste0("Surv(", tcol, ", status) ~ x1 + x2 + pil"))
  }
  fit <- coxph(f, data = d, ties = ties, cluster = g, weights = w)
  V <- unname(fit$naive.var)
  U <- rowsum(residuals(fit, type = "score") * w, d$g, reorder = TRUE)
  stopifnot(max(abs(V %*% crossprod(U) %*% V - fit$var)) < 1e-10)
  X <- as.matrix(d[, c("x1", "x2", "pil")])
  st <- if (strata) d$s else rep(0, nrow(d))
  S <- shares(X, d[[tcol]], d$status, st, w, d$g, coef(fit))
  info <- apply(S, c(2, 3), sum)
  r <- score_cr(unname(U), S, V)
  list(time = tcol, ties = ties, strata = strata, weighted = weighted,
       coef = unname(coef(fit)), naive_var = V, robust_var = unname(fit$var),
       scores = unname(U), shares = lapply(1:nrow(U), function(k) S[k, , ]),
       info_gap = max(abs(info - solve(V))),
       cov_cr2 = r$cov_cr2, cov_cr3 = r$cov_cr3, df_cr2 = r$df)
}

res <- list(
  breslow_ties_strata = cox_case("time", "breslow", TRUE, FALSE),
  breslow_ties_weights = cox_case("time", "breslow", FALSE, TRUE),
  efron_untied_strata = cox_case("utime", "efron", TRUE, FALSE)
)

# the score-space formulas on a linear model equal clubSandwich's CR2 and Satterthwaite df
set.seed(1)
d$y <- 0.4 * d$x1 + 0.3 * d$pil + rnorm(14, sd = 0.5)[d$g + 1] + rnorm(nrow(d))
lm_fit <- lm(y ~ x1 + x2 + pil, data = d)
X <- model.matrix(lm_fit); e <- residuals(lm_fit)
Vl <- solve(crossprod(X))
Ul <- rowsum(X * e, d$g, reorder = TRUE)
Sl <- array(0, c(14, 4, 4))
for (k in 0:13) Sl[k + 1, , ] <- crossprod(X[d$g == k, , drop = FALSE])
rl <- score_cr(unname(Ul), Sl, Vl)
cs_cov <- unname(as.matrix(vcovCR(lm_fit, cluster = d$g, type = "CR2")))
cs_df <- coef_test(lm_fit, vcov = "CR2", cluster = d$g, test = "Satterthwaite")$df_Satt
stopifnot(max(abs(rl$cov_cr2 - cs_cov)) < 1e-10, max(abs(rl$df - cs_df)) < 1e-8)
res$lm_clubsandwich <- list(y = d$y, coef = unname(coef(lm_fit)), cov_cr2 = cs_cov, df = cs_df)

write_json(res, file.path(here, "smallsample.json"), digits = NA, auto_unbox = TRUE,
           matrix = "rowmajor")
writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
