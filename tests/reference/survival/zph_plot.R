# Reference values for the smoothed scaled-Schoenfeld plot of cox.zph (plot.cox.zph).
# Frozen for CI (which has no R). Run from the repository root with R survival 3.8-11:
#   Rscript tests/reference/survival/zph_plot.R
# Writes zph_plot.json and zph_plot_sessionInfo.txt beside this script. The smoothed
# beta(t) and its band are what plot.cox.zph(plot = FALSE) returns (natural spline,
# df = 4, 40 points); x, y and var are the cox.zph object it smooths (x and y, one per
# event, kept for the first fit only).
suppressMessages({
  library(survival, lib.loc = "/work/rlib/survival-3.8-11"); library(jsonlite)
})
invisible(Sys.setlocale("LC_COLLATE", "C"))
here <- "tests/reference/survival"
un <- function(x) unname(as.matrix(x))
d <- read.csv(file.path(here, "synthetic_spells.csv"))
d$age_band <- factor(d$age_band)
one <- function(fit, terms = TRUE, df = 4, points = FALSE) {
  z <- cox.zph(fit, terms = terms)
  curves <- lapply(seq_len(ncol(z$y)), function(i) {
    p <- plot(z, var = i, df = df, plot = FALSE)
    list(term = colnames(z$y)[i], x = p$x, yhat = unname(p$y[, 1]),
         upper = unname(p$y[, 2]), lower = unname(p$y[, 3]))
  })
  r <- list(coef = unname(coef(fit)), terms = colnames(z$y), var = un(z$var),
            table = un(z$table), curves = curves)
  if (points) r <- c(r, list(x = z$x, time = z$time, y = un(z$y)))
  r
}
f <- Surv(days_followed, reentered) ~ age_band + sex + section20 + placement_moves
out <- list(
  formula = "age_band + sex + section20 + placement_moves",
  efron = one(coxph(f, d, ties = "efron"), points = TRUE),
  efron_cluster_df5 = one(coxph(update(f, . ~ . + cluster(CHILD)), d, ties = "efron"), df = 5),
  strata_la = one(coxph(update(f, . ~ . + strata(LA)), d, ties = "efron")),
  breslow_coefficients = one(coxph(f, d, ties = "breslow"), terms = FALSE)
)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE),
           file.path(here, "zph_plot.json"))
writeLines(capture.output(sessionInfo()), file.path(here, "zph_plot_sessionInfo.txt"))
