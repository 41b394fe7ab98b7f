"""Child keys shared by validation and derivation.

A child is identified by ``CHILD`` within ``LA`` when the extract carries the
local authority (a national extract), else by ``CHILD`` alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    return all("LA" in f.columns and f["LA"].notna().all() for f in frames)


def child_uid(df: pd.DataFrame, use_la: bool, child_col: str = "CHILD") -> pd.Series:
    """Return one string per row identifying the child (``LA`` + ``CHILD`` or ``CHILD``).

    A ``_uid`` column already present (added once by
    :func:`reunistat.tables.io.prepare_tables`) is returned as it is.
    """
    if UID in df.columns and child_col == "CHILD":
        return df[UID]
    child = df[child_col].astype(str)
    if use_la:
        return df["LA"].astype(str) + SEP + child
    return child


def sort_by_child(df: pd.DataFrame, use_la: bool, date_col: str = "DECOM") -> pd.DataFrame:
    """Return ``df`` with a ``_uid`` column, each child's rows together in date order.

    Children come in order of first appearance (integer sort keys, fast on
    millions of rows); rows of one child are ordered by ``date_col``.
    """
    uid = child_uid(df, use_la)
    codes = df[CID].to_numpy() if CID in df.columns else pd.factorize(uid)[0]
    order = np.lexsort((df[date_col].to_numpy(), codes))
    if UID not in df.columns:
        df = df.assign(**{UID: uid})
    out = df.take(order)  # a new frame: relabelled in place rather than copied again
    out.index = pd.RangeIndex(len(out))
    return out
