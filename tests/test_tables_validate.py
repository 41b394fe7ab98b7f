"""Validation: every rule caught, all problems at once, strict raises, lenient excludes."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import child, ep, tables
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.tables import ValidationError, validate_tables
from reunistat.tables.schema import PROBLEM_COLUMNS, RULES

END = "2020-03-31"
OK = [ep("OK", "2015-01-01", "S", "2015-06-01", "E4A")]

#: child id -> (its episodes, the rule it breaks, the column named)
CASES = {
    "code": ([ep("C1", "2015-01-01", "S", "2015-06-01", "E4Z")], "149", "REC"),
    "required": ([ep("C2", "2015-01-01", "S", ls=None)], "required", "LS"),
    "dob": ([ep("C3", "1999-01-01", "S", "2015-06-01", "E4A")], "302", "DOB"),
    "dec": ([ep("C4", "2015-01-01", "S", "2014-06-01", "E4A")], "356", "DEC"),
    "pair": ([ep("C5", "2015-01-01", "S", "2015-06-01", None)], "148", "DEC"),
    "overlap": (
        [ep("C6", "2015-01-01", "S", "2015-06-01", "E4A"), ep("C6", "2015-05-01", "S")],
        "501",
        "DEC",
    ),
    "open": ([ep("C7", "2015-01-01", "S"), ep("C7", "2015-05-01", "S")], "142", "DEC"),
    "357": ([ep("C8", "2015-01-01", "P", "2015-06-01", "E4A")], "357", "RNE"),
    "431": (
        [ep("C9", "2015-01-01", "S", "2015-06-01", "E4A"), ep("C9", "2015-06-01", "S")],
        "431",
        "RNE",
    ),
    "432": (
        [ep("C10", "2015-01-01", "S", "2015-06-01", "E4A"), ep("C10", "2015-07-01", "P")],
        "432",
        "RNE",
    ),
    "433": (
        [ep("C11", "2015-01-01", "S", "2015-06-01", "X1"), ep("C11", "2015-06-05", "T")],
        "433",
        "DECOM",
    ),
    "p1v2": ([ep("C13", "2015-01-01", "S", ls="V2", place="P1")], "378", "PLACE"),
    "18": ([ep("C14", "2019-01-02", "S")], "352", "DECOM"),
    "range": ([ep("C15", "2015-01-01", "S", "2021-01-01", "E4A")], "date_range", "DEC"),
    "noheader": ([ep("C16", "2015-01-01", "S")], "no_header", "CHILD"),
}
DOB = {"C3": "2000-01-01", "C14": "2001-01-01"}


def case_tables() -> dict:
    header = [child("OK", "2008-01-01"), child("C17", "2008-01-01"), child("C12", "2008-01-01")]
    episodes = [*OK, ep("C12", "2015-01-01", "S", "2015-06-01", "X1")]  # x1_next: a warning
    for eps, _, _ in CASES.values():
        cid = eps[0]["CHILD"]
        if cid != "C16":
            header.append(child(cid, DOB.get(cid, "2008-01-01")))
        episodes += eps
    return tables(header, episodes)


def test_strict_reports_every_problem_at_once():
    with pytest.raises(ValidationError) as err:
        validate_tables(case_tables(), mode="strict", data_end=END)
    p = err.value.problems
    assert list(p.columns) == list(PROBLEM_COLUMNS)
    found = set(zip(p.CHILD, p.rule, p.column, strict=True))
    for eps, rule, column in CASES.values():
        assert (eps[0]["CHILD"], rule, column) in found, rule
    v = validate_tables(case_tables(), mode="lenient", data_end=END)
    warned = set(zip(v.warnings.CHILD, v.warnings.rule, strict=True))
    assert {("C17", "no_episodes"), ("C12", "x1_next")} <= warned
    assert "OK" not in set(p.CHILD)
    assert set(p.rule) <= set(RULES)
    msg = str(err.value)
    assert "table episodes, column DEC," in msg and "CHILD C6" in msg and "DECOM 2015-01-01" in msg


def test_lenient_excludes_each_child_with_its_reason():
    v = validate_tables(case_tables(), mode="lenient", data_end=END)
    ex = v.excluded_children.set_index("CHILD")
    for eps, rule, _ in CASES.values():
        assert rule in ex.loc[eps[0]["CHILD"], "rules"].split(";")
    # warnings exclude no one: C12 (x1_next) and C17 (no_episodes) stay
    assert set(v.tables["episodes"].CHILD) == {"OK", "C12"}
    assert set(v.tables["header"].CHILD) == {"OK", "C12", "C17"}
    assert not ex.loc["C16", "in_header"]
    # the cohort's flow of header-only children (no_episodes is now a warning) is the
    # cohort's to account for: build it on the errors only
    t = case_tables()
    t["header"] = t["header"][~t["header"].CHILD.isin(["C12", "C17"])]
    t["episodes"] = t["episodes"][t["episodes"].CHILD != "C12"]
    v = validate_tables(t, mode="lenient", data_end=END)
    c = build_cohort(v, CohortConfig(data_end=END, validation="lenient"))
    assert c.spells.CHILD.tolist() == ["OK"]
    check_flow(c.flow)
    excl = c.flow[c.flow.reason.str.startswith("validation:")]
    assert excl.children.sum() == len(ex) - 1  # C16 had no header row
    assert excl.episodes.sum() == sum(len(e) for e, _, _ in CASES.values())


def test_header_codes_and_linked_tables():
    t = tables(
        [child("OK", "2008-01-01"), child("H1", "2008-01-01", sex="3", ethnic="XXXX")],
        [*OK, ep("H1", "2015-01-01", "S")],
    )
    t["cin"] = pd.DataFrame({"LAchildID": ["OK"], "DISABILITY": ["BAD"]})
    t["npd"] = pd.DataFrame({"UPN": ["U1", None], "FSM_EVER": ["1", "0"]})
    v = validate_tables(t, mode="lenient")
    p = v.problems
    assert set(zip(p.table, p.column, p.CHILD, p.rule, strict=True)) >= {
        ("header", "SEX", "H1", "101"),
        ("header", "ETHNIC", "H1", "103"),
        ("cin", "DISABILITY", "OK", "code"),
        ("npd", "UPN", None, "required"),
    }
    assert set(v.excluded_children.CHILD) == {"H1", "OK"}
    assert v.excluded_rows.set_index("table").loc["npd", "rows_dropped"] == 1


def test_clean_tables_pass_strict():
    v = validate_tables(tables([child("OK", "2008-01-01")], OK), mode="strict", data_end=END)
    assert v.problems.empty and v.excluded_children.empty


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        validate_tables(tables([child("OK", "2008-01-01")], OK), mode="loose")  # type: ignore[arg-type]


def test_two_different_rows_for_one_episode_in_one_return():
    t = tables(
        [child("A", "2008-01-01"), child("OK", "2008-01-01")],
        [
            *OK,
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("A", "2015-01-01", "S", "2015-07-01", "E4B"),
        ],
    )
    with pytest.raises(ValidationError, match="rule duplicate"):
        validate_tables(t, mode="strict")
    v = validate_tables(t, mode="lenient")
    assert v.excluded_children.CHILD.tolist() == ["A"]
    assert v.excluded_children.rule.tolist() == ["duplicate"]


def test_open_and_closed_copies_in_one_file_resolve():
    t = tables(
        [child("OK", "2008-01-01")],
        [*OK, ep("OK", "2015-01-01", "S"), ep("OK", "2015-01-01", "S", "2015-06-01", "E4A")],
    )
    v = validate_tables(t, mode="strict")
    assert len(v.tables["episodes"]) == 1
    assert v.stacking.set_index("table").loc[
        "episodes", ["identical_dropped", "superseded"]
    ].tolist() == [1, 1]


def test_cin_without_la_excludes_the_child_everywhere():
    t = tables(
        [child("A", "2008-01-01"), child("OK", "2008-01-01")], [*OK, ep("A", "2015-01-01", "S")]
    )
    t["cin"] = pd.DataFrame({"LAchildID": ["A", "OK"], "DISABILITY": ["XX", "NONE"]})
    v = validate_tables(t, mode="lenient")
    assert v.excluded_children.CHILD.tolist() == ["A"]
    assert v.tables["cin"].LAchildID.tolist() == ["OK"]
    assert set(v.tables["episodes"].CHILD) == {"OK"}


def test_rows_without_child_are_removed_and_counted():
    t = tables(
        [child("OK", "2008-01-01"), child(None, "2008-01-01")],  # type: ignore[arg-type]
        [*OK, ep(None, "2015-01-01", "S"), ep(None, "2016-01-01", "S")],  # type: ignore[arg-type]
    )
    c = build_cohort(t, CohortConfig(validation="lenient"))
    assert c.spells.CHILD.tolist() == ["OK"]
    check_flow(c.flow)
    row = c.flow.set_index("reason").loc["validation:required"]
    assert (row.children, row.episodes) == (1, 2)
