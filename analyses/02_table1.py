"""02: Table 1, the spells by characteristics at return and re-entry status.

Outputs: tables/table1 (CSV, Markdown, HTML).
"""

from __future__ import annotations

from reunistat.pipeline import Context, run_script
from reunistat.report.tables import table1

FUNCTION = "reunistat.report.tables.table1"


def run(ctx: Context) -> None:
    t1 = table1(ctx.spells, ctx.rules, release=ctx.release)
    ctx.write_counts(
        "table1",
        t1,
        title="Returns home by characteristics at return and re-entry to care",
        function=FUNCTION,
        notes=[
            "Re-entered: re-entry observed during follow-up (any length); percentages are of "
            "the column total.",
        ],
    )


if __name__ == "__main__":
    run_script(__file__)
