"""Disclosure control: primary and secondary suppression, rounding, curves, the checks."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from reunistat.report.disclosure import (
    DisclosureRules,
    at_risk_table,
    check_curve,
    check_table,
    cut_curve,
    suppress_counts,
)
from reunistat.report.tables import flow_table, table1

RULES = DisclosureRules()


def _two_way():
    counts = pd.DataFrame(
        {"yes": [3, 40, 55, 98], "no": [50, 60, 70, 180], "all": [53, 100, 125, 278]},
        index=["a", "b", "c", "total"],
    )
    lines = [[(r, c) for c in counts.columns] for r in counts.index]
    lines += [[(r, c) for r in counts.index] for c in counts.columns]
    return counts, lines


def _lines_safe(mask: pd.DataFrame, lines) -> bool:
    return all(sum(bool(mask.at[r, c]) for r, c in line) != 1 for line in lines)


def test_primary_and_secondary_suppression_protect_every_line():
    counts, lines = _two_way()
    s = suppress_counts(counts, RULES, lines)
    assert s.shown.at["a", "yes"] == "c"
    assert _lines_safe(s.mask, lines)
    # the hidden 3 cannot be recovered: its row and column each hide another cell
    assert s.mask.loc["a"].sum() >= 2 and s.mask["yes"].sum() >= 2
    assert set(s.log["reason"].str.split(":").str[0]) == {"primary", "secondary"}
    assert "3" not in s.log.astype(str).to_numpy().ravel().tolist()
    assert check_table(s.shown.reset_index(), list(counts.columns), RULES, lines, "index") == []


def test_no_suppression_when_rules_are_off_and_zeros_are_shown():
    counts, lines = _two_way()
    off = suppress_counts(counts, DisclosureRules(apply=False), lines)
    assert off.shown.at["a", "yes"] == "3" and not off.mask.to_numpy().any()
    zero = suppress_counts(pd.DataFrame({"n": [0, 50]}), RULES)
    assert zero.shown["n"].tolist() == ["0", "50"]
    acro = suppress_counts(pd.DataFrame({"n": [0, 50]}), DisclosureRules(zeros_disclosive=True))
    assert acro.shown["n"].tolist() == ["c", "50"]


def test_rounding_and_threshold_validation():
    r = DisclosureRules(rounding=10)
    s = suppress_counts(pd.DataFrame({"n": [4, 14, 15, 1234]}), r)
    assert s.shown["n"].tolist() == ["c", "10", "20", "1230"]
    with pytest.raises(ValueError, match="rounding"):
        DisclosureRules(rounding=3)
    with pytest.raises(ValueError, match="threshold"):
        DisclosureRules(threshold=0)
    bad = pd.DataFrame({"n": ["12"]})
    assert "not rounded" in check_table(bad, ["n"], r)[0]


def test_checker_catches_small_cells_and_recoverable_lines():
    t = pd.DataFrame({"key": ["a", "b", "all"], "n": ["c", "40", "47"]})
    lines = [[("a", "n"), ("b", "n"), ("all", "n")]]
    probs = check_table(t, ["n"], RULES, lines, "key")
    assert len(probs) == 1 and "recovered" in probs[0]
    t2 = pd.DataFrame({"n": ["7", "1,200", "c", "z", ""]})
    assert check_table(t2, ["n"], RULES) == ["row 1, column 'n': count 7 is below the threshold 10"]
    assert "neither" in check_table(pd.DataFrame({"n": ["x"]}), ["n"], RULES)[0]


def _curve(n=300, seed=1):
    rng = np.random.default_rng(seed)
    t = rng.integers(1, 400, n)
    e = rng.random(n) < 0.4
    rows = []
    for time in np.unique(t):
        at = (t >= time).sum()
        d = int(((t == time) & e).sum())
        c = int(((t == time) & ~e).sum())
        rows.append({"group": "all", "time": time, "n_risk": at, "n_events": d, "n_censored": c})
    df = pd.DataFrame(rows)
    df["cumulative_incidence"] = 1 - np.cumprod(1 - df["n_events"] / df["n_risk"])
    return df


def test_cut_curve_steps_rest_on_threshold_events_and_stop_at_threshold():
    raw = _curve()
    cut = cut_curve(raw, RULES, start={"cumulative_incidence": 0.0})
    assert "n_events" not in cut and "n_censored" not in cut
    assert (cut["n_risk"] >= 10).all()
    assert cut["time"].iloc[0] == 0 and cut["cumulative_incidence"].iloc[0] == 0
    assert check_curve(cut, RULES, estimate_cols=["cumulative_incidence"]) == []
    # each published step covers at least 10 events of the raw curve
    times = cut["time"].to_numpy()
    for a, b in itertools.pairwise(times):
        ev = raw.loc[(raw["time"] > a) & (raw["time"] <= b), "n_events"].sum()
        assert ev >= 10
    # the raw curve breaks the rules
    assert check_curve(raw, RULES, estimate_cols=["cumulative_incidence"])


def test_a_group_smaller_than_the_threshold_has_no_curve():
    big, small = _curve(300), _curve(6, seed=2).assign(group="small")
    cut = cut_curve(pd.concat([big, small]), RULES, start={"cumulative_incidence": 0.0})
    assert set(cut["group"]) == {"all"}
    assert check_curve(cut, RULES, estimate_cols=["cumulative_incidence"]) == []


def test_at_risk_table_suppresses_below_threshold():
    raw = _curve(60)
    t = at_risk_table(raw, [0, 100, 390], RULES)
    assert t.columns.tolist() == ["group", "0", "100", "390"]
    assert t.iloc[0]["0"] == "60" and t.iloc[0]["390"] == "c"


def test_table1_lines_are_safe_after_suppression():
    rng = np.random.default_rng(3)
    n = 400
    spells = pd.DataFrame(
        {
            "reentered": rng.integers(0, 2, n),
            "age_band": rng.choice(
                ["under 1", "1-4", "5-9", "10-15", "16+"], n, p=[0.01, 0.2, 0.3, 0.39, 0.1]
            ),
            "sex": rng.choice(["female", "male"], n),
            "prior_periods": rng.choice([0, 1, 2, 5], n, p=[0.8, 0.15, 0.04, 0.01]),
            "section20": rng.integers(0, 2, n),
        }
    )
    t = table1(spells, RULES)
    assert t.table["key"].iloc[0] == "all"
    assert t.table.loc[t.table["key"] == "age_band=under 1", "re-entered"].item() == "c"
    assert check_table(t.table, t.count_cols, RULES, t.lines, t.row_key) == []
    assert (t.table.loc[t.table["re-entered"] == "c", "re-entered %"] == "c").all()
    assert t.table["level"].tolist()[1:6] == ["under 1", "1-4", "5-9", "10-15", "16+"]
    assert "3+" in t.table["level"].tolist()


def test_flow_table_exclusions_cannot_be_recovered_by_subtraction():
    flow = pd.DataFrame(
        {
            "stage": ["start", "exclude", "exclude", "remaining", "outcome", "outcome"],
            "step": ["read", "x", "y", "left", "re-entry", "censored"],
            "reason": ["", "x", "y", "", "reentry", "data_end"],
            "children": [1000, 4, 96, 900, None, None],
            "episodes": [5000, 20, 480, 4500, None, None],
            "periods": [None] * 6,
            "spells": [None, None, None, 900, 300, 600],
        }
    ).astype({c: "Int64" for c in ("children", "episodes", "periods", "spells")})
    t = flow_table(flow, RULES)
    assert t.table["children"].tolist()[:4] == ["1000", "c", "c", "900"]
    assert check_table(t.table, t.count_cols, RULES, t.lines, t.row_key) == []
