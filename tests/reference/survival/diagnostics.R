# Reference values for Cox residuals and tests, weighted predictions (R's book5/book6),
# delayed-entry curves, the weighted log-rank family and baseline-hazard centring.
# Frozen for CI (which has no R). Run from the repository root with R survival 3.8-11:
#   Rscript tests/reference/survival/diagnostics.R
# Writes diagnostics.json and diagnostics_sessionInfo.txt beside this script.
suppressMessages({
  library(survival, lib.loc = "/work/rlib/survival-3.8-11"); library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
here <- "tests/reference/survival"
un <- function(x) unname(as.matrix(x))

# ---- R's book5 (Breslow) / book6 (Efron) weighted data and hand calculations ----
testw1 <- data.frame(time = c(1, 1, 2, 2, 2, 2, 3, 4, 5), status = c(1, 0, 1, 1, 1, 0, 0, 1, 0),
                     x = c(2, 0, 1, 1, 0, 1, 0, 1, 0), wt = c(1, 2, 3, 4, 3, 2, 1, 2, 1))
# The variance of the cumulative hazard at newx, exactly as tests/book5.R and book6.R
hand_breslow <- function(beta, newx) {
  r <- exp(beta)
  hazard <- c(1 / (r^2 + 11 * r + 7), 10 / (11 * r + 5), 2 / (2 * r + 1))
  xbar <- c((2 * r^2 + 11 * r) * hazard[1], 11 * r / (11 * r + 5), r * hazard[3])
  imat <- (4 * r^2 + 11 * r) * hazard[1] - xbar[1]^2 + 10 * (xbar[2] - xbar[2]^2) +
    2 * (xbar[3] - xbar[3]^2)
  var.g <- cumsum(hazard^2 / c(1, 10, 2))
  var.d <- cumsum((xbar - newx) * hazard)
  list(cumhaz = cumsum(hazard) * exp(beta * newx),
       varhaz = (var.g + var.d^2 / imat) * exp(2 * beta * newx))
}
hand_efron <- function(beta, newx) {
  r <- exp(beta)
  a <- 7 * r + 3; b <- 4 * r + 2
  hazard <- c(1 / (r^2 + 11 * r + 7), 10 / (3 * c(11 * r + 5, a * 2 / 3 + b, a / 3 + b)),
              2 / (2 * r + 1))
  riskmat <- matrix(c(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1,
                      0, 0, 2 / 3, 2 / 3, 2 / 3, 1, 1, 1, 1, 0, 0, 1 / 3, 1 / 3, 1 / 3, 1, 1, 1, 1,
                      0, 0, 0, 0, 0, 0, 0, 1, 1), ncol = 5)
  wtmat <- diag(c(r^2, 2, 3 * r, 4 * r, 3, 2 * r, 1, 2 * r, 1)) %*% riskmat
  x <- c(2, 0, 1, 1, 0, 1, 0, 1, 0)
  xbar <- colSums(x * wtmat) / colSums(wtmat)
  imat <- (4 * r^2 + 11 * r) * hazard[1] - xbar[1]^2 + 10 * mean(xbar[2:4] - xbar[2:4]^2) +
    2 * (xbar[5] - xbar[5]^2)
  var.g <- cumsum(hazard^2 * c(1, 3 / 10, 3 / 10, 3 / 10, 1 / 2))
  var.d <- cumsum((xbar - newx) * hazard)
  list(cumhaz = (cumsum(hazard) * exp(beta * newx))[c(1, 4, 5)],
       varhaz = ((var.g + var.d^2 / imat) * exp(2 * beta * newx))[c(1, 4, 5)])
}
book <- function(ties, hand) {
  fit <- coxph(Surv(time, status) ~ x, testw1, weights = wt, ties = ties)
  out <- list()
  for (nx in c(0.3, pi)) {
    s <- survfit(fit, list(x = nx), censor = FALSE)
    h <- hand(unname(coef(fit)), nx)
    out[[length(out) + 1]] <- list(newx = nx, time = s$time, surv = s$surv,
                                   std_err = s$std.err, hand_cumhaz = h$cumhaz,
                                   hand_varhaz = h$varhaz)
  }
  list(coef = unname(coef(fit)), var = unname(fit$var[1, 1]), predictions = out,
       martingale = unname(residuals(fit, "martingale")),
       score = unname(residuals(fit, "score")),
       schoenfeld = unname(residuals(fit, "schoenfeld")))
}
res <- list(book5_breslow = book("breslow", hand_breslow), book6_efron = book("efron", hand_efron))

# ---- residuals of every type, and the tests of glance() ----
# (collapse= takes the cluster column itself: collapse = TRUE fails for martingale
# residuals in survival 3.8-11, whose code then reads the function cluster())
resid_all <- function(fit, collapse = NULL) {
  types <- c("martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas")
  r <- lapply(types, function(ty) {
    if (is.null(collapse) || ty %in% c("schoenfeld", "scaledsch")) un(residuals(fit, type = ty))
    else un(residuals(fit, type = ty, collapse = collapse))
  })
  names(r) <- types
  r$schoenfeld_time <- as.numeric(rownames(as.matrix(residuals(fit, type = "schoenfeld"))))
  r$coef <- unname(coef(fit))
  r$score_test <- unname(fit$score)
  r$wald_test <- unname(fit$wald.test)
  r$loglik <- fit$loglik
  r$rscore <- if (is.null(fit$rscore)) NULL else unname(fit$rscore)
  r
}
rossi <- read.csv(file.path(here, "rossi.csv"))
fr <- Surv(week, arrest) ~ fin + age + prio
res$rossi_efron <- resid_all(coxph(fr, rossi))
res$rossi_breslow <- resid_all(coxph(fr, rossi, ties = "breslow"))

sp <- read.csv(file.path(here, "synthetic_spells.csv"))[1:600, ]
fs <- Surv(days_followed, reentered) ~ section20 + disability + prior_periods + strata(LA)
res$spells_strata_w_cluster <- resid_all(coxph(fs, sp, weights = weight, cluster = CHILD),
                                         collapse = sp$CHILD)
res$spells_strata_w_cluster_breslow <- resid_all(
  coxph(fs, sp, weights = weight, cluster = CHILD, ties = "breslow"), collapse = sp$CHILD)

cg <- read.csv(file.path(here, "cgd.csv"))
fc <- Surv(tstart, tstop, status) ~ treat + age + steroids
res$cgd_cluster <- resid_all(coxph(fc, cg, cluster = id), collapse = cg$id)
res$cgd_cluster$uncollapsed_score <- un(residuals(coxph(fc, cg, cluster = id), "score"))
res$cgd_pwp_breslow <- resid_all(coxph(update(fc, . ~ . + strata(enum)), cg, cluster = id,
                                         ties = "breslow"), collapse = cg$id)

write_json(res, file.path(here, "diagnostics.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE, matrix = "rowmajor")
writeLines(capture.output(sessionInfo()), file.path(here, "diagnostics_sessionInfo.txt"))

# ---- delayed entry (left truncation): KM and multi-state Aalen-Johansen ----
sp <- read.csv(file.path(here, "synthetic_spells.csv"))
# a third of the spells are seen only from day (CHILD mod 250) on (before their exit)
sp$entry <- ifelse(sp$CHILD %% 3 == 0, pmax(pmin(sp$CHILD %% 250, sp$days_followed - 1), 0), 0)
km_out <- function(s) {
  list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
       surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
       strata = if (is.null(s$strata)) NULL else rep(names(s$strata), s$strata))
}
sp$rid <- seq_len(nrow(sp))
aj_out <- function(a) {
  list(time = a$time, n_risk = un(a$n.risk)[, 1], pstate = un(a$pstate),
       std_err = un(a$std.err), lower = un(a$lower), upper = un(a$upper), states = a$states,
       strata = if (is.null(a$strata)) NULL else rep(names(a$strata), a$strata))
}
res2 <- list(
  km_entry = km_out(survfit(Surv(entry, days_followed, reentered) ~ 1, sp,
                            conf.type = "log-log")),
  # robust = FALSE: Greenwood's variance, as reunistat (R >= 3 defaults to the
  # infinitesimal jackknife when case weights are not whole numbers)
  km_entry_by_w = km_out(survfit(Surv(entry, days_followed, reentered) ~ section20, sp,
                                 weights = weight, conf.type = "log-log", robust = FALSE)),
  aj_entry = aj_out(survfit(Surv(entry, days_followed, factor(event_type, 0:2)) ~ 1, sp,
                            id = rid)),
  aj_entry_by_w = aj_out(survfit(Surv(entry, days_followed, factor(event_type, 0:2)) ~ section20,
                                 sp, id = rid, weights = weight))
)

# ---- the weighted log-rank family: survdiff(rho=), plain and stratified ----
sd <- function(f, rho) {
  s <- survdiff(f, sp, rho = rho)
  list(rho = rho, chisq = s$chisq, obs = rowSums(un(s$obs)), exp = rowSums(un(s$exp)))
}
res2$survdiff <- list(
  sd(Surv(days_followed, reentered) ~ age_band, 0),
  sd(Surv(days_followed, reentered) ~ age_band, 1),
  sd(Surv(days_followed, reentered) ~ age_band, 0.5),
  sd(Surv(days_followed, reentered) ~ section20 + strata(LA), 1),
  sd(Surv(days_followed, reentered) ~ age_band + strata(LA), 2)
)
write_json(res2, file.path(here, "diagnostics_curves.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE, matrix = "rowmajor")

# ---- baseline-hazard centring: R >= 3.2-9 (0 for -1/0/1 covariates), means, zero, profile ----
bh <- function(fit, newdata = NULL) {
  s <- if (is.null(newdata)) survfit(fit, censor = FALSE) else
    survfit(fit, newdata = newdata, censor = FALSE)
  list(time = s$time, cumhaz = un(s$cumhaz)[, 1],
       strata = if (is.null(s$strata)) NULL else rep(names(s$strata), s$strata))
}
centring <- function(f, data, w = rep(1, nrow(data))) {
  data$w_ <- w
  fit <- coxph(f, data, weights = w_, model = TRUE)
  old <- coxph(f, data, weights = w_, nocenter = NULL, model = TRUE)
  zero <- as.data.frame(as.list(setNames(rep(0, length(coef(fit))), names(coef(fit)))))
  list(means_r = unname(fit$means), means_old = unname(old$means),
       r = bh(fit), means = bh(old), zero = basehaz(fit, centered = FALSE)$hazard,
       zero_time = basehaz(fit, centered = FALSE)$time)
}
rossi <- read.csv(file.path(here, "rossi.csv"))
sp3 <- read.csv(file.path(here, "synthetic_spells.csv"))[1:800, ]
cg <- read.csv(file.path(here, "cgd.csv"))
res3 <- list(
  rossi = centring(Surv(week, arrest) ~ fin + age + prio, rossi),
  rossi_profile = bh(coxph(Surv(week, arrest) ~ fin + age + prio, rossi),
                     data.frame(fin = 1, age = 30, prio = 4)),
  spells_w = centring(Surv(days_followed, reentered) ~ section20 + disability + prior_periods,
                      sp3, w = sp3$weight),
  cgd = centring(Surv(tstart, tstop, status) ~ treat + age + steroids, cg)
)
write_json(res3, file.path(here, "diagnostics_baseline.json"), digits = NA, auto_unbox = TRUE,
           pretty = FALSE, matrix = "rowmajor")
