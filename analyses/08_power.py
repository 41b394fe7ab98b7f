"""08: power of a pilot evaluation by simulation, against study size.

Outputs: tables/power, figures/power. The baseline re-entry curve is the one
estimated in 03 (when made); replicates per point: analysis.power_replicates.
"""

from __future__ import annotations

import pandas as pd

from reunistat.models.evaluation.power import PowerDesign, power_curve
from reunistat.pipeline import Context, run_script
from reunistat.report.discussion import power_statement
from reunistat.report.figures import line_figure

FUNCTION = "reunistat.models.evaluation.power.power_curve"
RETURNS_PER_YEAR = (250, 500, 1000, 2000)
DESIGN = {
    "hazard_ratio": 0.75,
    "n_authorities": 20,
    "n_pilot": 5,
    "years": 6.0,
    "adoption_year": 3.0,
}


def run(ctx: Context) -> None:
    keys = {91: "km_overall_3m", 365: "km_overall_1y", 2191: "km_overall_6y"}
    baseline = tuple(
        (float(d), float(ctx.values[k]["value"])) for d, k in keys.items() if k in ctx.values
    )
    design = PowerDesign(**DESIGN, **({"baseline": baseline} if len(baseline) == 3 else {}))
    reps = ctx.config.power_replicates
    curve = power_curve(
        design,
        RETURNS_PER_YEAR,
        n_replicates=reps,
        seed=ctx.config.seed,
        backend=ctx.config.parallel,
    )
    curve["returns_per_year"] = curve["returns_per_year"].astype(int)
    ctx.write_frame(
        "power",
        curve,
        title=f"Power to detect a pilot hazard ratio of {design.hazard_ratio} "
        f"({design.n_pilot} of {design.n_authorities} authorities piloting)",
        function=FUNCTION,
        disclosure={"type": "none"},
        notes=[
            f"{reps} simulated studies per size (Monte Carlo standard error mc_se); "
            "closed-form Schoenfeld and Freedman powers beside them. Simulated data only."
        ],
        digits=3,
    )
    long = pd.concat(
        [
            curve[["returns_per_year", "power"]].assign(method="simulated"),
            curve[["returns_per_year", "schoenfeld_power"]]
            .rename(columns={"schoenfeld_power": "power"})
            .assign(method="Schoenfeld formula"),
        ],
        ignore_index=True,
    )
    fig = line_figure(
        long,
        x="returns_per_year",
        y="power",
        group="method",
        title="Power of a pilot evaluation (comparison design)",
        xlabel="Returns home a year across the study authorities",
        ylabel="Power (two-sided 5% test)",
        hline=0.8,
    )
    ctx.write_figure(
        "power",
        fig,
        alt=f"Line chart of the power to detect a hazard ratio of {design.hazard_ratio} "
        "against the number of returns home a year in the study, simulated and by the "
        "Schoenfeld formula, with a dashed line at 80% power.",
        title="Power of a pilot evaluation by study size",
        function=FUNCTION,
    )
    ctx.value(
        "power_statement",
        power_statement(
            curve,
            alpha=design.alpha,
            n_pilot=design.n_pilot,
            la_sd_log_hr=design.la_sd_log_hr,
            t_reference=design.robust and design.t_reference,
        ),
        function=FUNCTION,
    )
    ctx.value("power_hr", design.hazard_ratio, function=FUNCTION)
    ctx.value("power_reps", reps, function=FUNCTION)
    ctx.value("power_pilot", design.n_pilot, function=FUNCTION)
    ctx.value("power_las", design.n_authorities, function=FUNCTION)
    ctx.value("power_years", design.years, function=FUNCTION, fmt="{:g}")
    ctx.value("power_adoption_year", design.adoption_year, function=FUNCTION, fmt="{:g}")


if __name__ == "__main__":
    run_script(__file__)
