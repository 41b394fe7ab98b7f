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
:attr:`reunistat.tables.Extract.returns` (every return's rows before stacking).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd

from reunistat.tables import schema
from reunistat.tables.keys import CID, YEAR_COL
from reunistat.tables.problems import empty_problems, problems_frame

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


def row_codes(columns: Sequence[np.ndarray | pd.Series]) -> np.ndarray:
    """Number rows alike when equal in every column (blanks equal), apart otherwise.

    Exact (no hash): each column's values are numbered, and the numbers of a
    row combined; the result is renumbered 0, 1, ... in order of first
    appearance.

    Examples
    --------
    >>> row_codes([np.array(["a", "b", "a", None]), np.array([1, 2, 1, 1])]).tolist()
    [0, 1, 0, 2]
    """
    n = len(columns[0]) if columns else 0
    acc, size = np.zeros(n, dtype=np.int64), 1
    for col in columns:
        codes, k = _codes(col)
        if size > np.iinfo(np.int64).max // k:  # would overflow: renumber the rows so far
            acc, size = _codes(acc)
        acc, size = acc * k + codes, size * k
    return _codes(acc)[0] - 1


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


def _taken(s: pd.Series, at: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """The values of ``s`` at positions ``at``; a ``category`` column's as objects (blank None)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        words = np.empty(len(s.cat.categories) + 1, dtype=object)  # the last: None (blank)
        words[:-1] = s.cat.categories.to_numpy(dtype=object)
        return words[s.cat.codes.to_numpy()[at]]
    return s.array.take(at)


def _identical(df: pd.DataFrame, key: list[str], cols: list[str], reason: np.ndarray) -> None:
    """Mark rows repeated in one file, then rows a later return repeats (in ``reason``).

    Only rows whose key repeats are compared, by :func:`row_codes` (exact).
    In one file the first copy is kept; across returns, the latest return's.
    """
    maybe = np.flatnonzero(df.duplicated(subset=key or cols, keep=False).to_numpy())
    if not len(maybe):
        return
    row = row_codes(_compared(df, cols, maybe))
    in_file = pd.Series(row_codes([row, df[FILE_COL].to_numpy()[maybe]])).duplicated().to_numpy()
    rest = np.flatnonzero(~in_file)
    rest = rest[np.argsort(df[ORDER_COL].to_numpy()[maybe[rest]], kind="stable")]
    later = pd.Series(row[rest]).duplicated(keep="last").to_numpy()
    reason[maybe[in_file]] = _IN_FILE
    reason[maybe[rest[later]]] = _IDENTICAL


def _rows(df: pd.DataFrame, cols: list[str], at: np.ndarray) -> pd.DataFrame:
    """A frame of ``df``'s columns ``cols`` (those it has) at positions ``at``, indexed by them."""
    return pd.DataFrame(
        {c: _taken(df[c], at) for c in cols if c in df.columns}, index=pd.Index(at), copy=False
    )


def _superseded(df: pd.DataFrame, table: str, key: list[str], reason: np.ndarray) -> pd.DataFrame:
    """Keep one row per key (DEC filled, then latest return); report same-return clashes."""
    alive = np.flatnonzero(reason == _KEPT)
    key_code = row_codes([df[k].to_numpy()[alive] for k in key])
    repeated = np.bincount(key_code)[key_code] > 1
    rep, key_code = alive[repeated], key_code[repeated]
    if not len(rep):
        return empty_problems()
    # only the key, the return's rank and whether DEC is filled: fast to sort
    rank = df[ORDER_COL].to_numpy()[rep]
    filled = pd.notna(df["DEC"].to_numpy()[rep]) if "DEC" in df.columns else np.ones(len(rep), bool)
    same = row_codes([key_code, rank, filled])
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
    order = np.lexsort((start, child))
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
    after_rne = _taken(df["RNE"], kept[np.maximum(after, 0)])
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

    >>> positions_of(np.array([7, 3, 5]), np.array([5, 4, 7])).tolist()
    [2, -1, 0]
    """
    if not len(values):
        return np.full(len(wanted), -1)
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
    order = np.lexsort((start, g))
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
    return pd.DataFrame({c: _taken(df[c], rows) for c in cols}, copy=False)


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
    _identical(df, key, value_columns(table, df), reason)
    problems = [empty_problems()]
    if key:
        problems.append(_superseded(df, table, key, reason))
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
