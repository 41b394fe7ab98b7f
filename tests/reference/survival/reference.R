# Reference values for reunistat.models.survival, frozen for CI (which has no R).
# Run from the repository root:  Rscript tests/reference/survival/reference.R
# Writes <name>.json beside this script, the exported R datasets (cgd.csv, mgus2.csv)
# and sessionInfo.txt. rossi.csv and synthetic_spells.csv are written by Python first.
suppressMessages({library(survival); library(cmprsk); library(jsonlite)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
here <- "tests/reference/survival"
out <- function(x, name) write_json(x, file.path(here, paste0(name, ".json")),
                                    digits = NA, auto_unbox = TRUE, pretty = TRUE)

zph_tab <- function(fit) {
  z <- cox.zph(fit)$table
  list(term = rownames(z), chisq = unname(z[, "chisq"]), df = unname(z[, "df"]),
       p = unname(z[, "p"]))
}
coxout <- function(fit) {
  r <- list(term = names(coef(fit)), coef = unname(coef(fit)),
            se = unname(sqrt(diag(if (is.null(fit$naive.var)) vcov(fit) else fit$naive.var))),
            loglik = fit$loglik, n = fit$n, nevent = fit$nevent, iter = fit$iter,
            concordance = unname(fit$concordance["concordance"]),
            zph = zph_tab(fit))
  if (!is.null(fit$naive.var)) r$robust_se <- unname(sqrt(diag(vcov(fit))))
  r
}

# ---- rossi (lifelines) ----
rossi <- read.csv(file.path(here, "rossi.csv"))
f <- Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio
out(list(
  efron = coxout(coxph(f, rossi, ties = "efron")),
  breslow = coxout(coxph(f, rossi, ties = "breslow")),
  efron_robust = coxout(coxph(f, rossi, ties = "efron", robust = TRUE)),
  score_resid_efron = unname(residuals(coxph(f, rossi), type = "score")[1:5, ]),
  predict = with(list(s = survfit(coxph(Surv(week, arrest) ~ fin + prio, rossi),
                                  newdata = data.frame(fin = c(0, 1), prio = c(2, 2)))),
                 list(time = s$time, surv = unname(s$surv), std_err = unname(s$std.err),
                      lower = unname(s$lower), upper = unname(s$upper))),
  predict_breslow = with(list(s = survfit(coxph(Surv(week, arrest) ~ fin + prio, rossi,
                                                ties = "breslow"),
                                          newdata = data.frame(fin = c(0, 1), prio = c(2, 2)))),
                         list(time = s$time, surv = unname(s$surv),
                              std_err = unname(s$std.err)))
), "rossi")

# ---- cgd (R survival): Andersen-Gill, counting process, cluster(id) ----
cgd <- survival::cgd
cg <- data.frame(id = cgd$id, tstart = cgd$tstart, tstop = cgd$tstop, status = cgd$status,
                 enum = cgd$enum, treat = as.integer(cgd$treat == "rIFN-g"),
                 female = as.integer(cgd$sex == "female"), age = cgd$age,
                 inherit_auto = as.integer(cgd$inherit == "autosomal"),
                 steroids = cgd$steroids, propylac = cgd$propylac,
                 hos_usother = as.integer(cgd$hos.cat == "US:other"),
                 hos_euams = as.integer(cgd$hos.cat == "Europe:Amsterdam"),
                 hos_euother = as.integer(cgd$hos.cat == "Europe:other"))
write.csv(cg, file.path(here, "cgd.csv"), row.names = FALSE)
fc <- Surv(tstart, tstop, status) ~ treat + female + age + inherit_auto + steroids +
  propylac + hos_usother + hos_euams + hos_euother
out(list(
  ag_efron = coxout(coxph(update(fc, . ~ . + cluster(id)), cg, ties = "efron")),
  ag_breslow = coxout(coxph(update(fc, . ~ . + cluster(id)), cg, ties = "breslow")),
  pwp_gap = coxout(coxph(Surv(tstop - tstart, status) ~ treat + female + age + strata(enum) +
                           cluster(id), cg)),
  pwp_total = coxout(coxph(update(fc, . ~ . + strata(enum) + cluster(id)), cg))
), "cgd")

# ---- synthetic spells: ties, strata, weights, clusters ----
sp <- read.csv(file.path(here, "synthetic_spells.csv"))
sp$age_band <- factor(sp$age_band, levels = sort(unique(sp$age_band)))
sp$sex <- factor(sp$sex, levels = c("female", "male"))
fs <- Surv(days_followed, reentered) ~ age_band + sex + section20 + disability +
  prior_periods + placement_moves
km_out <- function(s) {
  list(time = s$time, n_risk = s$n.risk, n_event = s$n.event, n_censor = s$n.censor,
       surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper,
       strata = if (is.null(s$strata)) NULL else rep(names(s$strata), s$strata))
}
aj <- survfit(Surv(days_followed, factor(event_type, 0:2)) ~ 1, sp)
out(list(
  efron = coxout(coxph(fs, sp)),
  breslow = coxout(coxph(fs, sp, ties = "breslow")),
  strata_efron = coxout(coxph(update(fs, . ~ . + strata(LA)), sp)),
  strata_w_cluster = coxout(coxph(update(fs, . ~ . + strata(LA) + cluster(CHILD)), sp,
                                  weights = weight)),
  breslow_w_cluster = coxout(coxph(update(fs, . ~ . + cluster(CHILD)), sp, weights = weight,
                                   ties = "breslow")),
  km = km_out(survfit(Surv(days_followed, reentered) ~ 1, sp, conf.type = "log-log")),
  km_by = km_out(survfit(Surv(days_followed, reentered) ~ section20, sp,
                         conf.type = "log-log")),
  logrank = list(chisq = survdiff(Surv(days_followed, reentered) ~ age_band, sp)$chisq,
                 strat_chisq = survdiff(Surv(days_followed, reentered) ~ section20 +
                                          strata(LA), sp)$chisq),
  aj = list(time = aj$time, n_risk = aj$n.risk[, 1], pstate = unname(aj$pstate),
            std_err = unname(aj$std.err), lower = unname(aj$lower),
            upper = unname(aj$upper), states = aj$states),
  crr = with(list(m = crr(sp$days_followed, sp$event_type,
                          model.matrix(~ section20 + prior_periods + disability, sp)[, -1],
                          failcode = 1, cencode = 0)),
             list(coef = unname(m$coef), se = unname(sqrt(diag(m$var))),
                  loglik = m$loglik))
), "synthetic")

# ---- mgus2: Fine-Gray for progression (pcm) vs death ----
mgus2 <- survival::mgus2
mg <- data.frame(id = mgus2$id, age = mgus2$age, male = as.integer(mgus2$sex == "M"),
                 hgb = mgus2$hgb,
                 etime = with(mgus2, ifelse(pstat == 0, futime, ptime)),
                 event = with(mgus2, ifelse(pstat == 0, 2 * death, 1)))
mg <- mg[complete.cases(mg), ]
write.csv(mg, file.path(here, "mgus2.csv"), row.names = FALSE)
m <- crr(mg$etime, mg$event, as.matrix(mg[, c("age", "male", "hgb")]), failcode = 1,
         cencode = 0)
mg$ev <- factor(mg$event, 0:2, labels = c("censor", "pcm", "death"))
fg <- finegray(Surv(etime, ev) ~ ., data = mg[, c("etime", "ev", "age", "male", "hgb")])
fgfit <- coxph(Surv(fgstart, fgstop, fgstatus) ~ age + male + hgb, weights = fgwt,
               data = fg, ties = "breslow")
out(list(crr = list(coef = unname(m$coef), se = unname(sqrt(diag(m$var))), loglik = m$loglik,
                    iter = m$iter),
         finegray_coxph = list(coef = unname(coef(fgfit)), se = unname(sqrt(diag(vcov(fgfit)))))
), "mgus2")

writeLines(capture.output(sessionInfo()), file.path(here, "sessionInfo.txt"))
