# Reference values for reunistat.models.comparison, computed independently in R.
#
# Reads case.csv (written by make_case.py); writes by_la.csv, grid.csv, scalars.csv and
# sessionInfo.txt. Funnel limits and over-dispersion are coded here by hand from
# Spiegelhalter (2005, Statist. Med. 24:1185, Appendix A.1.1; Qual Saf Health Care
# 14:347); expected counts come from survival::coxph (predict type = "expected") and
# glm; shrunken estimates from lme4::glmer (ranef with condVar).
# Run from this folder: Rscript reference.R
suppressPackageStartupMessages({
  library(survival)
  library(lme4)
})

d <- read.csv("case.csv", stringsAsFactors = FALSE)
d$age_band <- factor(d$age_band, levels = c("1-4", "10-15", "5-9"))
las <- sort(unique(d$LA))
H <- 365

# --- indirect standardisation: Cox (Efron and Breslow) -------------------------
by_la <- data.frame(LA = las)
for (ties in c("efron", "breslow")) {
  fit <- coxph(Surv(days_followed, reentered) ~ section20 + prior_periods + age_band,
               data = d, ties = ties)
  e <- predict(fit, type = "expected")
  by_la[[paste0("cox_expected_", ties)]] <- as.numeric(tapply(e, d$LA, sum)[las])
}
by_la$cox_observed <- as.numeric(tapply(d$reentered, d$LA, sum)[las])
by_la$n_spells <- as.numeric(table(d$LA)[las])

# --- logistic: re-entry within H among returns whose potential follow-up reaches H ---
el <- d$days_potential_followup >= H
pos <- d$reentered == 1 & d$days_followed <= H
known <- el & (pos | d$days_followed >= H)
dl <- d[known, ]
dl$y <- as.integer(pos[known])
lfit <- glm(y ~ section20 + prior_periods + age_band, family = binomial, data = dl)
by_la$logit_expected <- as.numeric(tapply(fitted(lfit), dl$LA, sum)[las])
by_la$logit_observed <- as.numeric(tapply(dl$y, dl$LA, sum)[las])
by_la$logit_n <- as.numeric(table(dl$LA)[las])

# --- exact Poisson CI of O/E (Cox, Efron) --------------------------------------
O <- by_la$cox_observed
E <- by_la$cox_expected_efron
ci <- t(sapply(seq_along(O), function(i) poisson.test(O[i], E[i])$conf.int))
by_la$ratio_conf_low <- ci[, 1]
by_la$ratio_conf_high <- ci[, 2]

# --- funnel limits by hand -----------------------------------------------------
interp_q <- function(p, qf, pf) {  # Spiegelhalter A.1.1
  r <- qf(p)
  a <- (pf(r) - p) / (pf(r) - pf(r - 1))
  r - a
}
pois_lim <- function(E, level) {
  lo <- interp_q((1 - level) / 2, function(p) qpois(p, E), function(x) ppois(x, E)) / E
  hi <- interp_q((1 + level) / 2, function(p) qpois(p, E), function(x) ppois(x, E)) / E
  cbind(pmax(lo, 0), hi)
}
binom_lim <- function(n, p0, level) {
  lo <- interp_q((1 - level) / 2, function(p) qbinom(p, n, p0), function(x) pbinom(x, n, p0)) / n
  hi <- interp_q((1 + level) / 2, function(p) qbinom(p, n, p0), function(x) pbinom(x, n, p0)) / n
  cbind(pmax(lo, 0), hi)
}
winsor_od <- function(z, s) {  # phi and DerSimonian-Laird tau2 on winsorised z-scores
  q <- quantile(z, c(0.1, 0.9), type = 7)
  zw <- pmin(pmax(z, q[1]), q[2])
  I <- length(z)
  phi <- sum(zw^2) / I
  w <- 1 / s^2
  tau2 <- max(0, (I * phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
  c(phi = phi, tau2 = tau2, wlo = unname(q[1]), whi = unname(q[2]))
}

# ratios (Cox, Efron expected): square-root scale
z_r <- 2 * (sqrt(O) - sqrt(E))
s_r <- 1 / (2 * sqrt(E))
od_r <- winsor_od(z_r, s_r)
by_la$ratio_z <- z_r
# proportions (logistic outcome): natural scale around the pooled proportion
n_p <- by_la$logit_n
O_p <- by_la$logit_observed
p0 <- sum(O_p) / sum(n_p)
s_p <- sqrt(p0 * (1 - p0) / n_p)
z_p <- (O_p / n_p - p0) / s_p
od_p <- winsor_od(z_p, s_p)
by_la$prop_z <- z_p

for (level in c(0.95, 0.998)) {
  tag <- format(100 * level)
  zq <- qnorm((1 + level) / 2)
  l <- pois_lim(E, level)
  by_la[[paste0("ratio_lower_none_", tag)]] <- l[, 1]
  by_la[[paste0("ratio_upper_none_", tag)]] <- l[, 2]
  m <- zq * sqrt(max(od_r["phi"], 1)) * s_r
  by_la[[paste0("ratio_lower_multiplicative_", tag)]] <- pmax(1 - m, 0)^2
  by_la[[paste0("ratio_upper_multiplicative_", tag)]] <- (1 + m)^2
  a <- zq * sqrt(s_r^2 + od_r["tau2"])
  by_la[[paste0("ratio_lower_additive_", tag)]] <- pmax(1 - a, 0)^2
  by_la[[paste0("ratio_upper_additive_", tag)]] <- (1 + a)^2
  l <- binom_lim(n_p, p0, level)
  by_la[[paste0("prop_lower_none_", tag)]] <- l[, 1]
  by_la[[paste0("prop_upper_none_", tag)]] <- l[, 2]
  m <- zq * sqrt(max(od_p["phi"], 1)) * s_p
  by_la[[paste0("prop_lower_multiplicative_", tag)]] <- pmax(p0 - m, 0)
  by_la[[paste0("prop_upper_multiplicative_", tag)]] <- pmin(p0 + m, 1)
  a <- zq * sqrt(s_p^2 + od_p["tau2"])
  by_la[[paste0("prop_lower_additive_", tag)]] <- pmax(p0 - a, 0)
  by_la[[paste0("prop_upper_additive_", tag)]] <- pmin(p0 + a, 1)
}

# --- shrunken estimates: random intercept by LA (Laplace) -----------------------
mfit <- glmer(y ~ section20 + prior_periods + age_band + (1 | LA), family = binomial,
              data = dl, nAGQ = 1, control = glmerControl(optimizer = "bobyqa",
              optCtrl = list(maxfun = 1e5)))
re <- ranef(mfit, condVar = TRUE)$LA
by_la$shrunk_log_or <- re[las, "(Intercept)"]
by_la$shrunk_sd <- sqrt(as.numeric(attr(re, "postVar")[1, 1, ]))[match(las, rownames(re))]
write.csv(by_la, "by_la.csv", row.names = FALSE)

# --- limits on a grid of precisions (target 1 for ratios, 0.23 for proportions) --
grid <- data.frame(precision = c(1, 2.5, 5, 10, 20, 50, 100, 500, 2000))
gp <- data.frame(precision = c(5, 10, 20, 50, 100, 1000, 5000))
for (level in c(0.95, 0.998)) {
  tag <- format(100 * level)
  l <- pois_lim(grid$precision, level)
  grid[[paste0("lower_", tag)]] <- l[, 1]
  grid[[paste0("upper_", tag)]] <- l[, 2]
  l <- binom_lim(gp$precision, 0.23, level)
  gp[[paste0("lower_", tag)]] <- l[, 1]
  gp[[paste0("upper_", tag)]] <- l[, 2]
}
grid$kind <- "ratio"
gp$kind <- "proportion"
write.csv(rbind(grid, gp), "grid.csv", row.names = FALSE)

scalars <- data.frame(
  name = c("ratio_phi", "ratio_tau2", "ratio_winsor_low", "ratio_winsor_high",
           "prop_phi", "prop_tau2", "prop_winsor_low", "prop_winsor_high", "prop_target",
           "glmer_sigma2"),
  value = c(od_r, od_p, p0, as.numeric(VarCorr(mfit)$LA))
)
write.csv(scalars, "scalars.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "sessionInfo.txt")
