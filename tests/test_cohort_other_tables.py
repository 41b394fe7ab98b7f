"""The rest of the 903 return: uasc, previous_permanence, missing and oc3 used; others listed."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import LA, child, ep, tables
from cohort_cases.sector import OTHERS, header_episodes_dir
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.cohort.output import provenance
from reunistat.errors import InputError
from reunistat.tables.keys import YEAR_COL

T = pd.Timestamp
CFG = CohortConfig(data_end="2018-03-31")


def base() -> dict:
    return tables(
        [child("A", "2005-01-01"), child("B", "2006-01-01"), child("C", "2007-01-01")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("A", "2016-01-01", "S", "2016-08-01", "E4B"),
            ep("B", "2015-01-01", "S", "2015-09-01", "E4A"),
            ep("C", "2015-02-01", "S", "2015-10-01", "E4A"),
        ],
    )


def csv_frame(rows: list[list[str | None]], columns: list[str]) -> pd.DataFrame:
    """A table as DfE's CSV gives it: text, dd/mm/YYYY dates, no LA column."""
    return pd.DataFrame(rows, columns=columns, dtype=object)


UASC = csv_frame(
    [["A", "1", "01/01/2005", "01/01/2023"], ["B", None, "01/01/2006", None]],
    ["CHILD", "SEX", "DOB", "DUC"],
)


@pytest.mark.parametrize("choice", ["keep", "exclude"])
def test_uasc_keep_or_exclude(choice: str):
    cfg = CohortConfig(data_end="2018-03-31", uasc=choice)  # type: ignore[arg-type]
    c = build_cohort({**base(), "uasc": UASC}, cfg)
    sp = c.spells
    if choice == "keep":
        # B's row has neither SEX nor DUC: not UASC, as DfE's validator reads the table
        assert sp.groupby("CHILD").uasc.max().to_dict() == {"A": 1, "B": 0, "C": 0}
        assert "uasc" not in set(c.flow.reason)
    else:
        assert sorted(set(sp.CHILD)) == ["B", "C"]
        row = c.flow.set_index("reason").loc["uasc"]
        assert (row.stage, row.children, row.episodes) == ("exclude", 1, 2)
        assert (sp.uasc == 0).all()
    check_flow(c.flow)


def test_no_uasc_data_is_missing_not_zero():
    sp = build_cohort(base(), CFG).spells
    assert sp.uasc.isna().all() and sp.previous_permanence.isna().all()
    assert sp.missing_episodes.isna().all() and sp.away_episodes.isna().all()


def test_header_uasc_column_flags_the_child():
    t = base()
    t["header"]["UASC"] = ["0", "1", "0"]
    sp = build_cohort(t, CFG).spells
    assert sp.groupby("CHILD").uasc.max().to_dict() == {"A": 0, "B": 1, "C": 0}


def test_previous_permanence_known_at_the_return():
    prev = csv_frame(
        [
            ["A", "01/01/2005", "P2", None, "01/09/2015"],  # SGO between A's two periods
            ["B", "01/01/2006", "P1", None, "01/01/2010"],  # adopted before care
            ["C", "01/01/2007", "Z1", None, None],
        ],
        ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    )
    sp = build_cohort({**base(), "previous_permanence": prev}, CFG).spells
    got = sp.set_index(["CHILD", "spell_number"]).previous_permanence.to_dict()
    assert got == {("A", 1): "none", ("A", 2): "sgo", ("B", 1): "adoption", ("C", 1): "none"}


def test_undated_previous_permanence_counts_from_its_collection_year():
    prev = csv_frame(
        [["A", "01/01/2005", "P3", None, None]],
        ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    )
    prev[YEAR_COL] = pd.array([2016], dtype="Int64")  # reported in 2015-16
    sp = build_cohort({**base(), "previous_permanence": prev}, CFG).spells
    a = sp[sp.CHILD == "A"].previous_permanence.tolist()
    assert a == ["cao", "cao"]  # returns in 2015-16 (2015-06-01) and 2016-17 (2016-08-01)
    prev[YEAR_COL] = pd.array([2017], dtype="Int64")  # reported only in 2016-17
    sp = build_cohort({**base(), "previous_permanence": prev}, CFG).spells
    assert sp[sp.CHILD == "A"].previous_permanence.tolist() == ["none", "cao"]


def test_missing_and_away_episodes_in_the_period():
    missing = csv_frame(
        [
            ["A", "01/01/2005", "M", "01/02/2015", "03/02/2015"],
            ["A", "01/01/2005", "M", "01/05/2015", "02/05/2015"],
            ["A", "01/01/2005", "A", "10/05/2015", "11/05/2015"],
            ["A", "01/01/2005", "M", "01/07/2015", "02/07/2015"],  # at home: not in a period
            ["A", "01/01/2005", "m", "01/02/2016", None],  # lower case, as sector files have
            ["B", "01/01/2006", "A", "01/03/2015", "01/03/2015"],
        ],
        ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    )
    sp = build_cohort({**base(), "missing": missing}, CFG).spells
    got = sp.set_index(["CHILD", "spell_number"])[["missing_episodes", "away_episodes"]]
    assert got.loc[("A", 1)].tolist() == [2, 1]
    assert got.loc[("A", 2)].tolist() == [1, 0]
    assert got.loc[("B", 1)].tolist() == [0, 1]
    assert got.loc[("C", 1)].tolist() == [0, 0]


def test_a_missing_table_with_unreadable_dates_is_named():
    missing = csv_frame(
        [["A", "01/01/2005", "M", "2015-13-45", None]],
        ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    )
    # named by the cohort, or by the reader when it parses the table first (ReadError)
    with pytest.raises(InputError, match="table missing, column MIS_START"):
        build_cohort({**base(), "missing": missing}, CFG)


def test_oc3_death_ends_follow_up_on_the_birthday_in_the_collection_year():
    t = tables(
        [child("E", "2000-09-01"), child("F", "2000-10-01")],
        [
            ep("E", "2016-01-01", "S", "2017-06-01", "E4A"),
            ep("F", "2016-01-01", "S", "2017-06-01", "E4A"),
        ],
    )
    oc3 = csv_frame(
        [["E", "01/09/2000", "DIED", None, None], ["F", "01/10/2000", "YES", "F1", "K1"]],
        ["CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"],
    )
    oc3[YEAR_COL] = pd.array([2018, 2018], dtype="Int64")
    c = build_cohort({**t, "oc3": oc3}, CFG)
    sp = c.spells.set_index("CHILD")
    assert sp.loc["E", "censor_reason"] == "death"
    assert sp.loc["E", "censor_date"] == T("2017-09-01")  # 17th birthday, in 2017-18
    assert sp.loc["E", "event_type"] == 2
    assert sp.loc["F", "censor_reason"] == "data_end"  # in touch: follow-up goes on
    assert c.flow.set_index("reason").loc["death", "spells"] == 1
    check_flow(c.flow)


def test_tables_not_used_are_listed():
    reviews = csv_frame(
        [["A", "01/01/2005", "01/03/2015", "PN1"]], ["CHILD", "DOB", "REVIEW", "REVIEW_CODE"]
    )
    c = build_cohort({**base(), "reviews": reviews, "uasc": UASC}, CFG)
    assert c.tables_used["reviews"] == {"rows": 1, "use": "not used"}
    assert c.tables_used["uasc"]["use"].startswith("UASC flag")
    notes = c.flow.set_index("reason")
    assert notes.loc["tables_not_used", "step"] == "other 903 tables read, not used: reviews"
    assert "uasc: UASC flag" in notes.loc["tables_used", "step"]
    assert provenance(c)["other_903_tables"]["reviews"]["use"] == "not used"


def test_sector_return_uses_dfe_column_names():
    """The DfE validator's own test return (2017-18): every other table read by its names."""
    files = [header_episodes_dir() / f"{n}.csv" for n in ("header", "episodes")]
    files += sorted(OTHERS.glob("*.csv"))
    raw = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]) for p in files}
    raw["episodes"][YEAR_COL] = pd.array([2018] * len(raw["episodes"]), dtype="Int64")
    cfg = CohortConfig(validation="lenient", la=LA, ignore_rules=("357",))
    c = build_cohort(raw, cfg)
    check_flow(c.flow)
    start = c.flow.iloc[0]
    assert (start.children, start.episodes) == (len(raw["header"]), len(raw["episodes"]))
    assert c.data_end == T("2018-03-31")
    assert set(c.tables_used) == {"uasc", "missing", "previous_permanence", "oc3", "ad1"}
    assert c.tables_used["ad1"]["use"] == "not used"
    sp = c.spells
    assert len(sp) > 0
    assert set(sp.previous_permanence) == {"none"}  # every PREV_PERM in the file is Z1
    assert sp.uasc.notna().all() and sp.missing_episodes.notna().all()
    uasc_children = set(raw["uasc"].CHILD)
    assert (sp.uasc == sp.CHILD.isin(uasc_children).astype(int)).all()
    excluded = build_cohort(
        raw, CohortConfig(validation="lenient", la=LA, ignore_rules=("357",), uasc="exclude")
    )
    assert not set(excluded.spells.CHILD) & uasc_children
    check_flow(excluded.flow)


def test_oc3_without_a_year_takes_the_latest_collection_year():
    t = tables([child("E", "2000-09-01")], [ep("E", "2016-01-01", "S", "2016-06-01", "E4A")])
    t["episodes"][YEAR_COL] = pd.array([2017], dtype="Int64")
    oc3 = csv_frame(
        [["E", "01/09/2000", "DIED", None, None]], ["CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"]
    )
    s = build_cohort({**t, "oc3": oc3}).spells.iloc[0]
    # collection year 2016-17: the 16th birthday, 2016-09-01
    assert (s.censor_reason, s.censor_date) == ("death", T("2016-09-01"))


def test_other_tables_as_one_frame_per_return():
    later = csv_frame([["C", "2", "01/01/2007", "01/01/2025"]], ["CHILD", "SEX", "DOB", "DUC"])
    sp = build_cohort({**base(), "uasc": [UASC, later]}, CFG).spells
    assert sp.groupby("CHILD").uasc.max().to_dict() == {"A": 1, "B": 0, "C": 1}


def test_rows_of_children_not_in_the_extract_count_for_nobody():
    prev = csv_frame(
        [
            ["Z", "01/01/2005", "P1", None, "01/01/2010"],  # no such child
            ["B", "01/01/2006", "P2", None, "01/01/2010"],
        ],
        ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    )
    missing = csv_frame(
        [
            ["Z", "01/01/2005", "M", "01/02/2015", None],  # no such child
            ["B", "01/01/2006", "M", "01/03/2015", None],
            ["B", "01/01/2006", "M", "01/03/2015", "02/03/2015"],  # the same episode, closed
        ],
        ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    )
    sp = build_cohort({**base(), "previous_permanence": prev, "missing": missing}, CFG).spells
    got = sp.set_index(["CHILD", "spell_number"])
    assert got.previous_permanence.to_dict() == {
        ("A", 1): None,
        ("A", 2): None,
        ("B", 1): "sgo",
        ("C", 1): None,
    }
    assert got.missing_episodes.tolist() == [0, 0, 1, 0]
