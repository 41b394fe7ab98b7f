"""04: Cox model of re-entry: hazard ratios (table) and forest plot.

Outputs: tables/cox (CSV, Markdown, HTML), tables/cox_fit, figures/cox_forest.
"""

from __future__ import annotations

from reunistat.models.survival import cox
from reunistat.pipeline import Context, run_script
from reunistat.report.figures import forest_figure
from reunistat.report.tables import (
    format_number,
    model_spec,
    model_table,
    term_label,
)

FUNCTION = "reunistat.models.survival.cox"


def run(ctx: Context) -> None:
    spells = ctx.spells
    formula = "~ " + ctx.config.covariates
    # the concordance is reported (values.json), so asked for at any size
    res = cox(formula, spells, "days_followed", "reentered", cluster="LA", concordance=True)
    ctx.results[f"cox LA ~ {ctx.config.covariates}"] = res  # reused by 11 (its main model)
    tidy = res.tidy(exponentiate=True)
    tidy.insert(1, "label", [term_label(t) for t in tidy["term"]])
    rel = ctx.release  # the model's n and events are release cells, suppressed with Table 1
    spec = model_spec(res, spells, ctx.config.covariates, "reentered", release=rel, counts="cox")
    readable = model_table(tidy.assign(term=tidy["label"]), "HR")
    ctx.write_frame(
        "cox",
        tidy,
        title="Cox model of re-entry to care: hazard ratios",
        function=FUNCTION,
        disclosure=spec,
        readable=readable,
        notes=[
            f"{format_number(spec['n_obs'])} returns home, {format_number(spec['n_events'])} "
            "re-entries; Efron ties; "
            "standard errors robust to clustering by local authority (children nested within).",
        ],
    )
    # The fit table publishes the model's n and events as released (c where suppressed). The
    # count of rows dropped for missing covariates is left out: the release protects it.
    glance = res.glance().drop(columns=["n_dropped_missing"], errors="ignore")
    glance = glance.assign(n_obs=[spec["n_obs"]], n_events=[spec["n_events"]])
    ctx.write_frame("cox_fit", glance, title="Cox model fit", function=FUNCTION, disclosure=spec)
    fig = forest_figure(tidy.assign(term=tidy["label"]), label="Hazard ratio", title="Cox model")
    ctx.write_figure(
        "cox_forest",
        fig,
        alt="Forest plot of hazard ratios of re-entry with 95% confidence intervals for each "
        "characteristic at return, on a log scale with a dashed line at 1 (no difference).",
        title="Hazard ratios of re-entry (Cox model)",
        function=FUNCTION,
    )
    by_term = tidy.set_index("term")
    for key, term in {
        "cox_hr_prior_periods": "prior_periods",
        "cox_hr_section20": "section20",
        "cox_hr_moves": "placement_moves",
        "cox_hr_unplanned": "C(return_type, contr.treatment('planned'))[T.unplanned]",
    }.items():
        if term in by_term.index:
            r = by_term.loc[term]
            ctx.value(
                key,
                float(r["estimate"]),
                function=FUNCTION,
                fmt=f"{r['estimate']:.2f} (95% CI {r['conf_low']:.2f} to {r['conf_high']:.2f})",
            )
    ctx.value(
        "cox_concordance", float(glance["concordance"].iloc[0]), function=FUNCTION, fmt="{:.3f}"
    )


if __name__ == "__main__":
    run_script(__file__)
