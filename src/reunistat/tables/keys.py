"""Child keys shared by validation and derivation.

A child is identified by ``CHILD`` within ``LA`` when the extract carries the
local authority (a national extract), else by ``CHILD`` alone.

Header and episodes carry one key: ``_cid`` (:data:`CID`), an integer per
child shared by both tables (children numbered in order of first appearance,
header first), added by the reader (:func:`child_codes`). The text key
``LA``, a separator and ``CHILD`` (:func:`child_uid`, ``_uid``) is made only where a
row of another table (CIN, exits, OC3, problems...) must be matched to a
child by the text the user wrote; no table carries it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.dates import NS_PER_DAY
from reunistat.tables.dates import joint_codes

SEP = "\x1f"
#: The child key column added to header and episodes.
UID = "_uid"
#: An integer child key shared by header and episodes (fast to sort and match).
CID = "_cid"
#: Internal column on every table read: the collection year a row was returned in,
#: as the year the collection ends (2018 for 1 April 2017 - 31 March 2018); an
#: integer (``Int64``), missing when the reader could not know it. Code sets and
#: DfE rules are applied by this year.
YEAR_COL = "_COLLECTION_YEAR"


def has_la(*frames: pd.DataFrame) -> bool:
    """Return whether every frame has a filled ``LA`` column."""
    return all("LA" in f.columns and _filled(f["LA"]) for f in frames)


def _filled(s: pd.Series) -> bool:
    """No blank in ``s`` (text only is known so in one quick pass, not ``notna``)."""
    if s.dtype == object and pd.api.types.infer_dtype(s.to_numpy(), skipna=False) == "string":
        return True
    return bool(s.notna().all())


def child_uid(df: pd.DataFrame, use_la: bool, child_col: str = "CHILD") -> pd.Series:
    """Return one string per row identifying the child (``LA`` + ``CHILD`` or ``CHILD``).

    A ``_uid`` column already present is returned as it is.
    """
    if UID in df.columns and child_col == "CHILD":
        return df[UID]
    child = df[child_col].astype(str)
    if use_la:
        return df["LA"].astype(str) + SEP + child
    return child


def uid_by_child(df: pd.DataFrame, use_la: bool) -> pd.Series:
    """Text key (:func:`child_uid`) of each ``CHILD`` of ``df`` (its first row's), by ``CHILD``.

    Finds the child of a row of a table without ``LA`` (one LA's CIN, exits...).
    """
    first = df.drop_duplicates("CHILD")
    return pd.Series(child_uid(first, use_la).to_numpy(), index=first["CHILD"].to_numpy())


def _joint_text_codes(columns: list[pd.Series]) -> tuple[np.ndarray, int]:
    """:func:`_text_codes` of the columns end to end; ``category`` columns of text by code."""
    if all(
        isinstance(c.dtype, pd.CategoricalDtype) and c.cat.categories.dtype == object
        for c in columns
    ):
        codes, uniques = joint_codes(columns)
        if not (codes < 0).any() and pd.api.types.infer_dtype(uniques) == "string":
            return codes, len(uniques)
        columns = [c.astype(object) for c in columns]
    return _text_codes(pd.concat(columns, ignore_index=True))


def _text_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Codes of ``values`` as text (``astype(str)``: a blank is ``"None"``), and how many."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():  # blanks: as child_uid's astype(str) reads them
        return pd.factorize(values.astype(str))[0], 0
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        return codes, len(uniques)  # text already: astype(str) would change nothing
    # distinct values that are equal as text (e.g. 7 and "7") share one code
    text_codes, text = pd.factorize(pd.Index(uniques).astype(str))
    return text_codes[codes], len(text)


def child_codes(*frames: pd.DataFrame, use_la: bool) -> list[np.ndarray]:
    """Return the integer child key (:data:`CID`) of each row of each frame.

    Children are numbered 0, 1, ... in order of first appearance across the
    frames, exactly as ``pd.factorize`` numbers the text keys of
    :func:`child_uid`, but without building one string per row: ``LA`` and
    ``CHILD`` are factorised apart and their pair of codes numbered.

    Examples
    --------
    >>> h = pd.DataFrame({"LA": ["A", "B"], "CHILD": ["1", "1"]})
    >>> e = pd.DataFrame({"LA": ["B", "A", "C"], "CHILD": ["1", "1", "2"]})
    >>> [c.tolist() for c in child_codes(h, e, use_la=True)]
    [[0, 1], [1, 0, 2]]
    """
    sizes = [len(f) for f in frames]
    child, n_child = _joint_text_codes([f["CHILD"] for f in frames])
    key = child.astype(np.int64)
    if use_la:
        la, _ = _joint_text_codes([f["LA"] for f in frames])
        key = la.astype(np.int64) * (max(n_child, int(child.max(initial=0)) + 1)) + key
    return np.split(_numbered(key, child), np.cumsum(sizes)[:-1])


def _numbered(key: np.ndarray, child: np.ndarray) -> np.ndarray:
    """``pd.factorize(key)[0]`` of keys made of the child's code (one key per child code).

    Where every row of a child code has one key and the codes come in order
    of first appearance (each new one the largest so far plus one), the codes
    are the keys' numbers already: no hashing of every row.

    >>> _numbered(np.array([30, 31, 30, 52]), np.array([0, 1, 0, 2])).tolist()
    [0, 1, 0, 2]
    >>> _numbered(np.array([30, 31, 40]), np.array([0, 1, 0])).tolist()  # two keys for 0
    [0, 1, 2]
    """
    if len(child) and child.min() >= 0:
        top = np.maximum.accumulate(child)
        if top[0] == 0 and (top[1:] - top[:-1] <= 1).all():
            key_of = np.empty(int(top[-1]) + 1, dtype=key.dtype)
            key_of[child] = key
            if (key_of[child] == key).all():
                return child.astype(np.int64)
    return pd.factorize(key)[0].astype(np.int64)


def with_child_keys(
    header: pd.DataFrame, episodes: pd.DataFrame, use_la: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Header and episodes with a shared :data:`CID` (the reader's, or made here)."""
    if CID in header.columns and CID in episodes.columns:
        return header, episodes
    cid_h, cid_e = child_codes(header, episodes, use_la=use_la)
    return header.assign(**{CID: cid_h}), episodes.assign(**{CID: cid_e})


def with_child_key(df: pd.DataFrame, use_la: bool) -> pd.DataFrame:
    """Return ``df`` with :data:`CID` (numbered from its own rows) unless it has one."""
    if CID in df.columns:
        return df
    return df.assign(**{CID: child_codes(df, use_la=use_la)[0]})


def child_date_order(group: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``np.lexsort((start, group))``: rows by integer ``group``, then ``start`` (int64), stable.

    Where ``start`` holds midnights in nanoseconds (and ``int64`` max for a
    blank date, put last), both fit in one integer sorted once (rows written
    child by child are nearly in order: a quick sort).

    >>> child_date_order(np.array([1, 0, 1, 0]), np.array([5, 9, 2, 9]) * NS_PER_DAY).tolist()
    [1, 3, 2, 0]
    """
    big = np.iinfo(np.int64).max
    known = start != big
    if not len(start) or not known.any() or (start[known] % NS_PER_DAY).any():
        return np.lexsort((start, group))
    days = start[known] // NS_PER_DAY
    lo, width = int(days.min()), int(days.max()) - int(days.min()) + 2
    g_lo, g_hi = int(group.min()), int(group.max())
    if (g_hi - g_lo + 1) * width >= 2**62:
        return np.lexsort((start, group))
    day = np.full(len(start), width - 1, dtype=np.int64)  # blank: last
    day[known] = days - lo
    return np.argsort((group.astype(np.int64) - g_lo) * width + day, kind="stable")


def in_child_order(child: np.ndarray, value: np.ndarray) -> bool:
    """Whether rows are sorted by integer child key, then integer ``value`` (a pass, no sort)."""
    step = child[1:] - child[:-1]
    return bool((step >= 0).all() and not ((step == 0) & (value[1:] < value[:-1])).any())


def _in_order(child: np.ndarray, date: np.ndarray) -> bool:
    """Whether rows are sorted by child, then date; no NaT dates (a sort puts them last)."""
    if date.dtype != "datetime64[ns]" or np.isnat(date).any():
        return False
    return in_child_order(child, date.view(np.int64))


def sort_by_child(df: pd.DataFrame, use_la: bool, date_col: str = "DECOM") -> pd.DataFrame:
    """Return ``df`` each child's rows together in date order, with the child key :data:`CID`.

    Children come in order of their key (the reader's ``_cid``: first
    appearance; integer sort keys, fast on millions of rows); rows of one
    child are ordered by ``date_col``. Rows already in that order (an extract
    written child by child) are returned as they are, not copied: do not
    modify the result in place.
    """
    df = with_child_key(df, use_la)
    child, date = df[CID].to_numpy(), df[date_col].to_numpy()
    if _in_order(child, date) and df.index.equals(pd.RangeIndex(len(df))):
        return df
    if date.dtype == "datetime64[ns]" and child.dtype.kind in "iu":
        start = date.view(np.int64).copy()
        start[np.isnat(date)] = np.iinfo(np.int64).max  # a blank date last, as lexsort puts NaT
        order = child_date_order(child, start)  # the same order, one integer sorted
    else:
        order = np.lexsort((date, child))
    out = df.take(order)  # a new frame: relabelled, not copied again
    out.index = pd.RangeIndex(len(out))
    return out
