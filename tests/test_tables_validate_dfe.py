"""DfE-scoped rules: 357's scope, 431 in full, 433 after an open episode, 437, ages,
354/385, and the rules between returns (502, 202-204)."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import child, ep, tables
from reunistat.errors import DataValidationError
from reunistat.tables import ValidationError, validate_tables
from reunistat.tables.keys import YEAR_COL
from reunistat.tables.rules import RULES, dfe_rules, rule, severity


def _year(t: dict, year: int) -> dict:
    for name in ("header", "episodes"):
        t[name][YEAR_COL] = pd.array([year] * len(t[name]), dtype="Int64")
    return t


def rules_of(t, **kw) -> set[tuple[str, str]]:
    v = validate_tables(t, mode="lenient", **kw)
    p = pd.concat([v.problems, v.warnings])
    return set(zip(p.CHILD, p.rule, strict=True))


def test_registry_names_dfe_rules_by_number():
    assert {
        "357",
        "431",
        "433",
        "437",
        "355",
        "386",
        "407",
        "460",
        "387",
        "389",
        "199",
        "390",
        "516",
        "202",
        "203",
        "204",
        "354",
        "385",
        "502",
    } <= set(dfe_rules())
    assert not RULES["x1_next"].dfe and RULES["357"].dfe
    assert rule("overlap").name == "501" and severity("355") == "warning"
    assert issubclass(ValidationError, DataValidationError)


def test_357_only_for_first_episodes_in_the_collection_year():
    t = _year(
        tables(
            [child("IN", "2005-01-01"), child("NEW", "2005-01-01"), child("OK", "2005-01-01")],
            [
                ep("IN", "2016-05-01", "P"),  # in care before 1 April 2017: history outside
                ep("NEW", "2017-06-01", "P"),  # starts in the year: must be S
                ep("OK", "2017-06-01", "S"),
            ],
        ),
        2018,
    )
    found = rules_of(t)
    assert ("NEW", "357") in found and ("IN", "357") not in found


def test_431_433_437():
    t = tables(
        [child(c, "2005-01-01") for c in ("A", "B", "C")],
        [
            ep("A", "2015-01-01", "S", "2015-06-01", "E4A"),
            ep("A", "2015-05-01", "S"),  # starts before the previous DEC: 431 (and 501)
            ep("B", "2015-01-01", "S"),  # open
            ep("B", "2015-06-01", "P"),  # continuation after an open episode: 433
            ep("C", "2015-01-01", "S", "2015-06-01", "E2"),
            ep("C", "2016-01-01", "S"),  # after death: 437
        ],
    )
    found = rules_of(t)
    assert {("A", "431"), ("A", "501"), ("B", "433"), ("B", "142"), ("C", "437")} <= found


def test_exit_ages_are_warnings():
    t = tables(
        [child("A", "2005-01-01"), child("B", "2000-01-01")],
        [
            ep("A", "2015-01-01", "S", "2016-01-01", "E7"),  # 389: under 16
            ep("B", "2015-01-01", "S", "2018-06-01", "E11", place="A4"),  # 386: adopted at 18
        ],
    )
    v = validate_tables(t, mode="strict")
    assert set(zip(v.warnings.CHILD, v.warnings.rule, strict=False)) >= {("A", "389"), ("B", "386")}
    assert v.excluded_children.empty


def test_354_385_after_the_collection_year():
    t = _year(
        tables([child("A", "2005-01-01")], [ep("A", "2017-06-01", "S", "2018-05-01", "E4A")]),
        2018,
    )
    with pytest.raises(ValidationError, match="rule 385"):
        validate_tables(t)


def test_rules_between_returns():
    h1 = [child("A", "2005-01-01", upn="A1"), child("B", "2005-01-01", sex="1", upn="UN1")]
    e1 = [ep("A", "2016-05-01", "S"), ep("B", "2016-05-01", "S")]
    h2 = [child("A", "2005-02-01", upn="A2"), child("B", "2005-01-01", sex="M", upn="B1")]
    e2 = [ep("A", "2016-05-02", "S", "2017-06-01", "E4A"), ep("B", "2016-05-01", "S")]
    r1, r2 = tables(h1, e1), tables(h2, e2)
    _year(r1, 2024)
    _year(r2, 2025)
    v = validate_tables(
        {"header": [r1["header"], r2["header"]], "episodes": [r1["episodes"], r2["episodes"]]},
        mode="lenient",
    )
    found = set(zip(v.problems.CHILD, v.problems.rule, strict=True))
    assert ("A", "203") in found  # DOB changed: an error
    warned = set(zip(v.warnings.CHILD, v.warnings.rule, strict=True))
    # a corrected DECOM is DfE 502, a warning: stacking keeps the later return's episode
    assert ("A", "502") in warned and ("A", "502") not in found
    assert not {r for c, r in found | warned if c == "B"} & {"202", "502"}  # 1 -> M: same sex
    assert ("A", "208") in warned and ("B", "208") not in warned  # UN1 -> known is allowed
    assert set(v.excluded_children.CHILD) == {"A"}


def test_ignore_rules_accepts_old_and_new_names():
    t = tables([child("A", "2005-01-01")], [ep("A", "2015-01-01", "S", "2014-01-01", "E4A")])
    with pytest.raises(ValidationError, match="rule 356"):
        validate_tables(t)
    assert validate_tables(t, ignore_rules=("dec_before_decom",)).problems.empty
    assert validate_tables(t, ignore_rules=("356",)).problems.empty
    with pytest.raises(DataValidationError.__mro__[1], match="unknown rule"):
        validate_tables(t, ignore_rules=("999",))


def test_357_scope_is_per_local_authority():
    """Each LA's data begin with its own first collection year read."""
    t = tables(
        [child("A", "2005-01-01", la="L1"), child("B", "2005-01-01", la="L2")],
        [
            ep("A", "2016-10-01", "P", la="L1"),  # L1 returns begin 2017-18: in care before
            ep("B", "2016-10-01", "P", "2017-02-01", "E4A", la="L2"),  # L2 begins 2016-17
        ],
    )
    for name in ("header", "episodes"):
        t[name][YEAR_COL] = pd.array(t[name]["LA"].map({"L1": 2018, "L2": 2017}), dtype="Int64")
    found = rules_of(t)
    assert ("B", "357") in found and ("A", "357") not in found


def test_extract_with_rows_of_every_return():
    """A reader may keep each return's rows (``Extract.returns``): rules between returns run."""
    from reunistat.tables.io import prepare_tables

    r1 = _year(tables([child("A", "2005-01-01")], [ep("A", "2016-05-01", "S")]), 2017)
    r2 = _year(tables([child("A", "2005-01-01")], [ep("A", "2016-05-02", "S")]), 2018)
    x = prepare_tables({k: pd.concat([r1[k], r2[k]], ignore_index=True) for k in r1})
    # the reader keeps each return's rows when there are two years or more
    assert sorted(x.returns["episodes"]["_COLLECTION_YEAR"].tolist()) == [2017, 2018]
    w = validate_tables(x, mode="lenient").warnings
    assert w.loc[w.rule == "502", "CHILD"].tolist() == ["A"]


def test_503g_h_j_when_the_extract_carries_dfes_postcode_fields():
    """503G (distance, within 0.2), 503H (placement LA), 503J (in/out of LA) as DfE checks them."""
    from reunistat.tables.io import prepare_tables

    kids = ["A", "B", "C", "D"]
    last = {"A": ("E09", "IN", "1.0"), "B": ("E09", "IN", "1.0"), "C": ("E08", "OUT", None)}
    now = {"A": ("E09", "IN", "1.1"), "B": ("E10", "OUT", "1.5"), "C": ("E08", "OUT", "3.0")}
    frames = []
    for year, fields in ((2017, last), (2018, now)):
        t = _year(
            tables([child(k, "2005-01-01") for k in kids], [ep("A", "2016-05-01", "S")]), year
        )
        e = pd.concat([ep_frame(k) for k in kids], ignore_index=True)
        e[YEAR_COL] = pd.array([year] * len(e), dtype="Int64")
        e[["PL_LA", "PL_LOCATION", "PL_DISTANCE"]] = [
            fields.get(k, (None, None, None)) for k in kids
        ]
        frames.append({"header": t["header"], "episodes": e})
    x = prepare_tables({k: pd.concat([f[k] for f in frames], ignore_index=True) for k in frames[0]})
    w = validate_tables(x, mode="lenient").warnings
    flagged = set(zip(w.CHILD, w.rule, strict=True)) & {
        (k, r) for k in kids for r in ("503G", "503H", "503J")
    }
    # A: 0.1 miles apart (DfE's tolerance is 0.2); B: another LA, out of it, 0.5 further;
    # C: no distance last year, one now; D: in neither return's fields
    assert flagged == {("B", "503G"), ("B", "503H"), ("B", "503J"), ("C", "503G")}
    assert RULES["503H"].dfe and "ONS postcode directory" in RULES["503H"].scope


def ep_frame(k: str) -> pd.DataFrame:
    """One open episode of child ``k`` from 1 May 2016."""
    return tables([child(k, "2005-01-01")], [ep(k, "2016-05-01", "S")])["episodes"]


def test_503g_h_j_not_checked_without_the_fields():
    from reunistat.tables.rules.returns import check_first_matches_open

    r1 = _year(tables([child("A", "2005-01-01")], [ep("A", "2016-05-01", "S")]), 2017)
    e = r1["episodes"].assign(_uid="A")
    both = pd.concat([e, e.assign(**{YEAR_COL: pd.array([2018], dtype="Int64")})])
    assert check_first_matches_open(both.reset_index(drop=True), YEAR_COL).empty
