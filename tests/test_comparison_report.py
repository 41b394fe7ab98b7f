"""Publishing the comparison: suppression of authority-level counts, figures, the analysis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from reunistat.models.comparison import funnel_curve, funnel_table
from reunistat.report.comparison_figures import (
    TOTAL,
    authority_table,
    caterpillar_figure,
    funnel_figure,
)
from reunistat.report.disclosure import DisclosureRules, check_table

RULES = DisclosureRules(threshold=10)


def _standardised(n: list[int], o: list[int], e: list[float]) -> pd.DataFrame:
    ratio = np.array(o) / np.array(e)
    return pd.DataFrame(
        {
            "LA": [f"{200 + i}" for i in range(len(n))],
            "n_spells": n,
            "observed": o,
            "expected": e,
            "ratio": ratio,
            "conf_low": ratio * 0.5,
            "conf_high": ratio * 1.5,
        }
    )


def _publish(std: pd.DataFrame, rules: DisclosureRules = RULES):
    f, _ = funnel_table(std["observed"], std["expected"], index=std["LA"])
    return authority_table(std, f, rules)


def test_small_counts_hidden_with_their_ratio() -> None:
    std = _standardised([50, 40, 60, 30], [20, 4, 25, 12], [18.0, 9.0, 22.0, 11.0])
    counts, shown = _publish(std)
    t = counts.table.set_index("LA")
    assert t.loc["201", "reentered"] == "c"
    # the ratio would give the count back (O = ratio x E): hidden with it
    assert t.loc["201", "ratio_oe"] == "c" and t.loc["201", "conf_low"] == "c"
    assert not shown["201"]
    # the total of re-entries is shown, so a second authority is suppressed to protect 201
    assert (t.drop(index=[TOTAL, "201"])["reentered"] == "c").sum() >= 1
    assert check_table(counts.table, counts.count_cols, RULES, counts.lines, counts.row_key) == []


def test_complement_below_threshold_is_protected() -> None:
    std = _standardised([50, 45, 60, 15], [20, 30, 25, 12], [18.0, 25.0, 22.0, 11.0])
    counts, shown = _publish(std)
    t = counts.table.set_index("LA")
    # 15 returns, 12 re-entered: 3 did not, which must not be recoverable
    row = t.loc["203", ["returns_home", "reentered", "not_reentered"]].tolist()
    assert row.count("c") >= 2
    assert not shown["203"]
    assert check_table(counts.table, counts.count_cols, RULES, counts.lines, counts.row_key) == []


def test_no_suppression_when_rules_off() -> None:
    std = _standardised([50, 40], [20, 4], [18.0, 9.0])
    std = pd.concat([std, _standardised([30], [10], [11.0]).assign(LA="299")], ignore_index=True)
    counts, shown = _publish(std, DisclosureRules(apply=False))
    assert "c" not in counts.table.to_numpy().tolist()
    assert shown.all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 80), st.floats(0.0, 1.0)), min_size=3, max_size=25))
def test_published_table_never_breaks_the_rules(rows: list[tuple[int, float]]) -> None:
    n = [r[0] for r in rows]
    o = [round(r[0] * r[1]) for r in rows]
    e = [max(0.5, x * 0.3) for x in n]
    counts, shown = _publish(_standardised(n, o, e))
    assert check_table(counts.table, counts.count_cols, RULES, counts.lines, counts.row_key) == []
    t = counts.table.set_index("LA").drop(index=TOTAL)
    for la, row in t.iterrows():
        if row["reentered"] == "c" or row["returns_home"] == "c" or row["not_reentered"] == "c":
            assert row["ratio_oe"] == "c" and not shown[la]
        else:
            assert shown[la]


def test_figures_draw() -> None:
    std = _standardised([50, 40, 60, 30], [20, 14, 25, 12], [18.0, 9.0, 22.0, 11.0])
    f, od = funnel_table(std["observed"], std["expected"], index=std["LA"])
    curves = [("exact", funnel_curve((1.0, 30.0))), ("adj", funnel_curve((1.0, 30.0), od=od))]
    fig = funnel_figure(
        f, curves, title="t", xlabel="x", ylabel="y", target=1.0, n_hidden=2, threshold=10
    )
    assert isinstance(fig, Figure)
    assert any("2 authorities" in t.get_text() for t in fig.texts)
    shrunk = pd.DataFrame(
        {
            "LA": ["a", "b"],
            "odds_ratio": [0.9, 1.2],
            "conf_low": [0.7, 1.05],
            "conf_high": [1.1, 1.4],
        }
    )
    cat = caterpillar_figure(shrunk, title="t", n_hidden=0)
    assert isinstance(cat, Figure) and not cat.texts


@pytest.mark.parametrize("method", ["cox", "logistic"])
def test_standardisation_on_generator_spells(method: str) -> None:
    """End to end on a small generator dataset: O = sum of expected, all authorities present."""
    from reunistat.cohort import derive_cohort
    from reunistat.models.comparison import indirect_standardisation
    from reunistat.synthetic import default_config, generate

    spells = derive_cohort(generate(default_config(), seed=5, scale=0.02).tables)
    st_ = indirect_standardisation(
        spells,
        "age_band + section20 + prior_periods + return_type",
        method=method,  # type: ignore[arg-type]
    )
    t = st_.table
    assert t["expected"].sum() == pytest.approx(t["observed"].sum(), rel=1e-8)
    assert set(t["LA"]) <= set(spells["LA"])
    assert (t["conf_low"] <= t["ratio"]).all() and (t["ratio"] <= t["conf_high"]).all()
