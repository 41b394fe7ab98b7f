"""The process forked for the cohort also builds the release and takes the spells' hash.

When workers will run the scripts, the process that derived the cohort
(:class:`reunistat.pipeline.finish.WhileScriptsRun`) then builds the
release-wide suppression, hands it to the workers through a file and an event
made before it was forked, and sends the spells' hash back; the run's process
takes the input's identifiers while it waits for the cohort. It must get what
it would have made itself, and do the work itself when that process fails or
is killed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from reunistat.pipeline import finish, load_config, reproduce, workers
from reunistat.pipeline.context import Context
from reunistat.pipeline.finish import WhileScriptsRun
from reunistat.pipeline.verify import release_identifiers
from reunistat.results import data_hash

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked processes (Linux)")

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/synthetic/sample"
HERE = os.getpid()  # the test's own process: the run's process in these tests


def _context(tmp: Path) -> Context:
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=SAMPLE, outputs_dir=tmp / "out"
    )
    ctx = Context(cfg, lambda s: None)
    _ = ctx.extract
    return ctx


def _not_here(monkeypatch, owner, name: str) -> None:
    """``owner.name`` fails in the run's process only (a forked process does it as before)."""
    done = getattr(owner, name)

    def only_there(*a, **k):
        if os.getpid() == HERE:
            raise AssertionError(f"{name} done in the run's process")
        return done(*a, **k)

    monkeypatch.setattr(owner, name, only_there)


def _hand_release(ctx: Context, early: WhileScriptsRun) -> None:
    """As :func:`workers._collect` does, the workers started."""
    workers._RELEASE = early.release
    try:
        workers._hand_release(ctx)
        assert early.release is not None and early.release.done.is_set()
        assert workers._release_from_run().audit_record() == ctx.release.audit_record()
    finally:
        workers._RELEASE = None


def _same_release(ctx: Context, tmp: Path) -> None:
    here = _context(tmp / "again")
    assert ctx.release.audit_record() == here.release.audit_record()
    assert list(ctx.suppression_logs) == list(here.suppression_logs)
    for k, log in here.suppression_logs.items():
        pd.testing.assert_frame_equal(ctx.suppression_logs[k], log, check_exact=True)
    assert ctx.release_seconds is not None


def _same_identifiers(ctx: Context, early: WhileScriptsRun) -> None:
    ids = release_identifiers(ctx.extract.tables, ctx.cohort.data_end.date())
    assert early.identifiers == ids and early.seconds is not None
    assert early.spells_sha256 == data_hash(ctx.spells.reset_index(drop=True))


def test_the_forked_process_builds_the_release_and_takes_the_hash(tmp_path, monkeypatch):
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort(release=True)
        assert early.release is not None and early.release.elsewhere is not None
        # from here the run's process cannot do them: they must come from the forked one
        _not_here(monkeypatch, Context, "build_release")
        _not_here(monkeypatch, finish, "_spells_hash")
        early.take_cohort()
        _hand_release(ctx, early)
        early.run()
        assert early._answers is None  # all heard: it ends on its own
        folder = early.release.path.parent
        assert folder.is_dir()
    assert not folder.exists()  # removed with the run
    monkeypatch.undo()
    _same_release(ctx, tmp_path)
    _same_identifiers(ctx, early)


def test_without_workers_the_forked_process_only_derives_the_cohort(tmp_path):
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort()
        assert early.release is None
        early.take_cohort()
        assert early._answers is None and early._ending is not None
        early.run(final=True)
    _same_identifiers(ctx, early)


@pytest.mark.parametrize("fails", ["release", "hash", "killed"])
def test_what_the_forked_process_does_not_send_the_run_does(tmp_path, monkeypatch, fails):
    if fails == "release":  # it cannot build the release (here it can)
        _not_there(monkeypatch, Context, "build_release")
    elif fails == "hash":
        _not_there(monkeypatch, finish, "_spells_hash")
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort(release=True)
        early.take_cohort()
        if fails == "killed":  # killed once it has sent the cohort
            early._answers[0].kill()
        _hand_release(ctx, early)
        early.run()
        assert early._answers is None
    monkeypatch.undo()
    _same_release(ctx, tmp_path)
    _same_identifiers(ctx, early)


def _not_there(monkeypatch, owner, name: str) -> None:
    """``owner.name`` fails in a forked process only."""
    done = getattr(owner, name)

    def only_here(*a, **k):
        if os.getpid() != HERE:
            raise RuntimeError(f"{name} fails in the forked process")
        return done(*a, **k)

    monkeypatch.setattr(owner, name, only_here)


def test_a_release_the_forked_process_cannot_build_is_an_error_of_the_run(tmp_path, monkeypatch):
    def fails(self):
        raise ValueError("no release")

    monkeypatch.setattr(Context, "build_release", fails)
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort(release=True)
        early.take_cohort()
        workers._RELEASE = early.release
        try:
            with pytest.raises(ValueError, match="no release"):
                workers._hand_release(ctx)
            assert early.release is not None and early.release.done.is_set()  # no worker waits
            assert not early.release.path.exists()
        finally:
            workers._RELEASE = None


SCRIPTS = {
    "01_flow.py": "def run(ctx):\n"
    "    ctx.count('n_spells', len(ctx.spells), function='f')\n"
    "    ctx.value('n_cells', ctx.release.n_cells, function='f')\n",
    "03_km.py": "def run(ctx):\n    ctx.value('km', 0.25, function='f')\n",
}


@pytest.mark.skipif(workers.analysis_jobs(2, 2) < 2, reason="needs fork and two cores")
def test_a_run_with_workers_takes_them_from_the_forked_process(tmp_path, monkeypatch):
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    for name, body in SCRIPTS.items():
        (analyses / name).write_text(body)

    def manifest(jobs: int) -> dict:
        cfg = load_config(ROOT / "analyses/config.toml").with_changes(
            data_dir=SAMPLE, outputs_dir=tmp_path / f"out{jobs}", analyses_dir=analyses
        )
        reproduce(cfg.with_changes(analysis_jobs=jobs), paper=False, log=lambda s: None)
        m = json.loads((cfg.outputs_dir / "manifest.json").read_text())
        t = m["timings_seconds"]
        assert t["release-wide suppression"] >= 0 and t["identifiers and spells hash"] >= 0
        return {
            k: v
            for k, v in m.items()
            if k not in ("created_utc", "timings_seconds", "config", "memory_mib", "command")
        }

    one = manifest(1)
    # with workers, the run's process builds neither of these itself
    _not_here(monkeypatch, Context, "build_release")
    _not_here(monkeypatch, finish, "_spells_hash")
    two = manifest(2)
    assert two == one and two["suppressed_cells"]
