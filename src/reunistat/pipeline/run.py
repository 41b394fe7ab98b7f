"""Running the pipeline: data, the numbered scripts, workbook, paper, checks, manifest.

Every run holds the outputs folder's lock and builds the release in a
temporary folder beside it, renamed into place when complete
(:mod:`reunistat.pipeline.folder`). A full run starts from an empty folder; a
partial run (``reproduce --only``, or one script run on its own with
:func:`run_script`) starts from a copy of the release already there, replaces
only the outputs of the scripts it re-runs, and re-checks the whole folder.
"""

from __future__ import annotations

import contextlib
import json
import runpy
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reunistat import kernels
from reunistat.errors import ModelError
from reunistat.pipeline import folder, workers
from reunistat.pipeline.acro_step import publish_acro
from reunistat.pipeline.config import MANIFEST, PipelineConfig, PipelineError, load_config
from reunistat.pipeline.context import Context
from reunistat.pipeline.documents import PIPELINE, run_values
from reunistat.pipeline.finish import Prior, Run, RunResult, WhileScriptsRun, finish
from reunistat.pipeline.idle_core import IdleCore
from reunistat.pipeline.manifest import input_hashes, load_manifest, other_kernels
from reunistat.pipeline.workers import frozen_heap, memory_mib, release_memory
from reunistat.report import checker
from reunistat.report.disclosure import DisclosureRules

#: What the release files say of a model that could not be fitted (never the data's numbers).
MODEL_REASONS = {
    "SeparationError": "left out: a category of the model has too few children or events to "
    "estimate (below the threshold, or none)",
    "ConvergenceError": "left out: the model did not converge on these data",
    "EvaluationError": "left out: the evaluation design cannot be estimated on these data",
}
MODEL_REASON = "left out: the model cannot be fitted on these data (a category below the threshold)"


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
    """Return the scripts ``NN_name.py`` in order (or those whose number or name is given).

    A name in ``only`` that matches no script is an error (naming the scripts there are).
    """
    scripts = sorted(analyses_dir.glob("[0-9][0-9]_*.py"))
    if not only:
        return scripts

    def chosen(s: Path, o: str) -> bool:
        return o in (s.name[:2], s.stem, s.name)

    unknown = [o for o in only if not any(chosen(s, o) for s in scripts)]
    if unknown:
        known = ", ".join(s.name[:2] for s in scripts)
        raise PipelineError(
            f"no analysis script {', '.join(map(repr, unknown))} in {analyses_dir} (known: {known})"
        )
    return [s for s in scripts if any(chosen(s, o) for o in only)]


def error_text(error: BaseException, rules: DisclosureRules) -> str:
    """Return what the release files say of an error (never its message when rules apply).

    A model's error message can quote the data ("no events among the 5 rows
    with ..."), so with disclosure control on, only the kind of error and a
    fixed reason are written; the console log keeps the full message.
    """
    name = type(error).__name__
    if not rules.apply:
        return f"{name}: {error}"
    if isinstance(error, ModelError):
        return f"{MODEL_REASONS.get(name, MODEL_REASON)} ({name})"
    return (
        f"{name} (its message is withheld from the release files because it may quote the "
        "data; the console log shows it)"
    )


def _what_script_makes(module: dict[str, Any], path: Path) -> str:
    """What a script's outputs are, from its docstring's first line, for a list of outputs.

    >>> _what_script_makes({"__doc__": "04: Cox model of re-entry: hazard ratios."}, Path("x"))
    'Cox model of re-entry: hazard ratios (from its failing model on)'
    """
    doc = str(module.get("__doc__") or "").strip().splitlines()
    first = doc[0].rstrip(".") if doc else ""
    title = first.split(":", 1)[1].strip() if first[:2].isdigit() and ":" in first else first
    if not title:
        return f"the outputs of {path.name} from its failing model on"
    return f"{title[0].upper()}{title[1:]} (from its failing model on)"


def _script_name(cfg: PipelineConfig, path: Path) -> str:
    return f"{cfg.analyses_dir.as_posix()}/{path.name}"


def run_scripts(ctx: Context, scripts: Sequence[Path]) -> dict[str, float]:
    """Run each script's ``run(ctx)`` one after another; return the seconds each took.

    A model that cannot be fitted on these data (a :class:`ModelError`: too
    few events, separation, a category below the threshold) leaves the
    script's remaining outputs out, recorded in ``ctx.skipped`` with a reason
    that quotes no number; the run goes on and can pass. Any other error is
    recorded in ``ctx.failed`` and the others still run; the run then ends
    with an error (see :func:`reproduce`).
    """
    timings = {}
    for path in scripts:
        timings[_script_name(ctx.config, path)] = run_one(ctx, path)
    return timings


def run_one(ctx: Context, path: Path) -> float:
    """Run one script's ``run(ctx)`` as :func:`run_scripts` does; return its seconds.

    When the script is the first to ask for the release-wide suppression (one
    process: ``--jobs 1``), building it is its own step in the manifest
    (``release-wide suppression``), not part of the script's seconds.
    """
    ctx.script = _script_name(ctx.config, path)
    ctx.log(f"running {ctx.script}")
    release_built = ctx.release_seconds is not None
    t0 = time.perf_counter()
    results_before = set(ctx.results)
    module: dict[str, Any] = {}
    try:
        module = runpy.run_path(str(path), run_name="reunistat_analysis")
        if "run" not in module:
            raise PipelineError(f"{path} defines no run(ctx) function")
        module["run"](ctx)
    except ModelError as e:
        ctx.log(f"  model error in {ctx.script}:\n{traceback.format_exc()}")
        ctx.skip(_what_script_makes(module, path), error_text(e, ctx.rules))
    except Exception as e:  # recorded; the run fails at its end
        ctx.failed.append({"script": ctx.script, "error": error_text(e, ctx.rules)})
        ctx.log(f"  FAILED {ctx.script}:\n{traceback.format_exc()}")
    if withdraw_small_models(ctx, ctx.script):
        for key in set(ctx.results) - results_before:  # later scripts cannot build on it
            del ctx.results[key]
    # the script's functions and its module dict refer to each other: without clearing it,
    # what the script kept at module level (e.g. 12's Cox fits with their data) would stay
    # in memory until the garbage collector's next full pass
    module.clear()
    release_memory()
    seconds = time.perf_counter() - t0
    if not release_built and ctx.release_seconds is not None:
        seconds = max(0.0, seconds - ctx.release_seconds)
    return round(seconds, 2)


def _analyses(
    ctx: Context,
    scripts: Sequence[Path],
    out: Path,
    early: WhileScriptsRun,
    idle: IdleCore,
    jobs: int,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Run the scripts, in ``jobs`` worker processes when more than one (see workers).

    Returns each script's seconds and the memory (MiB) of the process that
    ran it, after it. With workers, the release-wide suppression is handed
    to them (built by ``early``'s forked process, or else by this one once
    they have started), then ``early`` runs while they run (with one job, it
    runs after the scripts);
    ``idle`` works while only the last worker runs.
    """
    if jobs == 1:
        timings, memory = {}, {}
        for path in scripts:
            timings[_script_name(ctx.config, path)] = run_one(ctx, path)
            memory[ctx.script] = memory_mib()
        return timings, memory
    try:  # the last run's times, to start the longest scripts first
        earlier = (load_manifest(out) or {}).get("timings_seconds", {})
    except (ValueError, OSError):
        earlier = {}
    name = lambda p: _script_name(ctx.config, p)  # noqa: E731
    done = workers.run_parallel(ctx, scripts, jobs, name, earlier, early.run, idle, early.release)
    if done.unmerged is None:
        return done.timings, done.memory_mib
    timings = run_scripts(ctx, scripts)
    for rel in done.unmerged - set(ctx.outputs):
        (ctx.out / rel).unlink(missing_ok=True)
    return timings, {}


#: What the release says of a model resting on a count below the threshold.
SMALL_MODEL = (
    "left out: the model rests on a category with fewer children or events than the "
    "threshold, so its estimates and the numbers quoted from them are not shown"
)


def withdraw_small_models(ctx: Context, script: str) -> bool:
    """Leave out a script's models that rest on a count below the threshold.

    With disclosure control on, a model output whose spec (``n_obs``,
    ``n_events``, ``n_min_cell``) is below the threshold cannot be
    published. Removed: those outputs, the script's other outputs made by the
    same function (a forest plot, a fit table) and their copies, and every
    value the script recorded except counts (a value may quote any of its
    models). Kept: its tables of counts and curves (checked on their own).
    Each removal is listed in ``ctx.skipped`` with a reason that quotes no
    number. Returns whether anything was withdrawn.
    """
    if not ctx.rules.apply:
        return False
    mine = {rel: o for rel, o in ctx.outputs.items() if o.script == script}
    bad = {
        rel
        for rel, o in mine.items()
        if o.disclosure.get("type") == "model" and checker.model_breaches(o.disclosure, ctx.rules)
    }
    if not bad:
        return False
    functions = {mine[rel].function for rel in bad}
    out = {
        rel
        for rel, o in mine.items()
        if rel in bad
        or (o.function in functions and o.disclosure.get("type") not in ("counts", "curve"))
    }
    out |= {rel for rel, o in mine.items() if o.disclosure.get("of") in out}
    left_out = []
    for rel in sorted(out, key=list(mine).index):
        (ctx.out / rel).unlink(missing_ok=True)
        del ctx.outputs[rel]
        left_out.append(rel.rsplit(".", 1)[0].removesuffix(".alt"))
    for key in [k for k, v in ctx.values.items() if v["script"] == script]:
        if ctx.values[key]["type"] != "count":
            del ctx.values[key]
            left_out.append(f"value {key}")
    for name in dict.fromkeys(left_out):
        ctx.skipped.append({"output": name, "script": script, "reason": SMALL_MODEL})
    ctx.log(f"  {script}: {len(left_out)} output(s) left out (a model rests on a small count)")
    return True


#: Files the pipeline itself rewrites on every run, full or partial.
PIPELINE_FILES = ("values.json", "reunistat_tables.xlsx", "disclosure_report.md", MANIFEST)


def say_other_kernels(prior: dict[str, Any] | None, log: Callable[[str], None]) -> bool:
    """Say so when a partial run's kernels are not those of the release it joins.

    ``prior`` is the release manifest's ``kernels``. The run's outputs may then
    differ from a whole run's in their last digits (:mod:`reunistat.kernels`):
    after ``reproduce --native-kernels``, say, a script run on its own uses the
    portable kernels. Returns whether it said so.
    """
    now = kernels.in_effect()
    if prior is None or not other_kernels(prior, now):
        return False
    kind = {True: "portable (AVX2)", False: "the CPU's own"}
    log(
        f"note: this partial run uses {kind[now['portable']]} kernels; the release it joins was "
        f"made with {kind[prior['portable']]}: its outputs may differ from a whole run's in "
        "their last digits. Run every script again, or give the same --native-kernels choice "
        "as the release."
    )
    return True


def _prior(stage: Path, manifest: dict[str, Any] | None, rerun: set[str]) -> Prior:
    """Drop from the copied release what the re-run scripts and the pipeline will rewrite."""
    if manifest is None:
        return Prior({}, {}, [], {})
    values_path = stage / "values.json"
    old = json.loads(values_path.read_text("utf-8")) if values_path.exists() else {}
    registry = {}
    for row in manifest.get("outputs", []):
        rel = row["path"]
        if row["script"] in rerun or rel in PIPELINE_FILES:
            (stage / rel).unlink(missing_ok=True)
            continue
        if not (stage / rel).is_file():  # removed by hand since: no longer part of the release
            continue
        registry[rel] = {k: row[k] for k in ("script", "function", "kind", "title", "disclosure")}
    values_path.unlink(missing_ok=True)
    (stage / MANIFEST).unlink(missing_ok=True)
    keep = rerun | {PIPELINE}
    return Prior(
        registry,
        {k: v for k, v in old.items() if v.get("script") not in keep},
        [s for s in manifest.get("skipped", []) if s.get("script") not in keep],
        {
            k: (int(v[0]), int(v[1]))
            for k, v in manifest.get("suppressed_cells", {}).items()
            if f"tables/{k}.csv" in registry
        },
        manifest.get("kernels"),
    )


def reproduce(
    cfg: PipelineConfig,
    *,
    only: Sequence[str] | None = None,
    paper: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> RunResult:
    """Run the pipeline into ``cfg.outputs_dir``; raise on a failed step or a disclosure breach.

    Without ``only``: every script, the workbook and the paper, into a new
    folder that replaces the previous release when complete. With ``only``
    (script numbers or names): those scripts only, into the release already
    there (its other outputs kept), which the manifest then marks
    ``"run": "partial"``; the paper is not rebuilt. Either way the whole
    folder is checked, and the manifest and ``disclosure_report.md`` are
    written even when the check fails (``status`` says so), so the breach can
    be inspected; then :class:`DisclosureBreach` (or :class:`PipelineError`
    for a failed step) is raised.
    """
    scripts = analysis_scripts(cfg.analyses_dir, only)
    return _run(
        cfg, scripts, partial=bool(only), paper=paper and not only, log=log, command=command
    )


def _run(
    cfg: PipelineConfig,
    scripts: Sequence[Path],
    *,
    partial: bool,
    paper: bool,
    log: Callable[[str], None],
    command: str | None,
) -> RunResult:
    out = cfg.outputs_dir
    with folder.locked(out):
        ensure_data(cfg, log)  # under the lock: two runs never generate into one folder
        for p in folder.clean_stale(out):
            log(f"removed {p}, left by a run that did not finish")
        folder.check_ours(out)
        previous = load_manifest(out) if partial else None
        stage = folder.new_stage(out, copy_existing=partial)
        try:
            result, error = _build(cfg, stage, scripts, previous, partial, paper, log, command)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        folder.publish(stage, out)
        if result.acro is not None:
            publish_acro(result.acro, out)
    result.manifest_path = out / MANIFEST
    if error is not None:
        raise error
    return result


def _build(
    cfg: PipelineConfig,
    stage: Path,
    scripts: Sequence[Path],
    previous: dict[str, Any] | None,
    partial: bool,
    paper: bool,
    log: Callable[[str], None],
    command: str | None,
) -> tuple[RunResult, Exception | None]:
    t_start = time.perf_counter()
    rerun = {_script_name(cfg, p) for p in scripts}
    prior = _prior(stage, previous, rerun) if partial else Prior({}, {}, [], {})
    if partial:
        say_other_kernels(prior.kernels, log)
    ctx = Context(cfg.with_changes(outputs_dir=stage), log)
    ctx.values.update(prior.values)
    timings: dict[str, float] = {}
    memory: dict[str, Any] = {}
    log("reading the extract and deriving the cohort")
    t0 = time.perf_counter()
    with WhileScriptsRun(ctx) as early:  # its processes end with the run, whatever happens
        # more than one job: a forked process derives the cohort; no collection walks the
        # extract and the modules here meanwhile
        forking = workers.analysis_jobs(cfg.analysis_jobs, 2) > 1
        with workers.collector_paused(forking):
            jobs, inputs = _start(cfg, ctx, scripts, paper, early, timings, forking)
        # what deriving the cohort freed (about 0.5 GB at national size) back to the system;
        # when a forked process derived it, this one made next to no garbage (none found at
        # national size): the heap is frozen first, so the collection walks nothing
        with frozen_heap() if forking else contextlib.nullcontext():
            release_memory()
        timings["read and derive cohort"] = round(time.perf_counter() - t0, 2)
        memory["read and derive cohort"] = memory_mib()
        with frozen_heap():  # the cohort and the modules live to the end: no collection walks them
            run_values(ctx)
            making_paper = paper and cfg.paper_template is not None
            idle = IdleCore(stage, ctx.rules, early, making_paper, values=ctx.values)
            script_times, memory["scripts"] = _analyses(
                ctx, scripts, cfg.outputs_dir, early, idle, jobs
            )
            timings.update(script_times)
            if idle.seconds:
                beside = "checks, figures and workbook beside the last worker"
                timings[beside] = round(idle.seconds, 2)
            memory["analyses"] = memory_mib()
            run = Run(
                cfg,
                ctx,
                stage,
                prior,
                rerun,
                partial,
                inputs,
                timings,
                memory,
                t_start,
                log,
                command,
                idle.checked,
                idle.workbook,
            )
            return finish(run, early, paper)


def _start(
    cfg: PipelineConfig,
    ctx: Context,
    scripts: Sequence[Path],
    paper: bool,
    early: WhileScriptsRun,
    timings: dict[str, float],
    forking: bool,
) -> tuple[int, list[dict[str, Any]]]:
    """Read the extract, derive the cohort (forked) beside the imports; jobs and input hashes.

    When ``forking``, workers run the scripts and the forked process builds their
    release too.
    """
    jobs = workers.analysis_jobs(cfg.analysis_jobs, len(workers.script_groups(scripts)))
    _ = ctx.extract
    if forking:
        # a process forked now (before the threads below start) derives the cohort on the
        # other core and sends it back, while this process imports the scripts' modules
        # (which only a fork passes on); when workers will run the scripts, it then builds
        # the release-wide suppression for them and takes the spells' hash
        early.start_cohort(release=jobs > 1)
    # beside the cohort, in threads that have ended before any worker is forked: the
    # inputs are hashed (hashlib leaves the interpreter meanwhile), and the modules the
    # scripts import are imported once here, for every worker, then those of the steps
    # after the scripts (LAST_STEPS_MODULES); that thread starts once
    # the modules that derive (and unpickle) the cohort are imported, so the two threads
    # never import the same modules at once
    with ThreadPoolExecutor(2) as pool:
        hashing = pool.submit(_timed, input_hashes, cfg.data_dir)
        import reunistat.cohort  # noqa: F401 - imported before the thread below starts

        importing = pool.submit(_import_all, scripts, paper)
        early.take_cohort()
        inputs, timings["hash inputs"] = hashing.result()
        scripts_s, last_s = importing.result()
        timings["imports for the scripts"] = scripts_s
        timings["imports for the last steps"] = last_s
    return jobs, inputs


def import_for(scripts: Sequence[Path]) -> list[str]:
    """Import the modules the scripts import at their top; return those that could not be.

    A module that fails to import here is left to its script, whose run
    then records the error as it would have anyway.
    """
    import ast
    import importlib

    names: dict[str, set[str]] = {}
    for path in scripts:
        try:
            tree = ast.parse(path.read_text("utf-8"))
        except (OSError, SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.setdefault(node.module, set()).update(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    names.setdefault(a.name, set())
    failed = []
    for name, attributes in names.items():
        try:
            module = importlib.import_module(name)
            for attribute in sorted(attributes - {"*"}):  # a package's names imported on use
                getattr(module, attribute, None)  # (PEP 562) are imported here too
        except Exception:
            failed.append(name)
    return failed


#: Modules the package's functions import on first use in both workers (the model
#: formulas' parser, the replicates' progress bar; found as the modules new in each
#: worker after a national run): imported once, before the workers fork, not once in each.
WORKER_MODULES = ("formulaic", "tqdm.auto")
#: Modules the run's steps after the scripts import (the workbook, the paper, the check of
#: its PDF, the written release's check), imported beside the cohort: imported after the
#: scripts they would be on the run's critical path, in the run's process and again in the
#: checking process it forks (:mod:`reunistat.pipeline.checks`).
LAST_STEPS_MODULES = (
    "reunistat.report.workbook",
    "gptables",
    "reunistat.report.release_check",
)
#: With the paper.
PAPER_MODULES = ("reunistat.report.paper", "pypandoc", "typst", "pypdf")


def _import_all(scripts: Sequence[Path], paper: bool) -> tuple[float, float]:
    """Import the scripts' modules (and :data:`WORKER_MODULES`), then the last steps'; seconds."""
    t0 = time.perf_counter()
    import_for(scripts)
    _import_each(WORKER_MODULES)
    t1 = time.perf_counter()
    _import_each(LAST_STEPS_MODULES + (PAPER_MODULES if paper else ()))
    return round(t1 - t0, 2), round(time.perf_counter() - t1, 2)


def _import_each(names: Sequence[str]) -> None:
    """Import each module; one that fails is left to the step that needs it, which reports it."""
    import importlib

    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _timed(fn: Callable[[Any], Any], arg: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    return fn(arg), round(time.perf_counter() - t0, 2)


def run_script(path: str | Path, config: str | Path | None = None) -> None:
    """Run one analysis script on its own (``python analyses/04_cox.py``).

    A partial run (see :func:`reproduce`): the script's outputs replace its
    earlier ones in the release already in the outputs folder, the rest is
    kept, the whole folder is checked again and the disclosure report's
    verdict and the manifest (``"run": "partial"``) are rewritten.
    """
    kernels.restart_portable(Path(path))  # the release's kernels (see reunistat.kernels)
    cfg = load_config(config)
    p = Path(path)
    result = _run(cfg, [p], partial=True, paper=False, log=print, command=f"python {p.as_posix()}")
    for o in result.manifest["outputs"]:
        if o["script"] == _script_name(cfg, p):
            print(f"wrote {cfg.outputs_dir / o['path']}")
    print(f"disclosure check of {cfg.outputs_dir}: {result.manifest['status']}")
