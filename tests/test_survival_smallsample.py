"""Cox small-sample cluster variance (CR2 / CR3, Satterthwaite df) against R and OLS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import InputError
from reunistat.models._term_df import TermDfResult
from reunistat.models.evaluation.cluster_inference import ols_cluster, satterthwaite_df
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import cox, cox_small_sample
from reunistat.models.survival.smallsample import (
    SmallSampleVcov,
    information_shares,
    score_space_cr2,
)
from reunistat.results import ModelResult

REF = Path(__file__).parent / "reference" / "survival" / "smallsample"
R = json.loads((REF / "smallsample.json").read_text())
DATA = pd.read_csv(REF / "clustered.csv")


def _fit(case: dict[str, object], data: pd.DataFrame = DATA) -> ModelResult:
    return cox(
        "~ x1 + x2 + pil",
        data,
        str(case["time"]),
        "status",
        ties=str(case["ties"]),  # type: ignore[arg-type]
        strata="s" if case["strata"] else None,
        weights="wt" if case["weighted"] else None,
        cluster="g",
    )


@pytest.mark.parametrize(
    "name", ["breslow_ties_strata", "breslow_ties_weights", "efron_untied_strata"]
)
def test_cox_cr2_matches_r(name: str) -> None:
    case = R[name]
    fit = _fit(case)
    st = fit.extras["state"]
    np.testing.assert_allclose(fit.params.to_numpy(), case["coef"], rtol=1e-8)
    np.testing.assert_allclose(fit.cov.to_numpy(), case["robust_var"], rtol=1e-6)
    codes = pd.factorize(st.cluster, sort=True)[0]
    scores = engine.cluster_scores(st.problem, st.fit.last, codes)
    np.testing.assert_allclose(scores, case["scores"], rtol=1e-6, atol=1e-10)
    shares = information_shares(st.problem, st.fit.last, codes)
    np.testing.assert_allclose(shares, np.array(case["shares"]), rtol=1e-6, atol=1e-10)
    # the shares add up to the model's information (Breslow, or Efron without ties)
    np.testing.assert_allclose(shares.sum(axis=0), st.fit.info, rtol=1e-9)
    kinds: tuple[tuple[SmallSampleVcov, str], ...] = (("CR2", "cov_cr2"), ("CR3", "cov_cr3"))
    for kind, key in kinds:
        res = cox_small_sample(fit, kind)
        np.testing.assert_allclose(res.cov.to_numpy(), case[key], rtol=1e-6)
        np.testing.assert_allclose(res.extras["df_by_term"], case["df_cr2"], rtol=1e-6)
        assert res.vcov_type == f"{kind}(g)"
        np.testing.assert_allclose(res.extras["cov_cr0"].to_numpy(), case["robust_var"], rtol=1e-6)
    # the few-cluster term (3 of 14 clusters) gets few degrees of freedom and a wider interval
    res = cox_small_sample(fit)
    tidy, tidy0 = res.tidy().set_index("term"), fit.tidy().set_index("term")
    assert res.extras["df_by_term"]["pil"] < 4
    assert tidy["std_error"]["pil"] > tidy0["std_error"]["pil"]
    width = tidy["conf_high"] - tidy["conf_low"]
    assert width["pil"] > (tidy0["conf_high"] - tidy0["conf_low"])["pil"] * 1.3


def test_score_space_cr2_is_clubsandwich_on_a_linear_model() -> None:
    ref = R["lm_clubsandwich"]
    x = np.column_stack([np.ones(len(DATA)), DATA[["x1", "x2", "pil"]].to_numpy(float)])
    y = np.asarray(ref["y"])
    bread = np.linalg.inv(x.T @ x)
    e = y - x @ (bread @ x.T @ y)
    g = DATA["g"].to_numpy()
    u = np.zeros((14, 4))
    np.add.at(u, g, x * e[:, None])
    shares = np.zeros((14, 4, 4))
    np.add.at(shares, g, np.einsum("ni,nj->nij", x, x))
    cov, df = score_space_cr2(u, shares, bread)
    np.testing.assert_allclose(cov, ref["cov_cr2"], rtol=1e-9)
    np.testing.assert_allclose(df, ref["df"], rtol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_score_space_cr2_equals_ols_cr2(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cl = int(rng.integers(6, 20))
    g = rng.integers(0, n_cl, 200)
    g[:n_cl] = np.arange(n_cl)
    x = np.column_stack([np.ones(200), rng.normal(size=200), g < 2, rng.normal(size=200)])
    y = x @ rng.normal(size=4) + rng.normal(size=n_cl)[g] + rng.normal(size=200)
    fit = ols_cluster(y, x.astype(float), g, "CR2")
    u = np.zeros((n_cl, 4))
    np.add.at(u, g, x * fit.resid[:, None])
    shares = np.zeros((n_cl, 4, 4))
    np.add.at(shares, g, np.einsum("ni,nj->nij", x, x))
    cov, df = score_space_cr2(u, shares, fit.bread)
    np.testing.assert_allclose(cov, fit.cov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(df, satterthwaite_df(fit), rtol=1e-8)


def test_weights_equal_replicated_rows() -> None:
    d = DATA.assign(k=(DATA.index % 3) + 1)
    w = cox("~ x1 + x2 + pil", d, "time", "status", ties="breslow", weights="k", cluster="g")
    rep = d.loc[d.index.repeat(d["k"])].reset_index(drop=True)
    r = cox("~ x1 + x2 + pil", rep, "time", "status", ties="breslow", cluster="g")
    a, b = cox_small_sample(w), cox_small_sample(r)
    np.testing.assert_allclose(a.cov.to_numpy(), b.cov.to_numpy(), rtol=1e-7)
    np.testing.assert_allclose(a.extras["df_by_term"], b.extras["df_by_term"], rtol=1e-7)


def test_needs_one_cluster_column() -> None:
    plain = cox("~ x1 + x2 + pil", DATA, "time", "status")
    with pytest.raises(InputError, match="clustered on one column"):
        cox_small_sample(plain)
    two = cox("~ x1 + x2 + pil", DATA, "time", "status", cluster=("s", "g"))
    with pytest.raises(InputError, match="clustered on one column"):
        cox_small_sample(two)
    fit = cox("~ x1 + x2 + pil", DATA, "time", "status", cluster="g")
    with pytest.raises(InputError, match="'CR2' or 'CR3'"):
        cox_small_sample(fit, "CR1")  # type: ignore[arg-type]


def test_cox_vcov_option_is_the_same() -> None:
    fit = cox("~ x1 + x2 + pil", DATA, "time", "status", cluster="g", strata="s")
    via = cox("~ x1 + x2 + pil", DATA, "time", "status", cluster="g", strata="s", vcov="CR2")
    ref = cox_small_sample(fit)
    np.testing.assert_allclose(via.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-12)
    assert isinstance(via, TermDfResult)
    assert via.df_terms == ref.df_terms
    assert via.fit_stats["robust_score_statistic"] == fit.fit_stats["robust_score_statistic"]
    with pytest.raises(InputError, match="needs cluster= one column"):
        cox("~ x1 + x2 + pil", DATA, "time", "status", vcov="CR2")


def test_split_intervals_give_the_same_cr2() -> None:
    """(start, stop] rows split at a cut time: the same shares, variance and df."""
    d = DATA.assign(start=0)
    cut = 20
    late = d.loc[d["time"] > cut]
    split = pd.concat(
        [
            d.loc[d["time"] <= cut],
            late.assign(time=cut, status=0),
            late.assign(start=cut),
        ],
        ignore_index=True,
    )
    whole = cox("~ x1 + x2 + pil", d, "time", "status", ties="breslow", cluster="g", vcov="CR2")
    parts = cox(
        "~ x1 + x2 + pil",
        split,
        "time",
        "status",
        entry_col="start",
        ties="breslow",
        cluster="g",
        vcov="CR2",
    )
    np.testing.assert_allclose(parts.cov.to_numpy(), whole.cov.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(parts.extras["df_by_term"], whole.extras["df_by_term"], rtol=1e-8)
