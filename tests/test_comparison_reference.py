"""Comparison of authorities against R on a frozen case (tests/reference/comparison).

R's values come from ``reference.R`` (survival::coxph expected counts, glm,
poisson.test, funnel limits and over-dispersion coded by hand from
Spiegelhalter 2005, lme4::glmer conditional modes); CI never needs R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.comparison import (
    exact_limits,
    funnel_table,
    indirect_standardisation,
    shrunken_effects,
)

REF = Path(__file__).parent / "reference" / "comparison"
COV = "section20 + prior_periods + age_band"


@pytest.fixture(scope="module")
def case() -> pd.DataFrame:
    return pd.read_csv(REF / "case.csv", dtype={"LA": str, "age_band": str})


@pytest.fixture(scope="module")
def r_by_la() -> pd.DataFrame:
    return pd.read_csv(REF / "by_la.csv", dtype={"LA": str}).set_index("LA")


@pytest.fixture(scope="module")
def r_scalars() -> pd.Series:
    return pd.read_csv(REF / "scalars.csv").set_index("name")["value"]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_expected_equals_r(case: pd.DataFrame, r_by_la: pd.DataFrame, ties: str) -> None:
    st = indirect_standardisation(case, COV, method="cox", ties=ties)  # type: ignore[arg-type]
    t = st.table.set_index("LA")
    np.testing.assert_allclose(t["expected"], r_by_la[f"cox_expected_{ties}"], rtol=1e-7)
    np.testing.assert_array_equal(t["observed"], r_by_la["cox_observed"])
    np.testing.assert_array_equal(t["n_spells"], r_by_la["n_spells"])
    # indirect standardisation: expected adds up to observed over all authorities
    assert t["expected"].sum() == pytest.approx(t["observed"].sum(), rel=1e-10)


def test_logistic_expected_equals_r(case: pd.DataFrame, r_by_la: pd.DataFrame) -> None:
    st = indirect_standardisation(case, COV, method="logistic", horizon_days=365)
    t = st.table.set_index("LA")
    np.testing.assert_allclose(t["expected"], r_by_la["logit_expected"], rtol=1e-7)
    np.testing.assert_array_equal(t["observed"], r_by_la["logit_observed"])
    np.testing.assert_array_equal(t["n_spells"], r_by_la["logit_n"])
    assert st.n_dropped == len(case) - int(r_by_la["logit_n"].sum())


def test_poisson_interval_equals_poisson_test(case: pd.DataFrame, r_by_la: pd.DataFrame) -> None:
    t = indirect_standardisation(case, COV, method="cox").table.set_index("LA")
    np.testing.assert_allclose(t["conf_low"], r_by_la["ratio_conf_low"], rtol=1e-6)
    np.testing.assert_allclose(t["conf_high"], r_by_la["ratio_conf_high"], rtol=1e-6)


@pytest.mark.parametrize("kind", ["ratio", "proportion"])
def test_funnel_limits_and_overdispersion_equal_r(
    r_by_la: pd.DataFrame, r_scalars: pd.Series, kind: str
) -> None:
    if kind == "ratio":
        obs, prec, pre = r_by_la["cox_observed"], r_by_la["cox_expected_efron"], "ratio"
    else:
        obs, prec, pre = r_by_la["logit_observed"], r_by_la["logit_n"], "prop"
    table, od = funnel_table(obs, prec, kind=kind, index=r_by_la.index)  # type: ignore[arg-type]
    assert od.phi == pytest.approx(r_scalars[f"{pre}_phi"], rel=1e-10)
    assert od.tau2 == pytest.approx(r_scalars[f"{pre}_tau2"], rel=1e-10)
    assert od.tau2 > 0  # the frozen case is over-dispersed, so tau2 is exercised
    assert od.winsor_low == pytest.approx(r_scalars[f"{pre}_winsor_low"], rel=1e-10)
    assert od.winsor_high == pytest.approx(r_scalars[f"{pre}_winsor_high"], rel=1e-10)
    np.testing.assert_allclose(table["z"], r_by_la[f"{pre}_z"], rtol=1e-9, atol=1e-12)
    for adj in ("none", "multiplicative", "additive"):
        for tag in ("95", "99.8"):
            for side in ("lower", "upper"):
                col = f"{side}_{adj}_{tag}"
                np.testing.assert_allclose(
                    table[col], r_by_la[f"{pre}_{col}"], rtol=1e-9, atol=1e-12, err_msg=col
                )


def test_exact_limits_on_grid_equal_r() -> None:
    grid = pd.read_csv(REF / "grid.csv")
    for kind, target in (("ratio", 1.0), ("proportion", 0.23)):
        g = grid[grid["kind"] == kind]
        for tag, level in (("95", 0.95), ("99.8", 0.998)):
            lo, hi = exact_limits(g["precision"], level, kind=kind, target=target)  # type: ignore[arg-type]
            np.testing.assert_allclose(lo, g[f"lower_{tag}"], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(hi, g[f"upper_{tag}"], rtol=1e-10, atol=1e-12)


def test_shrunken_estimates_close_to_glmer(
    case: pd.DataFrame, r_by_la: pd.DataFrame, r_scalars: pd.Series
) -> None:
    sh = shrunken_effects(case, COV, horizon_days=365)
    t = sh.table.set_index("LA").loc[r_by_la.index]
    assert sh.model.fit_stats["sigma2_la"] == pytest.approx(r_scalars["glmer_sigma2"], rel=1e-4)
    # optimisers differ (bobyqa in R, L-BFGS-B here): agreement to ~1e-5 measured
    np.testing.assert_allclose(t["log_odds_ratio"], r_by_la["shrunk_log_or"], atol=1e-4)
    np.testing.assert_allclose(t["std_error"], r_by_la["shrunk_sd"], rtol=1e-4)
    ranked = sh.table.sort_values("rank")
    assert ranked["log_odds_ratio"].is_monotonic_increasing
