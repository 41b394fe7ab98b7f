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
    return problems_frame(
        df,
        m,
        table or (r.table if r else "?"),
        column or (r.columns[0] if r else "?"),
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


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate problem frames (an empty frame when there are none)."""
    found = [f for f in frames if f is not None and not f.empty]
    return pd.concat(found, ignore_index=True) if found else empty()
