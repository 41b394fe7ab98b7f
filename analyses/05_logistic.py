"""05: logistic model of re-entry within a fixed horizon: odds ratios and marginal effects.

Outputs: tables/logistic, tables/logistic_margins, tables/logistic_outcome,
figures/logistic_forest.
"""

from __future__ import annotations

import pandas as pd

from reunistat.models.logistic import average_marginal_effects, logistic, multilevel
from reunistat.pipeline import Context, run_script
from reunistat.report.figures import forest_figure
from reunistat.report.labels import labelled_margins, with_references
from reunistat.report.tables import (
    count_table,
    model_spec,
    model_table,
    term_label,
)
from reunistat.results import etable

FUNCTION = "reunistat.models.logistic.logistic"


def run(ctx: Context) -> None:
    h = ctx.config.logistic_horizon_days
    pf = "days_potential_followup"  # select on potential follow-up: no selection by outcome
    # reference levels first: the marginal effects contrast with the odds ratios' references
    spells = with_references(ctx.spells, ctx.config.covariates)
    ctx.results[f"with references ~ {ctx.config.covariates}"] = spells  # reused by 12
    res = logistic(
        "~ " + ctx.config.covariates,
        spells,
        horizon_days=h,
        cluster="LA",
        potential_followup_col=pf,
    )
    ctx.results[f"logistic {h} LA {pf} ~ {ctx.config.covariates}"] = res  # reused by 12
    outcome = res.extras["outcome"]
    tidy = res.tidy(exponentiate=True)
    tidy.insert(1, "label", [term_label(t) for t in tidy["term"]])
    used = res.extras.get("data")
    fitted = used if isinstance(used, pd.DataFrame) else spells
    ycol = res.extras.get("outcome_col", "reentered")
    spec = model_spec(
        res, fitted, ctx.config.covariates, ycol, release=ctx.release, counts="logistic"
    )
    ctx.write_frame(
        "logistic",
        tidy,
        title=f"Logistic model of re-entry within {h} days: odds ratios",
        function=FUNCTION,
        disclosure=spec,
        readable=model_table(tidy.assign(term=tidy["label"]), "OR"),
        notes=[
            f"Returns that could be followed for {h} days (to the data end and the 18th "
            "birthday), whatever happened; standard errors "
            "robust to clustering by local authority.",
        ],
    )
    ame = average_marginal_effects(res)
    res.extras.pop("design_matrix", None)  # for the margins only: not kept for 10-12
    ctx.write_frame(
        "logistic_margins",
        ame,
        title=f"Average marginal effects on the probability of re-entry within {h} days",
        function="reunistat.models.logistic.average_marginal_effects",
        disclosure=spec,
        readable=labelled_margins(ame),
        notes=[
            "Change in the probability of re-entry, in percentage points, against the same "
            "reference groups as the odds ratios; for a count or length, per unit shown."
        ],
    )
    rel = ctx.release
    declared = [rel.value("logistic_outcome", r, "spells") for r in ("offered", "used")]
    if declared != [outcome.n_spells, outcome.n_used]:
        raise RuntimeError("the release's logistic outcome counts differ from the model's")
    ctx.write_counts(
        "logistic_outcome",
        count_table(rel, "logistic_outcome"),
        title=f"Fixed-horizon outcome ({h} days): spells used and excluded",
        function="reunistat.models.logistic.horizon_outcome",
    )
    ctx.count(
        "logit_n_used",
        outcome.n_used,
        function=FUNCTION,
        cell=("logistic_outcome", "used", "spells"),
    )
    ctx.count(
        "logit_n_excluded",
        outcome.n_excluded_potential + outcome.n_excluded_censored,
        function=FUNCTION,
        cell=("paper:logistic", "logit_n_excluded", "n"),
    )
    ctx.value("logit_horizon", h, function=FUNCTION)
    ml = multilevel(
        "~ " + ctx.config.covariates,
        spells,
        horizon_days=h,
        cluster="LA",
        potential_followup_col=pf,
        start=res,  # the same model's logistic fit: its start, not fitted again
    )
    ctx.results[f"multilevel {h} LA {pf} ~ {ctx.config.covariates}"] = ml  # reused by 10
    both = etable(
        {"logistic, cluster-robust by LA": res, "random intercept by LA": ml},
        stats=("mor", "mor_conf_low", "mor_conf_high", "sigma2_la"),
        labels={t: term_label(t) for t in ml.params.index},
    )
    both.index.name = "term"
    ctx.write_frame(
        "logistic_multilevel",
        both.reset_index(),
        title=f"Odds ratios of re-entry within {h} days: population-average and within-authority",
        function="reunistat.models.logistic.multilevel",
        disclosure=spec,
        notes=[
            "mor: median odds ratio between two authorities for the same child; sigma2_la: "
            "variance of the authorities' random intercepts (Laplace approximation).",
        ],
    )
    mor = ml.fit_stats
    ctx.value(
        "logit_mor",
        float(mor["mor"]),
        function="reunistat.models.logistic.multilevel",
        fmt=f"{mor['mor']:.2f} (95% CI {mor['mor_conf_low']:.2f} to {mor['mor_conf_high']:.2f})",
    )
    fig = forest_figure(
        tidy.iloc[1:].assign(term=tidy["label"].iloc[1:]),
        label="Odds ratio",
        title=f"Logistic model (re-entry within {h} days)",
    )
    ctx.write_figure(
        "logistic_forest",
        fig,
        alt=f"Forest plot of odds ratios of re-entry within {h} days with 95% confidence "
        "intervals for each characteristic at return, log scale, dashed line at 1.",
        title=f"Odds ratios of re-entry within {h} days (logistic model)",
        function=FUNCTION,
    )


if __name__ == "__main__":
    run_script(__file__)
