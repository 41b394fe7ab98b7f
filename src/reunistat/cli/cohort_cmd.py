"""``reunistat validate`` and ``reunistat cohort``: check an extract, derive the spells."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from reunistat.errors import InputError

#: Width the printed tables fit.
WIDTH = 100
MODES = ("strict", "lenient")
_IGNORE_HELP = "A validation rule not to apply (repeatable), e.g. 357 for truncated histories"
_MODE_HELP = (
    "Validation: strict stops on any problem; lenient excludes the affected children "
    "and says why (default strict, or the config's)"
)
_RECURSIVE_HELP = (
    "Also read the files of every subfolder (folders named as a collection year, "
    "such as 2019/ or 2019-20/, are read either way)"
)
_PREFER_HELP = (
    "When a folder holds one return twice, as DfE's XML return and as per-table files: "
    "auto (per-table files when they hold header and episodes, else the XML), tables or xml"
)
_DIR_HELP = "Folder of the extract (header, episodes, ... as CSV, XLSX, XML, Stata, SPSS, Parquet)"


def _print_reading(extract: object, directory: Path) -> None:
    """Print what was read from which file, and what was not used and why (in 100 columns)."""
    import pandas as pd

    from reunistat.tables import Extract

    assert isinstance(extract, Extract)
    cols = ["table", "file", "sheet", "year", "year_from", "format", "encoding", "rows_read"]
    files = extract.files[cols].copy()
    files["file"] = [_relative(f, directory) for f in files["file"]]
    shown = files.astype(object).where(files.notna(), "")
    shown = shown.loc[:, [c for c in cols if (shown[c].astype(str) != "").any()]]
    with pd.option_context("display.max_colwidth", 40, "display.width", WIDTH):
        typer.echo(f"files read from {directory}")
        typer.echo("(collection year from the file name, its folder or a YEAR column):")
        typer.echo(shown.to_string(index=False))
    if not extract.not_used.empty:
        typer.echo("not used:")
        for r in extract.not_used.itertuples(index=False):
            typer.echo(f"  {_relative(r.file, directory)}: {r.reason}")


def _relative(file: object, directory: Path) -> str:
    try:
        return Path(str(file)).relative_to(directory).as_posix()
    except ValueError:
        return str(file)


def flow_text(flow: object, width: int = 100) -> str:
    """Return the cohort's flow as a table that fits ``width`` columns.

    The step's text wraps in its column; counts get thousands separators; the
    reason codes are left to ``--flow-out`` (the full flow as CSV).
    """
    import textwrap

    import pandas as pd

    assert isinstance(flow, pd.DataFrame)
    counts = [c for c in ("children", "episodes", "periods", "spells") if c in flow.columns]
    num_w = 9
    stage_w = max(len("stage"), int(flow["stage"].astype(str).str.len().max()))
    step_w = width - stage_w - 2 - len(counts) * (num_w + 1)
    head = f"{'stage':<{stage_w}}  {'step':<{step_w}}" + "".join(f" {c:>{num_w}}" for c in counts)
    lines = [head]
    for _, row in flow.iterrows():
        text = textwrap.wrap(str(row["step"]), step_w) or [""]
        nums = "".join(f" {_count(row[c]):>{num_w}}" for c in counts)
        lines.append(f"{row['stage']!s:<{stage_w}}  {text[0]:<{step_w}}{nums}".rstrip())
        lines += [f"{'':<{stage_w}}  {t}" for t in text[1:]]
    return "\n".join(lines)


def _count(v: Any) -> str:
    """A count with thousands separators; blank when missing; text as it is."""
    import pandas as pd

    if isinstance(v, str):
        return v
    if v is None or bool(pd.isna(v)):
        return ""
    return f"{int(v):,}"


def fit_lines(text: str, width: int = WIDTH) -> str:
    """Wrap each line longer than ``width``, its continuation indented under its text.

    A line led by a count (``"   17  table ..."``) continues under its text.

    >>> print(fit_lines("  table x: " + "word " * 5, width=20))
      table x: word word
        word word word
    >>> print(fit_lines("   17  rule 501: " + "word " * 4, width=24))
       17  rule 501: word
           word word word
    """
    import re
    import textwrap

    out = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        lead = re.match(r"^\s*(\d[\d,]*\s+)?", line)
        indent = " " * (
            lead.end() if lead and lead.group(1) else len(line) - len(line.lstrip()) + 2
        )
        first, rest = line[: len(line) - len(line.lstrip())], line.lstrip()
        out += textwrap.wrap(
            rest,
            width,
            initial_indent=first,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )
    return "\n".join(out)


def _nonzero_columns(table: Any) -> Any:
    """The columns of a count table that say something (not all zero or blank)."""
    keep = [
        c
        for c in table.columns
        if c in ("table", "rows_read", "rows_kept")
        or (table[c].astype(str).str.strip().replace("0", "") != "").any()
    ]
    return table[keep]


def _check_folder(directory: Path) -> None:
    """The extract is a folder: a file given in its place is named as such."""
    if directory.is_file():
        raise InputError(
            f"{directory} is a file; give the folder that holds the extract's files "
            f"(e.g. {directory.parent})"
        )


def _check_suffix(path: Path | None, option: str, allowed: tuple[str, ...]) -> None:
    """Refuse an output file whose suffix is not a format the option writes."""
    if path is not None and path.suffix.lower() not in allowed:
        raise InputError(
            f"{option} {path}: the file name must end in {' or '.join(allowed)} (the format "
            "written is chosen by it)"
        )


def _config(
    config: Path | None,
    data_end: str | None,
    no_e13: bool,
    mode: str | None,
    la: str | None,
    ignore_rule: list[str] | None = None,
    uasc: str | None = None,
) -> object:
    import tomllib

    from reunistat.cohort import CohortConfig
    from reunistat.errors import ConfigError

    try:
        base = CohortConfig.from_toml(config) if config is not None else CohortConfig()
    except FileNotFoundError as err:
        raise ConfigError(f"--config {config}: no such file") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"--config {config} is not valid TOML: {err}") from err
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


_RECURSIVE = typer.Option("--recursive/--no-recursive", help=_RECURSIVE_HELP)
_QUIET = typer.Option("--quiet", "-q", help="No progress on stderr.")


def validate(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help=_DIR_HELP)],
    data_end: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Data end date")
    ] = None,
    problems_out: Annotated[
        Path | None,
        typer.Option("--problems-out", metavar="FILE.csv", help="Write every problem to this CSV"),
    ] = None,
    ignore_rule: Annotated[
        list[str] | None, typer.Option(metavar="RULE", help=_IGNORE_HELP)
    ] = None,
    recursive: Annotated[bool, _RECURSIVE] = False,
    quiet: Annotated[bool, _QUIET] = False,
    prefer: Annotated[str, typer.Option(metavar="[auto|tables|xml]", help=_PREFER_HELP)] = "auto",
) -> None:
    """Read and validate an SSDA903 extract; list every problem found (exit 1 if any)."""
    from reunistat.cli.progress import Steps
    from reunistat.tables import describe_problems, read_extract, validate_tables

    _check_folder(directory)
    _check_suffix(problems_out, "--problems-out", (".csv",))
    with Steps(quiet=quiet) as steps:
        with steps.step(f"reading {directory}"):
            extract = read_extract(directory, recursive=recursive, prefer=prefer)
        with steps.step("validating"):
            result = validate_tables(
                extract, mode="lenient", data_end=data_end, ignore_rules=ignore_rule or ()
            )
    _print_reading(extract, directory)
    typer.echo("rows read and de-duplicated (stacked annual returns are repaired, not errors):")
    typer.echo(_nonzero_columns(extract.stacking).to_string(index=False))
    typer.echo(fit_lines(describe_problems(result.problems)))
    if problems_out is not None:
        result.problems.to_csv(problems_out, index=False)
        typer.echo(f"problems written to {problems_out}")
    if not result.problems.empty:
        n = len(result.excluded_children)
        typer.echo(f"{n:,} children would be excluded in lenient mode")
        raise typer.Exit(code=1)


def _mode(value: str | None) -> str | None:
    if value is None or value in MODES:
        return value
    raise typer.BadParameter(f"{value!r} is not a mode: --mode is strict or lenient")


def cohort(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help=_DIR_HELP)],
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="FILE", help="Spells table to write: a .parquet or .csv file name"
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="TOML file with a [cohort] table (CohortConfig)"),
    ] = None,
    data_end: Annotated[
        str | None, typer.Option(metavar="YYYY-MM-DD", help="Data end date")
    ] = None,
    e13: Annotated[
        bool | None,
        typer.Option("--e13/--no-e13", help="Count E13 as a return home (default yes)"),
    ] = None,
    mode: Annotated[
        str | None, typer.Option(metavar="[strict|lenient]", callback=_mode, help=_MODE_HELP)
    ] = None,
    la: Annotated[
        str | None, typer.Option(metavar="CODE", help="LA code when the extract has none")
    ] = None,
    flow_out: Annotated[
        Path | None,
        typer.Option(metavar="FILE.csv", help="Write the whole flow (with reason codes) to a CSV"),
    ] = None,
    ignore_rule: Annotated[
        list[str] | None, typer.Option(metavar="RULE", help=_IGNORE_HELP)
    ] = None,
    recursive: Annotated[bool, _RECURSIVE] = False,
    uasc: Annotated[
        str | None,
        typer.Option(
            metavar="[keep|exclude]",
            help="keep or exclude unaccompanied asylum-seeking children",
        ),
    ] = None,
    quiet: Annotated[bool, _QUIET] = False,
    prefer: Annotated[str, typer.Option(metavar="[auto|tables|xml]", help=_PREFER_HELP)] = "auto",
) -> None:
    """Derive the spells table (one row per return home) and print its flow and summary."""
    from reunistat.cli.progress import Steps
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.cohort.output import write_spells
    from reunistat.report.cohort_summary import summary_text
    from reunistat.tables import ValidationError, read_extract

    _check_folder(directory)
    _check_suffix(out, "--out", (".parquet", ".csv"))
    _check_suffix(flow_out, "--flow-out", (".csv",))
    cfg = _config(config, data_end, e13 is False, mode, la, ignore_rule, uasc)
    assert isinstance(cfg, CohortConfig)
    with Steps(quiet=quiet) as steps:
        with steps.step(f"reading {directory}"):
            extract = read_extract(directory, recursive=recursive, prefer=prefer)
        try:
            with steps.step("deriving the cohort"):
                result = build_cohort(extract, cfg)
        except ValidationError as err:
            _print_reading(extract, directory)
            typer.echo(fit_lines(str(err)), err=True)
            typer.echo("(use --mode lenient to exclude these children and go on)", err=True)
            raise typer.Exit(code=1) from err
        with steps.step(f"writing {out}"):
            write_spells(result, out)
            if flow_out is not None:
                result.flow.to_csv(flow_out, index=False)
    _print_reading(extract, directory)
    typer.echo(summary_text(result, flow=False))
    typer.echo("\nflow (every row read accounted for; --flow-out FILE.csv has the reason codes):")
    typer.echo(flow_text(result.flow, WIDTH))
    typer.echo(f"\nspells written to {out}")


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``cohort`` to ``app``."""
    app.command(name="validate", short_help="Read and validate an extract; list every problem.")(
        validate
    )
    app.command(name="cohort", short_help="Derive the spells (one per return home) and the flow.")(
        cohort
    )
