# Reference values for fine_gray(..., cluster=): the cluster-robust variance of the
# Fine-Gray fit, which cmprsk::crr does not offer. R's way: expand the data with
# finegray() and fit coxph with cluster(id) (Breslow ties, as crr), which treats the
# censoring weights as known. Run from the repository root:
#   Rscript tests/reference/survival/finegray_cluster.R
# Writes finegray_cluster.json and finegray_cluster_sessionInfo.txt beside this script.
suppressMessages({library(survival); library(jsonlite)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
here <- "tests/reference/survival"
sp <- read.csv(file.path(here, "synthetic_spells.csv"))
sp$ev <- factor(sp$event_type, 0:2, labels = c("censor", "reentry", "other"))
fg <- finegray(Surv(days_followed, ev) ~ ., etype = "reentry",
               data = sp[, c("days_followed", "ev", "CHILD", "LA", "section20",
                             "prior_periods", "disability")])
fit_one <- function(cl) {
  f <- as.formula(paste("Surv(fgstart, fgstop, fgstatus) ~ section20 + prior_periods +",
                        "disability + cluster(", cl, ")"))
  m <- coxph(f, weights = fgwt, data = fg, ties = "breslow")
  list(coef = unname(coef(m)), se = unname(sqrt(diag(vcov(m)))),
       se_model = unname(sqrt(diag(m$naive.var))))
}
write_json(list(child = fit_one("CHILD"), la = fit_one("LA")),
           file.path(here, "finegray_cluster.json"), digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
writeLines(capture.output(sessionInfo()), file.path(here, "finegray_cluster_sessionInfo.txt"))
