"""Funnel limits and over-dispersion: formulas checked by hand, properties, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from reunistat.errors import InputError
from reunistat.models.comparison import (
    cox_expected,
    exact_limits,
    exact_poisson_ratio_ci,
    funnel_curve,
    funnel_table,
    limits,
    overdispersion,
    z_scores,
)


def test_overdispersion_by_hand_formula() -> None:
    """phi and tau2 worked by hand on ten units (winsorised at the 10th/90th percentiles)."""
    z = np.array([-3.0, -1.5, -1.0, -0.5, 0.0, 0.2, 0.5, 1.0, 2.0, 4.0])
    s = np.array([0.05, 0.1, 0.1, 0.08, 0.2, 0.1, 0.1, 0.05, 0.1, 0.04])
    od = overdispersion(z, s)
    # R type 7 quantiles of 10 sorted values: h = 9p; 0.1 -> between 1st and 2nd
    lo = -3.0 + 0.9 * (-1.5 + 3.0)
    hi = 2.0 + 0.1 * (4.0 - 2.0)
    assert od.winsor_low == pytest.approx(lo) and od.winsor_high == pytest.approx(hi)
    zw = z.copy()
    zw[0], zw[-1] = lo, hi
    phi = float(np.sum(zw**2) / 10)
    w = 1 / s**2
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    assert od.phi == pytest.approx(phi, rel=1e-12)
    assert od.tau2 == pytest.approx(tau2, rel=1e-12)
    assert od.p_value == pytest.approx(stats.chi2.sf(10 * phi, 9))


def test_no_overdispersion_gives_zero_tau2_and_the_exact_limits() -> None:
    z = np.array([-0.5, 0.1, 0.3, -0.2, 0.4])
    od = overdispersion(z, np.full(5, 0.1))
    assert od.phi < 1 and od.tau2 == 0.0
    exact = exact_limits([50.0], 0.95)
    for adj in ("multiplicative", "additive"):
        # phi < 1 does not narrow the limits, and no over-dispersion means the exact limits
        np.testing.assert_allclose(limits([50.0], 0.95, adjustment=adj, od=od), exact)


def test_multiplicative_limits_by_hand() -> None:
    od = overdispersion(np.array([-3.0, -2.0, 0.0, 2.0, 3.0, 1.0]), np.full(6, 0.05))
    assert od.phi > 1
    lo, hi = limits([50.0], 0.95, adjustment="multiplicative", od=od)
    half = stats.norm.ppf(0.975) * np.sqrt(od.phi) / (2 * np.sqrt(50))
    assert float(hi[0]) == pytest.approx((1 + half) ** 2)
    assert float(lo[0]) == pytest.approx((1 - half) ** 2)


def test_z_scores_by_hand() -> None:
    z, s = z_scores([25.0, 4.0], [16.0, 9.0])
    np.testing.assert_allclose(z, [2 * (5 - 4), 2 * (2 - 3)])
    np.testing.assert_allclose(s, [1 / 8, 1 / 6])
    zp, _sp = z_scores([30.0], [100.0], kind="proportion", target=0.2)
    assert float(zp[0]) == pytest.approx(0.1 / np.sqrt(0.2 * 0.8 / 100))


def test_exact_limits_hold_their_coverage() -> None:
    """P(O/E outside the limits) under Poisson(E) stays near nominal despite discreteness.

    Spiegelhalter's interpolation is a compromise between the two neighbouring
    counts, so the exact probability oscillates around the nominal level (measured
    0.55-1.04 times it for E from 3 to 200, at 95% and 99.8%).
    """
    for e in (3.0, 10.0, 40.0, 200.0):
        for level in (0.95, 0.998):
            lo, hi = exact_limits([e], level)
            k = np.arange(0, int(e * 5 + 60))
            pmf = stats.poisson.pmf(k, e)
            outside = pmf[(k / e < lo[0]) | (k / e > hi[0])].sum()
            assert 0.5 * (1 - level) < outside < 1.1 * (1 - level), (e, level, outside)


def test_limits_narrow_with_precision_and_nest_by_level() -> None:
    curve = funnel_curve((1.0, 1000.0))
    at = curve.set_index("precision")
    ends = at.iloc[[0, 50, 100, 150, -1]]
    assert ends["upper_99.8"].is_monotonic_decreasing
    assert ends["lower_99.8"].is_monotonic_increasing
    # the interpolated limits keep only a small sawtooth from the counts' discreteness
    assert np.diff(curve["upper_99.8"]).max() < 0.02
    assert np.diff(curve["lower_99.8"]).min() > -0.02
    assert (curve["upper_99.8"] >= curve["upper_95"]).all()
    assert (curve["lower_99.8"] <= curve["lower_95"]).all()
    prop = funnel_curve((5.0, 500.0), kind="proportion", target=0.3)
    assert (prop["lower_95"] >= 0).all() and (prop["upper_95"] <= 1).all()


def test_additive_limits_do_not_narrow_to_the_target() -> None:
    od = overdispersion(np.array([-3.0, -2.0, 0.0, 2.0, 3.0, 1.0]), np.full(6, 0.05))
    assert od.tau2 > 0
    lo, hi = limits([1e7], 0.998, adjustment="additive", od=od)
    zq = stats.norm.ppf(0.999)
    assert float(hi[0]) == pytest.approx((1 + zq * np.sqrt(od.tau2)) ** 2, rel=1e-3)
    assert float(lo[0]) < 0.99


def test_funnel_table_flags_the_outlier() -> None:
    t, od = funnel_table([10, 50, 12, 9, 11, 10], [10.0] * 6, index=list("abcdef"))
    assert t.loc["b", "outside_none_99.8"] == 1
    assert (t.drop(index="b")["outside_none_99.8"] == 0).all()
    assert od.n_units == 6


def test_poisson_interval_zero_observed() -> None:
    lo, hi = exact_poisson_ratio_ci([0], [4.0])
    assert lo[0] == 0.0
    assert hi[0] == pytest.approx(-np.log(0.025) / 4.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 300), min_size=3, max_size=30),
    st.floats(0.5, 3.0),
)
def test_table_consistent_with_limits(obs: list[int], scale: float) -> None:
    """Flags agree with the limits; limits contain the target; phi matches its definition."""
    o = np.array(obs, dtype=float)
    e = np.maximum(o * scale, 1.0) + np.arange(len(o))
    t, od = funnel_table(o, e)
    for adj in ("none", "multiplicative", "additive"):
        lo, hi = t[f"lower_{adj}_99.8"], t[f"upper_{adj}_99.8"]
        assert ((lo <= 1) & (hi >= 1)).all()
        expect = np.where(t["indicator"] < lo, -1, np.where(t["indicator"] > hi, 1, 0))
        np.testing.assert_array_equal(t[f"outside_{adj}_99.8"], expect)
    zw = np.clip(t["z"], od.winsor_low, od.winsor_high)
    assert od.phi == pytest.approx(float(np.mean(zw**2)), rel=1e-9, abs=1e-12)
    assert od.tau2 >= 0


def test_cox_expected_sums_to_events_with_ties() -> None:
    rng = np.random.default_rng(4)
    n = 400
    days = rng.integers(1, 30, n).astype(float)
    ev = rng.random(n) < 0.6
    eta = rng.normal(size=n)
    for ties in ("efron", "breslow"):
        e = cox_expected(eta, days, ev, ties)
        assert e.sum() == pytest.approx(ev.sum(), rel=1e-10)
        assert (e > 0).all()


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: exact_limits([0.0], 0.95), "positive"),
        (lambda: exact_limits([5.0], 1.5), "between 0 and 1"),
        (lambda: exact_limits([5.0], 0.95, kind="rate"), "kind"),  # type: ignore[arg-type]
        (lambda: z_scores([-1.0], [5.0]), "non-negative"),
        (lambda: z_scores([6.0], [5.0], kind="proportion", target=0.5), "exceeds"),
        (lambda: overdispersion([1.0, 2.0], [0.1, 0.1]), "at least 3"),
        (lambda: limits([5.0], 0.95, adjustment="additive"), "needs the over-dispersion"),
        (lambda: cox_expected(np.zeros(2), np.ones(2), np.ones(2), "exact"), "ties"),
    ],
)
def test_bad_input_raises_input_error(call: object, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        call()  # type: ignore[operator]


def test_standardisation_rejects_authority_term() -> None:
    from reunistat.models.comparison import indirect_standardisation

    df = pd.DataFrame(
        {"LA": ["a", "b"] * 5, "days_followed": range(1, 11), "reentered": [1, 0] * 5}
    )
    with pytest.raises(InputError, match="authority term"):
        indirect_standardisation(df, "section20 + LA")
    with pytest.raises(InputError, match="no column"):
        indirect_standardisation(df.drop(columns="LA"), "x")
