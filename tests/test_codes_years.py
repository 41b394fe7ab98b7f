"""Code sets by collection year, normalisation and groupings (reunistat.codes)."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import child, ep, tables
from reunistat import codes
from reunistat.tables import validate_tables
from reunistat.tables.keys import YEAR_COL


def test_sex_changes_in_2024_25():
    assert codes.valid_codes("SEX", 2018) == {"1", "2"}
    assert codes.valid_codes("SEX", 2024) == {"1", "2"}
    assert codes.valid_codes("SEX", 2025) == {"M", "F", "U"}
    assert codes.valid_codes("SEX", None) == {"1", "2", "M", "F", "U"}


def test_place_changes():
    p24, p25, p26 = (codes.valid_codes("PLACE", y) for y in (2024, 2025, 2026))
    assert "K3" not in p24 and "K3" in p25 and "K3" in p26
    assert {"Z1", "H5", "P2"} <= p25 and not {"Z1", "H5", "P2"} & p26
    assert {"Z11", "Z12", "Z13", "Z14"} <= p26 and not {"Z11"} & p25
    with pytest.raises(KeyError, match="no code set"):
        codes.valid_codes("NOPE", 2020)


def test_groupings_map_old_and_new_codes_alike():
    assert codes.group_codes(pd.Series(["1", "M", " m", "2", "F", "U"]), "sex").tolist() == [
        "male",
        "male",
        "male",
        "female",
        "female",
        "unknown",
    ]
    g = codes.group_codes(pd.Series(["Z1", "Z11", "Z14", "H5", "K3", "p1"]), "placement_group")
    assert g.tolist() == ["other"] * 5 + ["with_parents"]
    assert codes.SEX["M"] == codes.SEX["1"] == "male"  # the cohort maps SEX through codes.SEX
    assert set(codes.PLACE_GROUP) == set(codes.PLACE)


def _with_year(t: dict, year: int | None) -> dict:
    for name in ("header", "episodes"):
        t[name][YEAR_COL] = pd.array([year] * len(t[name]), dtype="Int64")
    return t


@pytest.mark.parametrize(
    ("year", "sex", "place", "rules"),
    [
        (2024, "1", "Z1", set()),
        (2024, "M", "Z1", {"101"}),
        (2025, "M", "K3", set()),
        (2025, "1", "Z11", {"101", "146"}),
        (2026, "F", "Z12", set()),
        (2026, "F", "H5", {"146"}),
        (None, "1", "Z11", set()),  # unknown year: any year's codes
    ],
)
def test_codes_checked_by_each_rows_year(year, sex, place, rules):
    t = _with_year(
        tables(
            [child("A", "2010-01-01", sex=sex)],
            [ep("A", "2016-01-01", "S", place=place)],
        ),
        year,
    )
    v = validate_tables(t, mode="lenient")
    assert set(v.problems.rule) == rules
    if year is None:
        assert "collection year unknown" in v.notes[0]


def test_lowercase_and_spaces_are_repaired_and_counted():
    t = tables(
        [child("A", "2010-01-01", ethnic="wbri")],
        [ep("A", "2016-01-01", "s", "2016-06-01", " e4a", ls="c2 ", place="u4")],
    )
    v = validate_tables(t, mode="strict")
    assert v.problems.empty
    r = v.repairs.set_index(["table", "column"])["n_values"]
    assert r.to_dict() == {
        ("header", "ETHNIC"): 1,
        ("episodes", "RNE"): 1,
        ("episodes", "LS"): 1,
        ("episodes", "PLACE"): 1,
        ("episodes", "REC"): 1,
    }
    assert v.tables["episodes"].REC.tolist() == ["E4A"]
    assert len(v.tables["episodes"]) == 1  # repaired, never dropped
