"""10: comparing local authorities fairly: risk-adjusted funnel plots and shrunken estimates.

Expected re-entries per authority from national Cox and logistic models without
the authority (indirect standardisation); observed/expected ratios with exact
Poisson intervals against Spiegelhalter's 95% and 99.8% funnel limits,
unadjusted and with additive (random-effects) over-dispersion adjustment; crude
proportions re-entering within the horizon against binomial limits; shrunken
authority odds ratios from the random-intercept logistic model.

Outputs: tables/comparison_cox, tables/comparison_logistic,
tables/comparison_overdispersion, figures/comparison_funnel_cox,
figures/comparison_funnel_logistic, figures/comparison_funnel_proportion,
figures/comparison_caterpillar. Authority-level counts obey the disclosure
threshold; authorities with fewer returns or re-entries are not shown
individually and are counted in the figures' notes.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from reunistat.models.comparison import (
    Adjustment,
    Method,
    funnel_curve,
    funnel_table,
    indirect_standardisation,
    shrunken_effects,
)
from reunistat.pipeline import Context, run_script
from reunistat.report.comparison_figures import (
    authority_table,
    caterpillar_figure,
    funnel_figure,
)
from reunistat.report.labels import with_references

FUNCTION = "reunistat.models.comparison.indirect_standardisation"
ADJ: Adjustment = "additive"
PF = "days_potential_followup"  # 05's selection on potential follow-up


def _funnel(ctx: Context, method: Method, h: int, ref: pd.DataFrame) -> dict[str, Any]:
    cov = ctx.config.covariates
    # 05's logistic fit of the same model to the same spells (reference levels first: the
    # same fitted risks to the last bit on the national data), or 04's Cox fit (clustered:
    # the same coefficients), or the same fit made here
    shared = f"logistic {h} LA {PF} ~ {cov}" if method == "logistic" else f"cox LA ~ {cov}"
    st = indirect_standardisation(
        ref if method == "logistic" else ctx.spells,
        cov,
        method=method,
        horizon_days=h,
        model=ctx.results.get(shared),
    )
    t = st.table.set_index("LA")
    table, od = funnel_table(t["observed"], t["expected"], index=t.index)
    # over-dispersion without winsorising (plain DerSimonian-Laird): the truth check
    # (benchmarks/results/comparison.md) finds the NHS convention of winsorising 10% of
    # each tail under-estimates a genuine between-authority spread
    table_dl, od_dl = funnel_table(t["observed"], t["expected"], index=t.index, winsorise=0.0)
    counts, shown = authority_table(
        st.table, table, ctx.rules, adjustment=ADJ, extra={"additive_dl": table_dl}
    )
    what = "re-entries" if method == "cox" else f"re-entries within {h} days"
    model = "Cox model" if method == "cox" else f"logistic model of re-entry within {h} days"
    ctx.write_counts(
        f"comparison_{method}",
        counts,
        title=f"Observed and expected {what} by local authority ({model})",
        function=FUNCTION,
        notes=[
            f"Expected: from a national {model} of the children's characteristics at return, "
            "fitted without the authority (indirect standardisation). Ratio: observed / "
            "expected with an exact Poisson 95% interval. Position: against Spiegelhalter's "
            "funnel limits: unadjusted; with additive over-dispersion adjustment as NHS "
            f"indicators do (z-scores winsorised at 10%: tau^2 = {od.tau2:.4f} on the "
            "square-root scale); and without winsorising (additive_dl: DerSimonian-Laird, "
            f"tau^2 = {od_dl.tau2:.4f}), which the package's truth check finds holds the "
            "nominal rate when authorities truly vary. Where a count is suppressed the "
            "authority's ratio is too.",
            *(
                []
                if method == "cox"
                else [
                    f"returns_home: returns that could be followed for {h} days (potential "
                    "follow-up to the data end and the 18th birthday), whatever happened. The "
                    "Poisson limits are conservative for these counts (their variance, the sum "
                    "of p(1 - p), is below E): the Cox comparison is the main one."
                ]
            ),
        ],
    )
    pts = table.loc[shown[shown].index.intersection(table.index.astype(str))]
    lo = float(min(table["precision"].min(), 1.0)) * 0.8
    hi = float(table["precision"].max()) * 1.2
    curves = [
        ("exact", funnel_curve((lo, hi))),
        ("NHS-adjusted", funnel_curve((lo, hi), adjustment=ADJ, od=od)),
        ("DL-adjusted", funnel_curve((lo, hi), adjustment=ADJ, od=od_dl)),
    ]
    fig = funnel_figure(
        pts,
        curves,
        title=f"Re-entries by local authority against expected ({model})",
        xlabel="Expected re-entries",
        ylabel="Observed / expected",
        target=1.0,
        n_hidden=int((~shown).sum()),
        threshold=ctx.rules.threshold,
    )
    ctx.write_figure(
        f"comparison_funnel_{method}",
        fig,
        alt=f"Funnel plot: each local authority's ratio of observed to expected {what} "
        "against its expected number, with 95% (dashed) and 99.8% (solid) control limits, "
        "exact (grey) and adjusted for over-dispersion: NHS convention (winsorised z-scores) "
        "and DerSimonian-Laird (DL, unwinsorised), around a line at 1.",
        title=f"Funnel plot of observed/expected {what}",
        function="reunistat.models.comparison.funnel_table",
        counted=True,
    )
    pos = table[f"outside_{ADJ}_99.8"]
    pos_dl = table_dl[f"outside_{ADJ}_99.8"]
    return {
        "phi": od.phi,
        "tau2": od.tau2,
        "p_value": od.p_value,
        "phi_dl": od_dl.phi,
        "tau2_dl": od_dl.tau2,
        "n_above_998_dl": float((pos_dl > 0).sum()),
        "n_below_998_dl": float((pos_dl < 0).sum()),
        "n_above_998": float((pos > 0).sum()),
        "n_below_998": float((pos < 0).sum()),
        "n_above_998_unadjusted": float((table["outside_none_99.8"] > 0).sum()),
        "n_below_998_unadjusted": float((table["outside_none_99.8"] < 0).sum()),
        "n_units": float(len(table)),
        "table": st.table,
        # the authorities that may be shown: from the counts alone (whatever the funnel)
        "shown": shown,
    }


def _proportions(ctx: Context, st_table: pd.DataFrame, shown: pd.Series, h: int) -> None:
    t = st_table.set_index("LA")
    table, od = funnel_table(t["observed"], t["n_spells"], kind="proportion", index=t.index)
    target = float(t["observed"].sum() / t["n_spells"].sum())
    pts = table.loc[shown[shown].index.intersection(table.index.astype(str))]
    rng = (max(1.0, float(table["precision"].min()) * 0.8), float(table["precision"].max()) * 1.2)
    curves = [
        ("exact", funnel_curve(rng, kind="proportion", target=target)),
        (
            "adjusted",
            funnel_curve(rng, kind="proportion", target=target, adjustment=ADJ, od=od),
        ),
    ]
    fig = funnel_figure(
        pts,
        curves,
        title=f"Share re-entering within {h} days by local authority (not risk-adjusted)",
        xlabel="Returns home followed to the horizon",
        ylabel=f"Re-entered within {h} days",
        target=target,
        n_hidden=int((~shown).sum()),
        threshold=ctx.rules.threshold,
        percent=True,
    )
    ctx.write_figure(
        "comparison_funnel_proportion",
        fig,
        alt=f"Funnel plot of each local authority's crude share of returns home re-entering "
        f"within {h} days against its number of returns, with binomial 95% and 99.8% limits "
        "around the national share, exact and adjusted for over-dispersion.",
        title=f"Funnel plot of the share re-entering within {h} days (crude)",
        function="reunistat.models.comparison.funnel_table",
        counted=True,
    )


def _caterpillar(ctx: Context, shown: pd.Series, h: int, ref: pd.DataFrame) -> None:
    cov = ctx.config.covariates
    # 05's random-intercept fit of the same model to the same spells, or the same fit here
    ml = ctx.results.get(f"multilevel {h} LA {PF} ~ {cov}")
    sh = shrunken_effects(ref, cov, horizon_days=h, model=ml)
    keep = sh.table["LA"].astype(str).map(shown).fillna(False).astype(bool)
    fig = caterpillar_figure(
        sh.table.loc[keep.to_numpy()],
        title=f"Shrunken odds ratios of re-entry within {h} days by local authority "
        "(random-intercept logistic model)",
        n_hidden=int((~keep).sum()),
        threshold=ctx.rules.threshold,
    )
    ctx.write_figure(
        "comparison_caterpillar",
        fig,
        alt="Caterpillar plot: local authorities ranked by their shrunken odds ratio of "
        f"re-entry within {h} days against the average authority, for children with the "
        "same characteristics, each with a 95% interval, on a log scale with a line at 1.",
        title="Caterpillar plot of shrunken authority odds ratios",
        function="reunistat.models.comparison.shrunken_effects",
        counted=True,
    )
    ctx.value(
        "comparison_mor",
        float(sh.model.fit_stats["mor"]),
        function="reunistat.models.logistic.multilevel",
        fmt="{:.2f}",
    )


def run(ctx: Context) -> None:
    h = ctx.config.logistic_horizon_days
    methods: tuple[Method, ...] = ("cox", "logistic")
    # reference levels first: 05's spells (handed over with its fits), or made here as 05 does
    ref = ctx.results.get(f"with references ~ {ctx.config.covariates}")
    if ref is None:
        ref = with_references(ctx.spells, ctx.config.covariates)
    res = {m: _funnel(ctx, m, h, ref) for m in methods}
    od = pd.DataFrame(
        [
            {
                "model": m,
                "authorities": int(r["n_units"]),
                "phi": r["phi"],
                "tau2": r["tau2"],
                "p_overdispersion": r["p_value"],
                "above_99.8_unadjusted": int(r["n_above_998_unadjusted"]),
                "below_99.8_unadjusted": int(r["n_below_998_unadjusted"]),
                "above_99.8_adjusted": int(r["n_above_998"]),
                "below_99.8_adjusted": int(r["n_below_998"]),
                "phi_unwinsorised": r["phi_dl"],
                "tau2_unwinsorised": r["tau2_dl"],
                "above_99.8_adjusted_unwinsorised": int(r["n_above_998_dl"]),
                "below_99.8_adjusted_unwinsorised": int(r["n_below_998_dl"]),
            }
            for m, r in res.items()
        ]
    )
    ctx.write_frame(
        "comparison_overdispersion",
        od,
        title="Over-dispersion between authorities and authorities outside the 99.8% limits",
        function="reunistat.models.comparison.overdispersion",
        disclosure={"type": "none"},
        notes=[
            "phi: mean squared winsorised z-score (10% each tail, as NHS indicators); tau2: "
            "additive between-authority variance on the square-root scale (DerSimonian-Laird "
            "on those z-scores); p: test of no over-dispersion; *_unwinsorised: the same "
            "without winsorising. Counts here are of authorities, not children.",
        ],
        digits=4,
    )
    cox = res["cox"]
    # authorities, not children: named without a count word, so the checker does not read
    # them as counts of children
    ctx.value("comparison_authorities", int(cox["n_units"]), function=FUNCTION)
    ctx.value("comparison_phi", cox["phi"], function=FUNCTION, fmt="{:.2f}")
    ctx.value("comparison_tau2", cox["tau2"], function=FUNCTION, fmt="{:.4f}")
    ctx.value("comparison_tau2_dl", cox["tau2_dl"], function=FUNCTION, fmt="{:.4f}")
    keys = ("n_above_998", "n_below_998", "n_above_998_unadjusted", "n_below_998_unadjusted")
    for key in (*keys, "n_above_998_dl", "n_below_998_dl"):
        ctx.value(f"comparison_las_{key[2:]}", int(cox[key]), function=FUNCTION)
    # the authorities shown in the logistic comparison are shown in the other two figures
    logistic = res["logistic"]
    _proportions(ctx, logistic["table"], logistic["shown"], h)
    _caterpillar(ctx, logistic["shown"], h, ref)


if __name__ == "__main__":
    run_script(__file__)
