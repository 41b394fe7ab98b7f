"""Problem rows: one per row that breaks a rule, naming table, column, LA, CHILD and DECOM."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

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


def n_distinct(key: pd.Series | np.ndarray) -> int:
    """``nunique()`` of integer keys; keys in ascending order counted in one pass, not hashed.

    >>> n_distinct(np.array([2, 2, 5, 7, 7])), n_distinct(np.array([7, 2, 7]))
    (3, 2)
    """
    a = np.asarray(key)
    if len(a) and a.dtype.kind in "iu" and (a[1:] >= a[:-1]).all():
        return int((a[1:] != a[:-1]).sum()) + 1
    return int(pd.Series(a).nunique())


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate problem frames (an empty frame when there are none)."""
    found = [f for f in frames if f is not None and not f.empty]
    return pd.concat(found, ignore_index=True) if found else empty()
