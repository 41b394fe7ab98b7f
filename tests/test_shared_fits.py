"""Fits shared between analyses, and the faster marginal-effects designs, change no number.

Analysis 10 reuses 05's logistic and random-intercept fits and 04's Cox fit
(``indirect_standardisation(model=)``, ``shrunken_effects(model=)``): the
result must be the one a fresh fit gives, and a fit of another model must be
ignored (fitted again). The marginal effects build every level's one-row
design in one call, write 0/1 columns into the fitted design in place and
build only a shifted covariate's own columns: each is the very matrix the
plain rebuild gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.comparison import indirect_standardisation, shrunken_effects
from reunistat.models.logistic import average_marginal_effects, logistic, multilevel
from reunistat.models.logistic.margins import (
    _LevelDesigns,
    _levels,
    _matrix,
    _mean_prob_and_grad,
    _set,
)
from reunistat.models.survival import cox

HERE = Path(__file__).parent
COV = "section20 + prior_periods + age_band"
PF = "days_potential_followup"


@pytest.fixture(scope="module")
def case() -> pd.DataFrame:
    return pd.read_csv(HERE / "reference/comparison/case.csv", dtype={"LA": str, "age_band": str})


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    s = pd.read_csv(HERE / "reference/logistic/sample.csv")
    s["return_cat"] = pd.Categorical(s["return_type"])
    return s


def test_shrunken_effects_with_the_shared_fit_equal_a_fresh_fit(case):
    fresh = shrunken_effects(case, COV, horizon_days=365)
    ml = multilevel("~ " + COV, case, horizon_days=365, cluster="LA", potential_followup_col=PF)
    shared = shrunken_effects(case, COV, horizon_days=365, model=ml)
    assert shared.model is ml
    pd.testing.assert_frame_equal(shared.table, fresh.table, check_exact=True)


@pytest.mark.parametrize(
    "other",
    [
        {"formula": "~ section20 + prior_periods", "horizon_days": 365},
        {"formula": "~ " + COV, "horizon_days": 180},
        {"formula": "~ " + COV, "horizon_days": 365, "n_agq": 3},
    ],
)
def test_shrunken_effects_ignore_a_fit_of_another_model(case, other):
    kw = dict(other)
    ml = multilevel(
        kw.pop("formula"),
        case,
        cluster="LA",
        potential_followup_col=PF,
        **kw,  # type: ignore[arg-type]
    )
    got = shrunken_effects(case, COV, horizon_days=365, model=ml)
    assert got.model is not ml
    pd.testing.assert_frame_equal(
        got.table, shrunken_effects(case, COV, horizon_days=365).table, check_exact=True
    )


def test_logistic_standardisation_with_the_shared_fit_equals_a_fresh_fit(case):
    fresh = indirect_standardisation(case, COV, method="logistic", horizon_days=365)
    res = logistic("~ " + COV, case, horizon_days=365, cluster="LA", potential_followup_col=PF)
    shared = indirect_standardisation(case, COV, method="logistic", horizon_days=365, model=res)
    assert shared.model is res and shared.n_dropped == fresh.n_dropped
    pd.testing.assert_frame_equal(shared.table, fresh.table, check_exact=True)
    # another model (no potential follow-up selection, another horizon): fitted again
    for other in (
        logistic("~ " + COV, case, horizon_days=365, cluster="LA"),
        logistic("~ " + COV, case, horizon_days=180, cluster="LA", potential_followup_col=PF),
        logistic("~ section20", case, horizon_days=365, cluster="LA", potential_followup_col=PF),
    ):
        got = indirect_standardisation(case, COV, method="logistic", horizon_days=365, model=other)
        assert got.model is not other
        pd.testing.assert_frame_equal(got.table, fresh.table, check_exact=True)


def _plain_cox_expected(data: pd.DataFrame) -> np.ndarray:
    """The expected re-entries as the Cox standardisation first made them (formulaic's matrix)."""
    from formulaic import model_matrix

    from reunistat.models.comparison.expected import cox_expected

    used = data.loc[data["LA"].notna()].reset_index(drop=True)
    res = cox("~ " + COV, used, "days_followed", "reentered", concordance=False)
    mm = model_matrix(COV, used, na_action="drop")
    x = np.asarray(mm[list(res.params.index)], dtype=float)
    rows = used.loc[mm.index]
    eta = x @ res.params.to_numpy()
    days, event = rows["days_followed"].to_numpy(float), rows["reentered"].to_numpy(float)
    return cox_expected(eta, days, event)


def _with_gaps(case: pd.DataFrame) -> pd.DataFrame:
    """``case`` with a shuffled index, an authority and a covariate missing here and there."""
    g = case.sample(frac=1.0, random_state=3)
    g.index = np.arange(len(g)) * 3 + 7
    g.loc[g.index[::37], "LA"] = None
    g.loc[g.index[5::41], "prior_periods"] = np.nan
    return g


@pytest.mark.parametrize("gaps", [False, True])
@pytest.mark.parametrize("copies", [1, 2])  # 1,600 rows: the design without formulaic
def test_cox_standardisation_with_the_shared_fit_equals_a_fresh_fit(case, gaps, copies):
    data = pd.concat([case] * copies, ignore_index=True)
    data = _with_gaps(data) if gaps else data
    fresh = indirect_standardisation(data, COV, method="cox")
    plain = _plain_cox_expected(data)
    labels = data.loc[data["LA"].notna()].dropna(subset=["prior_periods"])["LA"].to_numpy()
    by_la = pd.Series(plain).groupby(labels).sum()
    assert np.array_equal(fresh.table["expected"].to_numpy(), by_la.to_numpy())
    # 04's fit: the event named on the left, clustered by authority (the same coefficients)
    used = data.loc[data["LA"].notna()] if gaps else data
    res = cox("~ " + COV, used, "days_followed", "reentered", cluster="LA", concordance=True)
    shared = indirect_standardisation(data, COV, method="cox", model=res)
    assert shared.model is res and shared.n_dropped == fresh.n_dropped
    pd.testing.assert_frame_equal(shared.table, fresh.table, check_exact=True)


def test_cox_standardisation_ignores_a_fit_of_another_model(case):
    fresh = indirect_standardisation(case, COV, method="cox")
    for other in (
        cox("~ section20 + prior_periods", case, "days_followed", "reentered"),
        cox("~ " + COV, case, "days_followed", "reentered", ties="breslow"),
        cox("~ " + COV, case, "days_followed", "reentered", strata="LA"),
        cox("~ " + COV, case.iloc[:-5], "days_followed", "reentered"),
        logistic("~ " + COV, case, horizon_days=365, cluster="LA", potential_followup_col=PF),
    ):
        got = indirect_standardisation(case, COV, method="cox", model=other)
        assert got.model is not other
        pd.testing.assert_frame_equal(got.table, fresh.table, check_exact=True)


FORMULAS = [
    "~ section20 + placement_moves + return_type + age_band",
    "~ section20 + placement_moves + return_cat + np.log1p(period_length_days)",
    "~ section20 * return_type + placement_moves",
    "~ np.log1p(section20) + return_type + prior_periods",
]


def _plain_ame(result) -> pd.DataFrame:
    """The marginal effects with every design rebuilt in full (the plain path)."""
    from reunistat.models.logistic import margins

    spec, data = result.extras["model_spec"], result.extras["data"]
    data = data[[v for v in sorted(spec.required_variables) if v in data.columns]]
    beta = result.params.to_numpy(dtype=float)
    rows, grads = [], []
    for v in sorted(spec.required_variables):
        levels = _levels(data[v])
        if levels is None:
            est, g = margins._derivative(spec, beta, data, v)
            rows.append(est)
            grads.append(g)
            continue
        p0, g0 = _mean_prob_and_grad(_matrix(spec, _set(data, v, levels[0])), beta)
        for lev in levels[1:]:
            p1, g1 = _mean_prob_and_grad(_matrix(spec, _set(data, v, lev)), beta)
            rows.append(p1 - p0)
            grads.append(g1 - g0)
    return pd.DataFrame({"est": rows, "grad": [tuple(g) for g in grads]})


@pytest.mark.parametrize("formula", FORMULAS)
def test_marginal_effects_equal_the_plain_rebuild(sample, formula):
    r = logistic(formula, sample)
    fast = average_marginal_effects(r)
    plain = _plain_ame(r)
    assert np.array_equal(fast["estimate"].to_numpy(), plain["est"].to_numpy())
    G = np.array(plain["grad"].tolist())
    cov = r.cov.to_numpy()
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, cov, G))
    assert np.array_equal(fast["std_error"].to_numpy(), se)


@pytest.mark.parametrize("formula", FORMULAS)
def test_level_designs_batch_rows_shift_and_in_place(sample, formula):
    r = logistic(formula, sample)
    spec, data = r.extras["model_spec"], r.extras["data"]
    data = data[[v for v in sorted(spec.required_variables) if v in data.columns]]
    beta = r.params.to_numpy(dtype=float)
    designs = _LevelDesigns(spec, data)
    wanted = [(v, lv) for v in data.columns if (lv := _levels(data[v])) is not None]
    designs.prepare(wanted)
    for v, levels in wanted:
        for lev in levels:  # each batched row is the row built on its own
            alone = _matrix(spec, _set(data.iloc[:1], v, lev))[0]
            assert np.array_equal(designs._row(v, lev), alone)
        base = designs.base().copy()
        got = designs.mean_prob_and_grad(v, levels, beta)
        assert np.array_equal(designs.base(), base)  # put back as it was
        for lev, (p, g) in zip(levels, got, strict=True):
            p0, g0 = _mean_prob_and_grad(_matrix(spec, _set(data, v, lev)), beta)
            assert p == p0 and np.array_equal(g, g0)
    for v in data.columns:
        if _levels(data[v]) is None:
            x = data[v].to_numpy(dtype=float)
            shifted = x + 1e-3
            fast, full = designs.shifted(v, shifted), _matrix(spec, _set(data, v, shifted))
            assert fast.strides == full.strides and np.array_equal(fast, full)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(40, 200),
    seed=st.integers(0, 2**31 - 1),
    levels=st.integers(2, 5),
)
def test_marginal_effects_equal_the_plain_rebuild_on_random_data(n, seed, levels):
    rng = np.random.default_rng(seed)
    cats = [f"c{i}" for i in range(levels)]
    d = pd.DataFrame(
        {
            "g": pd.Categorical(rng.choice(cats, n), categories=cats),
            "b": rng.integers(0, 2, n),
            "x": rng.gamma(2.0, 3.0, n),
            "t": rng.choice(["a", "b"], n),
        }
    )
    d["g"] = d["g"].cat.set_categories(cats)
    eta = -0.5 + 0.4 * d["b"] + 0.05 * d["x"] + 0.3 * d["g"].cat.codes
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    # every level present in both outcomes, or the fit is refused (separation)
    if d.groupby(["g", "y"], observed=False).size().min() == 0:
        return
    if d.groupby(["t", "y"]).size().min() == 0 or d.groupby(["b", "y"]).size().min() == 0:
        return
    r = logistic("~ g + b + np.log1p(x) + t", d, outcome_col="y")
    fast, plain = average_marginal_effects(r), _plain_ame(r)
    assert np.array_equal(fast["estimate"].to_numpy(), plain["est"].to_numpy())
