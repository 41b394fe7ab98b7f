"""Propensity weighting: truth recovery, exact overlap balance, clear overlap/horizon errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def _stacked_bootstrap(used, x, terms, hz, n_boot, seed):  # type: ignore[no-untyped-def]
    """The bootstrap as first written: each drawn authority's rows stacked, refit from zero."""
    from reunistat.models.evaluation.weighting import _risks_at
    from reunistat.models.logistic import SeparationError, irls

    rng = np.random.default_rng(seed)
    codes, labels = pd.factorize(used["LA"])
    rows_of = [np.flatnonzero(codes == g) for g in range(len(labels))]
    z, t = used["treated"].to_numpy(float), used["days_followed"].to_numpy(float)
    e = used["reentered"].to_numpy(float)
    out = np.full((n_boot, len(hz)), np.nan)
    for b in range(n_boot):
        idx = np.concatenate([rows_of[g] for g in rng.integers(0, len(labels), len(labels))])
        if len(np.unique(z[idx])) < 2:
            continue
        try:
            ps = irls(x[idx], z[idx], terms).p
        except SeparationError:
            continue
        r = _risks_at(t[idx], e[idx], z[idx], balancing_weights(ps, z[idx], "overlap"), hz)
        out[b] = r[1] - r[0]
    return out


@pytest.mark.parametrize("missing_la", [False, True])
def test_bootstrap_as_weights_gives_the_stacked_replicates(gen, missing_la) -> None:  # type: ignore[no-untyped-def]
    """Multiplicities as case weights: the same replicates as stacking each drawn authority.

    Rows without an authority are in no replicate, as in the stacked bootstrap.
    """
    from reunistat.models.evaluation.weighting import PS_ADJUST, _design
    from reunistat.models.evaluation.weighting_bootstrap import cluster_bootstrap
    from reunistat.models.logistic import irls

    _, s = gen
    x, terms, idx, _ = _design(s, PS_ADJUST)
    used = s.loc[idx]
    if missing_la:
        used = used.assign(LA=used["LA"].where(np.arange(len(used)) % 7 != 3))
    start = irls(x, used["treated"].to_numpy(float), terms).params
    hz = [91, 365, 730]
    new = cluster_bootstrap(
        used,
        x,
        terms,
        start,
        ("treated", "days_followed", "reentered", "LA"),
        lambda p, t: balancing_weights(p, t, "overlap"),
        hz,
        25,
        7,
    )
    old = _stacked_bootstrap(used, x, terms, hz, 25, 7)
    assert np.isnan(new).any(axis=1).tolist() == np.isnan(old).any(axis=1).tolist()
    assert np.isfinite(new).all(axis=1).sum() >= 20
    np.testing.assert_allclose(new, old, rtol=0, atol=1e-12)
    assert np.abs(new - new[0]).max() > 1e-3  # the replicates differ from one another


def test_weighted_curves_end_where_the_drawn_clusters_end() -> None:
    """A group's curve is NaN past the longest follow-up among the drawn clusters only."""
    from reunistat.models.evaluation.weighting_bootstrap import GroupCurves
    from reunistat.models.survival import km_steps

    t = np.array([1.0, 3, 5, 2, 4, 9, 2, 8])
    e = np.array([1.0, 0, 1, 1, 0, 1, 1, 0])
    z = np.array([0.0, 0, 0, 1, 1, 1, 0, 1])
    codes = np.array([0, 0, 1, 0, 1, 2, 2, 0])
    curves = GroupCurves(t, e, z, codes, 3)
    m = np.array([2, 0, 1])  # cluster 0 twice, cluster 2 once, cluster 1 not drawn
    w = m[codes] * np.linspace(0.5, 1.2, 8)
    got = curves.risks(w, m > 0, [2, 6, 8.5])
    stack = np.concatenate([np.repeat(np.flatnonzero(codes == g), k) for g, k in enumerate(m)])
    for g in (0, 1):
        rows = stack[z[stack] == g]
        want = km_steps(t[rows], e[rows], weights=np.linspace(0.5, 1.2, 8)[rows])
        np.testing.assert_allclose(
            got[g], want.cumulative_incidence_at([2, 6, 8.5]), rtol=1e-14, equal_nan=True
        )
    assert np.isnan(got[0, 1]) and np.isfinite(got[1, 2])  # comparison rows end at day 3


def test_weighting_hashes_the_columns_it_reads(gen) -> None:  # type: ignore[no-untyped-def]
    """The digest: the propensity model's columns, treatment, follow-up, event and authority."""
    _, s = gen
    digest = propensity_weighting(s, n_boot=0).risk_differences.provenance.data_sha256
    unread = s.assign(CHILD="x", spell_number=s["spell_number"] + 1)
    assert propensity_weighting(unread, n_boot=0).risk_differences.provenance.data_sha256 == digest
    read = s.assign(placement_moves=s["placement_moves"] + 1)
    assert propensity_weighting(read, n_boot=0).risk_differences.provenance.data_sha256 != digest
