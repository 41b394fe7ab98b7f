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
from reunistat.tables.stack import positions_of, values_differ


def _child_returns(df: pd.DataFrame, order: str) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the rows with a return year, and one integer per child and return.

    Children are numbered in the order their keys sort (as sorting by
    :data:`~reunistat.tables.keys.UID` would), so sorting by the integer
    sorts by child, then year; a child's return ``y - 1`` is the integer before
    its return ``y``'s.
    """
    year = df[order].to_numpy(dtype="float64", na_value=np.nan)
    keep = np.flatnonzero(~np.isnan(year))
    if not len(keep):
        return keep, np.zeros(0, dtype=np.int64)
    y = year[keep].astype(np.int64)
    child = frame.sorted_codes(df[UID].to_numpy()[keep])
    first, span = int(y.min()), int(y.max() - y.min()) + 2  # y - 1 of the first year: no clash
    return keep, child * span + (y - first)


def _pairs(df: pd.DataFrame, rows: np.ndarray, last: np.ndarray, cols: list[str]) -> pd.DataFrame:
    """``cols`` of ``df`` at positions ``rows`` and, suffixed ``_last``, at positions ``last``."""
    out = {c: df[c].array.take(rows) for c in cols}
    out |= {f"{c}_last": df[c].array.take(last) for c in cols}
    return pd.DataFrame(out, copy=False)


def _differs(now: pd.Series, last: pd.Series) -> np.ndarray:
    """Where two columns differ, blanks equal to blanks (as their text would compare)."""
    return values_differ(now.to_numpy(), last.to_numpy())


def check_header_changes(header: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 202-204: SEX, DOB or ETHNIC differ from last year's return (named in this year's).

    SEX is compared by group, so 1 and M (the codes before and after 2024-25)
    agree: DfE's 202 compares the codes and would flag every child across the
    change. A child's rows of one return: the last listed is compared.
    """
    keep, g = _child_returns(header, order)
    latest = ~pd.Series(g).duplicated(keep="last").to_numpy()
    keep, g = keep[latest], g[latest]
    prev = positions_of(g, g - 1)
    now, last = keep[prev >= 0], keep[prev[prev >= 0]]
    if not len(now):
        return frame.empty()
    cols = ["SEX", "DOB", "ETHNIC", "UPN"]
    m = _pairs(header, now, last, cols)
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
            p["CHILD"] = header["CHILD"].to_numpy()[now[mask]]
            if "LA" in header.columns:
                p["LA"] = header["LA"].to_numpy()[now[mask]]
            last_value = p[f"{col}_last"].astype(str)
            detail = "last year's return: " + last_value
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


def _by_start(episodes: pd.DataFrame, order: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows with a return year, by child, return and DECOM (blank last, ties as listed).

    Returns their positions and their integer child and return (:func:`_child_returns`).
    """
    keep, g = _child_returns(episodes, order)
    start = episodes["DECOM"].to_numpy(dtype="datetime64[ns]")[keep].view(np.int64)
    start = np.where(start == np.iinfo(np.int64).min, np.iinfo(np.int64).max, start)
    by = np.lexsort((start, g))
    return keep[by], g[by]


def _ends(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each run of equal values of sorted ``g`` starts, and where it ends."""
    starts = np.ones(len(g), dtype=bool)
    starts[1:] = g[1:] != g[:-1]
    ends = np.ones(len(g), dtype=bool)
    ends[:-1] = starts[1:]
    return starts, ends


def check_continuity(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 502: a child's first episode in return ``y`` starts when last year's open one did.

    For each child in returns ``y - 1`` and ``y``, every episode open (blank
    DEC) in return ``y - 1`` must have the DECOM of the child's first episode
    in return ``y``; the first episode is named.
    """
    rows, g = _by_start(episodes, order)
    if not len(rows):
        return frame.empty()
    starts, _ = _ends(g)
    first, g_first = rows[starts], g[starts]
    # each open episode, in the order listed, against the child's first of the next return
    keep, g_all = _child_returns(episodes, order)
    is_open = pd.isna(episodes["DEC"].to_numpy()[keep])
    opened, g_open = keep[is_open], g_all[is_open]
    at = positions_of(g_first, g_open + 1)
    opened, at = opened[at >= 0], at[at >= 0]
    decom = episodes["DECOM"].to_numpy(dtype="datetime64[ns]")
    bad = decom[first[at]] != decom[opened]
    if not bad.any():
        return frame.empty()
    # per first episode named, the first open episode (as listed) it does not match
    # (a blank DECOM only when the child has no other)
    started = decom[opened[bad]]
    by = np.argsort(np.isnat(started), kind="stable")
    named, which = np.unique(first[at[bad]][by], return_index=True)
    p = episodes.iloc[named]
    pr = frame.problems(p, np.ones(len(p), bool), "502")
    pr["detail"] = [f"last year's open episode started {str(d)[:10]}" for d in started[by][which]]
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
    rows, g = _by_start(episodes, order)
    if not len(rows):
        return frame.empty()
    starts, ends = _ends(g)
    first, g_first = rows[starts], g[starts]
    last = rows[ends]
    at = positions_of(g[ends], g_first - 1)  # the child's last episode of the return before
    first, last = first[at >= 0], last[at[at >= 0]]
    is_open = pd.isna(episodes["DEC"].to_numpy()[last])
    first, last = first[is_open], last[is_open]
    m = _pairs(episodes, first, last, [*cols, *distance])
    m[order] = episodes[order].to_numpy(dtype="float64", na_value=np.nan)[first].astype(np.int64)
    out = []
    if distance:
        now = pd.to_numeric(m[DISTANCE_503G], errors="coerce")
        was = pd.to_numeric(m[f"{DISTANCE_503G}_last"], errors="coerce")
        bad = (((now - was).abs() >= 0.2) | (was.isna() & now.notna())).to_numpy()
        if bad.any():
            p = episodes.iloc[first[bad]]
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
            p = episodes.iloc[first[bad]]
            pr = frame.problems(p, np.ones(len(p), bool), rule)
            pr["detail"] = (
                "last year's open episode: " + m.loc[bad, f"{col}_last"].astype(str)
            ).to_numpy()
            out.append(pr)
    return frame.concat(out)
