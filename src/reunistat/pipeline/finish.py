"""The run's steps after the analysis scripts: values, workbook, paper, checks, manifest.

Once the scripts are done, ``values.json`` is final (nothing after them records
a value), and with it everything the checks read: the files of the scripts are
checked, and the written release checked against the release-wide suppression,
in a process of their own (:mod:`reunistat.pipeline.checks`) while this process
builds the workbook and the paper, whose files are checked in turn as soon as
they are written. Files checked already while the last worker ran
(:mod:`reunistat.pipeline.idle_core`), unchanged since, are not checked again.
The disclosure report and the manifest then put the verdict together, the
same bytes as when every check ran at the end.

The input's identifiers and the hash of the spells, which only the checks and
the manifest need, are taken before the scripts end: the identifiers by the
run's process while the workers run, the hash by the process that derived the
cohort once it has built the release-wide suppression (or else by the run's
process too: :class:`WhileScriptsRun`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.pipeline import fast_exit
from reunistat.pipeline.acro_step import AcroStep, run_acro_step
from reunistat.pipeline.checks import Checked, Checks, background_checks
from reunistat.pipeline.config import MANIFEST, PipelineConfig, PipelineError
from reunistat.pipeline.context import Context
from reunistat.pipeline.documents import (
    PAPER_SPEC,
    PIPELINE,
    Prebuilt,
    build_workbook,
    register_workbook,
    start_paper,
    write_values,
)
from reunistat.pipeline.forked_cohort import receive_cohort, send_cohort
from reunistat.pipeline.manifest import RunRecord, build_manifest
from reunistat.pipeline.verify import release_identifiers
from reunistat.pipeline.workers import (
    ReleaseHandover,
    memory_mib,
    release_handover,
    remove_handover,
)
from reunistat.report import checker
from reunistat.report.disclosure import DisclosureBreach


@dataclass
class RunResult:
    """What :func:`reunistat.pipeline.reproduce` did."""

    manifest: dict[str, Any]
    manifest_path: Path
    breaches: list[str]
    acro: AcroStep | None = None


@dataclass
class Prior:
    """What a partial run keeps of the release already in the folder."""

    registry: dict[str, dict[str, Any]]
    values: dict[str, dict[str, Any]]
    skipped: list[dict[str, str]]
    suppressed: dict[str, tuple[int, int]]
    #: The release's kernels (its manifest's ``kernels``), None if it has no record of them.
    kernels: dict[str, Any] | None = None


@dataclass
class Run:
    """One run as its last steps need it (plain data the run's first steps gathered)."""

    cfg: PipelineConfig
    ctx: Context
    stage: Path
    prior: Prior
    rerun: set[str]
    partial: bool
    inputs: list[dict[str, Any]]
    timings: dict[str, float]
    memory: dict[str, Any]
    started: float
    log: Callable[[str], None] = print
    command: str | None = None
    #: Files checked while the scripts ran (:mod:`reunistat.pipeline.idle_core`).
    checked: dict[str, Checked] = field(default_factory=dict)
    #: The workbook written then, in memory (used if made of the same inputs).
    workbook: Prebuilt | None = None


class WhileScriptsRun:
    """The cohort derived beside the run's imports; the release, identifiers and hash after it.

    :meth:`start_cohort` forks, once the extract is read, a process that
    derives the cohort and sends it (:meth:`take_cohort`) while the run's
    process imports the scripts' modules
    (:mod:`reunistat.pipeline.forked_cohort`). When workers will run the
    scripts (``release``), that process then builds the release-wide
    suppression and hands it to them (:attr:`release`: the run's process
    takes it there too, once the workers have started:
    :func:`reunistat.pipeline.workers.run_parallel`), and takes the spells'
    hash, which :meth:`run` receives (the modules the release needs are
    imported there: the logistic outcome's, without the fits'). The input's
    identifiers, and else (or when something fails) the spells' hash,
    :meth:`run` takes in the run's process, called while it waits for the
    workers, with the modules they use imported already; and
    again after the scripts (``final``), which takes what is not taken yet:
    with one job, or when the first call failed (its error is raised then).
    The data end, a public date, is added to the identifiers once the cohort
    is derived.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.identifiers: checker.Identifiers | None = None
        self.spells_sha256: str | None = None
        self.seconds: float | None = None
        #: Where the workers find the release the forked process builds (None: not built there).
        self.release: ReleaseHandover | None = None
        self._forked: tuple[Any, Any] | None = None  # deriving the cohort
        self._answers: tuple[Any, Any] | None = None  # to say the release is handed, the hash
        self._release_heard = False
        self._ending: Any = None  # the process that sent it, joined at the end

    def __enter__(self) -> WhileScriptsRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End the forked process if its answers were not collected (the run stopped early).

        A process that has not sent its answer yet, or whose answer no one
        reads, would otherwise wait on its pipe until the run's process ends.
        """
        for forked in (self._forked, self._answers):
            if forked is not None:
                proc, receive = forked
                proc.kill()
                proc.join()
                receive.close()
        if self._ending is not None:
            self._ending.join()
        remove_handover(self.release)
        self._forked = self._answers = self._ending = None

    def start_cohort(self, release: bool = False) -> None:
        """Derive the cohort in a process forked now (:meth:`take_cohort` collects it).

        With ``release`` (workers will run the scripts), it then builds the
        release-wide suppression and takes the spells' hash. Call it
        once the extract is read, before the run starts any thread of its own
        (a fork copies only the calling thread).
        """
        if self._forked is not None or "cohort" in vars(self.ctx):
            return
        handover = release_handover() if release else None
        self._forked = _fork(_send_cohort, self.ctx, handover)
        if self._forked is None:
            remove_handover(handover)
        elif handover is not None:
            self.release = replace(handover, elsewhere=self._release_word)

    def take_cohort(self) -> None:
        """Give the Context the cohort the forked process sent (derived here if it sent none)."""
        if self._forked is not None:
            proc, receive = self._forked
            self._forked = None
            try:
                vars(self.ctx)["cohort"] = receive_cohort(receive, self.ctx.extract)
            except (EOFError, OSError):  # it failed: done here, where its error is raised
                proc.kill()
            else:
                if self.release is not None:  # it goes on: the release, then the hash
                    self._answers = proc, receive
            if self._answers is None:
                self._ended(proc, receive)
        _ = self.ctx.cohort

    def _ended(self, proc: Any, receive: Any) -> None:
        receive.close()
        self._answers, self._ending = None, proc  # it ends on its own meanwhile

    def _answer(self) -> Any:
        """The forked process's next answer; None (and it is let end) if it sends no more."""
        if self._answers is None:
            return None
        proc, receive = self._answers
        try:
            return receive.recv()
        except (EOFError, OSError):  # it failed or was killed: the run's process does it
            proc.kill()
            self._ended(proc, receive)
            return None

    def _release_word(self) -> None:
        """Wait until the forked process has handed the release over (or failed, or ended).

        The run's process then takes the release from the file, or finds none
        there and builds it (:func:`reunistat.pipeline.workers._hand_release`).
        """
        if not self._release_heard:
            self._release_heard = True
            self._answer()  # _RELEASE_HANDED, or None once it has ended

    def run(self, final: bool = False) -> None:
        """Take the identifiers and the spells' hash (errors are raised only when ``final``)."""
        if self.identifiers is not None:
            return
        self._release_word()
        hashed = self._answer()  # (hash, seconds) from the forked process, or None
        if self._answers is not None:
            self._ended(*self._answers)
        t0 = time.perf_counter()
        try:
            ids = _with_data_end(_identifiers(self.ctx), self.ctx)
            sha256, hash_s = hashed or (_spells_hash(self.ctx), 0.0)
        except Exception:
            if final:
                raise
            return  # done again after the scripts, where its error stops the run
        self.identifiers, self.spells_sha256 = ids, sha256
        self.seconds = round(hash_s + time.perf_counter() - t0, 2)


#: What the forked process says once the release is handed to the workers (or not).
_RELEASE_HANDED = "release handed over"


def _identifiers(ctx: Context) -> checker.Identifiers:
    """The input's identifiers, without the data end (added by :func:`_with_data_end`)."""
    return release_identifiers(ctx.extract.tables, None)


def _with_data_end(ids: checker.Identifiers, ctx: Context) -> checker.Identifiers:
    """``ids`` with the data end among the public dates (as :func:`release_identifiers`)."""
    end = ctx.cohort.data_end.date()
    return replace(ids, public_dates=ids.public_dates | {end})


def _spells_hash(ctx: Context) -> str:
    """The hash of the spells with their rows numbered from 0 (not copied when they are so)."""
    from reunistat.results import data_hash

    spells = ctx.spells
    index = spells.index
    numbered = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    return data_hash(spells if numbered else spells.reset_index(drop=True))


def _fork(target: Callable[..., None], *args: Any) -> tuple[Any, Any] | None:
    """Run ``target(*args, send, parent)`` in a process forked now; None without fork."""
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    mp = multiprocessing.get_context("fork")
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=target, args=(*args, send, os.getpid()), daemon=True)
    proc.start()
    send.close()
    return proc, receive


def _send_cohort(ctx: Context, release: ReleaseHandover | None, send: Any, parent: int) -> None:
    """In a process forked from the run: derive the cohort and send it (:func:`send_cohort`).

    With ``release``, while the cohort is written to the pipe, build the
    release-wide suppression and hand it to the workers (the event set only
    once it is written); say so; then send the spells' hash, with its
    seconds. If anything fails, it sends nothing more: the run's process
    then does that work itself, where its error stops the run. Its garbage
    collector is off, as the run's process's was when it forked
    (:func:`~reunistat.pipeline.workers.collector_paused`): it lives a few seconds
    and leaves little garbage (peak RSS 993 MB, 1,006 MB with the collector on).
    """
    import gc

    from reunistat.pipeline.workers import detach_from_run, write_release

    detach_from_run(parent)
    try:
        sender = send_cohort(send, ctx.cohort, ctx.extract.tables, beside=release is not None)
        if sender is None or release is None:
            return
        gc.freeze()  # what the cohort's derivation left: no collection walks it again
        try:
            rel, seconds = ctx.build_release()
            write_release(release.path, rel, seconds)
            release.done.set()
        except Exception:  # not handed: the run's process builds it, where its error is raised
            pass
        if not sender.sent():
            return
        send.send(_RELEASE_HANDED)
        t0 = time.perf_counter()
        send.send((_spells_hash(ctx), time.perf_counter() - t0))
    except Exception:
        pass
    finally:
        send.close()


def finish(run: Run, early: WhileScriptsRun, paper: bool) -> tuple[RunResult, Exception | None]:
    """After the scripts: values, workbook, paper, ACRO, checks, report and manifest."""
    ctx, stage = run.ctx, run.stage
    fast_exit.keep(run, early)  # the run's heap, when the process ends with the run
    early.run(final=True)
    assert early.identifiers is not None
    write_values(ctx)
    background = background_checks(run.cfg.analysis_jobs)
    with Checks(early.identifiers, ctx.rules, background, run.checked) as checks:
        checks.check_files(stage, _files(stage), _specs(run))
        if ctx.rules.apply and "release" in ctx.__dict__:
            # the written files must show exactly the release-wide suppression, and the
            # audit re-run on what was written must find no hidden cell narrowed below it
            checks.check_written_release(ctx.release.audit_record(), stage, ctx.rules.threshold)
        _documents(run, paper, checks)
        acro = run_acro_step(
            run.cfg.outputs_dir,
            ctx.spells,
            configured=run.cfg.acro_python,
            covariates=run.cfg.covariates,
            horizon_days=run.cfg.logistic_horizon_days,
            partial=run.partial,
            log=run.log,
        )
        if acro.seconds is not None:
            run.timings["ACRO"] = acro.seconds
        return _record(run, early, checks, acro)


def _files(stage: Path) -> list[str]:
    return [p.relative_to(stage).as_posix() for p in sorted(stage.rglob("*")) if p.is_file()]


def _specs(run: Run) -> dict[str, dict[str, Any]]:
    return {rel: o["disclosure"] for rel, o in (run.prior.registry | rows(run.ctx)).items()}


def _documents(run: Run, paper: bool, checks: Checks) -> None:
    """Build the workbook and the paper; ask for their files to be checked once written.

    The paper is started first (pandoc and Typst's reading of the figures run
    on their own), the workbook built meanwhile (or the bytes the idle core
    wrote ahead, when made of the same inputs: ``run.workbook``) and
    registered first, as when one was made after the other: ``paper``'s
    seconds are from its start to its end, the workbook's included.
    """
    ctx, stage, log = run.ctx, run.stage, run.log
    finish_paper = None
    if paper and run.cfg.paper_template is not None:
        log("building the paper")
        t_paper = time.perf_counter()
        finish_paper = start_paper(ctx, run.cfg.paper_template)
    log("building the workbook")
    t0 = time.perf_counter()
    ctx.script = PIPELINE
    sheets = build_workbook(stage, run.prior.registry | rows(ctx), ctx.values, run.workbook)
    if sheets is not None:
        register_workbook(ctx, sheets)
        checks.check_files(stage, ["reunistat_tables.xlsx"], _specs(run))
    run.timings["workbook"] = round(time.perf_counter() - t0, 2)
    run.memory["workbook"] = memory_mib()
    if finish_paper is not None:

        def written(paths: list[Path]) -> None:  # final while Typst compiles the PDF
            rels = [p.relative_to(stage).as_posix() for p in paths]
            checks.check_files(stage, rels, _specs(run) | dict.fromkeys(rels, PAPER_SPEC))

        before = set(ctx.outputs)
        finish_paper(written)
        made = sorted(set(ctx.outputs) - before)
        # the PDF, the longest to read, is checked here (with the checking process) while
        # that process takes the other files of the paper (here too without that process)
        pdfs = [rel for rel in made if rel.endswith(".pdf")]
        checks.check_files(stage, [rel for rel in made if rel not in pdfs], _specs(run))
        run.timings["paper"] = round(time.perf_counter() - t_paper, 2)
        run.memory["paper"] = memory_mib()
        t0 = time.perf_counter()
        checks.check_here(stage, pdfs, _specs(run))
        run.timings["paper's PDF checked"] = round(time.perf_counter() - t0, 2)


def rows(ctx: Context) -> dict[str, dict[str, Any]]:
    """The run's registered outputs as the manifest records them (by relative path)."""
    return {
        rel: {
            "script": o.script,
            "function": o.function,
            "kind": o.kind,
            "title": o.title,
            "disclosure": o.disclosure,
        }
        for rel, o in ctx.outputs.items()
    }


def suppressed_counts(logs: dict[str, pd.DataFrame]) -> dict[str, tuple[int, int]]:
    """Primary and secondary suppressions of each table, from its suppression log."""
    out = {}
    for name, log in logs.items():
        reason = log["reason"].astype(str) if len(log) else pd.Series([], dtype=str)
        out[name] = (
            int(reason.str.startswith("primary").sum()),
            int(reason.str.startswith("secondary").sum()),
        )
    return out


def _record(
    run: Run, early: WhileScriptsRun, checks: Checks, acro: AcroStep
) -> tuple[RunResult, Exception | None]:
    """Put the checks together; write the disclosure report and the manifest."""
    ctx, stage, timings = run.ctx, run.stage, run.timings
    t0 = time.perf_counter()
    run.log("checking the release and writing the manifest")
    report = stage / "disclosure_report.md"
    ctx._register(
        report,
        "reunistat.report.checker.write_report",
        "report",
        "disclosure report",
        {"type": "report"},
    )
    registry = run.prior.registry | rows(ctx)
    breaches = checks.folder_breaches(stage, {rel: o["disclosure"] for rel, o in registry.items()})
    breaches += checks.written_release_breaches()
    if ctx.release_seconds is not None:
        timings["release-wide suppression"] = ctx.release_seconds
    if early.seconds is not None:
        timings["identifiers and spells hash"] = early.seconds
    record = RunRecord(
        registry=registry,
        breaches=breaches,
        failed=ctx.failed,
        skipped=run.prior.skipped + ctx.skipped,
        suppressed=run.prior.suppressed | suppressed_counts(ctx.suppression_logs),
        timings=timings,
        partial=sorted(run.rerun) if run.partial else None,
        memory=run.memory,
        prior_kernels=run.prior.kernels if run.partial else None,
    )
    n_files = sum(1 for p in stage.rglob("*") if p.is_file()) + 1  # with the manifest
    note = "re-ran " + ", ".join(sorted(run.rerun)) + " into the release already here"
    cohort = {"spells_sha256": early.spells_sha256, "data_end": str(ctx.cohort.data_end.date())}
    path = stage / MANIFEST
    for _ in range(2):  # the release files are checked for identifiers too, once written
        report_inputs = checker.ReportInputs(
            rules=ctx.rules,
            breaches=breaches,
            n_outputs=n_files,
            suppressed=record.suppressed,
            skipped=record.skipped,
            failed=record.failed,
            partial=f"{note}; the paper was not rebuilt" if run.partial else None,
            acro=acro.lines,
        )
        checker.write_report(report, report_inputs)
        if checks.background_seconds is not None:
            timings["checks in a second process"] = checks.background_seconds
        timings["disclosure check"] = round(time.perf_counter() - t0, 2)
        timings["total"] = round(time.perf_counter() - run.started, 2)
        run.memory["disclosure check"] = memory_mib()
        manifest = build_manifest(run.cfg, stage, record, run.inputs, cohort)
        if run.command is not None:
            manifest["command"] = run.command
        path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        about = [
            b
            for rel in checker.RELEASE_FILES
            for b in checks.identifier_breaches(stage, rel)
            if b not in breaches
        ]
        if not about:
            break
        breaches += about
    return RunResult(manifest, path, breaches, acro), _error(run, breaches)


def _error(run: Run, breaches: list[str]) -> Exception | None:
    ctx = run.ctx
    if ctx.failed:
        return PipelineError(
            f"{len(ctx.failed)} step(s) failed (their other outputs were written and "
            "checked; see the manifest):\n"
            + "\n".join(f"  - {f['script']}: {f['error']}" for f in ctx.failed)
        )
    if breaches:
        return DisclosureBreach(
            f"{len(breaches)} disclosure breach(es); see "
            f"{run.cfg.outputs_dir / 'disclosure_report.md'}:\n"
            + "\n".join(f"  - {b}" for b in breaches[:50])
        )
    return None
