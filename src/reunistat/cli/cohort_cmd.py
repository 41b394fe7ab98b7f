"""``reunistat validate`` and ``reunistat cohort``: check an extract, derive the spells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

_IGNORE_HELP = "A validation rule not to apply (repeatable), e.g. 357 for truncated histories"
_MODE_HELP = "strict: stop on any problem; lenient: exclude the affected children and say why"
_RECURSIVE_HELP = (
    "Also read the files of every subfolder (folders named as a collection year, "
    "such as 2019/ or 2019-20/, are read either way)"
)
_PREFER_HELP = (
    "When a folder holds one return twice, as DfE's XML return and as per-table files: "
    "auto (per-table files when they hold header and episodes, else the XML), tables or xml"
)
_DIR_HELP = "Folder of the extract (header, episodes, ... as CSV, XLSX, XML, Stata, SPSS, Parquet)"


def _print_reading(extract: object) -> None:
    """Print what was read from which file, and what was not used and why."""
    import pandas as pd

    from reunistat.tables import Extract

    assert isinstance(extract, Extract)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200):
        cols = ["table", "file", "sheet", "year", "year_from", "format", "encoding", "rows_read"]
        typer.echo("files read (collection year from the file name, its folder or a YEAR column):")
        typer.echo(extract.files[cols].to_string(index=False))
        if not extract.not_used.empty:
            typer.echo("not used:")
            for r in extract.not_used.itertuples(index=False):
                typer.echo(f"  {r.file}: {r.reason}")


def _config(
    config: Path | None,
    data_end: str | None,
    no_e13: bool,
    mode: str | None,
    la: str | None,
    ignore_rule: list[str] | None = None,
    uasc: str | None = None,
) -> object:
    from reunistat.cohort import CohortConfig

    base = CohortConfig.from_toml(config) if config is not None else CohortConfig()
    changes: dict[str, object] = {}
    if data_end is not None:
        changes["data_end"] = data_end
    if no_e13:
        changes["include_e13"] = False
    if mode is not None:
        changes["validation"] = mode
    if la is not None:
        changes["la"] = la
    if ignore_rule:
        changes["ignore_rules"] = tuple(ignore_rule)
    if uasc is not None:
        changes["uasc"] = uasc
    if not changes:
        return base
    from dataclasses import asdict

    return CohortConfig.from_mapping({**asdict(base), **changes})


def validate(
    directory: Annotated[Path, typer.Argument(help=_DIR_HELP)],
    data_end: Annotated[str | None, typer.Option(help="Data end date (YYYY-MM-DD)")] = None,
    problems_out: Annotated[
        Path | None, typer.Option("--problems-out", help="Write every problem to this CSV")
    ] = None,
    ignore_rule: Annotated[list[str] | None, typer.Option(help=_IGNORE_HELP)] = None,
    recursive: Annotated[bool, typer.Option("--recursive", help=_RECURSIVE_HELP)] = False,
    prefer: Annotated[str, typer.Option(help=_PREFER_HELP)] = "auto",
) -> None:
    """Read and validate an SSDA903 extract; list every problem found."""
    from reunistat.tables import describe_problems, read_extract, validate_tables

    extract = read_extract(directory, recursive=recursive, prefer=prefer)
    _print_reading(extract)
    result = validate_tables(
        extract, mode="lenient", data_end=data_end, ignore_rules=ignore_rule or ()
    )
    typer.echo("rows read and de-duplicated (stacked annual returns are repaired, not errors):")
    typer.echo(extract.stacking.to_string(index=False))
    typer.echo(describe_problems(result.problems))
    if problems_out is not None:
        result.problems.to_csv(problems_out, index=False)
        typer.echo(f"problems written to {problems_out}")
    if not result.problems.empty:
        n = len(result.excluded_children)
        typer.echo(f"{n:,} children would be excluded in lenient mode")
        raise typer.Exit(code=1)


def cohort(
    directory: Annotated[Path, typer.Argument(help=_DIR_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Spells table to write (.parquet or .csv)")],
    config: Annotated[
        Path | None, typer.Option(help="TOML file with a [cohort] table (CohortConfig)")
    ] = None,
    data_end: Annotated[str | None, typer.Option(help="Data end date (YYYY-MM-DD)")] = None,
    no_e13: Annotated[bool, typer.Option("--no-e13", help="Do not count E13 as a return")] = False,
    mode: Annotated[str | None, typer.Option(help=_MODE_HELP)] = None,
    la: Annotated[str | None, typer.Option(help="LA code when the extract has none")] = None,
    flow_out: Annotated[Path | None, typer.Option(help="Write the flow table to this CSV")] = None,
    ignore_rule: Annotated[list[str] | None, typer.Option(help=_IGNORE_HELP)] = None,
    recursive: Annotated[bool, typer.Option("--recursive", help=_RECURSIVE_HELP)] = False,
    uasc: Annotated[
        str | None, typer.Option(help="keep or exclude unaccompanied asylum-seeking children")
    ] = None,
    prefer: Annotated[str, typer.Option(help=_PREFER_HELP)] = "auto",
) -> None:
    """Derive the spells table (one row per return home) and print its flow and summary."""
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.cohort.output import write_spells
    from reunistat.report.cohort_summary import summary_text
    from reunistat.tables import ValidationError, read_extract

    cfg = _config(config, data_end, no_e13, mode, la, ignore_rule, uasc)
    assert isinstance(cfg, CohortConfig)
    try:
        extract = read_extract(directory, recursive=recursive, prefer=prefer)
        _print_reading(extract)
        result = build_cohort(extract, cfg)
    except ValidationError as err:
        typer.echo(str(err), err=True)
        typer.echo("(use --mode lenient to exclude these children and go on)", err=True)
        raise typer.Exit(code=1) from err
    write_spells(result, out)
    if flow_out is not None:
        result.flow.to_csv(flow_out, index=False)
    typer.echo(summary_text(result))
    typer.echo(f"\nspells written to {out}")


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``cohort`` to ``app``."""
    app.command(name="validate")(validate)
    app.command(name="cohort")(cohort)
