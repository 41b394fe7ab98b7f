"""reunistat agrees with DfE's 903 validator per child on every shared rule.

DfE's per-child output is frozen in tests/reference/dfe/ (made by
``benchmarks/conformance_dfe.py --run-dfe`` with csc-validator-be-903 in its own venv),
so CI needs no second environment.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location(
    "conformance_dfe", ROOT / "benchmarks/conformance_dfe.py"
)
assert _spec and _spec.loader
conf = importlib.util.module_from_spec(_spec)
sys.modules["conformance_dfe"] = conf
_spec.loader.exec_module(conf)

CASES = {c.name: c for c in conf.CASES}
#: rules each case must share with DfE (checked with DfE's scope)
MUST_SHARE = {
    "148",
    "357",
    "385",
    "431",
    "432",
    "433",
    "437",
    "501",
    "142",
    "386",
    "387",
    "389",
    "407",
    "460",
    "390",
    "516",
    "199",
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case_result(request):
    case = CASES[request.param]
    dfe = pd.read_csv(conf.REF / f"{case.name}.csv", dtype=str)
    ours = conf.reunistat_flags(case)
    return case, dfe, ours, conf.compare(case, dfe, ours)


def test_every_shared_rule_agrees_per_child(case_result):
    case, _dfe, _ours, table = case_result
    if case.with_previous:
        assert set(table.rule) == set(conf.BETWEEN_RETURNS)
        assert (table.both > 0).all()  # every rule between returns found something
    else:
        assert MUST_SHARE - {"357", "385"} <= set(table.rule), case.name
    for r in table.itertuples(index=False):
        if r.rule in conf.DIFFERENCES:
            assert r.only_reunistat == 0, (case.name, r.rule)
            continue
        assert (r.only_dfe, r.only_reunistat) == (0, 0), (case.name, r.rule)
    # the 2017-18 return: DfE's rules that found something, found the same children
    if case.name == "qlacv_2018":
        hits = table.set_index("rule")
        assert hits.loc["357", "both"] == 8 and hits.loc["431", "both"] == 57
        assert hits.loc["148", "both"] == 1408


def test_declared_differences_are_what_they_say(case_result):
    """Children only DfE flags on 386/387/407 have that exit on an open episode."""
    case, dfe, ours, _table = case_result
    eps = pd.read_csv(case.source / "episodes.csv", dtype=str)
    recs = {"386": {"E11", "E12"}, "387": {"E5", "E6"}, "407": {"E45", "E46", "E47", "E48"}}
    for rule, rec in recs.items():
        a = set(dfe.loc[dfe.rule == rule, "CHILD"])
        b = set(ours.loc[ours.rule == rule, "CHILD"])
        open_exit = set(eps.loc[eps.REC.isin(rec) & eps.DEC.isna(), "CHILD"])
        assert a - b <= open_exit, (case.name, rule)


def test_lenient_keeps_every_child_dfe_accepts(case_result):
    case, dfe, ours, table = case_result
    errors = set(table.loc[table.severity == "error", "rule"])
    dfe_flagged = set(dfe.loc[dfe.rule.isin(errors), "CHILD"])
    excluded = conf.lenient_check(dfe, ours, table)
    assert excluded["excluded_not_flagged_by_dfe"] == 0
    excluded = ours.attrs["excluded"]
    if case.with_previous:  # excluded for the rules between returns
        excluded = set(ours.loc[ours.rule.isin(errors), "CHILD"])
    assert excluded  # the fake return has real faults (148, 431...)
    assert excluded <= dfe_flagged, sorted(excluded - dfe_flagged)[:5]


def test_357_scope_keeps_children_already_in_care():
    """DfE 357 flags only first episodes starting in the collection year (8 children)."""
    case = CASES["qlacv_2018"]
    eps = pd.read_csv(case.source / "episodes.csv", dtype=str)
    d = pd.to_datetime(eps.DECOM, format="%d/%m/%Y")
    first = eps.assign(d=d).sort_values("d").drop_duplicates("CHILD")
    not_s = first[first.RNE != "S"]
    before = not_s[not_s.d < pd.Timestamp("2017-04-01")]
    assert len(before) > 100  # children in care before the year with a non-S first episode
    ours = conf.reunistat_flags(case)
    flagged = set(ours.loc[ours.rule == "357", "CHILD"])
    assert not flagged & set(before.CHILD)
    assert len(flagged) == 8


def test_lowercase_codes_are_read_as_dfe_reads_them():
    """DfE upper-cases values: lower-case codes give the same flags, and reunistat agrees."""
    upper, lower = CASES["qlacv_2018"], CASES["qlacv_2018_lowercase"]
    d_up = pd.read_csv(conf.REF / f"{upper.name}.csv", dtype=str)
    d_low = pd.read_csv(conf.REF / f"{lower.name}.csv", dtype=str)
    pd.testing.assert_frame_equal(d_up, d_low)
    ours_up, ours_low = conf.reunistat_flags(upper), conf.reunistat_flags(lower)
    key = ["rule", "CHILD"]
    pd.testing.assert_frame_equal(
        ours_up.sort_values(key).reset_index(drop=True),
        ours_low.sort_values(key).reset_index(drop=True),
    )
    assert ours_low.attrs["excluded"] == ours_up.attrs["excluded"]
