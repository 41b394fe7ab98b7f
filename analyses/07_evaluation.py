"""07: evaluating the reunification pilot: comparison design, difference-in-differences.

Outputs: tables/evaluation (pilot effect by design), tables/evaluation_counts.
Needs the adoption dates of pilot authorities (the la table's PILOT and
PILOT_START columns); skipped without them.
"""

from __future__ import annotations

import pandas as pd

from reunistat.errors import ModelError
from reunistat.models import evaluation as ev
from reunistat.pipeline import Context, run_script
from reunistat.report.tables import count_table

FUNCTION = "reunistat.models.evaluation.pilot_vs_comparison"
#: The table shows the designs' CR2 intervals on Satterthwaite df: no wild bootstrap intervals.
SHOWN = {"n_boot": 0}


def run(ctx: Context) -> None:
    la = ctx.extract.tables.get("la")
    if la is None or "PILOT_START" not in la.columns or la["PILOT_START"].isna().all():
        ctx.skip("tables/evaluation", "no pilot adoption dates (la table: PILOT, PILOT_START)")
        return
    h = ctx.config.logistic_horizon_days
    sp = ctx.spells  # days_potential_followup: exact, from the cohort derivation
    sample = ev.comparison_sample(sp, la)  # the two pilot vs comparison models' sample
    fits = {
        "pilot vs comparison, Cox (HR)": (
            ev.pilot_vs_comparison(
                sp,
                la,
                model="cox",
                adjust=f"{ctx.config.covariates} + return_year",
                glance_tests=False,  # the terms only, here and in 09
                sample=sample,
            ),
            True,
            FUNCTION,
        ),
        f"difference-in-differences, re-entry within {h} days (risk difference)": (
            ev.did(
                sp, la, horizon_days=h, potential_followup_col="days_potential_followup", **SHOWN
            ),
            False,
            "reunistat.models.evaluation.did",
        ),
        f"naive before/after in pilot authorities, within {h} days (risk difference)": (
            ev.before_after(
                sp, la, horizon_days=h, potential_followup_col="days_potential_followup", **SHOWN
            ),
            False,
            "reunistat.models.evaluation.before_after",
        ),
    }
    try:  # appended: the rows above are read by position below
        fits[f"pilot vs comparison, re-entry within {h} days (OR; CR2, Satterthwaite df)"] = (
            ev.pilot_vs_comparison(
                sp,
                la,
                model="logistic",
                adjust=f"{ctx.config.covariates} + return_year",
                horizon_days=h,
                potential_followup_col="days_potential_followup",
                vcov="CR2",
                sample=sample,
            ),
            True,
            FUNCTION,
        )
    except ModelError as e:
        ctx.log(f"  the logistic pilot comparison is left out: {e}")
    rows = []
    for design, (res, expo, fn) in fits.items():
        tidy = res.tidy(exponentiate=expo).set_index("term")
        t = tidy.loc["treated" if "treated" in tidy.index else "post"]
        rows.append(
            {
                "design": design,
                "function": fn,
                "estimate": t["estimate"],
                "conf_low": t["conf_low"],
                "conf_high": t["conf_high"],
                "p_value": t["p_value"],
                "n_obs": res.n_obs,
            }
        )
    table = pd.DataFrame(rows)
    n_min = int(min(r.n_obs for r, _, _ in fits.values()))
    marked = ev.mark_adoption(sp[["LA", "return_date", "reentered"]], la)  # the counts only
    treated = marked["treated"]
    n_treated = int(treated.sum())
    n_treated_events = int((treated * marked["reentered"]).sum())
    spec = {
        "type": "model",
        "n_obs": n_min,
        "n_events": None,
        "n_min_cell": min(n_treated, n_treated_events),
    }
    ctx.write_frame(
        "evaluation",
        table.drop(columns="n_obs"),
        title="Effect of the reunification pilot on re-entry, by design",
        function=FUNCTION,
        disclosure=spec,
        readable=table[["design", "estimate", "conf_low", "conf_high", "p_value"]],
        digits=3,
        notes=[
            "Errors clustered by local authority: for the Cox comparison CR1 on pilot "
            "authorities - 1 degrees of freedom, for the others CR2 with Satterthwaite degrees "
            "of freedom. The naive "
            "before/after comparison is shown for contrast: it attributes any secular trend "
            "to the pilot."
        ],
    )
    ctx.results["pilot_cox"] = fits["pilot vs comparison, Cox (HR)"][0]
    rel = ctx.release
    if "evaluation_counts" not in rel.registry.tables:
        raise RuntimeError("the release declares no pilot exposure counts (la table)")
    ctx.write_counts(
        "evaluation_counts",
        count_table(rel, "evaluation_counts"),
        title="Returns home exposed to the pilot",
        function="reunistat.models.evaluation.mark_adoption",
    )
    hr = table.iloc[0]
    ctx.value(
        "pilot_hr",
        float(hr["estimate"]),
        function=FUNCTION,
        fmt=f"{hr['estimate']:.2f} (95% CI {hr['conf_low']:.2f} to {hr['conf_high']:.2f})",
    )
    did = table.iloc[1]
    ctx.value(
        "pilot_did",
        float(did["estimate"]),
        function="reunistat.models.evaluation.did",
        fmt=f"{100 * did['estimate']:.1f} percentage points (95% CI "
        f"{100 * did['conf_low']:.1f} to {100 * did['conf_high']:.1f})",
    )


if __name__ == "__main__":
    run_script(__file__)
