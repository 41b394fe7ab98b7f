"""Independent analysis scripts at the same time, in forked worker processes.

The cohort is derived once, for the run's own process (in a process it
forked, beside its imports: :mod:`reunistat.pipeline.forked_cohort`); then
``fork`` gives each worker a copy of that
:class:`~reunistat.pipeline.context.Context` (the data is shared, not
copied). The release-wide suppression is built by the process that derived
the cohort once it is sent (:class:`reunistat.pipeline.finish.WhileScriptsRun`),
or else by the run's process once the workers have started, and handed to
each worker (pickled: small) when its first script asks for it
(:class:`ReleaseHandover`, :func:`_hand_release`); a script's seconds leave
out the wait. A worker runs a *group* of scripts one after another: a script and
every script that reads what it leaves in memory (:data:`NEEDS`). A script
that reads only another's output *file* (:data:`AFTER`) may run in another
worker: it starts once that script has finished (an event shared across the
fork), and the groups are handed out so that the workers can never all wait
for groups no worker has taken yet (:func:`schedule`). For each script it sends back what
the run's Context needs of it: the outputs it registered, its paper values, skipped
and failed steps, suppression logs, console log and seconds
(:class:`ScriptRecord`). Objects a script shares in ``ctx.results`` stay in
the worker (only scripts of its own group read them). As each script ends, a
worker also says so, with its outputs (:class:`Finished`), for the work the
run's process does while a worker is idle (:mod:`reunistat.pipeline.idle_core`).

The run's process merges the records **in the fixed order of the scripts**,
as if they had run one after another, so the manifest, the values, the
release-wide suppression and every output file are the same bytes as with
one process. The merge is checked: a script that looked up a value or result
another group made, or registered an output or value another script already
had (both mean :data:`NEEDS` misses a dependency), makes the run discard the
workers' records and run every script again one after another in its own
process (said in the log), so the release is never wrong, only slower.

Fork and threads: the workers start after pyarrow read the extract (pyarrow
re-creates its thread pools in a forked child) and before any dask client or
loky executor exists (the scripts create them, inside a worker); BLAS and
OpenMP run on one thread in each worker (``threadpoolctl``). A worker closes
its copy of the outputs folder's lock (an ``flock`` is shared across a fork)
and is killed with the run (``PR_SET_PDEATHSIG``), so a killed run leaves no
worker writing and blocks no later run. On systems
without ``fork`` (Windows, macOS) the scripts run one after another.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.errors import PipelineError
from reunistat.pipeline.context import Context, Output

#: Scripts (by number) that read what other scripts leave: a value (``ctx.values``), a
#: fitted result (``ctx.results``) or an output file. Each runs after them, in their worker.
NEEDS: dict[str, tuple[str, ...]] = {
    "08": ("03",),  # the Kaplan-Meier re-entry of 03 (ctx.values) as the power baseline
    "09": ("07",),  # the pilot's Cox fit of 07 (ctx.results)
    "11": ("05",),  # the main logistic model beside the imputed one: 05's (ctx.results)
    "12": ("05",),  # 05's cluster-robust logistic fit (ctx.results)
}

#: Scripts (by number) that read only an output *file* of other scripts (nothing they leave
#: in memory). Each starts once those scripts have finished, in whichever worker ran them.
AFTER: dict[str, tuple[str, ...]] = {
    "12": ("03",),  # 03's tables/km_horizons.csv
}

#: Scripts (by number) that read what other scripts leave in ``ctx.results``, but may run
#: in another worker (to balance the workers): each starts once those scripts have
#: finished, like :data:`AFTER`, with the results they made, pickled by their worker into
#: a private folder (:func:`_hand_over`) and loaded first (:func:`_take_over`). If that
#: fails, the script finds none of them: the merge's check then runs every script again
#: one after another (as for a dependency :data:`NEEDS` misses), so the release is the same.
#: 10 (05's random-intercept fit) runs in the other worker: with 05, 11 and 12 (about 12.7 s
#: national) against the rest and 10 (about 13.1 s) the national run took 23.6 s against
#: 24.1 s with 10 beside 05 (medians of 3 alternated quiet runs, 2026-12-03; faster in every
#: pair). Session 26 had measured no gain while 11 and 12 were slower. 04 (its Cox fit, which
#: 11 reads: 43 MB pickled, about 0.06 s to hand over) runs in the other worker too, first
#: (:func:`schedule`): 05, 11 and 12 against the rest and 04 (see :data:`TYPICAL_SECONDS`).
#: 10 takes 04's fit too (its Cox standardisation: the same coefficients, about 0.4 s CPU
#: fewer); 04 (about 0.7 s, first in the other worker) is done long before 05 (about 2.5 s),
#: which 10 waits for anyway.
SHARED: dict[str, tuple[str, ...]] = {
    # 05's random-intercept fit, for the shrunken estimates, and 04's Cox fit, for the
    # expected re-entries (ctx.results)
    "10": ("05", "04"),
    "11": ("04",),  # 04's Cox fit, the main model beside the imputed one (ctx.results)
}

#: Each script's seconds at national size (quiet machine, two workers: this session's
#: merge, 2026-12-03 03:30 UTC), to start the longest groups first when the outputs folder
#: holds no earlier manifest.
TYPICAL_SECONDS: dict[str, float] = {
    "01": 0.4,
    "02": 0.2,
    "03": 2.7,
    "04": 0.6,
    "05": 1.9,
    "06": 1.3,
    "07": 1.1,
    "08": 0.9,
    "09": 0.0,
    "10": 1.6,
    "11": 5.6,
    "12": 5.2,
    "13": 4.1,
}


class _Watched(dict[str, Any]):
    """A dict that remembers the keys looked up while absent (to check :data:`NEEDS`)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.missed: set[str] = set()

    def __missing__(self, key: Any) -> Any:
        self.missed.add(str(key))
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        found = super().__contains__(key)
        if not found:
            self.missed.add(str(key))
        return found

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value of ``key``, remembering a key that is absent."""
        if not super().__contains__(key):
            self.missed.add(str(key))
            return default
        return super().__getitem__(key)


@dataclass
class ScriptRecord:
    """What one script run in a worker changed in the Context, to merge into the run's."""

    script: str
    seconds: float
    log: list[str]
    outputs: list[Output]
    values: dict[str, dict[str, Any]]
    skipped: list[dict[str, str]]
    failed: list[dict[str, str]]
    suppression_logs: dict[str, pd.DataFrame]
    results: list[str]
    missed: set[str]
    used_release: bool
    memory_mib: dict[str, float | None] = field(default_factory=dict)


def script_groups(scripts: Sequence[Path]) -> list[list[Path]]:
    """Group the scripts so that each runs after, and with, the scripts it needs.

    Groups are kept in the order of their first script; each group in script
    order. A needed script that is not in this run is not waited for.

    >>> names = ["01_a.py", "03_c.py", "05_e.py", "08_h.py", "09_i.py", "12_l.py"]
    >>> [[p.name[:2] for p in g] for g in script_groups([Path(n) for n in names])]
    [['01'], ['03', '08'], ['05', '12'], ['09']]
    """
    number = {p.name[:2]: p for p in scripts}
    parent = {n: n for n in number}

    def root(n: str) -> str:
        while parent[n] != n:
            n = parent[n]
        return n

    for n, needs in NEEDS.items():
        for m in needs:
            if n in number and m in number:
                parent[root(n)] = root(m)
    groups: dict[str, list[Path]] = {}
    for p in scripts:
        groups.setdefault(root(p.name[:2]), []).append(p)
    return list(groups.values())


def analysis_jobs(setting: int, n_groups: int) -> int:
    """Worker processes to use: ``setting`` (0: the cores available), at most one per group.

    >>> analysis_jobs(4, 3), analysis_jobs(1, 9), analysis_jobs(2, 1)
    (3, 1, 1)
    """
    if not (sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()):
        return 1
    if setting <= 0:
        setting = len(os.sched_getaffinity(0))
    return max(1, min(setting, n_groups))


def memory_mib(shared: bool = False) -> dict[str, float | None]:
    """Return the resident memory of this process now and its peak so far, in MiB (or None).

    Read on Linux only (``/proc/self/statm`` and ``getrusage``). ``shared``:
    also ``private`` (pages of this process alone) and ``pss`` (its share of
    the pages it shares with others: the sum over the processes is what they
    take together), for a worker that shares the cohort with the run's process.

    >>> sorted(memory_mib())
    ['peak', 'rss']
    """
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return {"rss": None, "peak": None}
    out: dict[str, float | None] = {"rss": round(rss, 1), "peak": round(max(peak, rss), 1)}
    if shared:
        out |= {"private": None, "pss": None}
        try:
            kib = _smaps_rollup_kib()
        except (OSError, ValueError):
            return out
        private = kib.get("Private_Clean", 0) + kib.get("Private_Dirty", 0)
        out |= {"private": round(private / 1024, 1), "pss": round(kib.get("Pss", 0) / 1024, 1)}
    return out


def release_memory() -> None:
    """Free what a finished script left: its reference cycles, then the C heap's free pages.

    pandas and numpy allocate many blocks below glibc's mmap threshold; freed,
    they stay in the process (its resident memory) until ``malloc_trim``
    returns them to the system, so the next script would add its memory on
    top of the last one's.
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """No automatic garbage collection for the block (the run's start).

    While the extract is read and the scripts' modules imported, almost
    nothing the run makes is garbage, yet the collector's full passes walk
    the extract and every module again as the imports add objects (about
    0.5 s CPU at national size, most of the run's process's collections
    before the workers). The block's end turns the collector back on; the run
    then collects once (:func:`release_memory`, as it did there anyway). A
    process forked inside the block keeps it off (the one deriving the
    cohort). Without ``pause``, or when it is off already, nothing changes.
    Nothing is freed or kept differently afterwards: only when the collector
    runs changes, never a result.
    """
    import gc

    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: How many :func:`frozen_heap` blocks are open (the outermost one unfreezes).
_FROZEN_DEPTH = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects alive now out of every later garbage collection, for the block.

    The cohort, the extract, the release and every imported module stay alive
    for the whole run; without this, each full collection walks them all again
    (:func:`release_memory` after every script, and the interpreter's own:
    0.1-0.5 s each at national size, more at scale) and, in a forked worker,
    writes to their pages, copying memory the workers would otherwise share
    with the run's process (``gc.freeze``). What the block creates is
    collected as usual; at the end of the outermost block everything is
    handed back to the collector (``gc.unfreeze``), so a long-lived process
    (tests, a notebook) leaks nothing of the run. Nothing is freed or kept
    differently: only the collector's work changes, never a result.
    """
    import gc

    global _FROZEN_DEPTH
    gc.freeze()
    _FROZEN_DEPTH += 1
    try:
        yield
    finally:
        _FROZEN_DEPTH -= 1
        if _FROZEN_DEPTH == 0:
            gc.unfreeze()


def _smaps_rollup_kib() -> dict[str, int]:
    """The ``Name: N kB`` lines of ``/proc/self/smaps_rollup`` (Linux)."""
    kib = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            name, _, value = line.partition(":")
            if value.strip().endswith("kB"):
                kib[name] = int(value.split()[0])
    return kib


#: The run's Context, set before the workers fork (a forked worker finds it here).
_CONTEXT: Context | None = None
#: One event per script of the run, set when it has finished (shared across the fork).
_FINISHED: dict[str, Any] = {}
#: Where each worker says a script has finished, with its outputs (:class:`Finished`).
_DONE: Any = None
#: The private folder where a worker hands over a script's results (:func:`_hand_over`).
_HANDOVER: Path | None = None
#: Where the workers find the release built once they have started (:func:`_hand_release`);
#: None when they were forked with it.
_RELEASE: ReleaseHandover | None = None


@dataclass
class ReleaseHandover:
    """Where the workers find the release-wide suppression built after they were forked.

    ``path`` (in a private folder) holds it pickled with its seconds, written
    whole or not at all; ``done`` (an event shared across the fork) is set
    once it is written, or known not to be. Made by :func:`release_handover`
    before any process that writes it is forked. ``elsewhere``: set when
    another process builds it (:class:`reunistat.pipeline.finish.WhileScriptsRun`);
    called by the run's process, it waits for that process's word (or its
    end), then the run's process takes the release from ``path``, or builds
    it itself when it finds none there.
    """

    done: Any
    path: Path
    elsewhere: Callable[[], None] | None = None


def release_handover() -> ReleaseHandover:
    """A new :class:`ReleaseHandover` (its folder is removed by :func:`remove_handover`)."""
    mp = multiprocessing.get_context("fork")
    return ReleaseHandover(mp.Event(), Path(tempfile.mkdtemp(prefix="reunistat-release-")) / "r")


def remove_handover(handover: ReleaseHandover | None) -> None:
    """Remove the private folder of ``handover`` (if any), with what was written there."""
    if handover is not None:
        shutil.rmtree(handover.path.parent, ignore_errors=True)


def _worker_init(parent: int) -> None:
    """Start a worker: it dies with the run, holds no lock of it, runs BLAS on one thread."""
    from threadpoolctl import threadpool_limits

    global _LIMITS
    detach_from_run(parent)
    _LIMITS = threadpool_limits(limits=1)  # kept for the worker's life


def detach_from_run(parent: int) -> None:
    """In a process forked from the run ``parent``: die with it, and hold no lock of it."""
    import signal

    from reunistat.pipeline.folder import forget_locks

    _die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the run ended before the line above
        os._exit(1)
    forget_locks()


def _die_with_parent(sig: int) -> None:
    """Ask Linux to send ``sig`` to this process when its parent ends (``PR_SET_PDEATHSIG``)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, sig, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


_LIMITS: Any = None

#: The Context's registries as the worker was forked (set by its first group).
_FORKED: dict[str, Any] | None = None
_REGISTRIES = ("outputs", "values", "results", "skipped", "failed", "suppression_logs")


def _as_forked(ctx: Context) -> None:
    """Give ``ctx`` the registries it was forked with: a group never sees another's.

    A worker runs the groups it is handed one after another, in the order
    :func:`schedule` gives (longest first, not script order): what an earlier
    group wrote must not show, or a script would fail (an output written
    twice) or find what it would not find when the scripts run one after
    another.
    """
    global _FORKED
    if _FORKED is None:
        _FORKED = {k: getattr(ctx, k) for k in _REGISTRIES}
    for k, v in _FORKED.items():
        setattr(ctx, k, type(v)(v))  # a shallow copy: the objects are not changed in place


def _run_group(
    paths: list[Path],
    after: dict[str, list[str]] | None = None,
    takes: dict[str, list[str]] | None = None,
) -> list[ScriptRecord]:
    """In a worker: run a group of scripts on the forked Context, one record each.

    ``after``: for a script (by its name), the scripts of other groups it
    starts after (:data:`AFTER`, :data:`SHARED`); each script's event in
    :data:`_FINISHED` is set once it has run. ``takes``: for a script, the
    scripts of other groups whose results it is given (:data:`SHARED`); those
    hand them over as they end.
    """
    from reunistat.pipeline.run import _script_name, run_one

    ctx = _CONTEXT
    assert ctx is not None, "the worker was not forked from a run"
    ready = ctx.__dict__.pop("release", None)
    if ready is not None:
        ctx.release_ready = ready
    elif ctx.release_ready is None and _RELEASE is not None:
        ctx.release_from_run = _release_from_run
    _as_forked(ctx)
    ctx.values = _Watched(ctx.values)
    ctx.results = _Watched(ctx.results)
    lines: list[str] = []
    ctx.log = lines.append
    records = []
    handing = {q for w in (takes or {}).values() for q in w}
    for path in paths:
        name = _script_name(ctx.config, path)
        for other in (after or {}).get(name, []):
            _FINISHED[other].wait()
        for other in (takes or {}).get(name, []):
            dict.update(ctx.results, _take_over(other))
        outputs, values = set(ctx.outputs), set(ctx.values)
        results = set(ctx.results)
        n_skipped, n_failed = len(ctx.skipped), len(ctx.failed)
        logs = dict(ctx.suppression_logs)
        ctx.values.missed.clear()
        ctx.results.missed.clear()
        try:
            seconds = run_one(ctx, path)
        finally:
            if name in handing:
                _hand_over(name, {k: v for k, v in ctx.results.items() if k not in results})
            if name in _FINISHED:
                _FINISHED[name].set()
        records.append(
            ScriptRecord(
                script=ctx.script,
                seconds=seconds,
                log=lines.copy(),
                outputs=[o for rel, o in ctx.outputs.items() if rel not in outputs],
                values={k: v for k, v in ctx.values.items() if k not in values},
                skipped=ctx.skipped[n_skipped:],
                failed=ctx.failed[n_failed:],
                suppression_logs={
                    k: v for k, v in ctx.suppression_logs.items() if logs.get(k) is not v
                },
                results=[k for k in ctx.results if k not in results],
                missed=ctx.values.missed | ctx.results.missed,
                used_release="release" in ctx.__dict__,
                memory_mib=memory_mib(shared=True),
            )
        )
        if _DONE is not None:  # its files are final: the run's process may check them now
            _DONE.put(Finished(records[-1].script, records[-1].outputs))
        lines.clear()
    return records


def _hand_release(ctx: Context) -> None:
    """In the run's process, the workers started: take or build the release, hand it to them.

    When another process builds it (:attr:`ReleaseHandover.elsewhere`), this
    one waits for it, then takes it from the file (:func:`_take_release`).
    Else, or when that process wrote none (it failed, or was killed), it is
    built here and pickled into that private file (small: about 0.1 MB at
    national size), which a worker reads when its first script asks for the
    release (:func:`_release_from_run`). If it cannot be built, no file is
    written (the scripts that ask then fail) and the error is raised here;
    either way the workers are told it is done.
    """
    if _RELEASE is None:
        return
    try:
        if _RELEASE.elsewhere is not None:
            _RELEASE.elsewhere()
            if _take_release(ctx, _RELEASE.path):
                return
        write_release(_RELEASE.path, ctx.release, ctx.release_seconds)
    finally:
        _RELEASE.done.set()


def write_release(path: Path, release: Any, seconds: float | None) -> None:
    """Write ``release`` built in ``seconds`` for the workers (:func:`_release_from_run`)."""
    _write_pickle(path, (release, seconds))


def _take_release(ctx: Context, path: Path) -> bool:
    """Make the release another process wrote into ``path`` the run's; whether it found one."""
    try:
        with open(path, "rb") as f:
            release, seconds = pickle.load(f)  # written by this run's own process, privately
    except Exception:  # none written (or not whole: never, it is renamed into place)
        return False
    ctx.adopt_release(release, seconds)
    return True


def _write_pickle(path: Path, obj: Any) -> None:
    """Pickle ``obj`` into ``path`` whole or not at all (written beside it, then renamed).

    A reader that finds ``path`` finds all of it; on an error what was
    written beside it is removed and the error raised.
    """
    part = path.with_suffix(".part")
    try:
        with open(part, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _release_from_run() -> Any:
    """In a worker: the release the run's process built (:func:`_hand_release`), waited for."""
    assert _RELEASE is not None, "the worker was forked with the release"
    _RELEASE.done.wait()
    try:
        with open(_RELEASE.path, "rb") as f:
            return pickle.load(f)[0]  # written by this run's own process, in a private folder
    except OSError:
        raise PipelineError(
            "the run's process could not build the release-wide suppression"
        ) from None


def _handed_over(name: str) -> Path | None:
    return None if _HANDOVER is None else _HANDOVER / f"{Path(name).name}.pickle"


def _hand_over(name: str, results: dict[str, Any]) -> None:
    """Pickle the results script ``name`` made, for the scripts of other workers (:data:`SHARED`).

    What cannot be pickled is handed over as nothing: the scripts that would
    read it then miss it, and the merge's check runs every script again.
    """
    path = _handed_over(name)
    if path is None:
        return
    try:
        _write_pickle(path, results)
    except Exception:  # not picklable (or no room): handed over as nothing
        pass


def _take_over(name: str) -> dict[str, Any]:
    """The results script ``name`` handed over (:func:`_hand_over`), or none if it could not."""
    path = _handed_over(name)
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            results = pickle.load(f)  # written by this run's own worker, in a private folder
    except Exception:
        return {}
    return results if isinstance(results, dict) else {}


def _conflict(ctx: Context, record: ScriptRecord, made: set[str]) -> str | None:
    """Why ``record`` cannot be merged as if its script had run after the merged ones."""
    needed = record.missed & (set(ctx.values) | made)
    if needed:
        return f"it looked up {sorted(needed)}, made by another script"
    twice = [o.path for o in record.outputs if o.path in ctx.outputs]
    twice += [k for k in record.values if k in ctx.values]
    if twice:
        return f"it wrote {sorted(twice)}, written by another script too"
    return None


def merge(ctx: Context, record: ScriptRecord) -> None:
    """Add what a worker's script did to the run's Context, as if it had run here."""
    for line in record.log:
        ctx.log(line)
    for o in record.outputs:
        ctx.outputs[o.path] = o
    ctx.values.update(record.values)
    ctx.skipped.extend(record.skipped)
    ctx.failed.extend(record.failed)
    ctx.suppression_logs.update(record.suppression_logs)


def _expected(timings: dict[str, float], group: list[Path], names: dict[Path, str]) -> float:
    return sum(timings.get(names[p], TYPICAL_SECONDS.get(p.name[:2], 1.0)) for p in group)


def waits(
    groups: Sequence[Sequence[Path]], tables: Sequence[dict[str, tuple[str, ...]]] = ()
) -> dict[Path, list[Path]]:
    """For each script, the scripts of *other* groups it must wait for.

    It waits for those :data:`AFTER` and :data:`SHARED` give (``tables``: only those).

    >>> g = script_groups([Path(f"{n}_x.py") for n in ("03", "05", "08", "12")])
    >>> {p.name: [q.name for q in w] for p, w in waits(g).items() if w}
    {'12_x.py': ['03_x.py']}
    """
    group_of = {p: i for i, g in enumerate(groups) for p in g}
    by_number = {p.name[:2]: p for p in group_of}
    out: dict[Path, list[Path]] = {}
    for p, i in group_of.items():
        after = (by_number.get(n) for t in tables or (AFTER, SHARED) for n in t.get(p.name[:2], ()))
        out[p] = [q for q in after if q is not None and group_of[q] != i]
    return out


def schedule(
    groups: Sequence[list[Path]], expected: Callable[[list[Path]], float], jobs: int = 1
) -> list[list[Path]]:
    """The order to hand the groups to ``jobs`` workers: longest first, waited-for in time.

    The longest expected groups go first (so that no long group starts last);
    then a group another group waits for (:func:`waits`) is moved just before
    the first group that waits for it; or just after it when that one is among
    the first ``jobs`` groups, which the workers take at once: then neither
    waits for the other to start (04, which 11 waits for, goes just after 05,
    11 and 12, the longest group, and starts first in the other worker). The
    workers take groups in this order; it is kept only if waiting can never
    deadlock, whatever the scripts' times (:func:`safe`), else every
    waited-for group goes before its waiter.

    >>> g = [[Path(f"{n}_x.py") for n in x] for x in (["03", "08"], ["04"], ["05", "11"])]
    >>> cost = {"03": 6, "08": 1, "04": 1, "05": 3, "11": 6}
    >>> longest = lambda x: sum(cost[p.name[:2]] for p in x)
    >>> [[p.name[:2] for p in x] for x in schedule(g, longest, jobs=2)]
    [['05', '11'], ['04'], ['03', '08']]
    >>> [[p.name[:2] for p in x] for x in schedule(g, longest)]
    [['04'], ['05', '11'], ['03', '08']]
    """
    order = sorted(groups, key=lambda g: -expected(g))  # stable: ties in script order
    placed = _placed(order, jobs)
    return placed if safe(placed, jobs) else _placed(order, 0)


def _placed(order: list[list[Path]], at_once: int) -> list[list[Path]]:
    """``order``, each group another waits for moved just before the first that waits for it.

    Or just after it, when that one is among the first ``at_once`` groups.
    """
    need = waits(order)
    group_of = {p: i for i, g in enumerate(order) for p in g}
    placed: list[list[Path]] = []
    done: set[int] = set()

    def place(i: int) -> None:
        if i in done:
            return
        done.add(i)
        first = len(placed) < at_once
        if first:
            placed.append(order[i])
        for p in order[i]:
            for q in need[p]:
                place(group_of[q])
        if not first:
            placed.append(order[i])

    for i in range(len(order)):
        place(i)
    return placed


def safe(order: Sequence[Sequence[Path]], jobs: int) -> bool:
    """Whether ``jobs`` workers taking the groups in ``order`` can never all wait forever.

    A worker takes the next group when it is free, so the groups before the
    first one not yet taken have all been taken. The workers can all wait
    forever only if, for some group not yet taken, ``jobs`` groups before it
    wait for it or a later one (directly, or through groups they wait for).

    >>> s03, s05, s10, s12 = ([Path(f"{n}_x.py")] for n in ("03", "05", "10", "12"))
    >>> safe([s03, s12], 1), safe([s12, s03], 1), safe([s12, s03], 2)
    (True, False, True)
    >>> safe([s12, s05, s03, s10], 2), safe([s12, s10, s03, s05], 2)
    (True, False)
    """
    need = waits(order)
    at = {p: i for i, g in enumerate(order) for p in g}
    waited = [{at[q] for p in g for q in need[p]} for g in order]
    # the furthest group each group waits for, directly or through the groups it waits for
    furthest = [max(w, default=-1) for w in waited]
    changed = True
    while changed:
        changed = False
        for i, w in enumerate(waited):
            far = max([furthest[i], *(furthest[j] for j in w)])
            changed |= far != furthest[i]
            furthest[i] = far
    return all(sum(f >= u for f in furthest[:u]) < jobs for u in range(1, len(order)))


@dataclass
class Finished:
    """A script a worker has finished, and its outputs (sent as soon as it ends)."""

    script: str
    outputs: list[Output]


#: Called by the run's process with the scripts finished so far and a function that
#: says whether a worker is still running: work for the core left idle
#: (:class:`reunistat.pipeline.idle_core.IdleCore`), small steps while that says so.
Idle = Callable[[Sequence[Finished], Callable[[], bool]], None]


@dataclass
class ParallelRun:
    """What :func:`run_parallel` did."""

    #: Each script's seconds (its worker's clock).
    timings: dict[str, float]
    #: Each script's worker's memory after it ran (MiB: ``rss`` now, ``peak`` so far).
    memory_mib: dict[str, dict[str, float | None]]
    #: Set when the records could not be merged (``ctx`` is then as before): the
    #: files the workers wrote, for the caller to remove those its own run does not make.
    unmerged: set[str] | None = None


def run_parallel(
    ctx: Context,
    scripts: Sequence[Path],
    jobs: int,
    name: Callable[[Path], str],
    previous: dict[str, float] | None = None,
    meanwhile: Callable[[], None] | None = None,
    idle: Idle | None = None,
    release: ReleaseHandover | None = None,
) -> ParallelRun:
    """Run the scripts in ``jobs`` forked workers and merge them into ``ctx`` in script order.

    If the merge finds a dependency :data:`NEEDS` misses, ``ctx`` is left as
    before the call and :attr:`ParallelRun.unmerged` is set: the caller then
    runs the scripts one after another. ``previous``: each script's seconds
    in an earlier run, to start the longest groups first. ``meanwhile`` is
    called in this process once the workers have started, and ``idle`` while
    a worker has nothing left to take (every 50 ms, and as each script ends:
    see :data:`Idle`); neither may change ``ctx``. ``release``: where the
    workers find the release-wide suppression, made before another process
    that builds it was forked (else a new one, built here).
    """
    names = {p: name(p) for p in scripts}
    expected = functools.partial(_expected, previous or {}, names=names)
    groups = schedule(script_groups(scripts), expected, jobs=jobs)
    prebuilt = "release" not in ctx.__dict__
    logs_before = dict(ctx.suppression_logs)
    ctx.log(f"running {len(scripts)} analysis scripts in {jobs} processes")
    records = _collect(ctx, groups, jobs, names, meanwhile, idle, release)
    before = (dict(ctx.outputs), dict(ctx.values), list(ctx.skipped), list(ctx.failed))
    made: set[str] = set()
    for p in scripts:
        record = records[names[p]]
        why = _conflict(ctx, record, made)
        if why is not None:
            ctx.outputs, ctx.values, ctx.skipped, ctx.failed = before
            ctx.suppression_logs = logs_before
            if prebuilt:
                del ctx.__dict__["release"]
                ctx.release_seconds = None
            ctx.log(
                f"  the analysis scripts run again one after another: {record.script} cannot "
                f"be merged ({why}); declare the dependency in reunistat.pipeline.workers.NEEDS"
            )
            return ParallelRun({}, {}, {o.path for r in records.values() for o in r.outputs})
        merge(ctx, record)
        made.update(record.results)
    merged = [records[names[p]] for p in scripts]
    if prebuilt and not any(r.used_release for r in merged):  # as if never built
        del ctx.__dict__["release"]
        ctx.release_seconds = None
        ctx.suppression_logs = {
            k: v
            for k, v in ctx.suppression_logs.items()
            if k in logs_before or k in _written(merged)
        }
    return ParallelRun(
        {r.script: r.seconds for r in merged}, {r.script: r.memory_mib for r in merged}
    )


def _running(futures: frozenset[Future[Any]]) -> bool:
    return not all(f.done() for f in futures)


def _written(records: Iterable[ScriptRecord]) -> set[str]:
    return {k for r in records for k in r.suppression_logs}


def _collect(
    ctx: Context,
    groups: list[list[Path]],
    jobs: int,
    names: dict[Path, str],
    meanwhile: Callable[[], None] | None = None,
    idle: Idle | None = None,
    release: ReleaseHandover | None = None,
) -> dict[str, ScriptRecord]:
    global _CONTEXT, _FINISHED, _DONE, _HANDOVER, _RELEASE
    _CONTEXT = ctx
    records: dict[str, ScriptRecord] = {}
    mp = multiprocessing.get_context("fork")
    after = {names[p]: [names[q] for q in w] for p, w in waits(groups).items() if w}
    _FINISHED = {names[q]: mp.Event() for w in waits(groups).values() for q in w}
    takes = {names[p]: [names[q] for q in w] for p, w in waits(groups, [SHARED]).items() if w}
    _HANDOVER = Path(tempfile.mkdtemp(prefix="reunistat-results-")) if takes else None
    _DONE = None if idle is None else mp.SimpleQueue()
    # the workers start now; the release, unless built, is built beside them
    if "release" not in ctx.__dict__:
        _RELEASE = release or release_handover()
    finished: dict[str, Finished] = {}
    try:
        with (
            frozen_heap(),  # what the run built, the release too: each worker's gc skips it
            ProcessPoolExecutor(
                jobs, mp_context=mp, initializer=_worker_init, initargs=(os.getpid(),)
            ) as pool,
        ):
            futures: dict[Future[list[ScriptRecord]], list[Path]] = {
                pool.submit(_run_group, g, after, takes): g for g in groups
            }
            pending = set(futures)
            _hand_release(ctx)
            if meanwhile is not None:
                meanwhile()
            while pending:
                # with ``idle``, woken every 50 ms to read which scripts have finished
                wake = None if idle is None else 0.05
                done, pending = wait(pending, timeout=wake, return_when=FIRST_COMPLETED)
                for f in done:
                    for r in f.result():
                        records[r.script] = r
                while _DONE is not None and not _DONE.empty():
                    note = _DONE.get()
                    finished[note.script] = note
                if idle is not None and 0 < len(pending) < jobs:  # a worker has nothing to do
                    idle(list(finished.values()), functools.partial(_running, frozenset(pending)))
    except BrokenProcessPool as e:
        running = [names[p] for f, g in futures.items() if not f.done() for p in g]
        raise PipelineError(
            "a worker process running the analysis scripts stopped (out of memory?) while "
            f"running {', '.join(running) or 'a script'}; run with --jobs 1 (or "
            "parallel.analysis_jobs = 1) to run them one after another"
        ) from e
    finally:
        if _HANDOVER is not None:
            shutil.rmtree(_HANDOVER, ignore_errors=True)
        remove_handover(_RELEASE)
        _CONTEXT, _FINISHED, _DONE, _HANDOVER, _RELEASE = None, {}, None, None, None
    return records
