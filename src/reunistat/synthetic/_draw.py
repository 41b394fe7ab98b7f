"""Vectorised random draws shared by the generator's modules.

Dates inside the generator are integer days since 1970-01-01 (``int64``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

EPOCH = dt.date(1970, 1, 1)


def day(d: dt.date) -> int:
    """Return a date as integer days since 1970-01-01.

    >>> day(dt.date(1970, 1, 11))
    10
    """
    return (d - EPOCH).days


def to_datetime(days: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """Return integer days as a ``datetime64[ns]`` Series, NaT where ``missing``."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return pd.Series(out)


def blank_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Return ``values`` as an object array with None where ``mask`` is true."""
    out = np.asarray(values, dtype=object).copy()
    out[mask] = None
    return out


def shares(table: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Return the keys of a share table and their probabilities (normalised)."""
    keys = np.array(list(table.keys()), dtype=object)
    p = np.array([float(v) for v in table.values()])
    return keys, p / p.sum()


def choice(rng: np.random.Generator, table: Mapping[str, float], size: int) -> np.ndarray:
    """Draw ``size`` keys of a share table."""
    keys, p = shares(table)
    return keys[rng.choice(len(keys), size=size, p=p)]


def choice_by_group(
    rng: np.random.Generator,
    tables: Sequence[Mapping[str, float]],
    group: np.ndarray,
) -> np.ndarray:
    """Draw one key per row from the share table of that row's group.

    ``group[i]`` indexes ``tables``; the tables may have different keys.
    """
    out = np.empty(group.size, dtype=object)
    for g, table in enumerate(tables):
        rows = np.flatnonzero(group == g)
        if rows.size:
            out[rows] = choice(rng, table, rows.size)
    return out


def band_index(age_days: np.ndarray) -> np.ndarray:
    """Return the DfE age band index (0 under 1 ... 4 16+) of ages in days."""
    years = age_days / 365.25
    return np.searchsorted(np.array([1.0, 5.0, 10.0, 16.0]), years, side="right")
