"""01: the cohort flow (CONSORT) from rows read to returns home analysed.

Outputs: tables/cohort_flow (CSV, Markdown, HTML), figures/cohort_flow (PNG, SVG).
"""

from __future__ import annotations

from reunistat.pipeline import Context, run_script
from reunistat.report.figures import flow_figure
from reunistat.report.tables import flow_table, format_number

FUNCTION = "reunistat.cohort.build_cohort"


def run(ctx: Context) -> None:
    cohort = ctx.cohort
    flow = flow_table(cohort.flow, ctx.rules, release=ctx.release)
    ctx.write_counts(
        "cohort_flow",
        flow,
        title="Cohort flow: from rows read to returns home analysed",
        function=FUNCTION,
        notes=["Each 'remaining' row is the one before less the exclusions between them."],
    )
    t = flow.table
    keep = t["stage"].isin(["start", "remaining", "exclude"])
    steps = []
    for row in t.loc[keep].itertuples(index=False):
        counts = ", ".join(
            f"{format_number(getattr(row, c))} {c}"
            for c in ("children", "episodes", "periods", "spells")
            if str(getattr(row, c)) not in ("", "nan", "<NA>")
        )
        if row.stage == "exclude" and all(
            str(getattr(row, c)) in ("0", "") for c in ("children", "episodes", "periods")
        ):
            continue
        steps.append((str(row.step), counts, row.stage == "exclude"))
    fig = flow_figure(steps, "Cohort flow")
    ctx.write_figure(
        "cohort_flow",
        fig,
        alt="Flow diagram from the rows read in the 903 extract, through validation, periods "
        "of care and their ends, to the returns home analysed; exclusions branch to the "
        "right with their counts (c where suppressed).",
        title="Cohort flow diagram",
        function=FUNCTION,
        counted=True,
    )
    spells = cohort.spells
    # counts quoted in the paper are cells of the release: suppressed with their tables
    keys = ctx.release.extra["flow_keys"]
    ctx.count("n_spells", len(spells), function=FUNCTION, cell=("table1", "all", "all"))
    ctx.count(
        "n_children",
        int(spells["CHILD"].nunique()),
        function=FUNCTION,
        cell=("cohort_flow", keys["base"], "children"),
    )
    ctx.count(
        "n_reentries",
        int(spells["reentered"].sum()),
        function=FUNCTION,
        cell=("table1", "all", "re-entered"),
    )
    ctx.count("n_la", int(spells["LA"].nunique()), function=FUNCTION, cell=("paper", "n_la", "n"))
    ctx.value("data_end", str(cohort.data_end.date()), function=FUNCTION)
    ctx.value("first_return_year", int(spells["return_year"].min()), function=FUNCTION)
    ctx.value("last_return_year", int(spells["return_year"].max()), function=FUNCTION)


if __name__ == "__main__":
    run_script(__file__)
