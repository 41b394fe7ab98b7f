"""Every covariate of the spells contract, checked on one hand-made child."""

from __future__ import annotations

import pandas as pd
import pytest

from cohort_cases.build import LA, child, ep, tables
from reunistat import codes
from reunistat.cohort import CohortConfig, derive_cohort
from reunistat.cohort.covariates import age_bands

T = pd.Timestamp


def linked_tables(pilot_start: str | None) -> dict:
    t = tables(
        [
            child("A", "2008-03-15", sex="2", ethnic="MWBC", upn="U1"),
            child("B", "2015-06-01", ethnic="APKN"),
        ],
        [
            ep("A", "2014-01-01", "S", "2014-02-01", "E4A"),
            ep("A", "2016-01-01", "S", "2016-05-01", "X1", ls="C1"),
            ep("A", "2016-05-01", "P", "2016-09-01", "X1", ls="C1"),
            ep("A", "2016-09-01", "U", "2016-10-01", "X1", ls="C2", place="K1"),
            ep(
                "A",
                "2016-10-01",
                "L",
                "2017-04-03",
                "E4B",
                ls="C2",
                place="K1",
                cin="N5",
                home_post="XY9",
            ),
            ep("B", "2015-07-01", "S", "2015-09-01", "E13", ls="V2", cin="N2", home_post=None),
        ],
    )
    t["cin"] = pd.DataFrame(
        {
            "LA": [LA, LA],
            "LAchildID": ["A", "A"],
            "UPN": ["U1", "U1"],
            "DISABILITY": ["NONE", "NONE"],
        }
    )
    t["npd"] = pd.DataFrame({"UPN": ["U1"], "FSM_EVER": [1], "IDACI_DECILE": [2], "SEN": ["N"]})
    t["postcodes"] = pd.DataFrame({"HOME_POST": ["XY9", "AB1"], "IDACI_DECILE": [3, 7]})
    t["la"] = pd.DataFrame(
        {
            "LA": [LA],
            "LA_NAME": ["X"],
            "REGION": ["R"],
            "PILOT": [1],
            "PILOT_START": [pd.to_datetime(pilot_start)],
        }
    )
    return t


def test_every_covariate():
    sp = derive_cohort(linked_tables("2017-01-01"), CohortConfig(data_end="2020-03-31"))
    a = sp[sp.CHILD == "A"].iloc[-1]
    assert a.spell_number == 2
    assert a.age_at_return_years == pytest.approx((T("2017-04-03") - T("2008-03-15")).days / 365.25)
    assert a.age_band == "5-9"
    assert (a.sex, a.ethnic_code, a.ethnic_group) == ("female", "MWBC", "Mixed")
    assert a.disability == 0
    assert (a.section20, a.legal_status_group) == (0, "care_order")
    assert a.prior_periods == 1
    assert a.placement_moves == 2  # S, P, U (L is legal only)
    assert a.last_placement_type == "secure"
    assert a.period_length_days == (T("2017-04-03") - T("2016-01-01")).days
    assert a.category_of_need == "N5"
    assert (a.return_type, a.return_year) == ("unplanned", 2017)
    assert (a.idaci_decile, a.fsm, a.pilot) == (3, 1, 1)
    first = sp[sp.CHILD == "A"].iloc[0]
    assert (first.idaci_decile, first.pilot, first.return_year) == (7, 0, 2013)
    b = sp[sp.CHILD == "B"].iloc[0]
    assert b.disability == 1  # CIN category N2
    assert (b.section20, b.legal_status_group, b.return_type) == (1, "section20", "e13")
    assert b.age_band == "under 1"
    assert pd.isna(b.idaci_decile) and pd.isna(b.fsm)


def test_census_disability_and_no_pilot_start():
    t = linked_tables(None)
    t["cin"].loc[1, "DISABILITY"] = "AUT"
    sp = derive_cohort(t, CohortConfig(data_end="2020-03-31"))
    assert sp[sp.CHILD == "A"].disability.tolist() == [1, 1]
    assert sp.pilot.tolist() == [0, 0, 0]


def test_age_bands_match_codes_age_band():
    ages = pd.Series([0.0, 0.99, 1.0, 4.999, 5, 9.99, 10, 15.99, 16, 17.9])
    assert age_bands(ages).tolist() == [codes.age_band(a) for a in ages]
