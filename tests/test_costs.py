"""Costs: the published Holmes (2014) national figures, invest-to-save arithmetic, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from reunistat.costs import (
    UnitCosts,
    holmes_2014,
    invest_to_save,
    invest_to_save_table,
    national_costs,
    reprice,
    reprice_costs,
    sensitivity_table,
)


def test_reproduces_published_national_figures() -> None:
    t = national_costs().set_index("item")["total_gbp"]
    # Holmes (2014): ~£300m for 4,738 re-entries, ~£56m to support all 10,080 returns
    assert t["failed returns (re-entries)"] == 4_738 * 61_614
    assert abs(t["failed returns (re-entries)"] - 300e6) / 300e6 < 0.03
    assert t["support for all returns"] == 10_080 * 5_627
    assert abs(t["support for all returns"] - 56e6) / 56e6 < 0.02
    assert (national_costs()["price_base"] == "2012/13").all()


def test_break_even_matches_published_300_a_year_over_three_years() -> None:
    # "an extra 300 children a year, over a 3-year budget cycle" offsets support for all
    r = invest_to_save(0.9, conf_int=None)
    be = r.params["break_even_reentries_avoided"]
    assert be == pytest.approx(10_080 * 5_627 / 61_614)
    assert abs(be - 900) / 900 < 0.03


def test_arithmetic_hazard_and_risk_scales() -> None:
    r = invest_to_save(0.8, effect_scale="hazard_ratio", baseline_risk=0.2, n_returns=1000)
    p1 = 1 - 0.8**0.8
    assert r.params["reentries_avoided"] == pytest.approx(1000 * (0.2 - p1))
    rd = invest_to_save(-0.05, effect_scale="risk_difference", baseline_risk=0.2, n_returns=1000)
    assert rd.params["reentries_avoided"] == pytest.approx(50)
    assert rd.params["cost_avoided_gbp"] == pytest.approx(50 * 61_614)
    assert rd.params["net_saving_gbp"] == pytest.approx(50 * 61_614 - 1000 * 5_627)
    rr = invest_to_save(0.5, effect_scale="risk_ratio", baseline_risk=0.2, n_returns=10)
    assert rr.params["reentries_avoided"] == pytest.approx(1.0)


def test_uncertainty_by_simulation_is_seeded_and_sensible() -> None:
    a = invest_to_save(0.75, conf_int=(0.6, 0.94), seed=1, n_sim=4000)
    b = invest_to_save(0.75, conf_int=(0.6, 0.94), seed=1, n_sim=4000)
    pa, pb = a.extras["percentile_intervals"], b.extras["percentile_intervals"]
    assert pa.equals(pb)
    lo, hi = pa.loc["reentries_avoided"]
    assert lo < a.params["reentries_avoided"] < hi
    assert 0 < a.extras["prob_net_saving"] < 1
    tab = invest_to_save_table(a)
    assert list(tab.columns) == ["item", "estimate", "conf_low", "conf_high", "price_base"]
    assert a.tidy().shape[0] == 6


def test_editable_costs_and_reprice() -> None:
    local = holmes_2014().replace(failed_return_per_child_year=70_000.0, price_base="2015/16")
    assert national_costs(local)["price_base"].iloc[0] == "2015/16"
    assert reprice(61_614.0, {"2012/13": 100.0, "2022/23": 125.0}, "2012/13", "2022/23") == (
        pytest.approx(77_017.5)
    )
    rc = reprice_costs(holmes_2014(), {"2012/13": 100.0, "2022/23": 125.0}, "2022/23")
    assert rc.support_per_child == pytest.approx(5_627 * 1.25) and rc.price_base == "2022/23"
    assert national_costs(rc)["total_gbp"].iloc[1] == pytest.approx(10_080 * 5_627 * 1.25)
    with pytest.raises(ValueError, match="no value for '2023/24'"):
        reprice(1.0, {"2012/13": 100.0}, "2012/13", "2023/24")
    with pytest.raises(ValueError, match="finite number"):
        UnitCosts(support_per_child=-1.0)


def test_sensitivity_table() -> None:
    t = sensitivity_table(0.75)
    assert len(t) == 27
    # more years of care per re-entry can only increase the saving
    g = t.groupby("years_in_care_per_reentry")["net_saving_gbp"].mean()
    assert np.all(np.diff(g.to_numpy()) > 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"effect": -1.0}, "must be positive"),
        ({"effect": 0.8, "baseline_risk": 1.5}, "strictly between"),
        ({"effect": 0.8, "effect_scale": "odds"}, "effect_scale must be one of"),
        ({"effect": -0.5, "effect_scale": "risk_difference", "baseline_risk": 0.2}, "impossible"),
        ({"effect": 0.8, "conf_int": (0.85, 0.9)}, "not inside"),
        ({"effect": 0.8, "support_share": 2.0}, "support_share"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        invest_to_save(**kwargs)


def test_money_in_whole_pounds_and_children_with_no_exponent_in_csv() -> None:
    from reunistat.report.tables import to_csv_text

    nat = national_costs()
    assert str(nat["total_gbp"].dtype) == "Int64"
    text = to_csv_text(nat)
    assert "291927132" in text and "56720160" in text
    tab = invest_to_save_table(invest_to_save(0.75, conf_int=(0.6, 0.94), seed=3))
    text = to_csv_text(tab)
    assert not re.search(r"\d[eE][+-]?\d", text), text  # no 2.91927e+08
    assert not re.search(r"\d\.\d", text.split("\n", 1)[1]), text  # no 1,938.38 re-entries
    est = tab.set_index("item")["estimate"]
    # break-even rounds up: 56,720,160 / 61,614 = 920.57 re-entries must be avoided
    assert est["break_even_reentries_avoided"] == 921
    assert est["support_cost_gbp"] == 10_080 * 5_627


def test_without_an_interval_the_uncertainty_is_not_estimated() -> None:
    r = invest_to_save(0.9)
    assert r.extras["prob_net_saving"] is None  # not 0.00 (or 1.00) from identical draws
    tab = invest_to_save_table(r)
    assert tab["conf_low"].isna().all() and tab["conf_high"].isna().all()
    assert tab["estimate"].notna().all()


def test_default_baseline_is_the_published_one_year_risk_not_holmes_ratio() -> None:
    from reunistat.costs import DEFAULT_BASELINE_RISK

    r = invest_to_save(0.75)
    assert r.provenance.options["baseline_risk"] == DEFAULT_BASELINE_RISK == 0.20
    assert r.params["baseline_reentries"] == pytest.approx(10_080 * 0.20)
