"""Child keys shared by validation and derivation.

A child is identified by ``CHILD`` within ``LA`` when the extract carries the
local authority (a national extract), else by ``CHILD`` alone.
"""

from __future__ import annotations

import pandas as pd

SEP = "\x1f"


def has_la(*frames: pd.DataFrame) -> bool:
    """Return whether every frame has a filled ``LA`` column."""
    return all("LA" in f.columns and f["LA"].notna().all() for f in frames)


def child_uid(df: pd.DataFrame, use_la: bool, child_col: str = "CHILD") -> pd.Series:
    """Return one string per row identifying the child (``LA`` + ``CHILD`` or ``CHILD``)."""
    child = df[child_col].astype(str)
    if use_la:
        return df["LA"].astype(str) + SEP + child
    return child
