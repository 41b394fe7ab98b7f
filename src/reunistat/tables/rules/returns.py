"""Rules between consecutive annual returns (DfE 502, 503A-J, 202, 203, 204, 208).

They compare the rows of one return with those of the return before it, so
they need every return's rows before stacking: a frame per table with the
rows of all returns and a column ordering them (the collection year,
:data:`reunistat.tables.keys.YEAR_COL`). DfE checks a return against last
year's only; so does reunistat (years ``y - 1`` and ``y``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.tables.keys import UID
from reunistat.tables.rules import frame


def _pairs(df: pd.DataFrame, order: str, cols: list[str]) -> pd.DataFrame:
    """Rows of return ``y`` joined to the same child's rows of return ``y - 1``."""
    now = df[[UID, order, *cols]].reset_index(names="_row")
    last = df[[UID, order, *cols]].assign(**{order: df[order] + 1})
    return now.merge(last, on=[UID, order], how="inner", suffixes=("", "_last"))


def _differs(now: pd.Series, last: pd.Series) -> np.ndarray:
    """Where two columns differ, blanks equal to blanks (as their text would compare)."""
    same = now.eq(last) | (now.isna() & last.isna())
    return ~same.to_numpy(dtype=bool)


def check_header_changes(header: pd.DataFrame, order: str) -> pd.DataFrame:
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


_UN_LATER = frozenset({"UN2", "UN3", "UN4", "UN5"})
_UN = _UN_LATER | {"UN1"}


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


def check_continuity(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
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


#: DfE 503A-F: the field of the first episode this year against last year's open one.
FIELDS_503 = {
    "503A": "RNE",
    "503B": "LS",
    "503C": "CIN",
    "503D": "PLACE",
    "503E": "PLACE_PROVIDER",
    "503F": "URN",
    "503H": "PL_LA",
    "503J": "PL_LOCATION",
}
#: DfE 503G: the placement distance (miles), compared within DfE's 0.2.
DISTANCE_503G = "PL_DISTANCE"
#: Columns DfE derives from postcodes with the ONS postcode directory (503G, H, J):
#: checked only when an extract carries them (national extracts do; an LA's return does not).
DERIVED_503 = (DISTANCE_503G, "PL_LA", "PL_LOCATION")
#: Placement changes DfE 503D accepts: the code of the earlier return was retired.
_RECODED_PLACE = (
    (2025, frozenset({"H5"}), frozenset({"K3"})),
    (2026, frozenset({"H5"}), frozenset({"K3"})),
    (2026, frozenset({"Z1"}), frozenset({"Z11", "Z12", "Z13", "Z14"})),
)


def check_first_matches_open(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
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
