"""Children already in care when the extract begins: kept, with their truncated covariates flagged.

A child's first episode in the data with RNE other than S is, by DfE's own
scope of rule 357, not an error when it starts before the collection year
(DOMAIN.md §5). Until validation scopes 357 that way (issue 10, item 3), the
cases whose first episode is not RNE S ignore rule 357 explicitly; the cases
whose first episode is an S before the extract start need nothing.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort_cases.build import child, ep, tables
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.tables.keys import YEAR_COL

T = pd.Timestamp
END = "2018-03-31"


def with_years(t: dict, year: int = 2018) -> dict:
    """Every episode from one return (the latest), except those closed before it began."""
    e = t["episodes"].copy()
    closed_before = e["DEC"] < T(f"{year - 1}-04-01")
    e[YEAR_COL] = pd.array([year - 1 if c else year for c in closed_before], dtype="Int64")
    return {**t, "episodes": e}


def extract() -> dict:
    t = tables(
        [child("A", "2004-01-01"), child("B", "2005-01-01"), child("C", "2006-01-01")],
        [
            # A: came into care (S) in 2014, before the extract start (2016-04-01)
            ep("A", "2014-01-01", "S", "2016-09-01", "E4A"),
            # B: in care since before the data; first episode seen is a placement change
            ep("B", "2015-06-01", "P", "2016-05-01", "X1"),
            ep("B", "2016-05-01", "L", "2016-10-01", "E4B"),
            ep("B", "2017-01-01", "S", "2017-02-01", "X1"),
            ep("B", "2017-02-01", "T", "2017-06-01", "E4A"),
            # C: came into care in the extract
            ep("C", "2016-06-01", "S", "2016-12-01", "E13"),
        ],
    )
    return with_years(t)


def test_truncated_children_are_kept_and_flagged():
    c = build_cohort(extract(), CohortConfig(ignore_rules=("357",)))
    sp = c.spells.set_index(["CHILD", "spell_number"])
    cols = ["history_truncated", "period_truncated", "prior_periods", "prior_returns_home"]
    assert sp[cols].loc[("A", 1)].tolist() == [1, 0, 0, 0]
    assert sp[cols].loc[("B", 1)].tolist() == [1, 1, 0, 0]
    assert sp[cols].loc[("B", 2)].tolist() == [1, 0, 1, 1]
    assert sp[cols].loc[("C", 1)].tolist() == [0, 0, 0, 0]
    b1 = sp.loc[("B", 1)]
    # what the data show: a lower bound of the truth
    assert b1.period_start == T("2015-06-01")
    assert b1.period_length_days == (T("2016-10-01") - T("2015-06-01")).days
    assert b1.placement_moves == 1  # the P episode is a move seen in the data
    assert sp.loc[("B", 2)].placement_moves == 1  # S then T
    assert c.extent is not None and c.extent.extract_start == T("2016-04-01")
    fl = c.flow.set_index("reason")[["children", "periods", "spells"]].astype(object)
    assert fl.loc["history_truncated"].tolist() == [2, 3, pd.NA]  # A: 1 period, B: 2
    assert fl.loc["history_complete"].tolist() == [1, 1, pd.NA]
    assert fl.loc["history_truncated_returns"].tolist() == [2, pd.NA, 3]
    assert fl.loc["history_complete_returns"].tolist() == [1, pd.NA, 1]
    assert fl.loc["period_truncated_returns", "spells"] == 1
    assert fl.loc["period_complete_returns", "spells"] == 3
    check_flow(c.flow)


def test_check_flow_holds_the_note_pairs_to_their_total():
    c = build_cohort(extract(), CohortConfig(ignore_rules=("357",)))
    bad = c.flow.copy()
    bad.loc[bad.reason == "history_complete", "children"] += 1
    with pytest.raises(AssertionError, match="do not add up to 'periods of care'"):
        check_flow(bad)


def test_child_in_care_since_before_the_extract_needs_no_ignored_rule():
    t = extract()
    keep = t["episodes"].CHILD.isin(["A", "C"])
    t = {"header": t["header"][t["header"].CHILD.isin(["A", "C"])], "episodes": t["episodes"][keep]}
    c = build_cohort(t)
    assert c.validated.problems.empty
    assert c.spells.set_index("CHILD").history_truncated.to_dict() == {"A": 1, "C": 0}


def test_without_collection_years_a_first_episode_not_s_marks_truncation():
    t = extract()
    t = {**t, "episodes": t["episodes"].drop(columns=YEAR_COL)}
    c = build_cohort(t, CohortConfig(data_end=END, ignore_rules=("357",)))
    # the extract start is unknown: A's S episode in 2014 is taken as the start of the data
    assert c.spells.groupby("CHILD").history_truncated.max().to_dict() == {"A": 0, "B": 1, "C": 0}
    # a configured extract start restores it
    c2 = build_cohort(
        t, CohortConfig(data_end=END, extract_start="2016-04-01", ignore_rules=("357",))
    )
    assert c2.spells.groupby("CHILD").history_truncated.max().to_dict() == {"A": 1, "B": 1, "C": 0}


def test_reentry_after_exits_that_are_not_returns_home():
    t = tables(
        [child("D", "2004-01-01")],
        [
            ep("D", "2012-01-01", "S", "2012-06-01", "E8"),
            ep("D", "2012-09-01", "S", "2013-01-01", "E4A"),
            ep("D", "2013-03-01", "S", "2013-09-01", "E3"),
            ep("D", "2014-01-01", "S", "2014-05-01", "E45"),
            ep("D", "2015-01-01", "S", "2015-06-01", "E9"),
            ep("D", "2016-01-01", "S", "2016-09-01", "E4B"),
        ],
    )
    sp = build_cohort(t, CohortConfig(data_end=END)).spells
    assert sp.prior_periods.tolist() == [1, 5]
    assert sp.prior_returns_home.tolist() == [0, 1]
    assert sp.reentered.tolist() == [1, 0]


@st.composite
def truncated_extract(draw: st.DrawFn) -> tuple[dict, dict[str, bool]]:
    """Children with careers around an extract start of 1 April 2016, some in care at it."""
    start = T("2016-04-01")
    header, episodes, truncated = [], [], {}
    for i in range(draw(st.integers(1, 5))):
        cid = f"K{i}"
        header.append(child(cid, "2004-01-01"))
        day = start + pd.Timedelta(days=draw(st.integers(-600, 300)))
        first_rne = draw(st.sampled_from("SSPLT"))
        truncated[cid] = first_rne != "S" or day < start
        rne = first_rne
        for _ in range(draw(st.integers(1, 3))):
            n_eps = draw(st.integers(1, 3))
            for k in range(n_eps):
                dec = day + pd.Timedelta(days=draw(st.integers(1, 200)))
                last = k == n_eps - 1
                rec = draw(st.sampled_from(["E4A", "E4B", "E8", "E13"])) if last else "X1"
                episodes.append(ep(cid, str(day.date()), rne, str(dec.date()), rec))
                day, rne = dec, draw(st.sampled_from("LPTBU"))
            day += pd.Timedelta(days=draw(st.integers(1, 200)))
            rne = "S"
    t = tables(header, episodes)
    e = t["episodes"]
    e[YEAR_COL] = pd.array((e["DEC"].dt.year + (e["DEC"].dt.month >= 4)).clip(lower=2017))
    e[YEAR_COL] = e[YEAR_COL].astype("Int64")
    return t, truncated


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(truncated_extract(), st.booleans())
def test_flow_adds_up_with_truncation(case: tuple[dict, dict[str, bool]], corrupt: bool):
    t, truncated = case
    if corrupt:  # one child's first DEC typed years ahead: excluded, nothing else moves
        e = t["episodes"].copy()
        e.loc[0, "DEC"] = e.loc[0, "DEC"] + pd.DateOffset(years=30)
        t = {**t, "episodes": e}
    # the returns read need not include the 2016-17 one: the extract start is given
    cfg = CohortConfig(validation="lenient", ignore_rules=("357",), extract_start="2016-04-01")
    try:
        c = build_cohort(t, cfg)
    except ValueError as err:  # every child excluded or no return home
        assert "0 spells" in str(err)
        return
    check_flow(c.flow)
    start = c.flow.iloc[0]
    assert start.children == len(t["header"]) and start.episodes == len(t["episodes"])
    years = t["episodes"][YEAR_COL]
    assert c.data_end == T(f"{int(years.max())}-03-31")
    sp = c.spells
    flags = sp.groupby("CHILD").history_truncated.max().to_dict()
    assert flags == {k: int(truncated[k]) for k in flags}
    assert (sp.period_truncated <= sp.history_truncated).all()
    assert (sp.prior_returns_home == sp.spell_number - 1).all()
    assert (sp.prior_periods >= sp.prior_returns_home).all()
    fl = c.flow.set_index("reason")
    assert fl.loc["history_truncated_returns", "spells"] == int(sp.history_truncated.sum())
    assert fl.loc["period_truncated_returns", "spells"] == int(sp.period_truncated.sum())
    assert fl.loc["history_truncated", "children"] == sum(
        truncated[k] for k in set(t["episodes"].CHILD) - set(c.validated.excluded_children.CHILD)
    )
    if corrupt:
        assert "K0" not in set(sp.CHILD)
