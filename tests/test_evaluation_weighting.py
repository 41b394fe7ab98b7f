"""Propensity weighting: truth recovery, exact overlap balance, clear overlap/horizon errors."""

from __future__ import annotations

import numpy as np
import pytest

from reunistat.models.evaluation import EvaluationError, comparison_sample
from reunistat.models.evaluation.validation import counterfactual_risks
from reunistat.models.evaluation.weighting import balancing_weights, propensity_weighting
from reunistat.synthetic import default_config, generate


@pytest.fixture(scope="module")
def gen():  # type: ignore[no-untyped-def]
    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    g = generate(cfg, seed=21, scale=0.1, progress=False)
    return g, comparison_sample(g.truth_returns, g.tables["la"])


def test_overlap_weights_balance_exactly_and_cover_truth(gen) -> None:  # type: ignore[no-untyped-def]
    g, s = gen
    r = propensity_weighting(s, method="overlap", n_boot=40, seed=1)
    assert r.balance["smd_weighted"].abs().max() < 1e-8
    assert r.balance["smd_unweighted"].abs().max() > 0.1  # pilot returns are later
    rd = r.risk_differences.tidy().set_index("term")
    ps = r.propensity.to_numpy()
    for h in (182, 365, 730):
        cf = counterfactual_risks(g.truth_returns.loc[r.propensity.index], g.truth, h)
        truth = np.average(cf["risk_pilot"] - cf["risk_no_pilot"], weights=ps * (1 - ps))
        row = rd.loc[f"rd_{h}d"]
        assert row.conf_low < truth < row.conf_high, (h, truth, row.estimate)
    assert set(r.curves["group"]) == {"treated=0", "treated=1"}
    assert r.risk_differences.extras["percentile_intervals"].shape == (3, 2)


def test_ipw_and_same_seed(gen) -> None:  # type: ignore[no-untyped-def]
    _, s = gen
    # IPW balances means only approximately: the linear year term leaves |SMD| just over 0.1,
    # and the user is told which term
    with pytest.warns(UserWarning, match="return_year"):
        a = propensity_weighting(s, method="ipw", n_boot=5, seed=3)
    with pytest.warns(UserWarning):
        b = propensity_weighting(s, method="ipw", n_boot=5, seed=3)
    assert a.risk_differences.cov.equals(b.risk_differences.cov)
    bal = a.balance.set_index("term")
    assert bal["smd_weighted"].abs().max() < bal["smd_unweighted"].abs().max() / 3


def test_extreme_scores_error_or_trim(gen) -> None:  # type: ignore[no-untyped-def]
    _, s = gen
    s = s.copy()
    rng = np.random.default_rng(0)
    late = (s["return_year"] >= 2020).to_numpy()
    flip = rng.random(len(s)) < 0.003
    s["late"] = np.where(flip, ~late, late).astype(int)
    with pytest.raises(EvaluationError, match="barely overlap"):
        propensity_weighting(s, "late", method="ipw", n_boot=0)
    with pytest.warns(UserWarning, match="unbalanced"):
        t = propensity_weighting(s, "late", method="ipw", n_boot=0, on_extreme="trim")
    assert t.n_trimmed > 0


def test_no_overlap_is_explained(gen) -> None:  # type: ignore[no-untyped-def]
    _, s = gen
    s = s.assign(late=(s["return_year"] >= 2020).astype(int))
    with pytest.raises(EvaluationError, match="do not overlap"):
        propensity_weighting(s, "late", formula="~ return_year", n_boot=0)


def test_horizon_and_input_errors(gen) -> None:  # type: ignore[no-untyped-def]
    _, s = gen
    with pytest.raises(EvaluationError, match="beyond the follow-up"):
        propensity_weighting(s, horizons=(365, 20_000), n_boot=0)
    with pytest.raises(EvaluationError, match="one group only"):
        propensity_weighting(s.assign(one=1), "one", n_boot=0)
    with pytest.raises(EvaluationError, match="method must be"):
        propensity_weighting(s, method="matching", n_boot=0)  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="method must be"):
        balancing_weights(np.array([0.5]), np.array([1]), "x")  # type: ignore[arg-type]


def test_bootstrap_is_labelled_by_the_cluster_used(gen) -> None:  # type: ignore[no-untyped-def]
    """The variance label used to say "LA clusters" whatever cluster= was."""
    _, sample = gen
    r = propensity_weighting(sample.assign(AREA=sample["LA"]), cluster="AREA", n_boot=5, seed=1)
    assert r.risk_differences.vcov_type.startswith("bootstrap(AREA clusters")


def test_rows_with_missing_covariates_are_counted(gen) -> None:  # type: ignore[no-untyped-def]
    _, sample = gen
    s = sample.copy()
    s.loc[s.index[:7], "section20"] = np.nan
    r = propensity_weighting(s, formula="section20 + prior_periods", n_boot=0)
    assert r.risk_differences.glance()["n_dropped_missing"].iloc[0] == 7
    assert r.risk_differences.n_obs == len(s) - 7
