"""CR2, Satterthwaite df and wild cluster bootstrap intervals for the evaluation designs.

R parity: ``tests/reference/evaluation/`` holds a frozen generator case with 15 pilot
authorities (``make_evaluation_case.py``) and clubSandwich's CR2 / CR1S variances and Satterthwaite
degrees of freedom for the DiD and every event-study coefficient (``reference.R``,
``sessionInfo.txt``). The wild bootstrap's fast test inversion is checked against a
brute-force bootstrap that refits every replicate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.evaluation import EvaluationError, before_after, did, event_study
from reunistat.models.evaluation.cluster_inference import (
    _boot_p,
    _bootstrap_pieces,
    boot_weights,
    ols_cluster,
    satterthwaite_df,
    wild_bootstrap_ci,
)

REF = Path(__file__).parent / "reference" / "evaluation"
PF = "days_potential_followup"
R_TYPE = {"CR2": "CR2", "CR1": "CR1S"}


@pytest.fixture(scope="module")
def case() -> tuple[pd.DataFrame, dict[str, str]]:
    spells = pd.read_csv(REF / "spells.csv", dtype={"LA": str})
    adoption = pd.read_csv(REF / "adoption.csv", dtype={"LA": str})
    return spells, dict(zip(adoption["LA"], adoption["adoption_date"], strict=True))


@pytest.fixture(scope="module")
def r_ref() -> pd.DataFrame:
    return pd.read_csv(REF / "cr2.csv")


def _r_term(term: str) -> str:
    if term == "treated":
        return term
    k = int(term[len("rel_year[") : -1])
    return f"rel_{'m' + str(-k) if k < 0 else k}"


@pytest.mark.parametrize("vcov", ["CR2", "CR1"])
@pytest.mark.parametrize("design", ["did", "event_study"])
def test_matches_clubsandwich(case, r_ref, design: str, vcov: str) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    f = did if design == "did" else event_study
    res = f(spells, adoption, potential_followup_col=PF, vcov=vcov, n_boot=0)  # type: ignore[operator]
    t = res.tidy().set_index("term")
    r = r_ref.loc[(r_ref["design"] == design) & (r_ref["type"] == R_TYPE[vcov])]
    r = r.set_index(r["term"]).loc[[_r_term(k) for k in t.index]]
    assert len(t) == (1 if design == "did" else 9)
    np.testing.assert_allclose(t["estimate"], r["estimate"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t["std_error"], r["std_error"], rtol=1e-9)
    if vcov == "CR2":
        df = res.extras["df_by_term"].to_numpy()
        np.testing.assert_allclose(df, r["df"], rtol=1e-9)
        np.testing.assert_allclose(t["p_value"], r["p_value"], rtol=1e-7)
        assert res.vcov_type == "CR2(LA)" and res.df_resid == pytest.approx(df.min())
        # with 15 pilot authorities the df are near 15, not clusters - 1 = 149
        assert (df < 15).all()
    else:
        assert res.vcov_type == "cluster(LA)" and res.df_resid == res.fit_stats["n_clusters"] - 1


def test_cr2_covariance_matches_clubsandwich(case) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    ref = pd.read_csv(REF / "cr2_vcov.csv")
    ref = ref.loc[ref["design"] == "event_study"].pivot(index="row", columns="col", values="value")
    res = event_study(spells, adoption, potential_followup_col=PF, n_boot=0)
    names = [_r_term(k) for k in res.params.index]
    np.testing.assert_allclose(res.cov.to_numpy(), ref.loc[names, names].to_numpy(), rtol=1e-8)


def _small(seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(14), rng.integers(5, 30, 14))
    fe = (g[:, None] == np.arange(1, 14)).astype(float)
    treat = (g < 4).astype(float) * rng.integers(0, 2, len(g))
    x = np.column_stack([np.ones(len(g)), treat, rng.normal(size=len(g)), fe])
    y = x[:, :3] @ [0.2, 0.3, -0.5] + rng.normal(size=14)[g] * 0.5 + rng.normal(size=len(g))
    return y, x, g


@pytest.mark.parametrize("vcov", ["CR2", "CR1"])
def test_bootstrap_inversion_equals_brute_force(vcov: str) -> None:
    """The O(B) test inversion gives the p-value of refitting every bootstrap sample."""
    y, x, g = _small()
    fit = ols_cluster(y, x, g, vcov)  # type: ignore[arg-type]
    v = boot_weights("webb", fit.n_clusters, 199, np.random.default_rng(5))
    j = 1
    pieces = _bootstrap_pieces(fit, j, v)
    for b0 in (0.0, fit.beta[j] + 1.3 * np.sqrt(fit.cov[j, j]), -0.4):
        keep = [c for c in range(x.shape[1]) if c != j]
        yr = y - b0 * x[:, j]
        gam = np.linalg.lstsq(x[:, keep], yr, rcond=None)[0]
        fitted, resid_r = x[:, keep] @ gam + b0 * x[:, j], yr - x[:, keep] @ gam
        t_obs = (fit.beta[j] - b0) / np.sqrt(fit.cov[j, j])
        t_star = []
        for b in range(v.shape[1]):
            fb = ols_cluster(fitted + v[g, b] * resid_r, x, g, vcov)  # type: ignore[arg-type]
            t_star.append((fb.beta[j] - b0) / np.sqrt(fb.cov[j, j]))
        brute = np.mean(np.abs(t_star) >= abs(t_obs) - 1e-12)
        assert _boot_p(pieces, float(fit.beta[j]), b0) == pytest.approx(brute, abs=1e-12)


def test_bootstrap_interval_is_the_set_not_rejected() -> None:
    y, x, g = _small()
    fit = ols_cluster(y, x, g, "CR2")
    ci = wild_bootstrap_ci(fit, [1, 2], n_boot=399, seed=9)
    v = boot_weights("rademacher", fit.n_clusters, 399, np.random.default_rng(9))
    for row, j in zip(ci.itertuples(), [1, 2], strict=True):
        pieces = _bootstrap_pieces(fit, j, v)
        se, b = np.sqrt(fit.cov[j, j]), float(fit.beta[j])
        assert row.conf_low < b < row.conf_high
        for end, step in ((row.conf_low, -1), (row.conf_high, 1)):
            assert _boot_p(pieces, b, end - step * 1e-4 * se) > 0.05
            assert _boot_p(pieces, b, end + step * 1e-4 * se) <= 0.05
        assert row.p_value == _boot_p(pieces, b, 0.0)
    again = wild_bootstrap_ci(fit, [1, 2], n_boot=399, seed=9)
    pd.testing.assert_frame_equal(ci, again)
    other = wild_bootstrap_ci(fit, [1, 2], n_boot=399, seed=10)
    assert not ci.equals(other)


def test_weights() -> None:
    rng = np.random.default_rng(0)
    r = boot_weights("rademacher", 50, 400, rng)
    w = boot_weights("webb", 50, 400, rng)
    assert set(np.unique(r)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.unique(w**2), [0.5, 1.0, 1.5])
    assert abs(w.mean()) < 0.05 and abs((w**2).mean() - 1) < 0.05
    with pytest.raises(EvaluationError, match="boot_weights"):
        boot_weights("mammen", 5, 10, rng)  # type: ignore[arg-type]


def test_designs_give_bootstrap_intervals(case) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    res = event_study(spells, adoption, potential_followup_col=PF, n_boot=199, seed=1)
    sat = res.tidy()
    boot = res.tidy(conf_method="wild_bootstrap")
    assert list(boot["term"]) == list(sat["term"]) and len(boot) == 9
    assert (boot["conf_low"] < boot["estimate"]).all()
    assert (boot["estimate"] < boot["conf_high"]).all()
    pd.testing.assert_series_equal(boot["std_error"], sat["std_error"])
    # Satterthwaite and bootstrap intervals agree roughly in width
    ratio = (boot["conf_high"] - boot["conf_low"]) / (sat["conf_high"] - sat["conf_low"])
    assert ratio.between(0.6, 1.6).all(), ratio
    assert res.provenance.options["n_boot"] == 199
    with pytest.raises(EvaluationError, match=r"conf_level=0\.95"):
        res.tidy(conf_method="wild_bootstrap", conf_level=0.9)
    ba = before_after(spells, adoption, potential_followup_col=PF, n_boot=199)
    assert ba.tidy(conf_method="wild_bootstrap")["conf_low"].notna().all()
    none = did(spells, adoption, potential_followup_col=PF, n_boot=0)
    with pytest.raises(EvaluationError, match="n_boot=0"):
        none.tidy(conf_method="wild_bootstrap")
    # the bootstrap for the pre-trend test only: every other number the same
    pre = event_study(
        spells, adoption, potential_followup_col=PF, n_boot=199, seed=1, boot_intervals=False
    )
    pd.testing.assert_frame_equal(pre.tidy(), sat, check_exact=True)
    assert pre.fit_stats == res.fit_stats and "wild_bootstrap" not in pre.extras
    with pytest.raises(EvaluationError, match="no wild bootstrap"):
        pre.tidy(conf_method="wild_bootstrap")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"vcov": "CR3"}, "vcov must be"),
        ({"n_boot": 50}, "n_boot must be"),
        ({"boot_weights": "mammen"}, "boot_weights"),
        ({"conf_level": 95}, "conf_level"),
    ],
)
def test_bad_inference_options(case, kwargs, match) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    with pytest.raises(EvaluationError, match=match):
        did(spells, adoption, potential_followup_col=PF, **kwargs)


def test_satterthwaite_of_a_balanced_design_is_clusters_minus_one() -> None:
    """With a cluster-level regressor in a balanced design and no other terms, df = G - 1."""
    g = np.repeat(np.arange(10), 6)
    x = np.column_stack([np.ones(60), (g % 2).astype(float)])
    fit = ols_cluster(np.random.default_rng(1).normal(size=60), x, g, "CR2")
    np.testing.assert_allclose(satterthwaite_df(fit, [1]), [8.0])
