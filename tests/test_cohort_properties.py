"""Property tests: random valid care careers and the invariants of the spells table."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort_cases.build import child, ep, tables
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.dates import eighteenth_birthday
from reunistat.errors import DataValidationError

END = pd.Timestamp("2022-03-31")
EXITS = ["E4A", "E4B", "E13", "E8", "E11", "E45", "E5", "E2"]


@st.composite
def career(draw: st.DrawFn, cid: str) -> tuple[dict, list[dict], int]:
    """One child's header row, episodes, and the number of returns home made."""
    dob = pd.Timestamp("2000-01-01") + pd.Timedelta(days=draw(st.integers(0, 4000)))
    b18 = eighteenth_birthday(pd.Series([dob])).iloc[0]
    day = dob + pd.Timedelta(days=draw(st.integers(0, 3000)))
    episodes: list[dict] = []
    returns = 0
    for _ in range(draw(st.integers(1, 5))):
        if day >= b18 or day > END:
            break
        short = draw(st.booleans()) and draw(st.booleans())
        n_eps = 1 if short else draw(st.integers(1, 4))
        rne = "S"
        end_rec = draw(st.sampled_from(EXITS))
        closed = True
        for k in range(n_eps):
            length = draw(st.integers(1, 400))
            dec = min(day + pd.Timedelta(days=length), b18)
            last = k == n_eps - 1
            rec = end_rec if last else "X1"
            if dec > END or (dec <= day and not last):
                episodes.append(ep(cid, str(day.date()), rne, ls="V3" if short else "C2"))
                closed = False
                break
            episodes.append(
                ep(cid, str(day.date()), rne, str(dec.date()), rec, ls="V3" if short else "C2")
            )
            day = dec
            rne = draw(st.sampled_from("LPTBU"))
        if not closed:
            break
        if not short and end_rec in ("E4A", "E4B", "E13"):
            returns += 1
        if end_rec not in ("E4A", "E4B", "E13"):
            break
        day = day + pd.Timedelta(days=draw(st.integers(1, 900)))
    return child(cid, str(dob.date())), episodes, returns


@st.composite
def cohort_tables(draw: st.DrawFn) -> tuple[dict, dict[str, int]]:
    n = draw(st.integers(1, 6))
    header, episodes, expected = [], [], {}
    for i in range(n):
        h, e, r = draw(career(f"C{i}"))
        if not e:
            continue
        header.append(h)
        episodes += e
        expected[f"C{i}"] = r
    if not episodes:
        header.append(child("Z", "2010-01-01"))
        episodes.append(ep("Z", "2015-01-01", "S"))
        expected["Z"] = 0
    return tables(header, episodes), expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort_tables())
def test_invariants(case: tuple[dict, dict[str, int]]):
    t, expected = case
    c = build_cohort(t, CohortConfig(data_end=END.date()))
    sp = c.spells
    assert (sp.days_followed >= 0).all()
    assert (sp.censor_date <= END).all()
    assert (sp.censor_date == sp.return_date + pd.to_timedelta(sp.days_followed, unit="D")).all()
    ev = sp[sp.reentered == 1]
    assert (ev.reentry_date == ev.censor_date).all()
    assert (ev.event_type == 1).all() and (ev.censor_reason == "reentry").all()
    assert sp.loc[sp.reentered == 0, "reentry_date"].isna().all()
    dob = sp.CHILD.map(t["header"].set_index("CHILD").DOB)
    b18 = eighteenth_birthday(dob)
    assert (sp.censor_date <= b18.clip(upper=END).combine(sp.return_date, max)).all()
    aged = sp.censor_reason == "age18"
    assert (sp.censor_date[aged] == b18[aged].combine(sp.return_date[aged], max)).all()
    counts = sp.groupby("CHILD").size().reindex(list(expected), fill_value=0)
    assert counts.to_dict() == expected
    assert (
        sp.groupby("CHILD").spell_number.apply(lambda s: list(s) == list(range(1, len(s) + 1)))
    ).all()
    check_flow(c.flow)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort_tables(), st.data())
def test_lenient_exclusions_lose_nothing_else(
    case: tuple[dict, dict[str, int]], data: st.DataObject
):
    t, _ = case
    cfg = CohortConfig(data_end=END.date(), validation="lenient")
    try:
        clean = build_cohort(t, cfg).spells
    except DataValidationError as err:  # lenient mode with nothing to analyse is an error
        assert "0 spells" in str(err)
        clean = None
    eps = t["episodes"].copy()
    rows = data.draw(st.lists(st.integers(0, len(eps) - 1), max_size=3, unique=True))
    corrupt = data.draw(st.sampled_from(["code", "dates", "duplicate"]))
    if corrupt == "code":
        eps.loc[rows, "LS"] = "ZZ"
    elif corrupt == "dates":
        eps.loc[rows, "DEC"] = eps.loc[rows, "DECOM"] - pd.Timedelta(days=1)
        eps.loc[rows, "REC"] = "E8"
    else:
        eps = pd.concat([eps, eps.iloc[rows]], ignore_index=True)
    hit = set() if corrupt == "duplicate" else set(t["episodes"].CHILD.iloc[rows])
    if clean is None or clean.CHILD.isin(hit).all():
        with pytest.raises(DataValidationError, match="0 spells"):
            build_cohort({**t, "episodes": eps}, cfg)
        return
    c = build_cohort({**t, "episodes": eps}, cfg)
    check_flow(c.flow)
    assert set(c.validated.excluded_children.CHILD) == hit
    want = clean[~clean.CHILD.isin(hit)].reset_index(drop=True)
    pd.testing.assert_frame_equal(c.spells, want)
