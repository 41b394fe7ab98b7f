"""A table held in one return, left as read: stacking has nothing to do.

Stacking (:func:`reunistat.tables.stack.stack_table`) drops rows repeated or
superseded, which share a key, and episodes carried between two collection
years. A table read from one file of one year at most with no key repeated
has none: :func:`one_clean_return` says so cheaply (integer child keys), and
:func:`as_stacked` gives what stacking would give, without copying the table.
A national Parquet extract is such a case for every table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.tables.keys import CID, YEAR_COL, in_child_order
from reunistat.tables.problems import empty_problems
from reunistat.tables.stack import (
    CLOSED_BY_NEXT,
    FILE_COL,
    IN_ONE_FILE,
    ORDER_COL,
    REASONS,
    key_of,
    value_columns,
)


def columns_of(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """Return ``df``'s columns ``cols``, in that order, sharing its data (no copy)."""
    if list(df.columns) == cols:
        return df
    return pd.DataFrame({c: df[c] for c in cols}, index=df.index, columns=cols, copy=False)


def one_clean_return(df: pd.DataFrame, table: str, n_files: int) -> bool:
    """Whether stacking has nothing to do: one file, one year at most, no key repeated.

    Then :func:`~reunistat.tables.stack.stack_table` would drop no row (rows
    identical or superseded share a key; an episode is carried over only
    between two years) and report no problem, so its work is skipped.
    """
    if n_files != 1 or df[YEAR_COL].nunique() > 1:
        return False
    key = key_of(table, df) or value_columns(table, df)
    if key == [CID]:
        codes = df[CID].to_numpy()
        return bool(np.bincount(codes).max(initial=0) <= 1) if codes.min(initial=0) >= 0 else False
    if len(key) == 1:
        return not df[key[0]].duplicated().any()
    if key == [CID, "DECOM"] and df["DECOM"].dtype == "datetime64[ns]":
        child, start = df[CID].to_numpy(), df["DECOM"].to_numpy().view(np.int64)  # NaT: equal
        if not in_child_order(child, start):  # a national extract is written in this order
            order = np.lexsort((start, child))
            child, start = child[order], start[order]
        return not ((child[1:] == child[:-1]) & (start[1:] == start[:-1])).any()
    return not df.duplicated(subset=key).any()


def as_stacked(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What :func:`~reunistat.tables.stack.stack_table` returns for a table it leaves as read."""
    dropped = pd.DataFrame(0, index=pd.Index([], dtype="int64"), columns=[*REASONS, IN_ONE_FILE])
    dropped.attrs[CLOSED_BY_NEXT] = 0
    kept = columns_of(df, [c for c in df.columns if c not in (FILE_COL, ORDER_COL)])
    return kept, dropped, empty_problems()
