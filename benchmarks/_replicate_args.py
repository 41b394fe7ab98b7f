"""Command-line options shared by the validation scripts: where their replicates run.

``--backend {sequential,loky,threading,dask} --jobs N [--scheduler-address tcp://...]``
map to :class:`reunistat.replicates.ParallelBackend`; replicates keep their
integer seeds, so results saved by earlier runs (one process per seed range)
are unchanged and a stopped run resumes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any


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
