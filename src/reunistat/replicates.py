"""One way to run independent seeded replicates: simulations, truth checks, imputations.

A power study, a coverage validation or a multiple imputation is many
independent pieces of work, each driven by its own random stream. This module
runs them, on one process or many, and makes the answer depend on the seed
only:

* replicate ``i`` gets the ``i``-th child of ``numpy.random.SeedSequence(seed)``
  (:func:`replicate_seeds`): no global random state, and the same stream
  whatever the backend, the number of workers or the chunking;
* every replicate runs with BLAS and OpenMP limited to one thread, on every
  backend (the main process included), so no floating-point sum is split
  differently on a machine with more cores: the same numbers to the bit;
* results come back in replicate order.

Backends (:class:`ParallelBackend`, the ``[parallel]`` table of the pipeline's
config): ``"sequential"`` (this process), ``"loky"`` (joblib's worker
processes, the default), ``"threading"`` and ``"dask"`` (joblib's dask
backend on a ``dask.distributed`` cluster: a scheduler at ``scheduler_address``,
a client the caller already opened, or a ``LocalCluster`` of
``local_workers`` processes). ``dask`` is an optional extra
(``pip install reunistat[dask]``), imported only when asked for.

Examples
--------
>>> import numpy as np
>>> def draw(seed, scale):
...     return float(np.random.default_rng(seed).normal() * scale)
>>> a = run_replicates(draw, 4, seed=1, args=(2.0,))
>>> b = run_replicates(draw, 4, seed=1, args=(2.0,), backend=ParallelBackend("threading", 2))
>>> a == b, len(a)
(True, 4)
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeVar

import numpy as np

from reunistat.errors import ConfigError

BackendName = Literal["sequential", "loky", "threading", "dask"]
BACKENDS: tuple[str, ...] = ("sequential", "loky", "threading", "dask")
T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class ParallelBackend:
    """Where replicates run: the ``[parallel]`` table of the config.

    Attributes
    ----------
    backend : {"sequential", "loky", "threading", "dask"}
        ``"loky"`` (joblib's processes) unless told otherwise.
    n_jobs : int
        Workers (``-1``: every core, or every worker of the dask cluster).
        ``1`` runs in this process whatever the backend, except ``"dask"``.
    scheduler_address : str or None
        ``"dask"`` only: the scheduler of an existing cluster
        (``"tcp://host:8786"``).
    local_workers : int or None
        ``"dask"`` only, without an address: start a ``LocalCluster`` of this
        many worker processes for the run. With neither: a client the caller
        has already opened, else a ``LocalCluster`` (see :func:`dask_client`).
    """

    backend: BackendName = "loky"
    n_jobs: int = 1
    scheduler_address: str | None = None
    local_workers: int | None = None

    def __post_init__(self) -> None:
        """Check the settings, naming the config key at fault."""
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"parallel.backend must be one of {list(BACKENDS)}, got {self.backend!r}"
            )
        if not isinstance(self.n_jobs, int) or isinstance(self.n_jobs, bool):
            raise ConfigError(f"parallel.n_jobs must be an integer, got {self.n_jobs!r}")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ConfigError(
                f"parallel.n_jobs must be a positive number of workers or -1 for all, "
                f"got {self.n_jobs}"
            )
        if self.backend != "dask" and (
            self.scheduler_address is not None or self.local_workers is not None
        ):
            raise ConfigError(
                "parallel.scheduler_address and parallel.local_workers apply to "
                f"backend = 'dask' only (backend is {self.backend!r})"
            )
        if self.scheduler_address is not None and self.local_workers is not None:
            raise ConfigError(
                "give parallel.scheduler_address (an existing cluster) or "
                "parallel.local_workers (a LocalCluster), not both"
            )
        if self.local_workers is not None and (
            not isinstance(self.local_workers, int) or self.local_workers < 1
        ):
            raise ConfigError(
                f"parallel.local_workers must be a positive integer, got {self.local_workers!r}"
            )

    @property
    def runs_here(self) -> bool:
        """True when replicates run in this process, one after another."""
        return self.backend == "sequential" or (self.backend != "dask" and self.n_jobs == 1)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dictionary (for a manifest)."""
        return {
            "backend": self.backend,
            "n_jobs": self.n_jobs,
            "scheduler_address": self.scheduler_address,
            "local_workers": self.local_workers,
        }


def as_backend(backend: ParallelBackend | str | None = None, n_jobs: int = 1) -> ParallelBackend:
    """Return a :class:`ParallelBackend` from a name or ``None`` (then from ``n_jobs``).

    ``None`` keeps the old ``n_jobs`` argument of the package's functions
    working: ``1`` is sequential, anything else joblib's loky processes.

    Examples
    --------
    >>> as_backend(None, 1).backend, as_backend(None, 2).backend, as_backend("dask").n_jobs
    ('sequential', 'loky', -1)
    """
    if isinstance(backend, ParallelBackend):
        return backend
    if backend is None:
        if n_jobs == 0 or not isinstance(n_jobs, int):
            raise ConfigError(f"n_jobs must be a positive number of workers or -1, got {n_jobs!r}")
        return ParallelBackend("sequential" if n_jobs == 1 else "loky", n_jobs)
    if backend == "dask" and n_jobs == 1:
        n_jobs = -1  # every worker of the cluster
    return ParallelBackend(backend, n_jobs)  # type: ignore[arg-type]


def replicate_seeds(seed: int | np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The independent seeds of ``n`` replicates: the children of ``SeedSequence(seed)``.

    Examples
    --------
    >>> s = replicate_seeds(7, 3)
    >>> [int(np.random.default_rng(c).integers(100)) for c in s] == [
    ...     int(np.random.default_rng(c).integers(100)) for c in replicate_seeds(7, 3)]
    True
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(n)


def _one_thread() -> contextlib.AbstractContextManager[Any]:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def one_blas_thread(func: Callable[P, T]) -> Callable[P, T]:
    """Run ``func`` with BLAS and OpenMP on one thread (a decorator).

    For work on tall, thin matrices (cluster sandwiches, bootstrap refits):
    there a second BLAS thread saves little on a quiet machine and, on a busy
    one, its spinning costs several times the work (measured on the event
    study: 21 s of CPU with the default threads, 6.8 s with one).

    Examples
    --------
    >>> @one_blas_thread
    ... def gram(x):
    ...     return x.T @ x
    >>> gram(np.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with _one_thread():
            return func(*args, **kwargs)

    return wrapper


def _run_chunk(
    func: Callable[..., T], items: Sequence[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[T]:
    """Run ``func`` on each item of one chunk, BLAS on one thread (the same on every backend)."""
    with _one_thread():
        return [func(item, *args, **kwargs) for item in items]


@contextlib.contextmanager
def dask_client(backend: ParallelBackend) -> Iterator[Any]:
    """Yield a ``dask.distributed`` client for ``backend``, closing what it opened.

    The scheduler at ``scheduler_address`` if given; else a ``LocalCluster``
    of ``local_workers`` processes if given; else the client the caller has
    already opened (``distributed.Client(...)`` as a context); else a
    ``LocalCluster`` of ``n_jobs`` processes (2 if ``n_jobs`` is -1).
    Keep one open around several calls (``with dask_client(b): ...``) to
    start a local cluster once.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ConfigError(
            "parallel.backend = 'dask' needs dask.distributed: pip install 'reunistat[dask]' "
            "(or dask[distributed]), or choose backend 'loky'"
        ) from e
    if backend.scheduler_address is not None:
        try:
            client = Client(backend.scheduler_address, timeout="20s")
        except OSError as e:
            raise ConfigError(
                f"parallel.scheduler_address: no dask scheduler answers at "
                f"{backend.scheduler_address} ({e})"
            ) from e
        with client:
            yield client
        return
    existing = _open_client() if backend.local_workers is None else None
    if existing is not None:
        yield existing
        return
    n = backend.local_workers or (backend.n_jobs if backend.n_jobs > 0 else 2)
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextlib.contextmanager
def session(backend: ParallelBackend) -> Iterator[None]:
    """Keep a backend's resources open around several :func:`run_replicates` calls.

    For ``"dask"`` it opens the client (and any ``LocalCluster``) once
    (:func:`dask_client`); for the other backends it does nothing.

    Examples
    --------
    >>> with session(ParallelBackend("sequential")):
    ...     run_replicates(lambda s: 1, 2, seed=0)
    [1, 1]
    """
    if backend.backend != "dask":
        yield
        return
    with dask_client(backend):
        yield


def _open_client() -> Any:
    """The ``dask.distributed`` client the caller has opened, or None."""
    from distributed import get_client

    try:
        return get_client()
    except ValueError:
        return None


def run_replicates(
    func: Callable[..., T],
    n_replicates: int | Sequence[Any],
    *,
    seed: int | np.random.SeedSequence | None = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    backend: ParallelBackend | str | None = None,
    n_jobs: int = 1,
    chunk_size: int | None = None,
    progress: bool = False,
    desc: str = "replicates",
) -> list[T]:
    """Run ``func(item, *args, **kwargs)`` for every replicate and return the results in order.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled to the workers); its first
        argument is the replicate's ``numpy.random.SeedSequence`` (or item).
    n_replicates : int or sequence
        The number of replicates (each given its seed from
        :func:`replicate_seeds` of ``seed``), or the items themselves (e.g.
        seeds made elsewhere, or parameter sets).
    seed : int or numpy.random.SeedSequence
        Root seed; needed with a number of replicates.
    args, kwargs
        Further arguments, the same for every replicate (sent once per chunk).
    backend : ParallelBackend, str or None
        Where to run (see :class:`ParallelBackend`); ``None``: from ``n_jobs``.
    n_jobs : int
        Workers when ``backend`` is a name or ``None``.
    chunk_size : int or None
        Replicates per task sent to a worker (default: about four tasks per
        worker, at most 50 replicates a task). Does not change the results.
    progress : bool
        Show a progress bar (tqdm).
    desc : str
        The progress bar's label.

    Returns
    -------
    list
        ``func``'s result for replicate 0, 1, ...: the same whatever the
        backend, workers or chunking.
    """
    from tqdm.auto import tqdm

    out: list[T] = []
    chunks = iter_replicates(
        func,
        n_replicates,
        seed=seed,
        args=args,
        kwargs=kwargs,
        backend=backend,
        n_jobs=n_jobs,
        chunk_size=chunk_size,
    )
    with tqdm(desc=desc, unit="rep", disable=not progress, leave=False) as bar:
        for res in chunks:
            out.extend(res)
            bar.update(len(res))
    return out


def iter_replicates(
    func: Callable[..., T],
    n_replicates: int | Sequence[Any],
    *,
    seed: int | np.random.SeedSequence | None = None,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    backend: ParallelBackend | str | None = None,
    n_jobs: int = 1,
    chunk_size: int | None = None,
) -> Iterator[list[T]]:
    """Yield the results chunk by chunk, in replicate order, as they are ready.

    The arguments are those of :func:`run_replicates`; use it to save
    replicates as they finish (a long validation that can resume).

    Examples
    --------
    >>> [len(c) for c in iter_replicates(lambda s: 0, 5, seed=1, chunk_size=2)]
    [2, 2, 1]
    """
    how = as_backend(backend, n_jobs)
    if isinstance(n_replicates, int):
        if n_replicates < 1:
            raise ConfigError(f"the number of replicates must be at least 1, got {n_replicates}")
        if seed is None:
            raise ConfigError("run_replicates needs a seed for a number of replicates")
        items: Sequence[Any] = replicate_seeds(seed, n_replicates)
    else:
        items = list(n_replicates)
    size = chunk_size or _default_chunk(len(items), how)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    return _results(func, chunks, args, kwargs or {}, how)


def _default_chunk(n_items: int, how: ParallelBackend) -> int:
    if how.runs_here:
        return max(n_items, 1)
    workers = how.n_jobs if how.n_jobs > 0 else (os.cpu_count() or 2)
    return max(1, min(50, -(-n_items // (4 * workers))))


def _results(
    func: Callable[..., T],
    chunks: list[Sequence[Any]],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    how: ParallelBackend,
) -> Iterator[list[T]]:
    if how.runs_here:
        for c in chunks:
            yield _run_chunk(func, c, args, kw)
        return
    from joblib import Parallel, delayed, parallel_config

    tasks = (delayed(_run_chunk)(func, c, args, kw) for c in chunks)
    if how.backend != "dask":
        par = Parallel(n_jobs=how.n_jobs, backend=how.backend, return_as="generator")
        yield from par(tasks)
        return
    with dask_client(how), parallel_config(backend="dask"):
        yield from Parallel(n_jobs=how.n_jobs, return_as="generator")(tasks)
