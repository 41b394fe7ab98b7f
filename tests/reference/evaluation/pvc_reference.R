# CR2 and Satterthwaite df of the logistic pilot-versus-comparison model, by clubSandwich,
# on pvc_design.csv (written by make_pvc_case.py).
# Run from this folder: Rscript pvc_reference.R  (writes pvc_cr2.csv, pvc_sessionInfo.txt)
# "working": clubSandwich on the glm's working (IRLS) lm at convergence, Z = sqrt(w) X with
# Pearson residuals: what reunistat computes. "glm": clubSandwich's own glm method.
suppressPackageStartupMessages(library(clubSandwich))
d <- read.csv("pvc_design.csv", colClasses = c(LA = "character"))
fit <- glm(y ~ treated + factor(return_year), family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
mu <- fitted(fit)
sw <- sqrt(mu * (1 - mu))
Z <- sw * model.matrix(fit)
ystar <- drop(Z %*% coef(fit)) + (d$y - mu) / sw
work <- lm(ystar ~ 0 + Z)
out <- list()
for (what in c("working", "glm")) {
  obj <- if (what == "working") work else fit
  V <- vcovCR(obj, cluster = d$LA, type = "CR2")
  ct <- coef_test(obj, vcov = V, test = "Satterthwaite")
  out[[what]] <- data.frame(method = what, term = names(coef(fit)), estimate = ct$beta,
                            std_error = ct$SE, df = ct$df_Satt, p_value = ct$p_Satt)
}
res <- do.call(rbind, out)
write.csv(res, "pvc_cr2.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "pvc_sessionInfo.txt")
print(res, digits = 10)
