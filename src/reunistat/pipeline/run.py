"""Running the pipeline: data, the numbered scripts, workbook, paper, checks, manifest."""

from __future__ import annotations

import json
import runpy
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reunistat.report.disclosure import DisclosureBreach
from reunistat.results import package_versions

if TYPE_CHECKING:
    pass

from reunistat.pipeline.config import MANIFEST, PipelineConfig, PipelineError, load_config
from reunistat.pipeline.context import Context
from reunistat.pipeline.manifest import build_manifest, input_hashes, update_manifest


def ensure_data(cfg: PipelineConfig, log: Callable[[str], None] = print) -> None:
    """Generate the synthetic dataset into ``data_dir`` if it is missing (synthetic mode only)."""
    d = cfg.data_dir
    if d.is_dir() and any(d.iterdir()):
        return
    if cfg.mode != "synthetic":
        raise PipelineError(
            f"data.dir {d} holds no extract. In real mode point data.dir at the folder of the "
            "903 extract (header, episodes; cin, npd, postcodes, la optional)."
        )
    from reunistat.synthetic import generate
    from reunistat.synthetic import load_config as load_generator_config

    log(f"generating the synthetic dataset (seed {cfg.seed}, scale {cfg.scale}) into {d}")
    data = generate(
        load_generator_config(cfg.generator_config), seed=cfg.seed, scale=cfg.scale, progress=False
    )
    data.write(d)


def analysis_scripts(analyses_dir: Path, only: Sequence[str] | None = None) -> list[Path]:
    """Return the scripts ``NN_name.py`` in order (or those whose number or name is given)."""
    scripts = sorted(analyses_dir.glob("[0-9][0-9]_*.py"))
    if only:
        scripts = [s for s in scripts if s.name[:2] in only or s.stem in only or s.name in only]
    return scripts


def _prepare_outputs(out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / MANIFEST).exists():
            raise PipelineError(
                f"{out} exists, is not empty and has no {MANIFEST}: not a reunistat outputs "
                "folder, so it is left alone. Choose another outputs.dir."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def run_scripts(ctx: Context, scripts: Sequence[Path]) -> dict[str, float]:
    """Run each script's ``run(ctx)``; return the seconds each took.

    A script that raises is recorded in ``ctx.failed`` (with its error) and the
    others still run, so one failing analysis does not hide the rest; the
    run then ends with an error (see :func:`reproduce`).
    """
    timings = {}
    for path in scripts:
        ctx.script = f"{ctx.config.analyses_dir.as_posix()}/{path.name}"
        ctx.log(f"running {ctx.script}")
        t0 = time.perf_counter()
        try:
            module = runpy.run_path(str(path), run_name="reunistat_analysis")
            if "run" not in module:
                raise PipelineError(f"{path} defines no run(ctx) function")
            module["run"](ctx)
        except Exception as e:  # recorded; the run fails at its end
            ctx.failed.append({"script": ctx.script, "error": f"{type(e).__name__}: {e}"})
            ctx.log(f"  FAILED {ctx.script}:\n{traceback.format_exc()}")
        timings[ctx.script] = round(time.perf_counter() - t0, 2)
    return timings


@dataclass
class RunResult:
    """What :func:`reproduce` did."""

    manifest: dict[str, Any]
    manifest_path: Path
    breaches: list[str]


def reproduce(
    cfg: PipelineConfig,
    *,
    only: Sequence[str] | None = None,
    paper: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> RunResult:
    """Run the whole pipeline; raise :class:`DisclosureBreach` if any output breaks the rules.

    The manifest is written even when the disclosure check fails (its
    ``status`` says so), so the breach can be inspected.
    """
    from reunistat.report import checker
    from reunistat.report import paper as paper_mod

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    ensure_data(cfg, log)
    _prepare_outputs(cfg.outputs_dir)
    t0 = time.perf_counter()
    inputs = input_hashes(cfg.data_dir)
    timings["hash inputs"] = round(time.perf_counter() - t0, 2)
    ctx = Context(cfg, log)
    t0 = time.perf_counter()
    _ = ctx.cohort
    timings["read and derive cohort"] = round(time.perf_counter() - t0, 2)
    _run_values(ctx)
    timings.update(run_scripts(ctx, analysis_scripts(cfg.analyses_dir, only)))
    t0 = time.perf_counter()
    build_workbook(ctx)
    timings["workbook"] = round(time.perf_counter() - t0, 2)
    if paper and cfg.paper_template is not None:
        t0 = time.perf_counter()
        ctx.script = cfg.paper_template.as_posix()
        try:
            paper_mod.build_paper(ctx, cfg.paper_template)
        except paper_mod.PaperError as e:
            ctx.failed.append({"script": ctx.script, "error": str(e)})
            ctx.log(f"  FAILED the paper: {e}")
        timings["paper"] = round(time.perf_counter() - t0, 2)
    _write_values(ctx)
    t0 = time.perf_counter()
    breaches = checker.check_outputs(ctx)
    checker.write_report(ctx, breaches)
    timings["disclosure check"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    manifest = build_manifest(ctx, inputs, breaches, timings)
    if command is not None:
        manifest["command"] = command
    path = cfg.outputs_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if ctx.failed:
        raise PipelineError(
            f"{len(ctx.failed)} step(s) failed (their other outputs were written and "
            "checked; see the manifest):\n"
            + "\n".join(f"  - {f['script']}: {f['error']}" for f in ctx.failed)
        )
    if breaches:
        raise DisclosureBreach(
            f"{len(breaches)} disclosure breach(es); see "
            f"{cfg.outputs_dir / 'disclosure_report.md'}:\n"
            + "\n".join(f"  - {b}" for b in breaches[:50])
        )
    return RunResult(manifest, path, breaches)


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


def build_workbook(ctx: Context) -> None:
    """Write ``reunistat_tables.xlsx``: cover, notes and a sheet per main table (copies)."""
    from reunistat.report.workbook import write_workbook

    sheets = []
    for name in WORKBOOK_TABLES:
        rel = f"tables/{name}.csv"
        if rel in ctx.outputs:
            o = ctx.outputs[rel]
            df = pd.read_csv(ctx.out / rel, dtype=str, keep_default_na=False)
            sheets.append((name, o.title, f"{o.script} ({o.function})", df))
    if not sheets:
        return
    v = {k: x["text"] for k, x in ctx.values.items()}
    cover = [
        v.get("data_label", ""),
        v.get("data_description", ""),
        f"Made by reunistat {package_versions()['reunistat']} (`reunistat reproduce`). "
        "outputs/manifest.json records this file's SHA-256, the input data hashes, the "
        "configuration, the seed, the software versions and the git commit.",
        "The paper (outputs/paper) describes the definitions, methods and limitations.",
    ]
    notes = [
        "Symbols: c = suppressed (a small count, or a cell that would reveal one); "
        "z = not applicable; k = rounds to zero.",
        v.get("disclosure_statement", ""),
        "A return home: a period of care ending with REC E4A (planned), E4B (unplanned) or "
        "E13; time zero is its end date. Re-entry: the start of the child's next period of care.",
        "Follow-up ends at re-entry, the data end, the 18th birthday, death or another "
        "permanent exit.",
        "Ratios (HR, OR, SHR) describe associations in populations of children; they are not "
        "tools for decisions about an individual child.",
    ]
    path = ctx.out / "reunistat_tables.xlsx"
    write_workbook(
        path,
        title="Re-entry to care after a return home: tables",
        cover=cover,
        notes=notes,
        sheets=sheets,
    )
    ctx.script = "reunistat.pipeline"
    ctx._register(
        path,
        "reunistat.report.workbook.write_workbook",
        "workbook",
        "Excel workbook of the main tables",
        {"type": "same_as", "of": [f"tables/{s[0]}.csv" for s in sheets]},
    )


def _run_values(ctx: Context) -> None:
    """Record the paper's statements about the run itself (data, disclosure, version)."""
    cfg, fn = ctx.config, "reunistat.pipeline.reproduce"
    ctx.script = "reunistat.pipeline"
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
    ctx.value("reunistat_version", package_versions()["reunistat"], function=fn)


def _write_values(ctx: Context) -> None:
    path = ctx.out / "values.json"
    path.write_text(json.dumps(dict(sorted(ctx.values.items())), indent=2) + "\n", encoding="utf-8")
    ctx.script = "reunistat.pipeline"
    ctx._register(
        path,
        "reunistat.pipeline.Context.value",
        "values",
        "numbers quoted in the paper",
        {"type": "values"},
    )


def run_script(path: str | Path, config: str | Path | None = None) -> None:
    """Run one analysis script on its own (``python analyses/04_cox.py``).

    Writes that script's outputs under the outputs folder and records them in
    ``manifest.json`` (added to, or updated in, the manifest already there),
    whose ``status`` then says the folder was changed by a partial run; only
    ``reunistat reproduce`` rebuilds the paper and the whole manifest.
    """
    cfg = load_config(config)
    ensure_data(cfg)
    cfg.outputs_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg)
    run_scripts(ctx, [Path(path)])
    if ctx.failed:
        raise PipelineError(ctx.failed[0]["error"])
    update_manifest(ctx, f"partial: {ctx.script} re-run on its own")
    for rel in sorted(ctx.outputs):
        print(f"wrote {cfg.outputs_dir / rel}")
