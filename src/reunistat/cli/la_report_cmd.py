"""``reunistat la-report``: a report an authority runs on its own 903 returns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def la_report(
    directory: Annotated[
        Path,
        typer.Argument(
            metavar="DIR", help="Folder of the authority's 903 returns (annual CSV, XLSX or XML)"
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder to write the report into")
    ] = Path("la_report"),
    title: Annotated[str | None, typer.Option(metavar="TEXT", help="Title of the report")] = None,
    la: Annotated[
        str | None, typer.Option(metavar="CODE", help="LA code when the returns hold none")
    ] = None,
    benchmarks: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.csv",
            help="CSV of national figures (horizon_days, national_reentry, source); "
            "default: the published figures that ship with reunistat",
        ),
    ] = None,
    threshold: Annotated[
        int, typer.Option(metavar="N", help="Disclosure threshold: smallest count shown")
    ] = 10,
    no_disclosure: Annotated[
        bool,
        typer.Option(
            "--no-disclosure",
            help="Show exact small numbers (for use inside the authority only; never share)",
        ),
    ] = False,
    data_end: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Data end date")
    ] = None,
) -> None:
    """Write an HTML report and workbook of returns home and re-entry from one authority's returns.

    Re-entry at 3, 12 and 24 months by year of return and by the published risk
    factors, curves with the numbers at risk, an adjusted model where numbers
    allow, and national figures for comparison. Disclosure control is on unless
    --no-disclosure is given.
    """
    from reunistat import kernels

    kernels.choose()  # the same bytes on any x86-64 CPU with AVX2 (before numpy loads)
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.report.disclosure import DisclosureRules
    from reunistat.report.la_report import build_la_report, read_benchmarks, write_la_report
    from reunistat.tables import read_extract

    if not directory.is_dir():
        from reunistat.errors import InputError

        raise InputError(f"{directory} is not a folder: give the folder holding the 903 returns")
    # an authority's own returns are real data: zeros are disclosive, as ONS SRS / ACRO
    # practice treats them (a 0 reveals the outcome of a whole group)
    rules = DisclosureRules(apply=not no_disclosure, threshold=threshold, zeros_disclosive=True)
    mapping: dict[str, object] = {"validation": "lenient"}
    if la is not None:
        mapping["la"] = la
    if data_end is not None:
        mapping["data_end"] = data_end
    cohort = build_cohort(read_extract(directory), CohortConfig.from_mapping(mapping))
    bench = read_benchmarks(benchmarks) if benchmarks is not None else None
    spells = cohort.spells
    las = sorted(spells["LA"].dropna().astype(str).unique()) if "LA" in spells else []
    name = title or _default_title(las)
    report = build_la_report(
        spells, rules, title=name, benchmarks=bench, source=f"903 returns in {directory.name}"
    )
    paths = write_la_report(report, out)
    typer.echo(f"{len(spells):,} returns home; report written to " + ", ".join(map(str, paths)))


def register(app: typer.Typer) -> None:
    """Add ``la-report`` to ``app``."""
    app.command(
        name="la-report", short_help="One authority's report (HTML, workbook) from its returns."
    )(la_report)


def _default_title(las: list[str]) -> str:
    """Title naming the authority, or how many when the folder holds several.

    >>> _default_title(["E09000001"])
    'Re-entry to care after a return home: E09000001'
    >>> _default_title(["E1", "E2", "E3", "E4"])
    'Re-entry to care after a return home: 4 local authorities'
    """
    base = "Re-entry to care after a return home"
    if not las:
        return base
    if len(las) <= 3:
        return f"{base}: {', '.join(las)}"
    return f"{base}: {len(las)} local authorities"
