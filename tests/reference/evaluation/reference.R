# CR2 variance and Satterthwaite degrees of freedom for the evaluation designs, by R's
# clubSandwich, on the frozen case written by make_evaluation_case.py.
# Run from this folder: Rscript reference.R  (writes cr2.csv, cr2_vcov.csv, sessionInfo.txt)
suppressPackageStartupMessages(library(clubSandwich))
d <- read.csv("design.csv")
d$LA <- factor(d$LA)
d$return_year <- factor(d$return_year)
ks <- setdiff(-5:4, -1)
rel_name <- function(k) paste0("rel_", ifelse(k < 0, paste0("m", -k), k))
for (k in ks) d[[rel_name(k)]] <- as.numeric(!is.na(d$rel) & d$rel == k)
rel_terms <- rel_name(ks)
fits <- list(
  did = lm(y ~ treated + LA + return_year, data = d),
  event_study = lm(reformulate(c(rel_terms, "LA", "return_year"), "y"), data = d)
)
out <- list()
vc_out <- list()
for (name in names(fits)) {
  fit <- fits[[name]]
  keep <- if (name == "did") "treated" else rel_terms
  for (type in c("CR2", "CR1S")) {
    V <- vcovCR(fit, cluster = d$LA, type = type)
    ct <- coef_test(fit, vcov = V, test = "Satterthwaite", coefs = keep)
    out[[paste(name, type)]] <- data.frame(
      design = name, type = type, term = keep, estimate = ct$beta, std_error = ct$SE,
      df = ct$df_Satt, p_value = ct$p_Satt
    )
  }
  V2 <- as.matrix(vcovCR(fit, cluster = d$LA, type = "CR2"))[keep, keep, drop = FALSE]
  vc_out[[name]] <- data.frame(design = name, row = rep(keep, length(keep)),
                               col = rep(keep, each = length(keep)), value = as.vector(V2))
}
res <- do.call(rbind, out)
write.csv(res, "cr2.csv", row.names = FALSE)
write.csv(do.call(rbind, vc_out), "cr2_vcov.csv", row.names = FALSE)
writeLines(capture.output(sessionInfo()), "sessionInfo.txt")
print(res, digits = 10)
