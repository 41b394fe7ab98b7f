"""Hand-written edge cases: each a tiny episode table and the spells it must give."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import LA, child, ep, tables
from reunistat.cohort import CohortConfig, build_cohort, check_flow, derive_cohort
from reunistat.spells import SPELL_COLUMNS
from reunistat.tables import ValidationError

END = "2020-03-31"
CFG = CohortConfig(data_end=END)
T = pd.Timestamp


def outcome(spells: pd.DataFrame) -> list[tuple]:
    cols = ["CHILD", "spell_number", "return_date", "reentered", "days_followed", "censor_reason"]
    return [
        (
            r.CHILD,
            r.spell_number,
            str(r.return_date.date()),
            r.reentered,
            r.days_followed,
            r.censor_reason,
        )
        for r in spells[cols].itertuples(index=False)
    ]


def test_same_day_transfer_x1_is_not_a_return():
    t = tables(
        [child("A", "2005-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "X1"),
            ep("A", "2015-06-01", "P", "2016-01-01", "E4A", place="K2"),
        ],
    )
    c = build_cohort(t, CFG)
    assert outcome(c.spells) == [("A", 1, "2016-01-01", 0, 1551, "data_end")]
    s = c.spells.iloc[0]
    assert s.period_start == T("2015-01-01")
    assert s.placement_moves == 1
    assert s.period_length_days == 365
    assert s.last_placement_type == "childrens_home"
    assert list(c.spells.columns) == list(SPELL_COLUMNS)
    check_flow(c.flow)


def test_return_home_then_reentry_next_day():
    t = tables(
        [child("A", "2005-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("A", "2015-06-02", "S", "2016-01-01", "E8"),
        ],
    )
    sp = derive_cohort(t, CFG)
    assert outcome(sp) == [("A", 1, "2015-06-01", 1, 1, "reentry")]
    assert sp.iloc[0].reentry_date == T("2015-06-02")
    assert sp.iloc[0].event_type == 1
    assert sp.iloc[0].censor_date == T("2015-06-02")


def test_open_last_episode_is_no_return():
    t = tables(
        [child("A", "2005-01-01"), child("B", "2006-01-01")],
        [
            ep("A", "2019-01-01", "S"),
            ep("B", "2015-01-01", "S", "2015-06-01", "E4B"),
            ep("B", "2016-01-01", "S"),
        ],
    )
    c = build_cohort(t, CFG)
    assert outcome(c.spells) == [("B", 1, "2015-06-01", 1, 214, "reentry")]
    fl = c.flow.set_index("reason")
    assert fl.loc["open", "periods"] == 2
    assert fl.loc["no_return", "children"] == 1
    check_flow(c.flow)


def test_reentry_after_18_is_a_validation_error():
    t = tables(
        [child("A", "2000-01-01"), child("B", "2005-01-01")],
        [
            ep("A", "2017-01-01", "S", "2017-06-01", "E4A"),
            ep("A", "2018-01-01", "S", "2018-02-01", "E8"),
            ep("B", "2015-01-01", "S", "2015-06-01", "E4A"),
        ],
    )
    with pytest.raises(ValidationError) as err:
        derive_cohort(t, CFG)
    msg = str(err.value)
    assert "rule 352" in msg and "CHILD A" in msg and "DECOM 2018-01-01" in msg
    c = build_cohort(t, CohortConfig(data_end=END, validation="lenient"))
    assert list(c.spells.CHILD) == ["B"]
    ex = c.validated.excluded_children
    assert ex[["CHILD", "rule"]].values.tolist() == [["A", "352"]]
    check_flow(c.flow)


def test_censored_at_18th_birthday_is_competing():
    t = tables(
        [child("A", "2000-01-01")],
        [ep("A", "2017-01-01", "S", "2017-06-01", "E4A")],
    )
    s = derive_cohort(t, CFG).iloc[0]
    assert (s.censor_reason, s.event_type, s.reentered) == ("age18", 2, 0)
    assert s.censor_date == T("2018-01-01")
    assert s.days_followed == 214


def test_return_on_18th_birthday_has_no_follow_up():
    t = tables(
        [child("A", "2000-01-01")],
        [ep("A", "2017-01-01", "S", "2018-01-01", "E4A")],
    )
    s = derive_cohort(t, CFG).iloc[0]
    assert (s.days_followed, s.reentered, s.censor_reason) == (0, 0, "age18")


def test_two_failed_returns():
    t = tables(
        [child("A", "2005-01-01")],
        [
            ep("A", "2010-01-01", "S", "2010-03-01", "E4A"),
            ep("A", "2010-05-01", "S", "2011-01-01", "E4B"),
            ep("A", "2011-02-01", "S", "2011-06-01", "X1"),
            ep("A", "2011-06-01", "L", "2012-01-01", "E4A", ls="V2"),
        ],
    )
    sp = derive_cohort(t, CFG)
    assert outcome(sp) == [
        ("A", 1, "2010-03-01", 1, 61, "reentry"),
        ("A", 2, "2011-01-01", 1, 31, "reentry"),
        ("A", 3, "2012-01-01", 0, 3012, "data_end"),
    ]
    assert sp.prior_periods.tolist() == [0, 1, 2]
    assert sp.return_type.tolist() == ["planned", "unplanned", "planned"]
    # L is a change of legal status only: not a placement move
    assert sp.placement_moves.tolist() == [0, 0, 0]
    assert sp.section20.tolist() == [0, 0, 1]


def test_short_breaks_are_not_periods_or_reentries():
    t = tables(
        [child("A", "2005-01-01"), child("B", "2006-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("A", "2015-07-01", "S", "2015-07-03", "E4A", ls="V3"),
            ep("A", "2015-09-01", "S", "2015-09-02", "E4A", ls="V4"),
            ep("A", "2016-01-01", "S", "2016-04-01", "E8"),
            ep("B", "2015-01-01", "S", "2015-01-03", "E4A", ls="V3"),
            ep("B", "2015-02-01", "S", "2015-02-03", "E4A", ls="V3"),
        ],
    )
    c = build_cohort(t, CFG)
    assert outcome(c.spells) == [("A", 1, "2015-06-01", 1, 214, "reentry")]
    assert c.spells.iloc[0].reentry_date == T("2016-01-01")
    fl = c.flow.set_index("reason")
    assert fl.loc["short_break_only", "periods"] == 4
    assert fl.loc["short_break_only", "episodes"] == 4
    assert fl.loc["short_break_only", "children"] == 1
    check_flow(c.flow)


@pytest.mark.parametrize("include_e13", [True, False])
def test_e13_toggled(include_e13: bool):
    t = tables(
        [child("A", "2005-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E13"),
            ep("A", "2016-01-01", "S", "2016-06-01", "E4A"),
        ],
    )
    c = build_cohort(t, CohortConfig(data_end=END, include_e13=include_e13))
    sp = c.spells
    if include_e13:
        assert sp.return_type.tolist() == ["e13", "planned"]
        assert sp.spell_number.tolist() == [1, 2]
        assert sp.reentered.tolist() == [1, 0]
    else:
        assert sp.return_type.tolist() == ["planned"]
        assert sp.spell_number.tolist() == [1]
        assert c.flow.set_index("reason").loc["e13_not_counted", "periods"] == 1
    assert sp.prior_periods.iloc[-1] == 1
    check_flow(c.flow)


def test_return_on_the_data_end_date():
    t = tables(
        [child("A", "2005-01-01")],
        [ep("A", "2019-01-01", "S", END, "E4B")],
    )
    s = derive_cohort(t, CFG).iloc[0]
    assert (s.days_followed, s.reentered, s.censor_reason, s.event_type) == (0, 0, "data_end", 0)


def test_data_end_from_the_extract_when_not_configured():
    t = tables(
        [child("A", "2005-01-01")],
        [ep("A", "2015-01-01", "S", "2015-06-01", "E4A"), ep("A", "2016-01-01", "S")],
    )
    c = build_cohort(t, CohortConfig())
    assert c.data_end == T("2016-01-01")


def test_a_child_who_dies():
    exits = pd.DataFrame(
        {"LA": [LA], "CHILD": ["A"], "EXIT_DATE": [T("2016-01-01")], "EXIT_REASON": ["death"]}
    )
    t = tables(
        [child("A", "2005-01-01"), child("B", "2006-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("B", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("B", "2016-01-01", "S", "2016-02-01", "E2"),
        ],
        exits=exits,
    )
    c = build_cohort(t, CFG)
    no_la = build_cohort({**t, "exits": exits.drop(columns="LA")}, CFG)
    pd.testing.assert_frame_equal(no_la.spells, c.spells)
    a, b = c.spells.iloc[0], c.spells.iloc[1]
    assert (a.censor_reason, a.event_type, a.days_followed) == ("death", 2, 214)
    # B died in care: the re-entry is observed; the period ending E2 is no return
    assert (b.censor_reason, b.reentered) == ("reentry", 1)
    assert c.flow.set_index("reason").loc["exit_E2", "periods"] == 1
    check_flow(c.flow)


def test_without_la_column_uses_config_la():
    t = tables([child("A", "2005-01-01")], [ep("A", "2015-01-01", "S", "2015-06-01", "E4A")])
    t = {k: v.drop(columns="LA") for k, v in t.items()}
    sp = derive_cohort(t, CohortConfig(data_end=END, la="E06000001"))
    assert sp.LA.tolist() == ["E06000001"]


def test_truncated_history_is_kept_without_ignoring_rules():
    # A child already in care when the data begin (first episode RNE P): DfE's rule 357
    # does not apply to them, so the cohort keeps them and flags the truncation.
    t = tables(
        [child("A", "2005-01-01")],
        [
            ep("A", "2015-01-01", "P", "2015-06-01", "X1"),
            ep("A", "2015-06-01", "L", "2016-01-01", "E4A"),
        ],
    )
    sp = derive_cohort(t, CFG)
    assert outcome(sp) == [("A", 1, "2016-01-01", 0, 1551, "data_end")]
    assert sp.iloc[0].period_start == T("2015-01-01")
    assert sp.iloc[0].history_truncated == 1 and sp.iloc[0].period_truncated == 1
    # the old way of keeping them gives the same spell
    assert outcome(derive_cohort(t, CohortConfig(data_end=END, ignore_rules=("357",)))) == outcome(
        sp
    )
    with pytest.raises(ValueError, match="unknown rule"):
        derive_cohort(t, CohortConfig(data_end=END, ignore_rules=("999",)))
