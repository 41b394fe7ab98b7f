"""03: cumulative re-entry curves (Kaplan-Meier) overall and by characteristic at return.

Outputs: tables/km_<group> (the published curve), figures/km_<group> (with the
numbers at risk), tables/km_horizons (re-entry at 3 months, 1, 2, 5, 6 years).
"""

from __future__ import annotations

import pandas as pd

from reunistat.models.survival import kaplan_meier
from reunistat.pipeline import Context, run_script
from reunistat.report.curves import horizon_grid, publish_curve
from reunistat.report.figures import curve_figure
from reunistat.report.labels import level_label, short_level_label, variable_label
from reunistat.report.release_plan import KM_GROUPINGS, curve_labels

FUNCTION = "reunistat.models.survival.kaplan_meier"
# the groupings are declared in the release (their numbers at risk are release cells)
GROUPS = KM_GROUPINGS


def run(ctx: Context) -> None:
    sp = curve_labels(ctx.spells)
    horizons = []
    for name, (col, grouping_label) in GROUPS.items():
        label = grouping_label if col is None else variable_label(name)
        curve = kaplan_meier(sp, "days_followed", "reentered", by=col)
        pub = publish_curve(
            curve, ctx.rules, ctx.config.horizons_days, release=ctx.release, grouping=name
        )
        shown = set(pub.curve["group"].astype(str))
        for g in pd.unique(pub.at_risk["group"]).astype(str):
            if g not in shown:
                ctx.skip(f"tables/km_{name} ({g})", "group size suppressed: no curve shown")
        ctx.write_frame(
            f"km_{name}",
            pub.curve,
            title=f"Cumulative re-entry (Kaplan-Meier), {label}",
            function=FUNCTION,
            disclosure={"type": "curve", "estimate_cols": [pub.estimate, *pub.conf]},
            notes=["n_risk: returns still followed just after the time shown (days)."],
            digits=4,
        )
        groups_ = pub.at_risk["group"].astype(str)
        shown_labels = {g: level_label(col or "", g) for g in groups_}
        short = {g: short_level_label(col or "", g) for g in groups_}
        fig = curve_figure(
            pub.curve.assign(group=pub.curve["group"].astype(str).map(short)),
            pub.at_risk.assign(group=pub.at_risk["group"].astype(str).map(short)),
            estimate=pub.estimate,
            conf=pub.conf,
            title=f"Cumulative re-entry to care after a return home: {label}",
            xmax_days=max(ctx.config.horizons_days) + 180,
        )
        groups = ", ".join(pd.unique(pub.curve["group"]).astype(str))
        ctx.write_figure(
            f"km_{name}",
            fig,
            alt=f"Step curves of the cumulative share of returns home followed by re-entry to "
            f"care, over years since the return, with 95% confidence bands, for {label} "
            f"({groups}); the numbers still at risk are listed under the axis.",
            title="Cumulative re-entry, " + (label if col is None else f"by {label}"),
            function=FUNCTION,
            counted=True,
        )
        horizons.append(
            pub.horizons.assign(
                variable=label, group=pub.horizons["group"].astype(str).map(shown_labels)
            )
        )
    table = pd.concat(horizons, ignore_index=True)
    table = table[
        [
            "variable",
            "group",
            "horizon_days",
            "n_risk",
            "cumulative_incidence",
            "conf_low",
            "conf_high",
        ]
    ]
    ctx.write_frame(
        "km_horizons",
        table.rename(columns={"cumulative_incidence": "cumulative_reentry"}),
        title="Cumulative re-entry by months since the return home (Kaplan-Meier), per cent",
        function=FUNCTION,
        disclosure={"type": "counts", "count_cols": ["n_risk"], "lines": []},
        notes=[
            "Per cent re-entered by each time, with its 95% confidence interval, read from the "
            "published curve; c: fewer than the threshold still followed. The CSV holds the "
            "proportions and the numbers still followed."
        ],
        readable=horizon_grid(table),
        digits=4,
    )
    overall = table.loc[table["variable"] == GROUPS["overall"][1]].set_index("horizon_days")
    for key, h in {"km_overall_3m": 91, "km_overall_1y": 365, "km_overall_6y": 2191}.items():
        if h in overall.index and overall.at[h, "cumulative_incidence"] not in ("c", "z"):
            v = float(overall.at[h, "cumulative_incidence"])
            ctx.value(key, v, function=FUNCTION, fmt="{:.1%}")


if __name__ == "__main__":
    run_script(__file__)
