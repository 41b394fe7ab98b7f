"""06: competing exits (Aalen-Johansen, Fine-Gray) and repeated returns (Andersen-Gill).

Outputs: tables/aj_overall + figures/aj_overall (cumulative incidence of re-entry
and of competing exits), tables/fine_gray, tables/recurrent.
"""

from __future__ import annotations

import pandas as pd

from reunistat.models.survival import aalen_johansen, andersen_gill, fine_gray, recurrent_episodes
from reunistat.models.survival.recurrent import child_codes
from reunistat.pipeline import Context, run_script
from reunistat.report.curves import publish_curve
from reunistat.report.figures import curve_figure
from reunistat.report.tables import (
    formula_variables,
    model_spec,
    model_table,
    term_label,
)

#: The columns recurrent_episodes reads (the child, the return's order and date, follow-up)
#: and the Andersen-Gill fit's event, besides the covariates.
EPISODE_COLUMNS = ("CHILD", "spell_number", "return_date", "days_followed", "reentered")
CAUSES = {"1": "re-entry to care", "2": "competing exit\n(reached 18, other)"}


def _write_model(
    ctx: Context, name: str, res, spec: dict, title: str, label: str, function: str, note: str
) -> None:
    tidy = res.tidy(exponentiate=True)
    tidy.insert(1, "label", [term_label(t) for t in tidy["term"]])
    ctx.write_frame(
        name,
        tidy,
        title=title,
        function=function,
        disclosure=spec,
        readable=model_table(tidy.assign(term=tidy["label"]), label),
        notes=[note],
    )


def run(ctx: Context) -> None:
    sp = ctx.spells
    aj = aalen_johansen(sp, "days_followed", "event_type")
    pub = publish_curve(
        aj,
        ctx.rules,
        ctx.config.horizons_days,
        estimate="cumulative_incidence_1",
        conf=("conf_low_1", "conf_high_1"),
        event_cols=("n_events_1", "n_events_2"),
        drop_cols=("n_censored", "surv", "surv_std_error", "std_error_1", "std_error_2"),
        release=ctx.release,
        grouping="overall",
    )
    # the competing exit's curve is published from the same cut rows
    cause2 = publish_curve(
        aj,
        ctx.rules,
        ctx.config.horizons_days,
        estimate="cumulative_incidence_2",
        conf=("conf_low_2", "conf_high_2"),
        event_cols=("n_events_1", "n_events_2"),
        release=ctx.release,
        grouping="overall",
    )
    long = pd.concat(
        [
            pub.curve.rename(
                columns={"cumulative_incidence_1": "cif", "conf_low_1": "lo", "conf_high_1": "hi"}
            ).assign(group=CAUSES["1"])[["group", "time", "n_risk", "cif", "lo", "hi"]],
            cause2.curve.rename(
                columns={"cumulative_incidence_2": "cif", "conf_low_2": "lo", "conf_high_2": "hi"}
            ).assign(group=CAUSES["2"])[["group", "time", "n_risk", "cif", "lo", "hi"]],
        ],
        ignore_index=True,
    )
    fn = "reunistat.models.survival.aalen_johansen"
    ctx.write_frame(
        "aj_overall",
        long,
        title="Cumulative incidence of re-entry and of competing exits (Aalen-Johansen)",
        function=fn,
        disclosure={"type": "curve", "estimate_cols": ["cif", "lo", "hi"]},
        notes=["n_risk: returns still followed just after the time shown (days)."],
        digits=4,
    )
    fig = curve_figure(
        long,
        None,
        estimate="cif",
        conf=("lo", "hi"),
        title="Re-entry and competing exits after a return home",
        ylabel="Cumulative incidence",
        xmax_days=max(ctx.config.horizons_days) + 180,
    )
    ctx.write_figure(
        "aj_overall",
        fig,
        alt="Two cumulative incidence curves over years since the return home: re-entry to "
        "care, and exits that end the chance of re-entry (reaching 18 or another permanent "
        "exit), with 95% confidence bands.",
        title="Cumulative incidence of re-entry with competing exits",
        function=fn,
        counted=True,
    )
    fg = fine_gray("~ " + ctx.config.covariates, sp, "days_followed", "event_type")
    _write_model(
        ctx,
        "fine_gray",
        fg,
        model_spec(fg, sp, ctx.config.covariates, "reentered", release=ctx.release, counts="cox"),
        "Fine-Gray model of re-entry with competing exits: subdistribution hazard ratios",
        "SHR",
        "reunistat.models.survival.fine_gray",
        "Competing events: reaching 18 and other permanent exits.",
    )
    # only the columns the fit reads (and the episodes need): the same model, fewer copies
    named = formula_variables(ctx.config.covariates, sp)
    # the child as integer codes: the same clusters in the same order as the identifiers
    rec = recurrent_episodes(
        sp[[c for c in sp.columns if c in {*named, *EPISODE_COLUMNS}]], id_codes=True
    )
    ag = andersen_gill(  # no output here reads its concordance nor robust score test
        ctx.config.covariates,
        rec if rec["CHILD"].dtype.kind == "i" else rec.assign(CHILD=child_codes(rec)),
        "stop_days",
        "reentered",
        entry_col="start_days",
        cluster="CHILD",
        concordance=False,
        robust_score=False,
    )
    _write_model(
        ctx,
        "recurrent",
        ag,
        model_spec(ag, rec, ctx.config.covariates, "reentered", release=ctx.release, counts="cox"),
        "Andersen-Gill model of repeated re-entries: hazard ratios",
        "HR",
        "reunistat.models.survival.andersen_gill",
        "Time since the child's first return home; robust errors clustered by child.",
    )


if __name__ == "__main__":
    run_script(__file__)
