# Multiple imputation by R's mice and pooling by Rubin's rules, on the frozen case written
# by make_imputation_case.py. Run from this folder: Rscript reference.R
# Writes: imputed_values.csv (every imputed cell of the M imputations, so that our pooling
# can be checked on exactly mice's completed datasets), pooled_cox.csv and
# pooled_logistic.csv (mice::pool of coxph and glm fits to them), pooled_cox_m50.csv
# (a separate run with m = 50, for the whole procedure within Monte Carlo error), and
# sessionInfo.txt.
suppressPackageStartupMessages({library(mice); library(survival)})
d <- read.csv("mi_data.csv", stringsAsFactors = FALSE, na.strings = c("", "NA"))
radix <- function(x) factor(x, levels = sort(unique(x[!is.na(x)]), method = "radix"))
d$ethnic_group <- radix(d$ethnic_group)
d$age_band <- radix(d$age_band)
d$disability <- factor(d$disability, levels = c(0, 1))
imputed <- c("disability", "ethnic_group", "idaci_decile")
meth <- make.method(d)
meth[imputed] <- c("logreg", "polyreg", "pmm")
pred <- make.predictorMatrix(d)
pred[, "days_followed"] <- 0  # White & Royston: the event and H(T), not T
cox_f <- function() coxph(Surv(days_followed, reentered) ~ as.numeric(as.character(disability)) +
  ethnic_group + idaci_decile + section20 + prior_periods + age_band, ties = "efron")
run <- function(m, seed) mice(d, m = m, maxit = 10, method = meth, predictorMatrix = pred,
                              seed = seed, printFlag = FALSE)
tab <- function(p) {
  x <- p$pooled
  data.frame(term = as.character(x$term), estimate = x$estimate, ubar = x$ubar, b = x$b,
             t = x$t, dfcom = x$dfcom, df = x$df, riv = x$riv, lambda = x$lambda, fmi = x$fmi)
}
imp <- run(10, 2024)
long <- do.call(rbind, lapply(imputed, function(v) {
  x <- imp$imp[[v]]
  do.call(rbind, lapply(seq_len(ncol(x)), function(j)
    data.frame(column = v, row = as.integer(rownames(x)) - 1L, imputation = j - 1L,
               value = as.character(x[[j]]))))
}))
write.csv(long, "imputed_values.csv", row.names = FALSE)
fit_cox <- with(imp, coxph(Surv(days_followed, reentered) ~ as.numeric(as.character(disability)) +
  ethnic_group + idaci_decile + section20 + prior_periods + age_band, ties = "efron"))
write.csv(tab(pool(fit_cox)), "pooled_cox.csv", row.names = FALSE)
fit_glm <- with(imp, glm(I(as.numeric(reentered == 1 & days_followed <= 365)) ~
  as.numeric(as.character(disability)) + ethnic_group + idaci_decile + section20 +
  prior_periods + age_band, family = binomial,
  subset = (reentered == 1 & days_followed <= 365) | days_followed >= 365))
write.csv(tab(pool(fit_glm)), "pooled_logistic.csv", row.names = FALSE)
imp50 <- run(50, 77)
fit50 <- with(imp50, coxph(Surv(days_followed, reentered) ~ as.numeric(as.character(disability)) +
  ethnic_group + idaci_decile + section20 + prior_periods + age_band, ties = "efron"))
write.csv(tab(pool(fit50)), "pooled_cox_m50.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "sessionInfo.txt")
print(tab(pool(fit_cox)), digits = 6)
