"""``prepare`` shares the order and groups of a recent live problem with the same rows.

A refit of the same rows (times, events, entries, weights, strata, ties) with
other covariates takes that problem's sorted rows and groups: every array
of the problem, and every fit made from it, has the bits of a fresh prepare.
"""

from __future__ import annotations

import dataclasses
import gc
from typing import Any

import numpy as np
import pytest

from reunistat.models.survival import _coxengine as engine


def _rows(seed: int, n: int = 1500) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(40, n))
    return {
        "stop": t,
        "event": rng.random(n) < 0.5,
        "start": np.maximum(t - np.ceil(rng.exponential(25, n)), 0) - 0.5,
        "weights": rng.choice([1.0, 1.5, 2.0], n),
        "strata": rng.integers(0, 3, n),
    }


def _fresh(x: np.ndarray, stop: np.ndarray, event: np.ndarray, **kw: Any) -> engine.CoxProblem:
    engine._LIVE.clear()  # nothing to share
    return engine.prepare(x, stop, event, **kw)


def _same(a: engine.CoxProblem, b: engine.CoxProblem) -> None:
    for f in dataclasses.fields(a):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray):
            assert va.dtype == vb.dtype and va.shape == vb.shape, f.name
            bits = [np.ascontiguousarray(v).view(np.uint8) for v in (va, vb)]
            assert np.array_equal(*bits), f.name
        elif f.name not in ("interleaved", "work"):
            assert va == vb, f.name


@pytest.mark.parametrize("options", [(), ("strata",), ("start",), ("weights", "strata")])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_a_refit_of_the_same_rows_is_a_fresh_prepare(options: tuple[str, ...], ties: str) -> None:
    d = _rows(3)
    rng = np.random.default_rng(4)
    stop, event = d["stop"], d["event"]
    kw: dict[str, Any] = {"ties": ties, **{k: d[k] for k in options}}
    if "start" in kw:
        stop = stop + 1.0
    x = rng.normal(size=(1500, 3))
    fresh = _fresh(x, stop, event, **kw)
    first = _fresh(rng.normal(size=(1500, 2)), stop, event, **kw)
    again = engine.prepare(x, stop.copy(), event.copy(), **kw)  # equal rows, other arrays
    assert again.order is first.order  # shared
    _same(again, fresh)
    fa, fb = engine.newton(again), engine.newton(fresh)
    assert np.array_equal(fa.beta, fb.beta) and np.array_equal(fa.info, fb.info)


def test_other_rows_or_a_dead_problem_are_not_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    d = _rows(6)
    x = np.random.default_rng(7).normal(size=(1500, 2))
    first = engine.prepare(x, d["stop"], d["event"])
    other = d["stop"].copy()
    other[0] += 1.0
    assert engine.prepare(x, other, d["event"]).order is not first.order
    first = engine.prepare(x, d["stop"], d["event"])
    assert engine.prepare(x, d["stop"], d["event"], ties="breslow").order is not first.order
    first = engine.prepare(x, d["stop"], d["event"])
    key = next(reversed(engine._LIVE))
    del first
    gc.collect()
    assert key not in engine._LIVE  # forgotten with the problem
    monkeypatch.setattr(engine, "SHARED_ROWS", 1000)  # more rows: not looked for
    first = engine.prepare(x, d["stop"], d["event"])
    assert engine.prepare(x, d["stop"], d["event"]).order is not first.order


def test_a_problem_is_shared_after_others_until_it_is_among_the_oldest() -> None:
    d = _rows(8)
    rng = np.random.default_rng(9)
    x = rng.normal(size=(1500, 2))
    engine._LIVE.clear()
    first = engine.prepare(x, d["stop"], d["event"])
    others = [engine.prepare(x, d["stop"] + k, d["event"]) for k in range(1, 4)]
    again = engine.prepare(rng.normal(size=(1500, 3)), d["stop"].copy(), d["event"])
    assert again.order is first.order  # three other rows between them
    others += [engine.prepare(x, d["stop"] + k, d["event"]) for k in range(4, 12)]
    assert len(engine._LIVE) == engine.LIVE_PROBLEMS
    assert engine.prepare(x, d["stop"], d["event"]).order is not first.order  # forgotten
    assert len(others) == 11
