"""Vectorised random draws shared by the generator's modules.

Dates inside the generator are integer days since 1970-01-01 (``int64``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import Any

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


def rows_by_level(values: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """Each distinct value in sorted order with its rows (``flatnonzero(values == v)``).

    What ``for v in np.unique(values): rows = values == v`` gives, without
    sorting every row: ``np.unique`` sorts an object array with Python
    comparisons, which grows faster than the rows do (millions of episodes).
    Here the values are numbered once by hashing, only the distinct ones are
    sorted, and each level's rows are found by comparing integers.

    >>> [(v, r.tolist()) for v, r in rows_by_level(np.array(["b", "a", "b"], dtype=object))]
    [('a', [1]), ('b', [0, 2])]
    """
    if values.dtype != object:
        return [(v, np.flatnonzero(values == v)) for v in np.unique(values)]
    codes, uniques = pd.factorize(values, sort=True)
    return [(v, np.flatnonzero(codes == i)) for i, v in enumerate(uniques)]


def isin(values: np.ndarray, items: Collection[Any]) -> np.ndarray:
    """Return ``np.isin(values, items)``; for text by hashing instead of sorting every row.

    >>> isin(np.array(["a", "b", "c"], dtype=object), {"a", "c"}).tolist()
    [True, False, True]
    """
    if values.dtype != object:
        return np.isin(values, np.asarray(list(items)))
    return np.asarray(pd.Series(values, copy=False).isin(list(items)).to_numpy(), dtype=bool)


def stable_order(*keys: np.ndarray) -> np.ndarray:
    """``np.lexsort(keys)`` of non-negative integer keys (the last the primary), by radix.

    The keys are packed into one integer (primary first), which is ordered by
    16-bit digits, least significant first, each pass a stable radix sort
    (numpy's ``kind="stable"`` for 16-bit integers): O(n) a pass, where a
    comparison sort of millions of rows costs O(n log n) and each of
    ``lexsort``'s keys one such sort. The result is the same permutation.

    >>> stable_order(np.array([3, 1, 2, 1]), np.array([0, 1, 0, 1])).tolist()
    [2, 0, 1, 3]
    >>> np.lexsort((np.array([3, 1, 2, 1]), np.array([0, 1, 0, 1]))).tolist()
    [2, 0, 1, 3]
    """
    n = keys[0].size
    packed = np.zeros(n, dtype=np.int64)
    bits = 0
    for key in reversed(keys):
        k = np.asarray(key, dtype=np.int64)
        if n and k.min() < 0:
            raise ValueError("stable_order needs non-negative keys")
        width = max(int(k.max()).bit_length(), 1) if n else 1
        bits += width
        if bits > 62:
            raise ValueError("stable_order: the keys need more than 62 bits together")
        packed = (packed << width) | k
    order: np.ndarray | None = None
    for shift in range(0, bits, 16):
        k = packed if order is None else packed[order]
        step = np.argsort(((k >> shift) & 0xFFFF).astype(np.uint16), kind="stable")
        order = step if order is None else order[step]
    return order if order is not None else np.arange(n)


def band_index(age_days: np.ndarray) -> np.ndarray:
    """Return the DfE age band index (0 under 1 ... 4 16+) of ages in days."""
    years = age_days / 365.25
    return np.searchsorted(np.array([1.0, 5.0, 10.0, 16.0]), years, side="right")
