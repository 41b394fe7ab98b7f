# Reference values for reunistat.models.logistic, frozen for CI (R is not in CI).
# Run from the repository root:  Rscript tests/reference/logistic/reference.R
# Reads sample.csv (written by make_sample.py); writes coefficients.csv,
# scalars.csv and sessionInfo.txt beside this script.
suppressPackageStartupMessages({
  library(sandwich)
  library(geepack)
  library(lme4)
  library(splines)
})
here <- "tests/reference/logistic"
d <- read.csv(file.path(here, "sample.csv"), stringsAsFactors = FALSE)

# Outcome: re-entry within H days; spells censored before H without re-entry excluded.
horizon <- function(d, H) {
  pos <- d$reentered == 1 & d$days_followed <= H
  known <- pos | d$days_followed >= H
  out <- d[known, ]
  out$y <- as.integer(pos[known])
  attr(out, "excluded") <- sum(!known)
  out
}
d365 <- horizon(d, 365)
d180 <- horizon(d, 180)

ctl <- glm.control(epsilon = 1e-14, maxit = 100)
f1 <- y ~ section20 + prior_periods + placement_moves + log_years_in_care + age_band +
  return_type + last_placement_type
f2 <- y ~ section20 * return_type + bs(age_at_return_years, df = 4) + log(period_length_days)

coefs <- list()
scal <- list()
add_glm <- function(name, fit, data) {
  b <- coef(fit)
  se <- function(v) sqrt(diag(v))
  coefs[[name]] <<- data.frame(
    model = name, term = names(b), estimate = unname(b),
    se_model = se(vcov(fit)),
    se_HC0 = se(vcovHC(fit, type = "HC0")),
    se_HC1 = se(vcovHC(fit, type = "HC1")),
    se_cluster_LA = se(vcovCL(fit, cluster = ~LA)),
    se_cluster_CHILD = se(vcovCL(fit, cluster = ~CHILD)),
    row.names = NULL
  )
  scal[[name]] <<- data.frame(
    model = name,
    name = c("log_likelihood", "deviance", "null_deviance", "aic", "n_obs", "n_events", "n_excluded"),
    value = c(as.numeric(logLik(fit)), deviance(fit), fit$null.deviance, AIC(fit), nobs(fit),
              sum(data$y), attr(data, "excluded"))
  )
}
g1 <- glm(f1, family = binomial, data = d365, control = ctl)
add_glm("glm_main", g1, d365)
g2 <- glm(f2, family = binomial, data = d365, control = ctl)
add_glm("glm_spline_interaction", g2, d365)
g3 <- glm(f1, family = binomial, data = d180, control = ctl)
add_glm("glm_main_h180", g3, d180)

# GEE, exchangeable within LA, scale fixed at 1 (as statsmodels for binomial).
ds <- d365[order(d365$LA), ]
ds$LAid <- as.integer(factor(ds$LA))
for (sf in c(TRUE, FALSE)) {
  name <- if (sf) "gee_scalefix" else "gee"
  ge <- geeglm(f1, family = binomial, data = ds, id = LAid, corstr = "exchangeable",
               scale.fix = sf, control = geese.control(epsilon = 1e-12, maxit = 200))
  sg <- summary(ge)
  coefs[[name]] <- data.frame(model = name, term = rownames(sg$coefficients),
                              estimate = sg$coefficients[, "Estimate"],
                              se_robust = sg$coefficients[, "Std.err"], row.names = NULL)
  scal[[name]] <- data.frame(model = name, name = "alpha", value = unname(ge$geese$alpha))
}

# Random-intercept logistic, Laplace (nAGQ = 1) and adaptive quadrature (nAGQ = 10).
fm <- update(f1, . ~ . + (1 | LA))
for (q in c(1, 10)) {
  name <- paste0("glmer_nagq", q)
  m <- glmer(fm, family = binomial, data = d365, nAGQ = q,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  coefs[[name]] <- data.frame(model = name, term = names(fixef(m)), estimate = unname(fixef(m)),
                              se_model = sqrt(diag(as.matrix(vcov(m)))), row.names = NULL)
  s2 <- as.numeric(VarCorr(m)$LA)
  scal[[name]] <- data.frame(
    model = name, name = c("sigma2_la", "log_likelihood", "mor"),
    value = c(s2, as.numeric(logLik(m)), exp(sqrt(2 * s2) * qnorm(0.75)))
  )
}

bind <- function(lst) {
  cols <- unique(unlist(lapply(lst, names)))
  do.call(rbind, lapply(unname(lst), function(x) {
    for (c in setdiff(cols, names(x))) x[[c]] <- NA
    x[cols]
  }))
}
write.csv(bind(coefs), file.path(here, "coefficients.csv"), row.names = FALSE)
write.csv(do.call(rbind, unname(scal)), file.path(here, "scalars.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
