"""12: model checks: proportional hazards, prediction, GEE, and crude against adjusted.

Outputs: tables/cox_zph (R's cox.zph test per characteristic), figures/cox_zph (its
smoothed scaled Schoenfeld residuals, R's plot.cox.zph), tables/cox_by_period
and figures/cox_by_period (hazard ratios by time since the return, for the
characteristics that fail the test), tables/prediction_checks and
figures/calibration (cross-validated AUC, Brier score and calibration of the
logistic model), tables/logistic_gee (cluster-robust logistic beside GEE),
tables/crude_adjusted (the placement-moves ratio crude, partly and fully adjusted).
"""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from reunistat.errors import ModelError
from reunistat.horizons import DAYS_PER_MONTH
from reunistat.models import _options
from reunistat.models.logistic import gee, logistic
from reunistat.models.logistic.prediction import prediction_checks_by
from reunistat.models.survival import cox, cox_zph, split_episodes
from reunistat.pipeline import Context, run_script
from reunistat.report.discussion import crude_adjusted_statement, ph_statement
from reunistat.report.figures import line_figure, new_figure
from reunistat.report.labels import p_text, term_label, variable_label, with_references
from reunistat.report.tables import formula_variables, linked_spec, model_spec
from reunistat.report.zph_figure import zph_figure, zph_smooth
from reunistat.results import etable

#: Periods of follow-up (days) for hazard ratios by time since the return.
PERIOD_CUTS = (91, 365, 1096)
PF = "days_potential_followup"
#: Cox fits of this run, each model fitted once (the module is loaded afresh for every run).
_COX: dict[tuple[Any, ...], Any] = {}


def _cox(formula: str, data: pd.DataFrame, *args: str, **kw: Any) -> Any:
    """``cox()`` without the concordance and the robust score test (no output here uses
    them), each model fitted once."""
    key = (formula, id(data), args, tuple(sorted(kw.items())))
    if key not in _COX:  # the data is kept with the fit, so its id stays its own
        fit = cox(formula, data, *args, concordance=False, robust_score=False, **kw)
        _COX[key] = (data, fit)
    return _COX[key][1]


def _cox_frame(sp: pd.DataFrame, covariates: str) -> pd.DataFrame:
    """The columns the Cox fits here read, with CHILD as integer codes in its sorted order.

    ``cox()`` numbers clusters in the sorted order of their labels, which these codes
    keep, so every robust variance is the same to the bit; sorting integers spares each
    fit two sorts of the children's text identifiers, and splitting the spells by period
    copies only these columns.
    """
    cols = [*formula_variables(covariates, sp), "days_followed", "reentered"]
    frame = sp[[c for c in sp.columns if c in cols]]
    return frame.assign(CHILD=_options.sorted_codes(sp["CHILD"])[0])  # pd.factorize's, faster


def _period_names(cuts: tuple[int, ...]) -> list[str]:
    m = [round(c / DAYS_PER_MONTH) for c in cuts]
    names = [f"0-{m[0]} months"]
    names += [f"{a}-{b} months" for a, b in itertools.pairwise(m)]
    return [*names, f"{m[-1]}+ months"]


def _by_period(ctx: Context, sp: pd.DataFrame, terms: list[str]) -> pd.DataFrame:
    """Hazard ratios of the failing terms fitted within each period since the return."""
    ep = split_episodes(sp, "days_followed", "reentered", PERIOD_CUTS)
    names = _period_names(PERIOD_CUTS)
    rows = []
    for k, name in enumerate(names):
        # a spell ending on the day of its return has an empty (0, 0] piece: no time at risk
        part = ep.loc[(ep["period"] == k) & (ep["stop"] > ep["start"])]
        try:
            res = _cox("~ " + ctx.config.covariates, part, "stop", "reentered", entry_col="start")
        except ModelError as e:  # too few re-entries in a late period of a small extract
            ctx.log(f"  no hazard ratios for {name}: {e}")
            continue
        if res.n_events < ctx.rules.threshold:
            continue
        t = res.tidy(exponentiate=True).set_index("term")
        for term in terms:
            if term in t.index:
                r = t.loc[term]
                rows.append(
                    {
                        "term": term,
                        "label": term_label(term),
                        "period": name,
                        "order": k,
                        "estimate": r["estimate"],
                        "conf_low": r["conf_low"],
                        "conf_high": r["conf_high"],
                        "p_value": r["p_value"],
                    }
                )
    return pd.DataFrame(rows)


def _ph(ctx: Context, sp: pd.DataFrame, fit_sp: pd.DataFrame) -> None:
    fn = "reunistat.models.survival.cox_zph"
    res = _cox("~ " + ctx.config.covariates, fit_sp, "days_followed", "reentered", cluster="CHILD")
    spec = model_spec(
        res, sp, ctx.config.covariates, "reentered", release=ctx.release, counts="cox"
    )
    z = cox_zph(res)
    # a factor is one test over its columns: label it by the variable
    z["label"] = [
        "GLOBAL" if t == "GLOBAL" else variable_label(_variable(t, sp)) for t in z["term"]
    ]
    ctx.write_frame(
        "cox_zph",
        z[["term", "label", "chisq", "df", "p_value"]],
        title="Test of proportional hazards (cox.zph, Kaplan-Meier time transform)",
        function=fn,
        disclosure=spec,
        readable=pd.DataFrame(
            {
                "characteristic": z["label"].replace({"GLOBAL": "all (global test)"}),
                "chi-square": [f"{x:.1f}" for x in z["chisq"]],
                "df": z["df"].astype(int),
                "p": [p_text(p) for p in z["p_value"]],
            }
        ),
        notes=["Score test for a change of each log hazard ratio with time since the return."],
    )
    ctx.write_figure(
        "cox_zph",
        zph_figure(
            zph_smooth(res),
            labels=dict(zip(z["term"], z["label"], strict=True)),
            title="Change of each log hazard ratio with time since the return",
        ),
        alt="One panel per characteristic: the smoothed scaled Schoenfeld residuals (the "
        "log hazard ratio as it changes with time since the return, on the Kaplan-Meier "
        "scale) with a two-standard-error band and a dashed line at the Cox estimate.",
        title="Change of each log hazard ratio with time since the return (smoothed scaled "
        "Schoenfeld residuals; a factor's curve multiplies its log hazard ratios)",
        function=fn,  # left out with the cox.zph table if its model is
    )
    failing = z.loc[(z["term"] != "GLOBAL") & (z["p_value"] < 0.05), "term"].tolist()
    coefs = [t for t in res.tidy()["term"] if any(t.startswith(f) or t == f for f in failing)]
    by = _by_period(ctx, fit_sp, coefs[:6]) if coefs else pd.DataFrame()
    if not by.empty:
        ctx.write_frame(
            "cox_by_period",
            by,
            title="Hazard ratios by time since the return, for characteristics failing the "
            "proportional-hazards test",
            function="reunistat.models.survival.split_episodes",
            disclosure=spec,
            readable=pd.DataFrame(
                {
                    "characteristic": by["label"],
                    "period since return": by["period"],
                    "HR (95% CI)": [
                        f"{e:.2f} ({lo:.2f} to {hi:.2f})"
                        for e, lo, hi in zip(
                            by["estimate"], by["conf_low"], by["conf_high"], strict=True
                        )
                    ],
                }
            ),
            notes=[
                "Cox models fitted within each period to the returns still followed at its "
                "start (left truncation): the piecewise form of the scaled Schoenfeld plot. A "
                "period where a characteristic's level has no return (no child aged 16 or over "
                "at return is followed past 36 months: they reach 18) is not shown."
            ],
        )
        fig = _period_figure(by)
        ctx.write_figure(
            "cox_by_period",
            fig,
            alt="Hazard ratios with 95% intervals for each period since the return home "
            "(0-3 months, 3-12, 12-36, 36 months and more), one line per characteristic "
            "whose association with re-entry changed with time; log scale, dashed line at 1.",
            title="Hazard ratios by time since the return (time-varying effects)",
            function="reunistat.models.survival.split_episodes",
        )
    labels_by = by.assign(label=[term_label(t) for t in by["term"]]) if not by.empty else None
    n_events = spec["n_events"]  # as released: c where suppressed
    ctx.value(
        "ph_statement",
        ph_statement(z, labels_by, n_events=n_events if isinstance(n_events, int) else None),
        function=fn,
    )
    glob = float(z.loc[z["term"] == "GLOBAL", "p_value"].iloc[0])
    ctx.value("ph_global_p", glob, function=fn, fmt=p_text(glob))


def _variable(term: str, sp: pd.DataFrame) -> str:
    found = formula_variables(term, sp)
    return found[0] if found else term


def _period_figure(by: pd.DataFrame):
    import matplotlib.ticker as mticker
    import numpy as np

    fig = new_figure(7.5, 4.4)
    ax = fig.add_axes((0.09, 0.14, 0.5, 0.76))
    periods = list(pd.unique(by.sort_values("order")["period"]))
    colours = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1"]
    n_terms = by["label"].nunique()
    for i, (label, g) in enumerate(by.groupby("label", sort=False)):
        g = g.sort_values("order")
        x = np.array([periods.index(p) for p in g["period"]]) + (i - (n_terms - 1) / 2) * 0.08
        ax.errorbar(
            x,
            g["estimate"],
            yerr=[g["estimate"] - g["conf_low"], g["conf_high"] - g["estimate"]],
            fmt="o-",
            ms=3,
            lw=1,
            color=colours[i % len(colours)],
            label="\n".join(_wrap(str(label))),
        )
    ax.axhline(1.0, color="#808080", lw=0.8, ls="--")
    ax.set_yscale("log")
    lo, hi = float(by["conf_low"].min()), float(by["conf_high"].max())
    ticks = [t for t in (0.25, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0) if lo <= t <= hi]
    ax.set_yticks(sorted({*ticks, 1.0}), [f"{t:g}" for t in sorted({*ticks, 1.0})])
    ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xticks(range(len(periods)), periods, fontsize=7)
    ax.set_xlabel("Time since the return home")
    ax.set_ylabel("Hazard ratio (95% CI, log scale)")
    ax.set_title("Hazard ratios by period since the return", loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
    return fig


def _wrap(s: str) -> list[str]:
    import textwrap

    return textwrap.wrap(s, 34)


def _prediction(ctx: Context, sp: pd.DataFrame) -> None:
    fn = "reunistat.models.logistic.prediction_checks"
    h = ctx.config.logistic_horizon_days
    rows, cal = [], None
    names = ("folds stratified by outcome", "folds by local authority")
    checks = prediction_checks_by(  # one design for both
        "~ " + ctx.config.covariates,
        sp,
        (None, "LA"),
        horizon_days=h,
        potential_followup_col=PF,
        seed=ctx.config.seed,
        fold_metrics=False,  # the pooled row is all this script reports
    )
    for name, pc in zip(names, checks, strict=True):
        pooled = pc.metrics.set_index(pc.metrics.columns[0]).loc["pooled"]
        rows.append(
            {
                "cross-validation": name,
                "auc": float(pooled["auc"]),
                "brier": float(pooled["brier"]),
                "calibration_intercept": float(pooled["calibration_intercept"]),
                "calibration_slope": float(pooled["calibration_slope"]),
            }
        )
        if cal is None:
            cal, n_used, n_ev = pc.calibration, int(pooled["n"]), int(pooled["events"])
    table = pd.DataFrame(rows)
    events_per_bin = (cal["observed_rate"] * cal["n"]).round().astype(int)
    bins = int(min(cal["n"].min(), events_per_bin.min()))
    logit = ctx.release.extra["models"]["logistic"]
    if (n_used, n_ev) != (logit.n_obs, logit.n_events):
        raise RuntimeError("the prediction checks' spells differ from the logistic model's")
    spec = linked_spec(ctx.release, "logistic", small_cell=bins < ctx.rules.threshold)
    ctx.write_frame(
        "prediction_checks",
        table,
        title=f"Prediction checks of the logistic model (re-entry within {h} days), "
        "5-fold cross-validation",
        function=fn,
        disclosure=spec,
        digits=3,
        notes=[
            "Out-of-fold predictions pooled over the folds. AUC: 0.5 no discrimination, 1 "
            "perfect; calibration slope 1 and intercept 0 when predicted risks are right on "
            "average. Population-level checks, not a tool for decisions about a child."
        ],
    )
    long = pd.concat(
        [
            cal[["mean_predicted", "observed_rate"]].assign(series="observed"),
            cal[["mean_predicted"]]
            .assign(observed_rate=cal["mean_predicted"])
            .assign(series="perfect calibration"),
        ],
        ignore_index=True,
    )
    fig = line_figure(
        long,
        x="mean_predicted",
        y="observed_rate",
        group="series",
        title=f"Calibration of the logistic model (re-entry within {h} days)",
        xlabel="Mean predicted risk (tenths of predicted risk, out of fold)",
        ylabel="Observed share re-entering",
    )
    ctx.write_figure(
        "calibration",
        fig,
        alt="Observed share re-entering against the mean predicted risk in ten groups of "
        "out-of-fold predicted risk, with the diagonal of perfect calibration.",
        title=f"Calibration of the logistic model of re-entry within {h} days",
        function=fn,
        counted=True,
    )
    first = rows[0]
    ctx.value("pred_auc", first["auc"], function=fn, fmt="{:.3f}")
    ctx.value("pred_auc_la", rows[1]["auc"], function=fn, fmt="{:.3f}")
    ctx.value("pred_cal_slope", first["calibration_slope"], function=fn, fmt="{:.2f}")


def _gee(ctx: Context, sp: pd.DataFrame) -> None:
    h = ctx.config.logistic_horizon_days
    f = "~ " + ctx.config.covariates
    robust = ctx.results.get(f"logistic {h} LA {PF} {f}")  # the same model, fitted by 05
    if robust is None:
        robust = logistic(f, sp, horizon_days=h, cluster="LA", potential_followup_col=PF)
    g = gee(f, sp, horizon_days=h, cluster="LA", potential_followup_col=PF, start=robust)
    both = etable(
        {"logistic, errors robust to clustering by LA": robust, "GEE, exchangeable within LA": g},
        labels={t: term_label(t) for t in robust.params.index},
    )
    both.index.name = "term"
    used = robust.extras.get("data")
    fitted = used if isinstance(used, pd.DataFrame) else sp
    ctx.write_frame(
        "logistic_gee",
        both.reset_index(),
        title=f"Odds ratios of re-entry within {h} days: cluster-robust logistic and GEE",
        function="reunistat.models.logistic.gee",
        disclosure=model_spec(
            robust,
            fitted,
            ctx.config.covariates,
            robust.extras.get("outcome_col", "reentered"),
            release=ctx.release,
            counts="logistic",
        ),
        notes=[
            "Both are population-averaged; GEE weights returns within an authority by an "
            "exchangeable working correlation, the logistic model treats them alike."
        ],
    )


def _crude_adjusted(ctx: Context, sp: pd.DataFrame, fit_sp: pd.DataFrame) -> None:
    fn = "reunistat.models.survival.cox"
    cov = ctx.config.covariates
    models = {
        "crude": "~ placement_moves",
        "the length of the period of care": "~ placement_moves + np.log1p(period_length_days)",
        "age at return": "~ placement_moves + C(age_band, contr.treatment('5-9'))",
        "the last placement": "~ placement_moves + "
        "C(last_placement_type, contr.treatment('foster'))",
        "every characteristic": "~ " + cov,
    }
    ratios, rows = {}, []
    for name, f in models.items():
        res = _cox(f, fit_sp, "days_followed", "reentered", cluster="CHILD")
        r = res.tidy(exponentiate=True).set_index("term").loc["placement_moves"]
        ratios[name] = (float(r["estimate"]), float(r["conf_low"]), float(r["conf_high"]))
        rows.append(
            {
                "adjusted for": "nothing (crude)" if name == "crude" else name,
                "estimate": r["estimate"],
                "conf_low": r["conf_low"],
                "conf_high": r["conf_high"],
                "p_value": r["p_value"],
            }
        )
    table = pd.DataFrame(rows)
    ctx.write_frame(
        "crude_adjusted",
        table,
        title="Hazard ratio of re-entry per placement move, crude and adjusted",
        function=fn,
        disclosure=model_spec(
            res, sp, ctx.config.covariates, "reentered", release=ctx.release, counts="cox"
        ),
        readable=pd.DataFrame(
            {
                "adjusted for": table["adjusted for"],
                "HR per move (95% CI)": [
                    f"{e:.2f} ({lo:.2f} to {hi:.2f})"
                    for e, lo, hi in zip(
                        table["estimate"], table["conf_low"], table["conf_high"], strict=True
                    )
                ],
                "p": [p_text(p) for p in table["p_value"]],
            }
        ),
        notes=["Cox models, errors robust to clustering by child."],
    )
    crude = _crude_one_year(ctx)
    if crude:
        ctx.value(
            "crude_adjusted_statement",
            crude_adjusted_statement("placement moves", crude, ratios),
            function=fn,
        )


def _crude_one_year(ctx: Context) -> dict[str, str]:
    """Crude one-year re-entry by placement moves, as the published horizon table shows it."""
    path = ctx.out / "tables/km_horizons.csv"
    if not path.exists():
        return {}
    t = pd.read_csv(path, dtype=str, keep_default_na=False)
    t = t.loc[(t["variable"] == variable_label("placement_moves")) & (t["horizon_days"] == "365")]
    out = {}
    for g, v in zip(t["group"], t["cumulative_reentry"], strict=True):
        try:
            out[g] = f"{100 * float(v):.1f}%"
        except ValueError:
            continue
    return out


def run(ctx: Context) -> None:
    sp = ctx.results.get(f"with references ~ {ctx.config.covariates}")  # made by 05
    if sp is None:
        sp = with_references(ctx.spells, ctx.config.covariates)
    fit_sp = _cox_frame(sp, ctx.config.covariates)
    _ph(ctx, sp, fit_sp)
    _prediction(ctx, sp)
    _gee(ctx, sp)
    _crude_adjusted(ctx, sp, fit_sp)


if __name__ == "__main__":
    run_script(__file__)
