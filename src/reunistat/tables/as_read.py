"""A table held in one return, left as read: stacking has nothing to do.

Stacking (:func:`reunistat.tables.stack.stack_table`) drops rows repeated or
superseded, which share a key, and episodes carried between two collection
years. A table read from one file of one year at most with no key repeated
has none: :func:`one_clean_return` says so cheaply (integer child keys), and
:func:`as_stacked` gives what stacking would give, without copying the table.
A national Parquet extract is such a case for every table.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from reunistat.codes import categorical_of, category_values, distinct_categorical
from reunistat.tables import schema
from reunistat.tables.dates import joint_codes
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


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """``pd.concat`` of frames (a fresh index), keeping ``category`` columns so.

    When the frames have the same columns, a column that is a ``category``
    column in every frame stays one, its categories joined
    (:func:`~reunistat.tables.dates.joint_codes`), where ``pd.concat`` would
    give objects when the categories differ; every other column is as
    ``pd.concat`` gives it.
    """
    if len(frames) == 1:
        return frames[0]
    cols = list(frames[0].columns)
    if any(list(f.columns) != cols for f in frames[1:]):
        return pd.concat(frames, ignore_index=True)
    out = {}
    for c in cols:
        parts = [f[c] for f in frames]
        if all(s.dtype is parts[0].dtype for s in parts) and isinstance(
            parts[0].dtype, pd.CategoricalDtype
        ):  # one dtype (files read together): their codes, the dtype kept
            codes = np.concatenate([s.cat.codes.to_numpy() for s in parts])
            out[c] = pd.Series(categorical_of(codes, parts[0].dtype), copy=False)
        elif all(isinstance(s.dtype, pd.CategoricalDtype) for s in parts):
            codes, uniq = joint_codes(parts)
            cat = distinct_categorical(codes, uniq)
            out[c] = pd.Series(cat, copy=False)
        else:
            out[c] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(out, columns=cols, copy=False)


def as_objects(df: pd.DataFrame, cols: Iterable[str]) -> pd.DataFrame:
    """``df`` with its ``category`` columns ``cols`` as objects (blanks None).

    The other columns are shared, and the objects are not copied again (as
    setting a column would copy them: 1.7M identifiers of the national
    episodes).
    """
    objects = {
        c: category_values(df[c])
        for c in cols
        if c in df.columns and isinstance(df[c].dtype, pd.CategoricalDtype)
    }
    if not objects:
        return df
    out = pd.DataFrame(
        {c: objects[c] if c in objects else df[c] for c in df.columns},
        index=df.index,
        columns=df.columns,
        copy=False,
    )
    out.attrs = df.attrs
    return out


def text_columns(df: pd.DataFrame, table: str) -> list[str]:
    """The ``category`` columns of ``df`` that are no declared code column of ``table``.

    The reader holds identifiers and other text (``CHILD``, ``UPN``,
    ``HOME_POST``...) as categories while it numbers, compares and stacks
    them; :attr:`~reunistat.tables.Extract.tables` holds them as text.
    """
    codes = {c.name for c in schema.TABLES.get(table, ()) if c.kind == "code"}
    return [
        c for c in df.columns if c not in codes and isinstance(df[c].dtype, pd.CategoricalDtype)
    ]
