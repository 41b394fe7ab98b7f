"""The rows of every annual return that DfE's rules between returns compare.

The rules between returns (DfE 202-204 and 208 on header, 502 and 503A-J on
episodes; :mod:`reunistat.tables.rules.returns`) compare a child's rows of one
return with those of the return before. :func:`rows_between_returns` keeps, of
every return read, only the rows and columns where they may find a problem
(:attr:`reunistat.tables.Extract.returns`); stacking
(:mod:`reunistat.tables.stack`) then keeps one row per key.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat.tables.keys import CID, YEAR_COL, child_date_order


def taken_values(s: pd.Series, at: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """The values of ``s`` at positions ``at``; a ``category`` column's as objects (blank None)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        words = np.empty(len(s.cat.categories) + 1, dtype=object)  # the last: None (blank)
        words[:-1] = s.cat.categories.to_numpy(dtype=object)
        return words[s.cat.codes.to_numpy()[at]]
    return s.array.take(at)


#: Columns of each return the rules between returns compare (DfE 202-204 and 208 on
#: header, 502 and 503A-J on episodes), besides the child key, LA, CHILD and the year.
BETWEEN_RETURNS: Final = {
    "header": ("SEX", "DOB", "ETHNIC", "UPN"),
    "episodes": (
        "DECOM",
        "DEC",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "URN",
        "PL_DISTANCE",
        "PL_LA",
        "PL_LOCATION",
    ),
}


def positions_of(values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """For each of ``wanted``, the position of an equal value in ``values`` (unique), or -1.

    >>> positions_of(np.array([7, 3, 5]), np.array([5, 4, 7, 9, 1])).tolist()
    [2, -1, 0, -1, -1]
    >>> positions_of(np.array([7.0, 3.0]), np.array([3.0, 4.0])).tolist()
    [1, -1]
    """
    if not len(values):
        return np.full(len(wanted), -1)
    if values.dtype.kind in "iu" and wanted.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        dense = hi - lo <= 4 * (len(values) + len(wanted)) and -(2**62) < lo <= hi < 2**62
        if dense:  # a table by value: no sort
            table = np.full(hi - lo + 1, -1, dtype=np.int64)
            table[values.astype(np.int64) - lo] = np.arange(len(values))
            w = wanted.astype(np.int64) - lo
            out = np.full(len(wanted), -1, dtype=np.int64)
            inside = np.flatnonzero((w >= 0) & (w <= hi - lo))
            out[inside] = table[w[inside]]
            return out
    by = np.argsort(values, kind="stable")
    at = np.minimum(np.searchsorted(values[by], wanted), len(by) - 1)
    return np.where(values[by][at] == wanted, by[at], -1)


def values_differ(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Where two arrays of values differ, blanks equal to blanks (as their text would compare).

    Values are compared as objects (the same object, or equal ones, are equal);
    only the pairs that differ are then checked for blanks.

    >>> a = np.array(["a", None, "b"], dtype=object)
    >>> values_differ(a, np.array(["a", np.nan, "c"], dtype=object)).tolist()
    [False, False, True]
    """
    try:
        same = np.asarray(a == b, dtype=bool)
    except (TypeError, ValueError):  # a value whose == is no bool (pd.NA): as pandas compares
        same = pd.Series(a).eq(pd.Series(b)).to_numpy(dtype=bool)
    rest = np.flatnonzero(~same)
    same[rest] = pd.isna(a[rest]) & pd.isna(b[rest])
    return ~same


def _any_differ(df: pd.DataFrame, cols: list[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the rows at positions ``a`` differ from those at ``b`` in any of ``cols``."""
    out = np.zeros(len(a), dtype=bool)
    for c in cols:
        if isinstance(df[c].dtype, pd.CategoricalDtype):  # codes: equal values, equal codes
            codes = df[c].cat.codes.to_numpy()
            out |= codes[a] != codes[b]
            continue
        values = df[c].to_numpy()
        out |= values_differ(values[a], values[b])
    return out


def _header_groups(df: pd.DataFrame, known: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Header: each child's last row of each return, where it differs from the return before."""
    last = ~pd.Series(g).duplicated(keep="last").to_numpy()
    rows, g = known[last], g[last]
    prev = positions_of(g, g - 1)
    now = np.flatnonzero(prev >= 0)
    cols = [c for c in BETWEEN_RETURNS["header"] if c in df.columns]
    differ = _any_differ(df, cols, rows[now], rows[prev[now]])
    return rows[np.isin(g, np.concatenate([g[now[differ]], g[prev[now[differ]]]]))]


def _episode_groups(df: pd.DataFrame, known: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Episodes: first, last and open ones of each child's return, where 502 or 503 may differ.

    A return of a child is kept with the return before when one of its open
    episodes started on another day than this return's first (502), or its last
    is open and differs from this return's first in a column 503 compares.
    """
    decom = df["DECOM"].to_numpy(dtype="datetime64[ns]")
    start = decom[known].view(np.int64)
    start = np.where(start == np.iinfo(np.int64).min, np.iinfo(np.int64).max, start)
    order = child_date_order(g, start)
    gs = g[order]
    starts = np.ones(len(gs), dtype=bool)
    starts[1:] = gs[1:] != gs[:-1]
    ends = np.ones(len(gs), dtype=bool)
    ends[:-1] = starts[1:]
    is_open = pd.isna(df["DEC"].to_numpy()[known])
    groups, first, last = gs[starts], known[order[starts]], known[order[ends]]
    # 503: last year's last episode open and differing from this year's first
    prev = positions_of(groups, groups - 1)
    now = np.flatnonzero(prev >= 0)
    now = now[pd.isna(df["DEC"].to_numpy()[last[prev[now]]])]
    cols = [c for c in BETWEEN_RETURNS["episodes"] if c not in ("DECOM", "DEC") and c in df]
    now = now[_any_differ(df, cols, first[now], last[prev[now]])]
    # 502: an open episode of last year not starting on this year's first episode's day
    opened = np.flatnonzero(is_open)
    nxt = positions_of(groups, g[opened] + 1)
    opened, nxt = opened[nxt >= 0], nxt[nxt >= 0]
    late = nxt[decom[known[opened]] != decom[first[nxt]]]
    flagged = np.concatenate([groups[now], groups[prev[now]], groups[late], groups[late] - 1])
    keep = np.zeros(len(gs), dtype=bool)
    keep[order[starts | ends]] = True
    keep |= is_open
    return known[keep & np.isin(g, flagged)]


def rows_between_returns(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows and columns of every return where the rules between returns may find a problem.

    They compare a child's rows of return ``y`` with those of ``y - 1``:
    header rows by child and return (the last listed, DfE 202-204, 208), and
    episodes: the child's first and last episode of each return (by DECOM,
    ties in the order read) and its open ones (DEC blank; DfE 502, 503A-J).
    Only those rows (of a known year) are kept, and only for the pairs of
    returns where they differ as read (a column the rules compare; for 503,
    last year's last episode open; for 502, an open episode's DECOM): pairs
    equal as read break no rule, since the rules compare the same values
    trimmed and upper-cased. The columns are those of :data:`BETWEEN_RETURNS`,
    with ``LA``, ``CHILD``, the integer child key and
    :data:`~reunistat.tables.keys.YEAR_COL`: the rules find the same problems
    on them as on every row, at a fraction of the memory.

    Parameters
    ----------
    df : DataFrame
        Every return's rows of ``table`` (``header`` or ``episodes``), parsed,
        with the child key and ``YEAR_COL``, in the order read.
    table : str
        ``header`` or ``episodes``.

    Returns
    -------
    DataFrame
        The rows kept, in the order read, with a fresh index.
    """
    cols = [c for c in ("LA", "CHILD", *BETWEEN_RETURNS[table]) if c in df.columns]
    cols += [c for c in (YEAR_COL, CID) if c in df.columns]
    year = df[YEAR_COL].to_numpy(dtype="float64", na_value=np.nan)
    known = np.flatnonzero(~np.isnan(year))
    child = df[CID].to_numpy()[known] if CID in df.columns else pd.factorize(df["CHILD"])[0][known]
    y = year[known].astype(np.int64)
    first = int(y.min()) if len(y) else 0
    span = int(y.max(initial=first)) - first + 2  # y - 1 of the first year: no clash
    g = child.astype(np.int64) * span + (y - first)  # child and return
    rows = _header_groups(df, known, g) if table == "header" else _episode_groups(df, known, g)
    # column by column: taking rows of the whole frame would first consolidate it;
    # code columns as objects, as the rules between returns normalise them
    return pd.DataFrame({c: taken_values(df[c], rows) for c in cols}, copy=False)
