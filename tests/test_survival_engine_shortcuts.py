"""The Cox engine's shortcuts give, bit for bit, what the general computations give.

Whole-day times read back from the sorted 16-bit keys, unit case weights, the
evaluation at beta = 0, the event-row terms taken over whole rows, the column
ranges the plain-numeric design takes while copying, and entries all before the
first event taken as right-censored data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models import _formula
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import cox


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 30_000), min_size=2, max_size=60),
    st.sampled_from([0.0, -0.0, 0.5, 0.1, 1e9, 2.0**60]),
    st.integers(0, 2**32 - 1),
)
def test_ordered_times_are_the_gathered_times(days: list[int], lo: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.asarray(days, dtype=float) + lo
    if rng.random() < 0.3:
        t[rng.integers(0, t.shape[0])] = -0.0  # a negative zero: its own bits back
    e = rng.random(t.shape[0]) < 0.5
    order, times = engine._ordered_times(t, e)
    assert np.array_equal(order, engine._time_event_order(t, e))
    assert times.dtype == np.float64
    assert np.array_equal(times.view(np.uint64), t[order].view(np.uint64))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 70_000), min_size=0, max_size=60),
    st.sampled_from([0.0, -0.0, 0.5, -3.0, 1e9, 2.0**60]),
    st.integers(0, 2**32 - 1),
)
def test_unique_times_and_key_order_are_numpys(days: list[int], lo: float, seed: int) -> None:
    """Counted whole days and 16-bit radix orders: np.unique's and argsort's, bit for bit."""
    rng = np.random.default_rng(seed)
    t = np.asarray(days, dtype=float) + lo
    if t.shape[0] and rng.random() < 0.3:
        t[rng.integers(0, t.shape[0])] = rng.choice([-0.0, 0.25, np.nan])
    uniq, inv = engine._unique_times(t)
    want_u, want_i = np.unique(t, return_inverse=True)
    assert uniq.dtype == want_u.dtype and inv.dtype == want_i.dtype
    assert np.array_equal(uniq.view(np.uint64), want_u.view(np.uint64))
    assert np.array_equal(inv, want_i)
    keys = np.asarray(days, dtype=np.int64) * rng.integers(1, 3)
    assert np.array_equal(engine._key_order(keys), np.argsort(keys, kind="stable"))


def _data(seed: int, n: int = 2500) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    t = np.ceil(rng.exponential(50, n))
    return {
        "x": rng.normal(size=(n, 3)),
        "stop": t,
        "event": rng.random(n) < 0.6,
        "start": np.maximum(t - np.ceil(rng.exponential(30, n)), 0) - 0.5,
        "strata": rng.integers(0, 3, n),
    }


@pytest.mark.parametrize("kind", ["right", "strata", "entry"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_unit_weights_are_weights_of_one(kind: str, ties: str) -> None:
    """No case weights and weights all 1 give the same evaluations and cluster scores."""
    d = _data(5)
    kw: dict[str, Any] = {"ties": ties}
    if kind == "strata":
        kw["strata"] = d["strata"]
    if kind == "entry":
        kw["start"] = d["start"]
    unit = engine.prepare(d["x"], d["stop"], d["event"], **kw)
    ones = engine.prepare(d["x"], d["stop"], d["event"], weights=np.ones(len(d["stop"])), **kw)
    assert unit.unit_w and not ones.unit_w
    for name in ("means", "sum_wdx", "death_w", "death_mw"):
        assert np.array_equal(getattr(unit, name), getattr(ones, name)), name
    codes = np.random.default_rng(6).integers(0, 30, len(d["stop"]))
    _same_evaluations(
        unit, ones, codes, ("loglik", "score", "info", "den", "hazard", "eta", "risk")
    )


def _same_evaluations(
    one: engine.CoxProblem, other: engine.CoxProblem, codes: np.ndarray, names: tuple[str, ...]
) -> None:
    """Evaluations (fields ``names``) and cluster scores at zero and at a beta: the same bits."""
    for beta in (np.zeros(3), np.array([0.3, -0.2, 0.1])):
        a, b = engine.evaluate(one, beta), engine.evaluate(other, beta)
        for name in names:
            assert np.array_equal(getattr(a, name), getattr(b, name)), name
        assert np.array_equal(
            engine.cluster_scores(one, a, codes), engine.cluster_scores(other, b, codes)
        )


class _NonZero(np.ndarray):
    """A coefficient vector that claims a non-zero entry: evaluate's general path."""

    def any(self, *args: Any, **kwargs: Any) -> Any:
        return True


@pytest.mark.parametrize("weights", [False, True])
def test_evaluation_at_zero_is_the_general_one(weights: bool) -> None:
    d = _data(7)
    w = np.random.default_rng(8).choice([0.5, 1.0, 2.0], len(d["stop"])) if weights else None
    prob = engine.prepare(d["x"], d["stop"], d["event"], weights=w)
    zero = np.zeros(3)
    a, b = engine.evaluate(prob, zero), engine.evaluate(prob, zero.view(_NonZero))
    for name in ("loglik", "score", "info", "den", "hazard", "dcoef", "s1", "s1d"):
        assert np.array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name))), name
    assert np.array_equal(a.eta.view(np.uint64), np.asarray(b.eta).view(np.uint64))


def test_group_on_rows_is_the_event_rows_product() -> None:
    d = _data(9)
    for kw in ({}, {"strata": d["strata"]}, {"start": d["start"]}):
        prob = engine.prepare(d["x"], d["stop"], d["event"], **kw)
        rng = np.random.default_rng(10)
        per_group = rng.lognormal(size=prob.n_groups)
        wr = rng.lognormal(size=prob.event.shape[0])
        got = engine.group_on_rows(prob, per_group, wr)[prob.death_rows]
        want = wr[prob.death_rows] * per_group[prob.death_group]
        assert np.array_equal(got, want)


def test_segment_sums_of_unit_weights_are_the_rows_sums() -> None:
    rng = np.random.default_rng(11)
    xt = rng.normal(size=(4, 3000))
    starts = np.unique(np.append(0, rng.choice(3000, 200))).astype(np.int64)
    ones = np.ones(3000)
    assert np.array_equal(
        engine._segment_sums(xt, ones, starts, ones=True), engine._segment_sums(xt, ones, starts)
    )


def test_plain_design_keeps_its_column_ranges() -> None:
    rng = np.random.default_rng(12)
    df = pd.DataFrame(rng.normal(size=(500, 3)), columns=list("abc"))
    df["b"] = rng.integers(-5, 9, 500)
    d = _formula.design("a + b + c", df, intercept=False, order="F")
    assert d.ranges is not None
    assert np.array_equal(d.ranges[0], d.x.min(axis=0))
    assert np.array_equal(d.ranges[1], d.x.max(axis=0))
    for bad in (np.nan, np.inf):
        df.loc[7, "c"] = bad
        d = _formula.design("a + b + c", df, intercept=False, order="F")
        assert d.ranges is None and d.n_dropped_missing == 1 and np.isfinite(d.x).all()


def test_cox_uses_the_design_ranges_for_its_checks() -> None:
    rng = np.random.default_rng(13)
    n = 400
    df = pd.DataFrame({"a": rng.normal(size=n), "b": (rng.random(n) < 0.5) * 1.0})
    df["t"] = np.ceil(rng.exponential(30, n))
    df["e"] = ((rng.random(n) < 0.6) & (df["b"] == 0)).astype(int)  # no events at b = 1
    with pytest.raises(Exception, match="no events among"):
        cox("~ a + b", df, "t", "e")
    df["b"] = 2.0
    with pytest.raises(Exception, match="constant"):
        cox("~ a + b", df, "t", "e")


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("weights", [False, True])
def test_entries_before_every_event_are_the_entry_computation(
    ties: str, weights: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Periods that all start before the first event: the entry sums' results, bit for bit."""
    d = _data(14)
    first = d["stop"][d["event"]].min()
    before = np.random.default_rng(15).uniform(-20.0, first, len(d["stop"]))
    start = np.floor(before * 10) / 10 - 0.1  # tenths, all below the first event time
    start = np.minimum(start, d["stop"] - 0.5)
    w = np.random.default_rng(16).choice([0.5, 1.0, 2.0], len(d["stop"])) if weights else None
    kw: dict[str, Any] = {"start": start, "weights": w, "ties": ties}
    short = engine.prepare(d["x"], d["stop"], d["event"], **kw)
    assert short.entry_group is None  # the right-censored sums
    monkeypatch.setattr(engine, "_entries_before_events", lambda *a: False)
    monkeypatch.setattr(engine, "_LIVE", {})  # not the problem of the same rows just made
    general = engine.prepare(d["x"], d["stop"], d["event"], **kw)
    assert general.entry_group is not None
    assert np.array_equal(short.order, general.order)
    codes = np.random.default_rng(17).integers(0, 40, len(d["stop"]))
    names = ("loglik", "score", "info", "den", "hazard", "s1", "s1d")
    _same_evaluations(short, general, codes, names)
    beta = np.array([0.3, -0.2, 0.1])
    a, b = engine.evaluate(short, beta), engine.evaluate(general, beta)
    assert np.array_equal(engine.score_residuals(short, a), engine.score_residuals(general, b))
    fa, fb = engine.newton(short), engine.newton(general)
    assert np.array_equal(fa.beta, fb.beta) and np.array_equal(fa.info, fb.info)
    later = start.copy()
    later[0] = first  # one row enters at the first event time: the entry computation
    assert not engine._entries_before_events(later, d["stop"], d["event"])
