"""The data end: 31 March of the latest collection year read, never a date in the data."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from cohort_cases.build import child, ep, tables
from reunistat.cohort import CohortConfig, build_cohort, check_flow, infer_data_end
from reunistat.cohort.output import provenance
from reunistat.errors import ConfigError, DataValidationError
from reunistat.tables import ValidationError
from reunistat.tables.keys import YEAR_COL

T = pd.Timestamp


def with_years(t: dict, years: list[int]) -> dict:
    """Give each episode row its collection year (as the reader does)."""
    e = t["episodes"].copy()
    e[YEAR_COL] = pd.array(years, dtype="Int64")
    return {**t, "episodes": e}


def two_children(dec_b: str = "2017-02-01") -> dict:
    t = tables(
        [child("A", "2005-01-01"), child("B", "2006-01-01")],
        [
            ep("A", "2016-05-01", "S", "2016-09-01", "E4A"),
            ep("B", "2016-06-01", "S", dec_b, "E4B"),
        ],
    )
    return with_years(t, [2017, 2018])


def test_data_end_is_31_march_of_the_latest_collection_year():
    c = build_cohort(two_children())
    assert c.data_end == T("2018-03-31")
    assert c.extent is not None and c.extent.data_end_rule == "collection_year"
    assert c.extent.extract_start == T("2016-04-01")
    # the latest date in the data (2017-02-01) does not set it
    assert (c.spells.censor_date == T("2018-03-31")).all()
    notes = c.flow.loc[c.flow.stage == "note", "step"].tolist()
    assert "data end 2018-03-31: 31 March of the latest collection year read (2017-18)" in notes
    check_flow(c.flow)
    assert infer_data_end(two_children()["episodes"]) == T("2018-03-31")


def test_a_future_dec_is_a_named_problem_not_a_new_data_end():
    t = two_children(dec_b="2031-02-01")  # a typo: 2031 for 2017
    with pytest.raises(ValidationError) as err:
        build_cohort(t)
    msg = str(err.value)
    # named: after_data_end, or DfE 385 (DEC after the end of its collection year) where
    # validation knows the collection years and finds it first
    assert re.search(r"rule (after_data_end|385)", msg), msg
    assert "CHILD B" in msg and "2031-02-01" in msg
    c = build_cohort(t, CohortConfig(validation="lenient"))
    assert c.data_end == T("2018-03-31")
    assert c.spells.CHILD.tolist() == ["A"]
    assert c.spells.censor_date.tolist() == [T("2018-03-31")]
    ex = c.validated.excluded_children
    assert ex[["CHILD", "n_episodes", "n_header_rows"]].values.tolist() == [["B", 1, 1]]
    rule = ex.rule.iloc[0]
    assert rule in ("after_data_end", "385")
    row = c.flow.set_index("reason").loc[f"validation:{rule}"]
    assert (row.children, row.episodes) == (1, 1)
    check_flow(c.flow)


def test_a_date_after_a_configured_data_end_is_after_data_end():
    t = two_children()
    t = {**t, "episodes": t["episodes"].drop(columns=YEAR_COL)}
    with pytest.raises(ValidationError, match="rule after_data_end"):
        build_cohort(t, CohortConfig(data_end="2016-12-31"))
    c = build_cohort(t, CohortConfig(data_end="2016-12-31", validation="lenient"))
    assert c.spells.CHILD.tolist() == ["A"]
    ex = c.validated.excluded_children
    assert ex[["CHILD", "rule"]].values.tolist() == [["B", "after_data_end"]]
    assert c.flow.set_index("reason").loc["validation:after_data_end", "children"] == 1
    check_flow(c.flow)


def test_data_end_does_not_depend_on_which_children_are_excluded():
    t = two_children()
    e = t["episodes"].copy()
    e.loc[e.CHILD == "B", "LS"] = "ZZ"  # B, the only child of the 2018 return, is excluded
    c = build_cohort({**t, "episodes": e}, CohortConfig(validation="lenient"))
    assert c.spells.CHILD.tolist() == ["A"]
    assert c.data_end == T("2018-03-31")
    # without collection years: the latest date read, still before any exclusion
    no_years = {**t, "episodes": e.drop(columns=YEAR_COL)}
    c2 = build_cohort(no_years, CohortConfig(validation="lenient"))
    assert c2.data_end == T("2017-02-01")
    assert c2.extent is not None and c2.extent.data_end_rule == "latest_date"


def test_without_collection_years_the_fallback_is_reported():
    t = two_children()
    t = {**t, "episodes": t["episodes"].drop(columns=YEAR_COL)}
    c = build_cohort(t)
    assert c.data_end == T("2017-02-01")
    notes = " ".join(c.flow.loc[c.flow.stage == "note", "step"])
    assert "inferred from dates, the latest DECOM or DEC in the episodes read" in notes
    assert "extract start unknown" in notes
    prov = provenance(c)
    assert prov["extent"]["data_end_rule"] == "latest_date"
    assert prov["extent"]["extract_start"] is None


def test_configured_data_end_wins():
    c = build_cohort(two_children(), CohortConfig(data_end="2017-12-31"))
    assert c.data_end == T("2017-12-31")
    assert c.extent is not None and c.extent.data_end_rule == "config"
    assert provenance(c)["extent"]["how"][0].endswith("given in the configuration (data_end)")


def test_lenient_mode_with_no_spells_left_is_an_error():
    t = two_children()
    e = t["episodes"].copy()
    e["LS"] = "ZZ"  # every child fails validation
    with pytest.raises(DataValidationError) as err:
        build_cohort({**t, "episodes": e}, CohortConfig(validation="lenient"))
    msg = str(err.value)
    assert "0 spells" in msg and "2 children (header rows) read" in msg
    assert re.search(r"2 by rule \S+", msg), msg  # the code-list rule, by its name


def test_lenient_mode_with_children_but_no_return_home_is_an_error():
    t = tables(
        [child("A", "2005-01-01")],
        [ep("A", "2016-05-01", "S", "2016-09-01", "E8")],
    )
    with pytest.raises(DataValidationError, match="1 periods of care, none ending in a return"):
        build_cohort(t, CohortConfig(data_end="2018-03-31", validation="lenient"))
    # strict mode on valid data with no return home is an empty spells table
    assert build_cohort(t, CohortConfig(data_end="2018-03-31")).spells.empty


def test_new_config_keys_from_toml(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[cohort]\nextract_start = 2016-04-01\nuasc = "exclude"\n')
    cfg = CohortConfig.from_toml(p)
    assert (str(cfg.extract_start), cfg.uasc) == ("2016-04-01", "exclude")
    with pytest.raises(ConfigError, match="uasc must be 'keep' or 'exclude'"):
        CohortConfig(uasc="drop")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="extract_start must be a date"):
        CohortConfig(extract_start="spring")  # type: ignore[arg-type]


def test_validated_tables_give_the_extent_of_what_was_kept():
    from reunistat.tables import validate_tables

    v = validate_tables(two_children())
    c = build_cohort(v)
    assert c.data_end == T("2018-03-31") and len(c.spells) == 2
    check_flow(c.flow)
