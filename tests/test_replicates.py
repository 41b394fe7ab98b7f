"""The replicate runner: the same replicates, to the bit, on every backend and any workers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import ConfigError, ReunistatError
from reunistat.models.evaluation.power import PowerDesign, power_curve, simulate_power
from reunistat.models.imputation import impute
from reunistat.replicates import (
    ParallelBackend,
    as_backend,
    replicate_seeds,
    run_replicates,
    session,
)

SMALL = PowerDesign(hazard_ratio=0.8, n_authorities=20, n_pilot=5, returns_per_year=600)


def _draw(seed: np.random.SeedSequence, n: int) -> np.ndarray:
    """A replicate that uses BLAS: a matrix product of seeded normals."""
    x = np.random.default_rng(seed).normal(size=(n, 30))
    return x.T @ x


def _blas_threads(seed: np.random.SeedSequence) -> list[int]:
    from threadpoolctl import threadpool_info

    return [int(i["num_threads"]) for i in threadpool_info()]


def _boom(seed: np.random.SeedSequence) -> float:
    raise ValueError("replicate failed on purpose")


def _power_reps(backend: ParallelBackend | str | None, n_jobs: int = 1) -> pd.DataFrame:
    r = simulate_power(SMALL, n_replicates=16, seed=11, backend=backend, n_jobs=n_jobs)
    return r.extras["replicates"]


def _bits(frame: pd.DataFrame) -> bytes:
    return frame.to_numpy(dtype=np.float64).tobytes()


def test_seeds_are_the_spawned_children_of_the_root() -> None:
    kids = np.random.SeedSequence(5).spawn(3)
    got = replicate_seeds(5, 3)
    assert [k.spawn_key for k in got] == [k.spawn_key for k in kids] == [(0,), (1,), (2,)]
    assert [k.entropy for k in got] == [5, 5, 5]


def test_chunking_and_threads_do_not_change_results() -> None:
    one = run_replicates(_draw, 9, seed=3, args=(500,))
    for backend, chunk in ((ParallelBackend("threading", 2), 2), ("sequential", 4)):
        other = run_replicates(_draw, 9, seed=3, args=(500,), backend=backend, chunk_size=chunk)
        assert all(np.array_equal(a, b) for a, b in zip(one, other, strict=True))
    assert not np.array_equal(one[0], one[1])  # each replicate its own stream


def test_blas_runs_on_one_thread_in_every_replicate() -> None:
    for backend in ("sequential", ParallelBackend("loky", 2)):
        counts = run_replicates(_blas_threads, 2, seed=0, backend=backend)
        assert all(n == 1 for c in counts for n in c), counts


def test_items_instead_of_a_count_and_a_replicate_error_propagates() -> None:
    seeds = replicate_seeds(3, 4)
    assert [a.tobytes() for a in run_replicates(_draw, seeds, args=(50,))] == [
        a.tobytes() for a in run_replicates(_draw, 4, seed=3, args=(50,))
    ]
    with pytest.raises(ValueError, match="on purpose"):
        run_replicates(_boom, 3, seed=1, backend=ParallelBackend("loky", 2))


def test_power_identical_on_one_and_two_processes() -> None:
    base = _power_reps(None)
    assert base["p_value"].notna().all()
    assert _bits(_power_reps(ParallelBackend("loky", 2))) == _bits(base)
    assert _bits(_power_reps(None, n_jobs=2)) == _bits(base)
    assert _bits(_power_reps("threading", n_jobs=2)) == _bits(base)


def test_dask_local_cluster_gives_identical_replicates() -> None:
    """1 process, 2 loky processes and a 2-worker LocalCluster: the same bits."""
    distributed = pytest.importorskip("distributed")  # the [dask] extra is in dev: CI has it
    design = SMALL.replace(design="did")
    sizes = (400, 800)
    seq = power_curve(design, sizes, n_replicates=8, seed=4)
    loky = power_curve(design, sizes, n_replicates=8, seed=4, backend=ParallelBackend("loky", 2))
    d = np.random.default_rng(2)
    spells = pd.DataFrame(
        {
            "x": d.integers(0, 2, 300).astype(float),
            "z": d.normal(size=300),
            "days_followed": d.integers(1, 900, 300),
            "reentered": d.integers(0, 2, 300),
        }
    )
    spells.loc[:60, "x"] = np.nan
    imp_seq = impute(spells, ["x"], predictors=["z"], m=3, n_iter=2, seed=5)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        on_client = ParallelBackend("dask", -1)
        by_address = ParallelBackend("dask", 2, scheduler_address=cluster.scheduler_address)
        dask_curve = power_curve(design, sizes, n_replicates=8, seed=4, backend=on_client)
        with session(by_address):
            reps = _power_reps(by_address)
        imp_dask = impute(spells, ["x"], predictors=["z"], m=3, n_iter=2, seed=5, backend="dask")
        workers = len(cluster.scheduler_info["workers"])
    assert workers == 2
    pd.testing.assert_frame_equal(seq, loky, check_exact=True)
    pd.testing.assert_frame_equal(seq, dask_curve, check_exact=True)
    assert _bits(reps) == _bits(_power_reps(None))
    for a, b in zip(imp_seq, imp_dask, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "spark"}, "parallel.backend must be one of"),
        ({"backend": "loky", "n_jobs": 0}, "parallel.n_jobs must be a positive"),
        ({"backend": "loky", "n_jobs": 1.5}, "parallel.n_jobs must be an integer"),
        ({"backend": "loky", "local_workers": 2}, "apply to backend = 'dask' only"),
        (
            {"backend": "dask", "scheduler_address": "tcp://h:8786", "local_workers": 2},
            "not both",
        ),
        ({"backend": "dask", "local_workers": 0}, "local_workers must be a positive"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ParallelBackend(**kwargs)  # type: ignore[arg-type]


def test_dask_missing_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match=r"pip install 'reunistat\[dask\]'"):
        run_replicates(_draw, 4, seed=1, args=(5,), backend=ParallelBackend("dask", 2))


def test_defaults_and_arguments() -> None:
    assert as_backend(None, 1).runs_here and not as_backend(None, -1).runs_here
    assert as_backend("loky", 1).runs_here and as_backend("dask", 1).n_jobs == -1
    with pytest.raises(ConfigError, match="needs a seed"):
        run_replicates(_draw, 3, args=(5,))
    with pytest.raises(ConfigError, match="at least 1"):
        run_replicates(_draw, 0, seed=1, args=(5,))


def test_config_parallel_table(tmp_path: Path) -> None:
    from reunistat.pipeline.config import PipelineConfig, load_config

    assert PipelineConfig().parallel == ParallelBackend("loky", 1)
    p = tmp_path / "config.toml"
    p.write_text('[parallel]\nbackend = "dask"\nn_jobs = -1\nscheduler_address = ""\n')
    cfg = load_config(p)
    assert cfg.parallel == ParallelBackend("dask", -1)
    assert cfg.as_dict()["parallel"]["backend"] == "dask"
    p.write_text('[parallel]\nbackend = "dask"\nlocal_workers = 4\n')
    assert load_config(p).parallel.local_workers == 4
    for text, match in (
        ('backend = "mpi"', "parallel.backend must be one of"),
        ('backend = "loky"\nscheduler_address = "tcp://x:1"', "apply to backend = 'dask'"),
        ("threads = 2", r"unknown key parallel.threads"),
    ):
        p.write_text(f"[parallel]\n{text}\n")
        with pytest.raises(ReunistatError, match=match) as e:
            load_config(p)
        assert str(p) in str(e.value)
