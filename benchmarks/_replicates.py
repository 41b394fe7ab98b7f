"""Run seeded replicates of a coverage study, saving each as it finishes (a stopped run resumes).

Used by ``coverage_cox_cluster.py``, ``coverage_mi.py`` and ``coverage_event_study.py``:
replicates go to ``results/<prefix>_<first seed>.csv``; a seed found in any
``results/<prefix>_*.csv`` is skipped. ``--backend {sequential,loky,threading,dask} --jobs N
[--scheduler-address tcp://...]`` map to :class:`reunistat.replicates.ParallelBackend`;
replicates keep their integer seeds, so results saved by earlier runs are unchanged.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

RESULTS = Path(__file__).parent / "results"


def add_backend_args(ap: argparse.ArgumentParser) -> None:
    """Add ``--backend``, ``--jobs``, ``--scheduler-address`` and ``--local-workers``."""
    ap.add_argument(
        "--backend", default="sequential", choices=("sequential", "loky", "threading", "dask")
    )
    ap.add_argument("--jobs", type=int, default=1, help="workers (-1: every core or dask worker)")
    ap.add_argument("--scheduler-address", default=None, help="dask: an existing scheduler")
    ap.add_argument("--local-workers", type=int, default=None, help="dask: a LocalCluster size")


def replicates_of(
    func: Callable[..., Any], seeds: list[int], args: argparse.Namespace, extra: tuple[Any, ...]
) -> Iterator[list[Any]]:
    """Yield ``[func(seed, *extra)]`` for each seed in order, as each finishes."""
    from reunistat.replicates import ParallelBackend, iter_replicates

    backend = ParallelBackend(args.backend, args.jobs, args.scheduler_address, args.local_workers)
    if not seeds:
        return iter([])
    return iter_replicates(func, seeds, args=extra, backend=backend, chunk_size=1)


def saved(prefix: str) -> pd.DataFrame:
    """Every replicate saved under ``results/<prefix>_*.csv`` (empty if none)."""
    parts = sorted(RESULTS.glob(f"{prefix}_*.csv"))
    return (
        pd.concat([pd.read_csv(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
    )


def run_replicates(
    prefix: str,
    first_seed: int,
    n: int,
    one: Callable[..., pd.DataFrame],
    extra: tuple[Any, ...],
    args: argparse.Namespace,
) -> pd.DataFrame:
    """Run seeds ``first_seed .. first_seed + n - 1`` not saved yet; return all saved.

    ``one(seed, *extra)`` is a module-level function (sent to the workers of
    ``--backend``); each replicate is saved as it finishes.
    """
    done = saved(prefix)
    seen = set(done["seed"].unique()) if len(done) else set()
    path = RESULTS / f"{prefix}_{first_seed}.csv"
    t0 = time.perf_counter()
    pending = [s for s in range(first_seed, first_seed + n) if s not in seen]
    for seed, (rep,) in zip(pending, replicates_of(one, pending, args, extra), strict=True):
        rep.to_csv(path, mode="a", header=not path.exists(), index=False)
        print(seed, f"{time.perf_counter() - t0:.0f}s", flush=True)
    return saved(prefix)


def parser(scale: float, first_seed: int) -> argparse.ArgumentParser:
    """The options every coverage script shares (add its own to the parser returned)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--scale", type=float, default=scale)
    ap.add_argument("--first-seed", type=int, default=first_seed)
    ap.add_argument("--no-summary", action="store_true")
    ap.add_argument(
        "--summary-only", action="store_true", help="summarise every replicate saved, run none"
    )
    add_backend_args(ap)
    return ap
