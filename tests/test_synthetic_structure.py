"""The generator's tables obey the SSDA903 format and DfE structural rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat import codes
from reunistat.dates import eighteenth_birthday
from reunistat.synthetic import default_config, generate

DATA_END = pd.Timestamp("2024-03-31")


@pytest.fixture(scope="module")
def data():
    return generate(default_config(), seed=101, scale=0.02)


@pytest.fixture(scope="module")
def ep(data):
    return data.tables["episodes"]


def test_columns_are_exactly_the_903_columns(data):
    assert list(data.tables["header"].columns) == ["LA", *codes.HEADER_COLUMNS]
    assert list(data.tables["episodes"].columns) == ["LA", *codes.EPISODE_COLUMNS]


@pytest.mark.parametrize(
    ("column", "allowed"),
    [
        ("RNE", codes.RNE),
        ("LS", codes.LS),
        ("CIN", codes.CIN),
        ("PLACE", codes.PLACE),
        ("PLACE_PROVIDER", codes.PLACE_PROVIDER),
        ("REC", codes.REC),
        ("REASON_PLACE_CHANGE", codes.REASON_PLACE_CHANGE),
    ],
)
def test_episode_codes_are_in_the_lists(ep, column, allowed):
    values = set(ep[column].dropna().unique())
    assert values, f"{column} never filled"
    assert values <= set(allowed), values - set(allowed)


def test_header_codes(data):
    h = data.tables["header"]
    assert set(h["SEX"]) <= set(codes.SEX)
    assert set(h["ETHNIC"]) <= set(codes.ETHNIC)
    assert h["CHILD"].is_unique
    assert h["UPN"].dropna().is_unique
    assert set(data.tables["cin"]["DISABILITY"]) <= set(codes.DISABILITY)


def _pairs(ep):
    same = ep["CHILD"].to_numpy()[1:] == ep["CHILD"].to_numpy()[:-1]
    prev = ep.iloc[:-1][same].reset_index(drop=True)
    nxt = ep.iloc[1:][same].reset_index(drop=True)
    return prev, nxt


def test_continuation_rules_431_433(ep):
    prev, nxt = _pairs(ep)
    x1 = prev["REC"] == "X1"
    # an X1 episode is followed the same day by a continuation episode
    assert (nxt.loc[x1, "DECOM"] == prev.loc[x1, "DEC"]).all()
    assert nxt.loc[x1, "RNE"].isin(list(codes.RNE_CONTINUATION)).all()
    # an E-coded end is followed by RNE S, not on the same day
    e = prev["REC"].isin(list(codes.REC_END))
    assert (nxt.loc[e, "RNE"] == "S").all()
    assert (nxt.loc[e, "DECOM"] > prev.loc[e, "DEC"]).all()
    # every child's first episode starts a period
    first = ep.groupby("CHILD", sort=False).head(1)
    assert (first["RNE"] == "S").all()


def test_no_overlaps_and_open_only_last(ep):
    prev, nxt = _pairs(ep)
    assert prev["DEC"].notna().all(), "only a child's last episode may be open"
    assert (nxt["DECOM"] >= prev["DEC"]).all()
    assert (ep["DEC"].isna() | (ep["DEC"] >= ep["DECOM"])).all()
    assert (ep["DEC"].isna() == ep["REC"].isna()).all()


def test_dates_within_the_data_and_childhood(data, ep):
    assert ep["DECOM"].max() <= DATA_END
    assert ep["DEC"].max() <= DATA_END
    assert ep["DECOM"].min() >= pd.Timestamp("2006-04-01")
    dob = ep["CHILD"].map(data.tables["header"].set_index("CHILD")["DOB"])
    assert (dob < ep["DECOM"]).all()
    b18 = eighteenth_birthday(dob)
    assert (ep["DECOM"] < b18).all(), "nobody enters care at or after 18"
    assert (ep["DEC"].isna() | (ep["DEC"] <= b18)).all()


def test_placed_with_parents_is_never_section20(ep):
    assert not ((ep["PLACE"] == "P1") & (ep["LS"] == "V2")).any()
    assert (ep["PLACE"] == "P1").any()


def test_reason_place_change_only_before_a_move(ep):
    prev, nxt = _pairs(ep)
    has_reason = prev["REASON_PLACE_CHANGE"].notna()
    assert nxt.loc[has_reason, "RNE"].isin(list(codes.RNE_PLACEMENT_CHANGE)).all()
    assert (prev.loc[has_reason, "DEC"] >= pd.Timestamp("2016-04-01")).all()


def test_linkage_between_tables(data):
    t = data.tables
    children = set(t["header"]["CHILD"])
    assert set(t["episodes"]["CHILD"]) == children
    assert set(t["cin"]["LAchildID"]) == children
    assert set(t["npd"]["UPN"]) == set(t["header"]["UPN"].dropna())
    assert set(t["episodes"]["HOME_POST"]) <= set(t["postcodes"]["HOME_POST"])
    assert set(t["episodes"]["LA"]) <= set(t["la"]["LA"])
    by_child = t["header"].set_index("CHILD")["LA"]
    assert (t["episodes"]["CHILD"].map(by_child) == t["episodes"]["LA"]).all()


def test_short_breaks_present_and_separate(ep):
    sb = ep["LS"].isin(list(codes.SHORT_BREAK_LS))
    assert sb.any()
    # a short-break child has only short breaks
    sb_children = set(ep.loc[sb, "CHILD"])
    assert not ep.loc[~sb, "CHILD"].isin(sb_children).any()


def test_truth_record_matches_the_episodes(data, ep):
    r = data.truth_returns
    closed = ep[ep["REC"].isin(list(codes.REC_RETURN_HOME)) & ~ep["LS"].isin(["V3", "V4"])]
    assert len(r) == len(closed)
    returned = set(zip(closed["CHILD"], closed["DEC"], strict=True))
    assert returned == set(zip(r["CHILD"], r["return_date"], strict=True))
    starts = set(
        zip(ep.loc[ep["RNE"] == "S", "CHILD"], ep.loc[ep["RNE"] == "S", "DECOM"], strict=True)
    )
    re = r[r["reentered"] == 1]
    assert set(zip(re["CHILD"], re["reentry_date"], strict=True)) <= starts
    assert (r["days_followed"] >= 0).all()
    assert (
        (r.loc[r["reentered"] == 1, "reentry_date"] - r.loc[r["reentered"] == 1, "return_date"])
        .dt.days.eq(r.loc[r["reentered"] == 1, "days_followed"])
        .all()
    )
    assert set(r["censor_reason"]) == {"reentry", "data_end", "age18"}
    # spell numbers run 1, 2, ... within each child
    assert (
        r.groupby("CHILD")["spell_number"].transform(lambda s: s.rank(method="first"))
        == r["spell_number"]
    ).all()


def test_truth_json_records_parameters(data):
    t = data.truth
    assert t["seed"] == 101
    assert len(t["config_sha256"]) == 64
    assert t["true_log_ratios"]["section20"] == pytest.approx(np.log(1.30))
    assert t["realised"]["returns_home"] == len(data.truth_returns)
