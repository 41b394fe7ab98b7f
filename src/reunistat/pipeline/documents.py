"""The pipeline's own outputs: the workbook, the paper, the run's statements (values.json)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.pipeline.context import Context

PIPELINE = "reunistat.pipeline"


#: The disclosure spec the paper's files are registered with.
PAPER_SPEC = {"type": "paper"}


def build_paper(ctx: Context, template: Path) -> None:
    """Build the paper from the run's outputs and register its files (a failure is recorded)."""
    start_paper(ctx, template)(None)


#: What is called with the paper's files but the PDF once they are final.
Written = Callable[[list[Path]], None]


def start_paper(ctx: Context, template: Path) -> Callable[[Written | None], None]:
    """Start :func:`build_paper`; return what finishes it (waits, registers, records a failure).

    The run's process does other work (the workbook) while pandoc reads the
    paper; nothing is registered before the returned function runs, so the
    outputs are listed in the same order as with :func:`build_paper`. The
    function takes what to call with the paper's files other than the PDF
    once they are final (:meth:`reunistat.report.paper.PaperBuild.finish`).
    """
    from reunistat.report import paper as paper_mod

    ctx.script = template.as_posix()
    try:
        build = paper_mod.start_paper(ctx, template)
    except paper_mod.PaperError as e:
        error = e

        def failed(written: Written | None) -> None:
            _paper_failed(ctx, template, error)

        return failed

    def finish(written: Written | None) -> None:
        try:
            paths = build.finish(written)
        except paper_mod.PaperError as e:
            _paper_failed(ctx, template, e)
            return
        ctx.script = template.as_posix()
        for p in paths:
            ctx._register(
                p, "reunistat.report.paper.build_paper", "paper", "the paper", dict(PAPER_SPEC)
            )

    return finish


def _paper_failed(ctx: Context, template: Path, error: Exception) -> None:
    ctx.script = template.as_posix()
    ctx.failed.append({"script": ctx.script, "error": str(error)})
    ctx.log(f"  FAILED the paper: {error}")


#: Tables copied into the Excel workbook, in order, when the run made them.
WORKBOOK_TABLES = (
    "table1",
    "cohort_flow",
    "km_horizons",
    "cox",
    "logistic",
    "logistic_margins",
    "logistic_outcome",
    "logistic_multilevel",
    "fine_gray",
    "recurrent",
    "evaluation",
    "power",
    "costs_national",
    "costs",
)


@dataclass(frozen=True)
class WorkbookInputs:
    """Everything the workbook is made of (:func:`workbook_inputs`): the same, the same bytes."""

    #: Each sheet: its name, title, source (script and function) and its CSV's bytes.
    sheets: tuple[tuple[str, str, str, bytes], ...]
    cover: tuple[str, ...]
    notes: tuple[str, ...]


#: A workbook written ahead (:class:`reunistat.pipeline.idle_core.IdleCore`): what it was
#: made of, and its bytes.
Prebuilt = tuple[WorkbookInputs, bytes]


def workbook_inputs(
    out_dir: Path,
    registry: dict[str, dict[str, Any]],
    values: dict[str, dict[str, Any]],
) -> WorkbookInputs | None:
    """What :func:`build_workbook` writes from (None: no main table was made)."""
    sheets = []
    for name in WORKBOOK_TABLES:
        rel = f"tables/{name}.csv"
        if rel in registry and (out_dir / rel).exists():
            o = registry[rel]
            raw = (out_dir / rel).read_bytes()
            sheets.append((name, o["title"], f"{o['script']} ({o['function']})", raw))
    if not sheets:
        return None
    v = {k: x["text"] for k, x in values.items()}
    cover = (
        v.get("data_label", ""),
        v.get("data_description", ""),
        f"Made by reunistat {_versions()['reunistat']} (`reunistat reproduce`). "
        "outputs/manifest.json records this file's SHA-256, the input data hashes, the "
        "configuration, the seed, the software versions and the git commit.",
        "The paper (outputs/paper) describes the definitions, methods and limitations.",
    )
    notes = (
        "Symbols: c = suppressed (a small count, or a cell that would reveal one); "
        "z = not applicable; k = rounds to zero.",
        v.get("disclosure_statement", ""),
        "A return home: a period of care ending with REC E4A (planned), E4B (unplanned) or "
        "E13; time zero is its end date. Re-entry: the start of the child's next period of care.",
        "Follow-up ends at re-entry, the data end, the 18th birthday, death or another "
        "permanent exit.",
        "Ratios (HR, OR, SHR) describe associations in populations of children; they are not "
        "tools for decisions about an individual child.",
    )
    return WorkbookInputs(tuple(sheets), cover, notes)


def write_workbook_of(inputs: WorkbookInputs, path: Path) -> list[str]:
    """Write the workbook made of ``inputs`` to ``path``; return its sheets."""
    import io

    from reunistat.report.workbook import write_workbook

    sheets = [
        (name, title, source, pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False))
        for name, title, source, raw in inputs.sheets
    ]
    write_workbook(
        path,
        title="Re-entry to care after a return home: tables",
        cover=list(inputs.cover),
        notes=list(inputs.notes),
        sheets=sheets,
    )
    return [s[0] for s in sheets]


def build_workbook(
    out_dir: Path,
    registry: dict[str, dict[str, Any]],
    values: dict[str, dict[str, Any]],
    prebuilt: Prebuilt | None = None,
) -> list[str] | None:
    """Write ``reunistat_tables.xlsx`` (a sheet per main table made); return the sheets.

    The sheets copy the CSV tables registered in ``registry`` (``{path: {"title",
    "script", "function", ...}}``); ``values`` give the cover's data statements.
    Returns ``None`` (and writes nothing) when no main table was made.
    ``prebuilt``: a workbook written ahead, whose bytes are written when it
    was made of the same inputs (the same tables, titles and statements).
    """
    inputs = workbook_inputs(out_dir, registry, values)
    if inputs is None:
        return None
    path = out_dir / "reunistat_tables.xlsx"
    if prebuilt is not None and prebuilt[0] == inputs:
        path.write_bytes(prebuilt[1])
        return [s[0] for s in inputs.sheets]
    return write_workbook_of(inputs, path)


def prebuild_workbook(
    out_dir: Path, registry: dict[str, dict[str, Any]], values: dict[str, dict[str, Any]]
) -> Prebuilt | None:
    """The workbook :func:`build_workbook` would write now, in memory (None: no table yet)."""
    import tempfile

    inputs = workbook_inputs(out_dir, registry, values)
    if inputs is None:
        return None
    with tempfile.TemporaryDirectory(prefix="reunistat-workbook-") as tmp:
        path = Path(tmp) / "reunistat_tables.xlsx"
        write_workbook_of(inputs, path)
        return inputs, path.read_bytes()


def register_workbook(ctx: Context, sheets: list[str]) -> None:
    """Register the workbook :func:`build_workbook` wrote."""
    ctx._register(
        ctx.out / "reunistat_tables.xlsx",
        "reunistat.report.workbook.write_workbook",
        "workbook",
        "Excel workbook of the main tables",
        {"type": "same_as", "of": [f"tables/{s}.csv" for s in sheets]},
    )


def run_values(ctx: Context) -> None:
    """Record the paper's statements about the run itself (data, disclosure, version)."""
    cfg, fn = ctx.config, "reunistat.pipeline.reproduce"
    ctx.script = PIPELINE
    truth = cfg.data_dir / "truth.json"
    if cfg.mode == "synthetic":
        seed = json.loads(truth.read_text("utf-8")).get("seed") if truth.exists() else cfg.seed
        ctx.value("data_label", "Synthetic data: no real children", function=fn)
        ctx.value(
            "data_description",
            "The data are synthetic: linked SSDA903 tables simulated by reunistat's generator "
            f"(seed {seed}) with re-entry calibrated to published English figures. No real "
            "child is described; the numbers show what the analysis produces, not findings.",
            function=fn,
        )
    else:
        ctx.value("data_label", "SSDA903 children-looked-after data, England", function=fn)
        ctx.value(
            "data_description",
            "The data are the children-looked-after return (SSDA903) for England, read from "
            "the extract named in the manifest.",
            function=fn,
        )
    r = ctx.rules
    ctx.value(
        "disclosure_statement",
        (
            f"Counts below {r.threshold} are shown as c, with secondary suppression so that "
            "no total reveals them"
            + (f", and counts are rounded to the nearest {r.rounding}" if r.rounding else "")
            + f"; curves stop where fewer than {r.threshold} remain at risk and each step "
            f"rests on at least {r.threshold} re-entries."
        )
        if r.apply
        else "Disclosure control was not applied: the input is the committed synthetic sample.",
        function=fn,
    )
    ctx.value(
        "curve_disclosure_note",
        "Curves and horizon figures are read from the published, disclosure-controlled "
        f"curves, whose steps each rest on at least {r.threshold} re-entries, so they can lag "
        "the exact estimate in small groups."
        if r.apply
        else "",
        function=fn,
    )
    ctx.value("reunistat_version", _versions()["reunistat"], function=fn)


def write_values(ctx: Context) -> None:
    """Write ``values.json`` (every number recorded for the paper) and register it."""
    path = ctx.out / "values.json"
    path.write_text(json.dumps(dict(sorted(ctx.values.items())), indent=2) + "\n", encoding="utf-8")
    ctx.script = PIPELINE
    ctx._register(
        path,
        "reunistat.pipeline.Context.value",
        "values",
        "numbers quoted in the paper",
        {"type": "values"},
    )


def _versions() -> dict[str, str]:
    """:func:`reunistat.results.package_versions`, imported when first needed.

    ``reunistat.results`` imports scipy.stats (about a second): importing it
    lazily keeps it off the start of ``reunistat reproduce``, where nothing
    runs beside it; the run imports it beside the cohort (``import_for``).
    """
    from reunistat.results import package_versions

    return package_versions()
