"""The rules between returns (DfE 502, 503A-J, 202-204, 208) on integer keys: as before.

The reference below is the earlier :mod:`reunistat.tables.rules.returns`,
which paired each return with the one before by pandas merges on the child
key; random returns (children missing a year, several open episodes, blank
and recoded values, unknown years) must give the same problems, in the same
order, with the same details.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat import codes
from reunistat.tables.keys import UID, YEAR_COL
from reunistat.tables.rules import frame, returns
from reunistat.tables.rules.returns import (
    _RECODED_PLACE,
    _UN,
    _UN_LATER,
    DISTANCE_503G,
    FIELDS_503,
)

# ---------------------------------------------------------------------------
# the reference (reunistat before this change)


def _pairs(df: pd.DataFrame, order: str, cols: list[str]) -> pd.DataFrame:
    """Rows of return ``y`` joined to the same child's rows of return ``y - 1``."""
    now = df[[UID, order, *cols]].reset_index(names="_row")
    last = df[[UID, order, *cols]].assign(**{order: df[order] + 1})
    return now.merge(last, on=[UID, order], how="inner", suffixes=("", "_last"))


def _differs(now: pd.Series, last: pd.Series) -> np.ndarray:
    """Where two columns differ, blanks equal to blanks (as their text would compare)."""
    same = now.eq(last) | (now.isna() & last.isna())
    return ~same.to_numpy(dtype=bool)


def reference_check_header_changes(header: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 202-204: SEX, DOB or ETHNIC differ from last year's return (named in this year's).

    SEX is compared by group, so 1 and M (the codes before and after 2024-25)
    agree: DfE's 202 compares the codes and would flag every child across the
    change.
    """
    h = header.dropna(subset=[order])
    if h.empty:
        return frame.empty()
    h = h.assign(**{order: h[order].astype(np.int64)}).drop_duplicates([UID, order], keep="last")
    h = h.reset_index(drop=True)
    m = _pairs(h, order, ["SEX", "DOB", "ETHNIC", "UPN"])
    sex = m["SEX"].map(codes.SEX_GROUP).fillna(m["SEX"])
    sex_last = m["SEX_last"].map(codes.SEX_GROUP).fillna(m["SEX_last"])
    checks = {
        "202": _differs(sex, sex_last),
        "203": _differs(m["DOB"], m["DOB_last"]),
        "204": _differs(m["ETHNIC"], m["ETHNIC_last"]),
        "208": _upn_changed(m["UPN"], m["UPN_last"]),
    }
    out = []
    for rule, mask in checks.items():
        if mask.any():
            col = {"202": "SEX", "203": "DOB", "204": "ETHNIC", "208": "UPN"}[rule]
            p = m.loc[mask].copy()
            p["CHILD"] = h["CHILD"].to_numpy()[p["_row"].to_numpy()]
            if "LA" in h.columns:
                p["LA"] = h["LA"].to_numpy()[p["_row"].to_numpy()]
            last = p[f"{col}_last"].astype(str)
            detail = "last year's return: " + last
            pr = frame.problems(p, np.ones(len(p), bool), rule)
            pr["detail"] = detail.to_numpy()
            out.append(pr)
    return frame.concat(out)


def _upn_changed(now: pd.Series, last: pd.Series) -> np.ndarray:
    """DfE 208: the UPN changed, other than unknown (blank, UN1-5) to known, or UN1 to UN2-5."""
    out = np.zeros(len(now), dtype=bool)
    cand = np.flatnonzero(_differs(now, last))  # equal values never changed: skip them
    now, last = now.iloc[cand], last.iloc[cand]
    null_now, null_last = now.isna(), last.isna()
    up_now = now.astype(str).str.upper().str.strip()
    up_last = last.astype(str).str.upper().str.strip()
    different = (up_now != up_last) & ~(null_now & null_last)
    unknown_later = ((up_last == "UN1") | null_last) & up_now.isin(_UN_LATER)
    to_known = (up_last.isin(_UN) | null_last) & ~(up_now.isin(_UN) | null_now)
    out[cand] = (different & ~unknown_later & ~to_known).to_numpy(dtype=bool)
    return out


def _slim(episodes: pd.DataFrame, order: str, cols: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows with a return year, only ``cols`` (fast to sort), and their positions."""
    keep = np.flatnonzero(episodes[order].notna().to_numpy())
    slim = pd.DataFrame(
        {c: episodes[c].to_numpy()[keep] for c in cols if c != order}
        | {order: episodes[order].to_numpy(dtype="float64", na_value=np.nan)[keep].astype(np.int64)}
    )
    return slim, keep


def reference_check_continuity(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 502: a child's first episode in return ``y`` starts when last year's open one did.

    For each child in returns ``y - 1`` and ``y``, every episode open (blank
    DEC) in return ``y - 1`` must have the DECOM of the child's first episode
    in return ``y``; the first episode is named.
    """
    e, keep = _slim(episodes, order, [UID, order, "DECOM", "DEC"])
    if e.empty:
        return frame.empty()
    first = e.sort_values([UID, order, "DECOM"], kind="stable").drop_duplicates([UID, order])
    open_last = e.loc[e["DEC"].isna(), [UID, order, "DECOM"]]
    open_last = open_last.assign(**{order: open_last[order] + 1})
    m = first.reset_index(names="_row").merge(
        open_last, on=[UID, order], how="inner", suffixes=("", "_open")
    )
    bad = (m["DECOM"] != m["DECOM_open"]).to_numpy()
    if not bad.any():
        return frame.empty()
    rows = np.unique(m.loc[bad, "_row"].to_numpy())
    p = episodes.iloc[keep[rows]]
    opened = m.loc[bad].groupby("_row")["DECOM_open"].first()
    pr = frame.problems(p, np.ones(len(p), bool), "502")
    pr["detail"] = [
        f"last year's open episode started {str(d)[:10]}" for d in opened.loc[rows].to_numpy()
    ]
    return pr


def reference_check_first_matches_open(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 503A-J: this year's first episode repeats last year's last episode if it was open.

    Last year's last episode is the child's latest DECOM in return ``y - 1``;
    when its DEC is blank, the first episode of return ``y`` must have the same
    RNE, LS, CIN, PLACE, PLACE_PROVIDER and URN (503A-F; blanks equal). PLACE
    may move from a code the new year retired to its successor (H5 to K3, Z1
    to Z11-Z14), as DfE allows. 503H (PL_LA), 503J (PL_LOCATION) and 503G
    (PL_DISTANCE, differing by 0.2 miles or more, or blank last year and filled
    now) are checked when the episodes carry those columns: DfE derives them
    from the postcodes with the ONS postcode directory, which reunistat does
    not hold (:data:`DERIVED_503`).
    """
    cols = [c for c in FIELDS_503.values() if c in episodes.columns]
    distance = [DISTANCE_503G] if DISTANCE_503G in episodes.columns else []
    e, keep = _slim(episodes, order, [UID, order, "DECOM", "DEC", *cols, *distance])
    if e.empty:
        return frame.empty()
    by = e.sort_values([UID, order, "DECOM"], kind="stable")
    first = by.drop_duplicates([UID, order], keep="first")
    last = by.drop_duplicates([UID, order], keep="last")
    last = last.assign(**{order: last[order] + 1})
    m = first.reset_index(names="_row").merge(
        last[[UID, order, "DEC", *cols, *distance]],
        on=[UID, order],
        how="inner",
        suffixes=("", "_last"),
    )
    m = m[m["DEC_last"].isna()]
    out = []
    if distance:
        now = pd.to_numeric(m[DISTANCE_503G], errors="coerce")
        was = pd.to_numeric(m[f"{DISTANCE_503G}_last"], errors="coerce")
        bad = (((now - was).abs() >= 0.2) | (was.isna() & now.notna())).to_numpy()
        if bad.any():
            p = episodes.iloc[keep[m.loc[bad, "_row"].to_numpy()]]
            pr = frame.problems(p, np.ones(len(p), bool), "503G")
            pr["detail"] = ("last year's open episode: " + was[bad].astype(str)).to_numpy()
            out.append(pr)
    for rule, col in FIELDS_503.items():
        if col not in cols:
            continue
        bad = _differs(m[col], m[f"{col}_last"])
        if col == "PLACE":
            for year, old, new in _RECODED_PLACE:
                bad &= ~(
                    (m[order] == year) & m[f"{col}_last"].isin(old) & m[col].isin(new)
                ).to_numpy()
        if bad.any():
            p = episodes.iloc[keep[m.loc[bad, "_row"].to_numpy()]]
            pr = frame.problems(p, np.ones(len(p), bool), rule)
            pr["detail"] = (
                "last year's open episode: " + m.loc[bad, f"{col}_last"].astype(str)
            ).to_numpy()
            out.append(pr)
    return frame.concat(out)


# ---------------------------------------------------------------------------
# random returns

episode = st.tuples(
    st.sampled_from(["a", "b", "c"]),  # child
    st.sampled_from([2024, 2025, 2026, None]),  # return (None: year unknown)
    st.integers(0, 5),  # DECOM, in steps of 45 days
    st.sampled_from([None, 30]),  # DEC: open, or 30 days on
    st.sampled_from(["S", "P", None]),  # RNE
    st.sampled_from(["Z1", "Z11", "H5", "K3", "U1"]),  # PLACE (recoded in 2025-26)
    st.sampled_from([None, 1.0, 1.1, 1.5]),  # PL_DISTANCE
)
head = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([2024, 2025, 2026, None]),
    st.sampled_from(["1", "M", "2", None]),  # SEX (1 and M: one group)
    st.sampled_from(["2010-01-01", "2010-02-01"]),
    st.sampled_from(["WBRI", "wbri", None]),
    st.sampled_from([None, "UN1", "UN2", "A123", "B456"]),  # UPN (208)
)


def _years(df: pd.DataFrame) -> pd.DataFrame:
    df[YEAR_COL] = pd.array(df[YEAR_COL], dtype="Int64")
    df["CHILD"], df["LA"] = df[UID], "999"
    return df


def _same(check: str, df: pd.DataFrame) -> pd.DataFrame:
    got = getattr(returns, check)(df, YEAR_COL)
    want = globals()[f"reference_{check}"](df, YEAR_COL)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))
    return got


@settings(max_examples=100, deadline=None)
@given(st.lists(episode, max_size=30))
def test_episode_rules_find_what_the_reference_finds(rows):
    e = pd.DataFrame(rows, columns=[UID, YEAR_COL, "DECOM", "DEC", "RNE", "PLACE", DISTANCE_503G])
    e["DECOM"] = pd.Timestamp("2023-05-01") + pd.to_timedelta(e["DECOM"] * 45, unit="D")
    e["DEC"] = e["DECOM"] + pd.to_timedelta(e["DEC"].astype(float), unit="D")
    e["LS"], e["CIN"], e["PLACE_PROVIDER"], e["URN"] = "C2", "N1", "PR1", None
    e = _years(e)
    _same("check_continuity", e)
    _same("check_first_matches_open", e)
    _same("check_first_matches_open", e.drop(columns=DISTANCE_503G))


@settings(max_examples=100, deadline=None)
@given(st.lists(head, max_size=20))
def test_header_rules_find_what_the_reference_finds(rows):
    h = _years(pd.DataFrame(rows, columns=[UID, YEAR_COL, "SEX", "DOB", "ETHNIC", "UPN"]))
    h["DOB"] = pd.to_datetime(h["DOB"])
    _same("check_header_changes", h)


def test_each_rule_between_returns_is_found_with_its_detail():
    e = _years(
        pd.DataFrame(
            {
                UID: ["a", "a", "b", "b", "b"],
                YEAR_COL: [2025, 2026, 2025, 2026, 2026],
                "DECOM": pd.to_datetime(
                    ["2024-06-01", "2024-07-01", "2024-06-01", "2024-06-01", "2025-06-01"]
                ),
                "DEC": pd.to_datetime([None] * 4 + ["2025-07-01"]),
                "RNE": ["S", "S", "S", "P", "P"],
                "LS": "C2",
                "CIN": "N1",
                "PLACE": ["Z1", "Z11", "U1", "U1", "U1"],
                "PLACE_PROVIDER": "PR1",
                "URN": None,
            }
        )
    )
    found = _same("check_continuity", e)
    assert found["CHILD"].tolist() == ["a"]
    assert found["detail"].tolist() == ["last year's open episode started 2024-06-01"]
    found = _same("check_first_matches_open", e)
    assert found["rule"].tolist() == ["503A"]  # Z1 to Z11 in 2025-26 is allowed (503D)
    h = _years(
        pd.DataFrame(
            {
                UID: ["a", "a"],
                YEAR_COL: [2024, 2025],
                "SEX": ["1", "M"],
                "DOB": pd.to_datetime(["2010-01-01", "2010-01-02"]),
                "ETHNIC": ["WBRI", "WBRI"],
                "UPN": ["A123", "B456"],
            }
        )
    )
    found = _same("check_header_changes", h)
    assert found["rule"].tolist() == ["203", "208"]
    assert found["detail"].tolist()[0] == "last year's return: 2010-01-01"
