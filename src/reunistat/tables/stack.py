"""Stack annual returns and clean them as sector analysts do, every row accounted for.

An LA's return for a collection year holds every episode open at any time in
the year, so an episode open at 31 March appears again, closed or still open,
in the next return; LAs also correct earlier returns. Stacking keeps one row
per key (episodes: LA, CHILD, DECOM; header: LA, CHILD) and counts every row
read under exactly one of (:data:`REASONS`):

``identical_dropped``
    identical in every column to a row kept: a later return repeats it, or
    the same file repeats it (of which :data:`IN_ONE_FILE`, ``identical_in_one_file``,
    counts those repeated within one file: a fault of that file, not of stacking);
``superseded``
    the same key in a later return with other values, or an open copy of an
    episode whose closed version is held (the closed, then latest, is kept);
``decom_corrected``
    episodes: open at the end of its last return, absent from the LA's next
    return, which holds the child with an episode of the same RNE, LS and
    PLACE starting on another day: the later return corrected DECOM and this
    is the stale copy (liia-tools' rule 3);
``deleted_in_next_return``
    episodes: open at the end of its last return, absent from the LA's next
    return, and the child's episode before it comes from a later return (the
    later return rewrote the child's history: liia-tools' rule 3A);
``rows_kept``
    the rest.

An open episode absent from the LA's next return, neither corrected nor
rewritten, that the child's next episode continues (RNE not S) is kept and
closed on that episode's DECOM with REC X1 (liia-tools' rule 1; counted as
:data:`CLOSED_BY_NEXT`, a repair of a kept row). Any other open episode absent
from the next return (the child absent from it, or re-entering with RNE S) is
kept as it was and recorded as problem ``open_not_carried``: what happened is
unknown (liia-tools closes it with the invalid code E99; the validation rules
decide). Two different rows for one key in one return are kept once (the last
listed) and recorded as problem ``duplicate``. A header whose SEX, DOB or
ETHNIC changes between returns keeps the latest return's row; DfE's rules on
such changes (202-204, and 502/503 on episodes) are validation's, applied to
:attr:`reunistat.tables.Extract.returns` (every return's rows before stacking,
:func:`~reunistat.tables.between.rows_between_returns`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from reunistat.dates import NS_PER_DAY
from reunistat.tables import schema
from reunistat.tables.between import (
    BETWEEN_RETURNS,
    positions_of,
    rows_between_returns,
    taken_values,
    values_differ,
)
from reunistat.tables.keys import CID, YEAR_COL, child_date_order
from reunistat.tables.problems import empty_problems, problems_frame

__all__ = [
    "BETWEEN_RETURNS",
    "CLOSED_BY_NEXT",
    "FILE_COL",
    "IN_ONE_FILE",
    "ORDER_COL",
    "REASONS",
    "key_of",
    "positions_of",
    "row_codes",
    "rows_between_returns",
    "stack_table",
    "value_columns",
    "values_differ",
]

#: Internal columns: the index of the file a row came from, and its return's rank.
FILE_COL: Final = "_FILE"
ORDER_COL: Final = "_ORDER"
#: What happens to a row read, in the order the rules apply (see the module docstring).
REASONS: Final = (
    "identical_dropped",
    "superseded",
    "decom_corrected",
    "deleted_in_next_return",
)
#: Of ``identical_dropped``, the rows repeated within one file (not a separate reason).
IN_ONE_FILE: Final = "identical_in_one_file"
#: Episodes kept but repaired: closed (DEC = next DECOM, REC = X1) by the child's next episode.
CLOSED_BY_NEXT: Final = "closed_by_next_episode"


def key_of(table: str, df: pd.DataFrame) -> list[str]:
    """Return the columns that identify one row of ``table`` (empty: rows have no key)."""
    if table in ("header", "episodes"):
        child = (
            [CID] if CID in df.columns else (["LA", "CHILD"] if "LA" in df.columns else ["CHILD"])
        )
        return [*child, "DECOM"] if table == "episodes" else child
    return {"npd": ["UPN"], "postcodes": ["HOME_POST"], "la": ["LA"]}.get(table, [])


def value_columns(table: str, df: pd.DataFrame) -> list[str]:
    """Columns compared to call two rows identical: declared ones, else every non-internal one."""
    if table in schema.TABLES:
        return [c.name for c in schema.TABLES[table] if c.name in df.columns]
    return [c for c in df.columns if not str(c).startswith("_")]


#: Codes of what happens to a row read (-1: kept), as :data:`_REASON_OF` names them.
_KEPT, _IN_FILE, _IDENTICAL, _SUPERSEDED, _CORRECTED, _DELETED = range(-1, 5)
_REASON_OF: Final = (IN_ONE_FILE, *REASONS)


def _codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Number the distinct values 1, 2, ... (blanks 0, all blanks equal); return their count + 1."""
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int64) + 1, len(uniques) + 1


_NAT: Final = np.iinfo(np.int64).min


def _offsets(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """As :func:`_codes` (equal values, equal numbers; blanks 0), not in order of appearance.

    Integers (category codes, child keys) and dates at midnight are numbered
    by their offset from the smallest, not hashed: the numbers may leave gaps.

    >>> [_offsets(np.array(v))[0].tolist() for v in ([7, 5, 7], [True, False])]
    [[3, 1, 3], [2, 1]]
    """
    a = np.asarray(values)
    if a.dtype.kind == "M" and a.dtype == "datetime64[ns]":
        v = a.view(np.int64)
        known = v != _NAT
        if not known.any() or (v[known] % NS_PER_DAY).any():
            return _codes(a)
        days = v // NS_PER_DAY
        lo = int(days[known].min())
        return np.where(known, days - lo + 1, 0), int(days[known].max()) - lo + 2
    if a.dtype.kind not in "iub" or not len(a):
        return _codes(a)
    v = a.astype(np.int64, copy=False)
    lo, hi = int(v.min()), int(v.max())
    if hi - lo >= 2**31:  # too wide to combine without renumbering each time
        return _codes(a)
    return v - lo + 1, hi - lo + 2


def row_codes(columns: Sequence[np.ndarray | pd.Series], ordered: bool = True) -> np.ndarray:
    """Number rows alike when equal in every column (blanks equal), apart otherwise.

    Exact: each column's values are numbered, and the numbers of a row
    combined; the result is renumbered 0, 1, ... in order of first
    appearance (``ordered``; else in any order: by a sort, quicker than
    hashing on rows that come in runs, as returns written child by child
    do). Where the combined numbers would not fit in 64 bits, the
    rows are numbered by a hash of their numbers, checked column by column
    (rows numbered alike must be equal), else renumbered as they are combined.

    Examples
    --------
    >>> row_codes([np.array(["a", "b", "a", None]), np.array([1, 2, 1, 1])]).tolist()
    [0, 1, 0, 2]
    """
    n = len(columns[0]) if columns else 0
    numbered = [_offsets(col) for col in columns]
    if math.prod(k for _, k in numbered) > np.iinfo(np.int64).max:
        hashed = _hashed_rows(numbered, n)
        if hashed is not None:
            return hashed
    acc, size = np.zeros(n, dtype=np.int64), 1
    for codes, k in numbered:
        if size > np.iinfo(np.int64).max // k:  # would overflow: renumber the rows so far
            acc, size = _codes(acc)
        acc, size = acc * k + codes, size * k
    return _codes(acc)[0] - 1 if ordered else _sorted_codes(acc)


def _sorted_codes(values: np.ndarray) -> np.ndarray:
    """Number integers 0, 1, ... in increasing order, equal values alike (a stable sort).

    >>> _sorted_codes(np.array([7, 3, 7, 5])).tolist()
    [2, 0, 2, 1]
    """
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    new = np.ones(len(ranked), dtype=np.int64)
    new[1:] = ranked[1:] != ranked[:-1]
    out = np.empty(len(ranked), dtype=np.int64)
    out[order] = np.cumsum(new) - 1
    return out


_MIX: Final = np.uint64(0x9E3779B97F4A7C15)


def _hashed_rows(numbered: list[tuple[np.ndarray, int]], n: int) -> np.ndarray | None:
    """:func:`row_codes` by a 64-bit hash of the rows' numbers; None if two rows collide."""
    h = np.zeros(n, dtype=np.uint64)
    for codes, _ in numbered:
        h ^= codes.astype(np.uint64, copy=False)
        h *= _MIX
        h ^= h >> np.uint64(29)
    out, uniq = pd.factorize(h)
    one = np.empty(len(uniq), dtype=np.int64)
    one[out] = np.arange(n)  # a row of each number (which one: any)
    at = one[out]
    if any((codes != codes[at]).any() for codes, _ in numbered):
        return None
    return out.astype(np.int64, copy=False)


def _compared(df: pd.DataFrame, cols: list[str], at: np.ndarray) -> list[np.ndarray]:
    """The values of ``cols`` at positions ``at``, LA and CHILD by the integer child key."""
    if CID in df.columns:
        cols = [CID, *(c for c in cols if c not in ("LA", "CHILD"))]
    return [_values(df[c])[at] for c in cols]


def _values(s: pd.Series) -> np.ndarray:
    """A column's values to compare: a ``category`` column's codes (-1 blank), else as held."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy()
    return s.to_numpy()


def _identical(
    df: pd.DataFrame, keyed: np.ndarray | None, cols: list[str], reason: np.ndarray
) -> None:
    """Mark rows repeated in one file, then rows a later return repeats (in ``reason``).

    Only rows whose key repeats (``keyed``: :func:`row_codes` of the key,
    None when the table has none) are compared, by :func:`row_codes` (exact).
    In one file the first copy is kept; across returns, the latest return's.
    """
    if keyed is None and cols:  # as df.duplicated(subset=cols, keep=False), by integers
        keyed = row_codes([_values(df[c]) for c in cols], ordered=False)
    if keyed is not None:
        maybe = np.flatnonzero(np.bincount(keyed)[keyed] > 1)
    else:
        maybe = np.flatnonzero(df.duplicated(keep=False).to_numpy())
    if not len(maybe):
        return
    row = row_codes(_compared(df, cols, maybe), ordered=False)
    file, files = _offsets(df[FILE_COL].to_numpy()[maybe])
    in_file = pd.Series(row * files + file).duplicated().to_numpy()  # same row, same file
    rest = np.flatnonzero(~in_file)
    rest = rest[np.argsort(df[ORDER_COL].to_numpy()[maybe[rest]], kind="stable")]
    later = pd.Series(row[rest]).duplicated(keep="last").to_numpy()
    reason[maybe[in_file]] = _IN_FILE
    reason[maybe[rest[later]]] = _IDENTICAL


def _rows(df: pd.DataFrame, cols: list[str], at: np.ndarray) -> pd.DataFrame:
    """A frame of ``df``'s columns ``cols`` (those it has) at positions ``at``, indexed by them."""
    return pd.DataFrame(
        {c: taken_values(df[c], at) for c in cols if c in df.columns},
        index=pd.Index(at),
        copy=False,
    )


def _superseded(
    df: pd.DataFrame, table: str, key: list[str], keyed: np.ndarray, reason: np.ndarray
) -> pd.DataFrame:
    """Keep one row per key (DEC filled, then latest return); report same-return clashes.

    ``keyed``: :func:`row_codes` of the key columns, every row.
    """
    alive = np.flatnonzero(reason == _KEPT)
    key_code = keyed[alive]
    repeated = np.bincount(key_code)[key_code] > 1
    rep, key_code = alive[repeated], key_code[repeated]
    if not len(rep):
        return empty_problems()
    # only the key, the return's rank and whether DEC is filled: fast to sort
    rank = df[ORDER_COL].to_numpy()[rep]
    filled = pd.notna(df["DEC"].to_numpy()[rep]) if "DEC" in df.columns else np.ones(len(rep), bool)
    same = row_codes([key_code, rank, filled], ordered=False)
    clash = np.bincount(same)[same] > 1
    problems = empty_problems()
    if clash.any():
        names = ["LA+CHILD" if k == CID else k for k in key]
        detail = f"more than one different row for {'+'.join(names)} in one return"
        column = "CHILD" if key[-1] == CID else key[-1]
        shown = _rows(df, ["LA", "CHILD", "LAchildID", "DECOM", column], rep[clash])
        problems = problems_frame(
            shown, np.ones(len(shown), bool), table, column, "duplicate", detail=detail
        )
    # the last of each key once sorted by DEC filled, then rank (ties: the last listed)
    by = np.lexsort((rank, filled, key_code))
    older = np.ones(len(by), dtype=bool)
    older[-1] = False
    older[:-1] = key_code[by][1:] == key_code[by][:-1]
    reason[rep[by[older]]] = _SUPERSEDED
    return problems


def _neighbours(child: np.ndarray, start: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, ...]:
    """For the episodes at positions ``rows``: the positions of the child's episodes around them.

    Episodes are ordered by child, then DECOM (blank last, ties in the order
    given); -1 where the child has none before (after).
    """
    start = start.view(np.int64)
    start = np.where(start == np.iinfo(np.int64).min, np.iinfo(np.int64).max, start)
    order = child_date_order(child, start)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    sorted_child = child[order]
    r = rank[rows]
    before, after = np.full(len(rows), -1), np.full(len(rows), -1)
    has = r > 0
    has[has] = sorted_child[r[has] - 1] == child[rows[has]]
    before[has] = order[r[has] - 1]
    has = r < len(order) - 1
    has[has] = sorted_child[r[has] + 1] == child[rows[has]]
    after[has] = order[r[has] + 1]
    return before, after


def _year_keys(codes: np.ndarray, year: np.ndarray, first: int, span: int) -> np.ndarray:
    """One integer per (code, collection year) pair (``year`` within ``span`` of ``first``)."""
    return codes.astype(np.int64) * span + (year.astype(np.int64) - first)


def _carried_over(df: pd.DataFrame, reason: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Episodes open at the end of their last return but absent from the LA's next return.

    Marks the stale copies (``decom_corrected``, ``deleted_in_next_return``)
    in ``reason`` and returns the problems (``open_not_carried``) and, by
    position read, the episodes closed by the child's next episode (liia-tools'
    rule 1) with the DEC they take.
    """
    none: tuple[pd.DataFrame, dict] = (empty_problems(), {})
    if YEAR_COL not in df.columns or CID not in df.columns:
        return none
    year_read = df[YEAR_COL].to_numpy(dtype="float64", na_value=np.nan)
    kept = np.flatnonzero(reason == _KEPT)
    year = year_read[kept]
    if np.isnan(year).all():
        return none
    known = ~np.isnan(year_read)
    first, span = int(np.nanmin(year_read)), int(np.nanmax(year_read) - np.nanmin(year_read)) + 2
    la = df["LA"].astype(str) if "LA" in df.columns else pd.Series("", index=df.index)
    la_code = pd.factorize(la)[0]
    la_years = _year_keys(la_code[known], year_read[known], first, span)
    # open: DEC blank. A DEC after the return's 31 March is a date fault (DfE 354/385,
    # the cohort's after_data_end), not an episode left open: it must not be taken
    # for a stale copy and dropped, which would hide the fault
    open_end = pd.isna(df["DEC"].to_numpy()[kept]) & ~np.isnan(year)
    has_next = np.zeros(len(kept), dtype=bool)
    at = np.flatnonzero(open_end)
    has_next[at] = np.isin(_year_keys(la_code[kept[at]], year[at] + 1, first, span), la_years)
    cand = np.flatnonzero(has_next)  # positions among the kept rows
    if not len(cand):
        return none
    cid = df[CID].to_numpy()
    c_rows = kept[cand]
    c_next = _year_keys(cid[c_rows], year[cand] + 1, first, span)
    child_year = _year_keys(cid[known], year_read[known], first, span)
    in_next = np.isin(c_next, child_year)
    # the next return's rows of those children, matched on RNE, LS and PLACE
    nxt_rows = np.flatnonzero(known)[np.isin(child_year, c_next)]
    cols = [CID, "DECOM", "RNE", "LS", "PLACE"]
    c = _rows(df, cols, c_rows).assign(_next=year[cand] + 1)
    nxt = _rows(df, cols, nxt_rows).assign(_next=year_read[nxt_rows])
    same = c.reset_index().merge(nxt, on=[CID, "RNE", "LS", "PLACE", "_next"], suffixes=("", "_n"))
    corrected = np.isin(c_rows, same.loc[same["DECOM"] != same["DECOM_n"], "index"].to_numpy())
    decom = df["DECOM"].to_numpy()
    prev, after = _neighbours(cid[kept], decom[kept], cand)
    prev_year = np.where(prev >= 0, year[np.maximum(prev, 0)], np.nan)
    rewritten = (prev_year > year[cand]) & in_next & ~corrected
    after_rne = taken_values(df["RNE"], kept[np.maximum(after, 0)])
    closes = in_next & ~corrected & ~rewritten & (after >= 0)
    closes &= pd.notna(after_rne) & (after_rne != "S")
    closed = dict(zip(c_rows[closes], decom[kept[after[closes]]], strict=True))
    vanished = c_rows[~(corrected | rewritten | closes)]
    problems = empty_problems()
    if len(vanished):
        detail = (
            "open at the end of its last return and absent from the LA's next return, which "
            "holds no corrected copy and no continuation: what happened is unknown"
        )
        shown = _rows(df, ["LA", "CHILD", "DECOM", "DEC"], vanished)
        problems = problems_frame(
            shown, np.ones(len(shown), bool), "episodes", "DEC", "open_not_carried", detail=detail
        )
    reason[c_rows[corrected]] = _CORRECTED
    reason[c_rows[rewritten]] = _DELETED
    return problems, closed


def _dropped(files: np.ndarray, reason: np.ndarray) -> pd.DataFrame:
    """Per file with any row dropped, the rows dropped for each reason (:func:`stack_table`)."""
    gone = reason != _KEPT
    ids, at = np.unique(files[gone].astype(np.int64), return_inverse=True)
    n = len(_REASON_OF)
    counts = np.bincount(at * n + reason[gone].astype(np.int64), minlength=len(ids) * n)
    out = pd.DataFrame(
        counts.reshape(len(ids), n), index=pd.Index(ids, name=FILE_COL), columns=list(_REASON_OF)
    )[[*REASONS, IN_ONE_FILE]]
    out["identical_dropped"] += out[IN_ONE_FILE]
    return out


def stack_table(df: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stack and clean one table read from one or several files and returns.

    The rules mark what happens to each row read, by position; the rows kept
    are taken once at the end (a copy of the table, not one per rule).

    Parameters
    ----------
    df : DataFrame
        Parsed rows of every file of the table, with :data:`FILE_COL`,
        :data:`ORDER_COL` (the rank of the return: later is larger) and
        :data:`~reunistat.tables.keys.YEAR_COL`.
    table : str
        Its name (the key and the cleaning rules depend on it).

    Returns
    -------
    table : DataFrame
        One row per key; internal columns dropped except ``YEAR_COL``.
    dropped : DataFrame
        Per file (:data:`FILE_COL`) the rows dropped for each of :data:`REASONS`,
        and :data:`IN_ONE_FILE` (part of ``identical_dropped``).
    problems : DataFrame
    """
    reason = np.full(len(df), _KEPT, dtype=np.int8)
    key = key_of(table, df)
    keyed = row_codes([_values(df[c]) for c in key], ordered=False) if key else None
    _identical(df, keyed, value_columns(table, df), reason)
    problems = [empty_problems()]
    if key and keyed is not None:
        problems.append(_superseded(df, table, key, keyed, reason))
    closed: dict = {}
    if table == "episodes":
        p, closed = _carried_over(df, reason)
        problems.append(p)
    dropped = _dropped(df[FILE_COL].to_numpy(), reason)
    dropped.attrs[CLOSED_BY_NEXT] = len(closed)
    nonempty = [p for p in problems if not p.empty]
    probs = pd.concat(nonempty, ignore_index=True) if nonempty else empty_problems()
    rows = np.flatnonzero(reason == _KEPT)
    cols = [c for c in df.columns if c not in (FILE_COL, ORDER_COL)]
    # column by column: taking rows of the whole frame would first consolidate it
    out = pd.DataFrame({c: df[c].array.take(rows) for c in cols}, columns=cols, copy=False)
    if closed:
        at = np.searchsorted(rows, np.fromiter(closed, dtype=np.int64, count=len(closed)))
        out.loc[at, "DEC"] = np.array(list(closed.values()))
        rec = out["REC"]
        if isinstance(rec.dtype, pd.CategoricalDtype) and "X1" not in rec.cat.categories:
            out["REC"] = rec.cat.add_categories(["X1"])
        out.loc[at, "REC"] = "X1"
    return out, dropped, probs
