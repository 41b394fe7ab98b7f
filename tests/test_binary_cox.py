"""The power simulation's Cox fit of one 0/1 covariate from counts, against the engine."""

from __future__ import annotations

import numpy as np
import pytest

from reunistat.errors import ConvergenceError
from reunistat.models.evaluation.binary_cox import _event_times, binary_cox
from reunistat.models.evaluation.power import PowerDesign, _simulate
from reunistat.models.survival import cox_arrays


def _engine(x: np.ndarray, t: np.ndarray, e: np.ndarray, cl: np.ndarray | None) -> tuple:
    beta, var = cox_arrays(x[:, None], t, e, cluster=cl)
    return float(beta[0]), float(np.sqrt(var[0, 0]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("robust", [True, False])
def test_equals_engine_on_simulated_studies(seed: int, robust: bool) -> None:
    d = PowerDesign(returns_per_year=300 + 400 * seed, la_sd_log_hr=0.1 * seed, n_pilot=3)
    s = _simulate(d, np.random.default_rng(seed))
    x, t, e = s["treated"].astype(float), s["days_followed"], s["reentered"] == 1
    cl = s["LA"] if robust else None
    b, se = binary_cox(x, t, e, cl)
    ref_b, ref_se = _engine(x, t, e, cl)
    assert b == pytest.approx(ref_b, rel=1e-10)
    assert se == pytest.approx(ref_se, rel=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_equals_engine_with_fractional_times_and_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    x = (rng.random(n) < 0.4).astype(float)
    # a few distinct times (many ties), some fractional, some negative-free
    t = rng.choice([0.5, 1.0, 2.0, 2.5, 7.0, 30.25], n) + rng.integers(0, 3, n)
    e = rng.random(n) < np.where(x == 1, 0.4, 0.6)
    cl = rng.integers(0, 12, n)
    b, se = binary_cox(x, t, e, cl)
    ref_b, ref_se = _engine(x, t, e, cl)
    assert b == pytest.approx(ref_b, rel=1e-10)
    assert se == pytest.approx(ref_se, rel=1e-10)


def test_event_times_equal_unique_and_searchsorted() -> None:
    rng = np.random.default_rng(1)
    t_int = rng.integers(-3, 60, 200).astype(float)
    for t, e in (
        (np.array([0.0, 1.0, 3.9, 4.0, 8.5, 9.0, 12.0, -2.0]), np.array([0, 1, 0, 1, 0, 1, 0, 0])),
        (t_int, rng.random(200) < 0.3),  # whole days (the table)
        (t_int * 0.5, rng.random(200) < 0.3),  # some fractional event times (sorting)
        (np.array([1.0, np.nan, 2.0, 2.0]), np.array([1, 0, 1, 1])),  # a missing time
        (np.array([5.0, 1.0]), np.array([0, 0])),  # no events
    ):
        ev = np.asarray(e, dtype=bool)
        inv, past = _event_times(t, ev)
        ut, ref_inv = np.unique(t[ev], return_inverse=True)
        assert inv.tolist() == ref_inv.tolist()
        assert past.tolist() == np.searchsorted(ut, t, side="right").tolist()


def test_events_in_one_group_only_diverge_as_the_engine() -> None:
    # every event in the untreated group: the estimate runs off to -infinity; both
    # the engine and the count fit give a huge negative log hazard ratio (or raise)
    x = np.array([0.0, 0, 0, 1, 1, 1])
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([True, True, True, False, False, False])
    try:
        ref = _engine(x, t, e, None)[0]
    except ConvergenceError:
        with pytest.raises(ConvergenceError):
            binary_cox(x, t, e)
        return
    assert binary_cox(x, t, e)[0] < -5 and ref < -5
