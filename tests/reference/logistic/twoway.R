# Reference values for logistic(..., cluster=(a, b)): two-way cluster-robust variance,
# R's sandwich::vcovCL(fit, cluster = ~ a + b, multi0 = FALSE) with its default glm
# adjustment (type HC0, cadjust: G/(G-1) for each clustering and their intersection).
# Nested (children within authorities: equals clustering by LA) and crossed (LA x age band).
# Run from the repository root:  Rscript tests/reference/logistic/twoway.R
# Also logistic(..., weights=) against glm(weights = ) with vcovCL and vcovHC (weighted.csv).
# Writes twoway.csv, weighted.csv and twoway_sessionInfo.txt beside this script.
suppressPackageStartupMessages(library(sandwich))
here <- "tests/reference/logistic"
d <- read.csv(file.path(here, "sample.csv"), stringsAsFactors = FALSE)
pos <- d$reentered == 1 & d$days_followed <= 365
known <- pos | d$days_followed >= 365
d <- d[known, ]
d$y <- as.integer(pos[known])
fit <- glm(y ~ section20 + prior_periods + placement_moves, family = binomial, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 100))
nested <- vcovCL(fit, cluster = ~ LA + CHILD, multi0 = FALSE)
crossed <- vcovCL(fit, cluster = ~ LA + age_band, multi0 = FALSE)
write.csv(data.frame(term = names(coef(fit)), estimate = unname(coef(fit)),
                     se_nested = sqrt(diag(nested)), se_crossed = sqrt(diag(crossed))),
          file.path(here, "twoway.csv"), row.names = FALSE)

# logistic(..., weights=): case weights (a deterministic rule of the data), model-based
# and cluster-robust variance by LA
d$w <- 0.5 + 0.5 * (d$prior_periods %% 3)
fw <- suppressWarnings(glm(y ~ section20 + prior_periods + placement_moves, family = binomial,
                           data = d, weights = w,
                           control = glm.control(epsilon = 1e-14, maxit = 100)))
write.csv(data.frame(term = names(coef(fw)), estimate = unname(coef(fw)),
                     se_model = sqrt(diag(vcov(fw))),
                     se_cluster_LA = sqrt(diag(vcovCL(fw, cluster = ~ LA))),
                     se_HC1 = sqrt(diag(vcovHC(fw, type = "HC1")))),
          file.path(here, "weighted.csv"), row.names = FALSE)
writeLines(capture.output(sessionInfo()), file.path(here, "twoway_sessionInfo.txt"))
