"""Problem rows: one per row that breaks a rule, naming table, column, LA, CHILD and DECOM."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from reunistat.tables.keys import SEP, child_uid
from reunistat.tables.rules.registry import RULES

#: Columns of a problems report (the same as ``schema.PROBLEM_COLUMNS``).
PROBLEM_COLUMNS = ("table", "column", "LA", "CHILD", "DECOM", "rule", "value", "detail")


def empty() -> pd.DataFrame:
    """Return an empty problems frame."""
    return _EMPTY.copy()


_EMPTY = pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})


def problems(
    df: pd.DataFrame,
    mask: np.ndarray | pd.Series,
    rule: str,
    *,
    table: str | None = None,
    column: str | None = None,
    detail: str | None = None,
) -> pd.DataFrame:
    """Return one problem per row of ``df`` selected by ``mask``.

    ``table`` and ``column`` default to the rule's (:data:`RULES`); the value
    reported is the row's value in ``column``; ``detail`` defaults to the rule's
    message.
    """
    from reunistat.tables.problems import problems_frame

    m = np.asarray(mask, dtype=bool)
    r = RULES.get(rule)
    if len(m) != len(df):
        df, m = df.iloc[:0], m[:0]
    column = column or (r.columns[0] if r else "?")
    # the rows of the columns a problem names only (not of every column of the table)
    named = [c for c in dict.fromkeys(("LA", "CHILD", "LAchildID", "DECOM", column)) if c in df]
    if "CHILD" in named and "LAchildID" in named and column != "LAchildID":
        named.remove("LAchildID")
    df = pd.DataFrame({c: df[c][m] for c in named}, columns=named, copy=False)
    return problems_frame(
        df,
        np.ones(len(df), dtype=bool),
        table or (r.table if r else "?"),
        column,
        rule,
        detail=detail if detail is not None else (r.message if r else ""),
    )


def blank(s: pd.Series) -> np.ndarray:
    """``s.isna()`` as an array; a column of text only is known to have no blank in one quick pass.

    (``infer_dtype`` checks each value is a ``str``, several times faster than
    ``isna`` on objects.)
    """
    if s.dtype == object and pd.api.types.infer_dtype(s.to_numpy(), skipna=False) == "string":
        return np.zeros(len(s), dtype=bool)
    return np.asarray(s.isna().to_numpy(), dtype=bool)


def first_per_key(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """``df.drop_duplicates(key)``; ``df`` itself when no key repeats (no copy of its rows).

    Do not modify the result in place.
    """
    if pd.Index(df[key].to_numpy()).is_unique:
        return df
    return df.drop_duplicates(key)


def in_order(df: pd.DataFrame, columns: list[str]) -> bool:
    """Whether the rows are sorted by ``columns`` already (a stable sort would move none).

    One pass of comparisons of neighbours; only for columns of numbers
    without NaN or of text with no blank (as a sort orders them), else False.
    """
    if len(df) < 2:
        return True
    acc: np.ndarray | None = None
    for c in reversed(columns):
        a = df[c].to_numpy()
        if a.dtype == object:
            if pd.api.types.infer_dtype(a, skipna=False) != "string":
                return False
        elif a.dtype.kind not in "iub" and not (a.dtype.kind == "f" and not np.isnan(a).any()):
            return False
        up, same = a[1:] > a[:-1], a[1:] == a[:-1]
        acc = (up | same) if acc is None else (up | (same & acc))
    return acc is None or bool(acc.all())


def rows_of(key: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The row of ``key`` (distinct keys) holding each ``wanted`` key; -1 where none does.

    ``pd.Index(key).get_indexer(pd.Index(wanted))``; non-negative integer keys are found
    through an array indexed by key (no hashing).

    >>> rows_of(np.array([4, 0, 2]), np.array([2, 3, 4, 9])).tolist()
    [2, -1, 0, -1]
    """
    dense = key.dtype.kind in "iu" and wanted.dtype.kind in "iu"
    if not dense or len(key) == 0 or key.min() < 0 or key.max() > 2 * len(key) + 1024:
        return np.asarray(pd.Index(key).get_indexer(pd.Index(wanted)), dtype=np.int64)
    at = np.full(int(key.max()) + 1, -1, dtype=np.int64)
    at[key] = np.arange(len(key))
    rows = np.full(len(wanted), -1, dtype=np.int64)
    ok = (wanted >= 0) & (wanted < len(at))
    rows[ok] = at[wanted[ok]]
    return rows


def run_starts(a: np.ndarray) -> np.ndarray | None:
    """Where each run of equal neighbours of ``a`` starts; None if values cannot be compared.

    >>> run_starts(np.array(["b", "b", "a", "b"], dtype=object)).tolist()
    [0, 2, 3]
    """
    if len(a) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        change = np.asarray(a[1:] != a[:-1])
    except (TypeError, ValueError):
        return None
    if change.dtype != bool or change.shape != (len(a) - 1,):
        return None
    return np.flatnonzero(np.r_[True, change])


def factorize_runs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(a, use_na_sentinel=True)`` of values that come in long runs.

    Only the first value of each run of equal neighbours is hashed (a table
    sorted by child holds one LA for many rows): the codes are the same, as
    a run's first row is where its value can first appear.

    >>> codes, uniques = factorize_runs(np.array(["b", "b", None, "a", "b"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([0, 0, -1, 1, 0], ['b', 'a'])
    """
    starts = run_starts(a)
    if starts is None or len(starts) * 4 > len(a):  # short runs: hash every row
        codes, uniques = pd.factorize(a, use_na_sentinel=True)
        return np.asarray(codes, dtype=np.int64), np.asarray(uniques)
    codes, uniques = pd.factorize(a[starts], use_na_sentinel=True)
    lengths = np.diff(np.append(starts, len(a)))
    return np.repeat(np.asarray(codes, dtype=np.int64), lengths), np.asarray(uniques)


def key_isin(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.isin(values, keys)``; of non-negative integer keys, by a table of flags (no sort).

    >>> key_isin(np.array([3, 0, 7, -1]), np.array([7, 3, 3])).tolist()
    [True, False, True, False]
    """
    ints = values.dtype.kind in "iu" and keys.dtype.kind in "iu"
    if not ints or len(keys) == 0 or keys.min() < 0 or keys.max() > 4 * (len(values) + len(keys)):
        return np.isin(values, keys)
    flag = np.zeros(int(keys.max()) + 2, dtype=bool)  # the last: any value outside
    flag[keys] = True
    return flag[np.where((values >= 0) & (values < len(flag) - 1), values, len(flag) - 1)]


def sorted_codes(a: np.ndarray) -> np.ndarray:
    """``pd.factorize(a, sort=True)[0]``; of non-negative integers, by a table of flags (no hash).

    >>> sorted_codes(np.array([7, 2, 7, 4])).tolist()
    [2, 0, 2, 1]
    """
    if a.dtype.kind not in "iu" or not len(a) or a.min() < 0 or a.max() > 4 * len(a) + 1024:
        return np.asarray(pd.factorize(a, sort=True)[0], dtype=np.int64)
    present = np.zeros(int(a.max()) + 1, dtype=bool)
    present[a] = True
    return (np.cumsum(present, dtype=np.int64) - 1)[a]


def n_distinct(key: pd.Series | np.ndarray) -> int:
    """``nunique()`` of integer keys; keys in ascending order counted in one pass, not hashed.

    >>> n_distinct(np.array([2, 2, 5, 7, 7])), n_distinct(np.array([7, 2, 7]))
    (3, 2)
    """
    a = np.asarray(key)
    if len(a) and a.dtype.kind in "iu" and (a[1:] >= a[:-1]).all():
        return int((a[1:] != a[:-1]).sum()) + 1
    return int(pd.Series(a).nunique())


def may_have_key(child: pd.Series, uids: Iterable[object]) -> np.ndarray:
    """Mask of the rows whose text key (``keys.child_uid``) may be one of ``uids``.

    A row's key is its child id as text, after its LA and the separator with LA
    keys: a row whose key is one of ``uids`` has an id equal to a key or to
    the part of one after a separator. Only those rows need their key made.

    >>> may_have_key(pd.Series(["1", "2", None]), ["A" + SEP + "1", "None"]).tolist()
    [True, False, True]
    """
    wanted: set[str] = set()
    for key in uids:
        if not isinstance(key, str):
            continue
        wanted.add(key)
        at = key.find(SEP)
        while at >= 0:
            wanted.add(key[at + 1 :])
            at = key.find(SEP, at + 1)
    if (
        child.dtype != object
        or pd.api.types.infer_dtype(child.to_numpy(), skipna=False) != "string"
    ):
        child = child.astype(str)  # as child_uid reads it
    return np.asarray(child.isin(wanted).to_numpy(), dtype=bool)


def uid_isin(
    df: pd.DataFrame, use_la: bool, uids: set[str], child_col: str = "CHILD"
) -> np.ndarray:
    """``child_uid(df, use_la, child_col).isin(uids)`` as a mask, keys made for a few rows only.

    >>> df = pd.DataFrame({"LA": ["A", "B", "A"], "CHILD": ["1", "1", "2"]})
    >>> uid_isin(df, True, {"A" + SEP + "1", "B" + SEP + "2"}).tolist()
    [True, False, False]
    """
    if "_uid" in df.columns and child_col == "CHILD":
        return np.asarray(df["_uid"].isin(uids).to_numpy(), dtype=bool)
    rows = np.flatnonzero(may_have_key(df[child_col], uids))
    out = np.zeros(len(df), dtype=bool)
    out[rows] = child_uid(df.iloc[rows], use_la, child_col).isin(uids).to_numpy()
    return out


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate problem frames (an empty frame when there are none)."""
    found = [f for f in frames if f is not None and not f.empty]
    return pd.concat(found, ignore_index=True) if found else empty()
