"""Designs of the polyreg multinomial: plain rows, or rows grouped by their 0/1 values.

The multinomial's passes over its design are ``x @ b`` and ``v' x``. Most columns
of an imputation design are 0/1 (an intercept, dummies): rows sorted by their
pattern of those values share that part of ``x @ b`` (one value per pattern,
repeated along the pattern's run of rows) and of ``v' x`` (``v`` summed along
each run, times the pattern), and only the other columns are read row by row.
At national size 158,406 rows have 1,189 patterns of 16 0/1 columns and 4 other
columns, so each pass reads about a fifth of the design.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Grouped(NamedTuple):
    """Some rows of a design sorted (stably) by their pattern of 0/1 values.

    ``order``: the rows' places in that order; ``binary``: the columns whose
    every value there is 0 or 1; ``cols``: the rows' values, a row per column
    (columns x rows, in that order); ``starts``: where each pattern's run starts.
    """

    order: np.ndarray
    binary: np.ndarray
    cols: np.ndarray
    starts: np.ndarray


def group_rows(x: np.ndarray) -> Grouped:
    """The rows of ``x`` grouped by their pattern of 0/1 values (:class:`Grouped`)."""
    binary = binary_columns(x)
    key = pattern_keys(x[:, binary])
    order = np.argsort(key, kind="stable")
    cols = np.ascontiguousarray(x[order].T)
    key = key[order]
    return Grouped(order, binary, cols, _run_starts(key))


def _run_starts(key: np.ndarray) -> np.ndarray:
    """Where each run of equal values of ``key`` starts."""
    return np.flatnonzero(np.r_[True, key[1:] != key[:-1]])


class Rows:
    """A design's rows as a plain matrix."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.n, self.k = x.shape

    def eta(self, b: np.ndarray, out: np.ndarray) -> None:
        """``(x @ b).T`` into ``out`` (a row per column of ``b``: its values contiguous)."""
        np.matmul(b.T, self.x.T, out=out)

    def dot(self, v: np.ndarray) -> np.ndarray:
        """``v @ x`` (``v``: a row of weights per output row)."""
        return np.asarray(v @ self.x)

    def take(self, at: np.ndarray | None) -> np.ndarray:
        """The rows ``at`` (every row if None) as a matrix."""
        return self.x if at is None else np.take(self.x, at, axis=0)

    def grouped(self, at: np.ndarray | None) -> Grouped:
        """The rows ``at`` (every row if None) grouped by their 0/1 patterns."""
        return group_rows(self.take(at))

    def finite(self) -> bool:
        """Whether every value is finite."""
        return bool(np.isfinite(self.x).all())


class PatternRows(Rows):
    """Rows sorted by their pattern of 0/1 values: ``binary`` columns by pattern, the rest by row.

    ``patterns``: each pattern's 0/1 values (patterns x binary columns);
    ``starts``: where each pattern's run of rows starts; ``other``: the other
    columns, a row per column (columns x rows).
    """

    def __init__(
        self,
        binary: np.ndarray,
        other: np.ndarray,
        patterns: np.ndarray,
        starts: np.ndarray,
        values: np.ndarray,
    ) -> None:
        self.binary, self.other_cols, self.patterns, self.starts = binary, other, patterns, starts
        self.values = values
        self.n = values.shape[1]
        self.k = len(binary) + len(other)
        self.runs = np.diff(np.r_[starts, self.n])

    def eta(self, b: np.ndarray, out: np.ndarray) -> None:
        """``(x @ b).T`` into ``out``: each pattern's part repeated along its run, the rest."""
        by_pattern = b[self.binary].T @ self.patterns.T  # columns of b x patterns
        out[:] = np.repeat(by_pattern, self.runs, axis=1)
        out += b[self.other_cols].T @ self.values

    def dot(self, v: np.ndarray) -> np.ndarray:
        """``v @ x``: ``v`` summed along each pattern's run times the pattern, and the rest."""
        out = np.empty((len(v), self.k))
        out[:, self.binary] = np.add.reduceat(v, self.starts, axis=1) @ self.patterns
        out[:, self.other_cols] = v @ self.values.T
        return out

    def take(self, at: np.ndarray | None) -> np.ndarray:
        """The rows ``at`` (every row if None) as a matrix, their patterns and the rest."""
        at = np.arange(self.n) if at is None else at
        out = np.empty((len(at), self.k))
        pattern = np.searchsorted(self.starts, at, side="right") - 1
        out[:, self.binary] = self.patterns[pattern]
        out[:, self.other_cols] = np.take(self.values, at, axis=1).T
        return out

    def grouped(self, at: np.ndarray | None) -> Grouped:
        """:func:`group_rows` of :meth:`take`, from the rows' patterns (no matrix of the rows).

        The rows' patterns are known: sorted stably by their place among the
        patterns, which are in the order of their keys, they are in the order
        :func:`group_rows` sorts them in, and the pattern columns' values are
        the patterns' own (as :meth:`take` gives them). Only when another
        column happens to be 0/1 in these rows (then a pattern column for
        :func:`group_rows`) are the rows made and grouped as a matrix.
        """
        at = np.arange(self.n) if at is None else at
        values = np.take(self.values, at, axis=1)
        if ((values == 0.0) | (values == 1.0)).all(axis=1).any():
            return group_rows(self.take(at))
        # each row's pattern in the smallest integer type (a stable sort of 16 bits: radix)
        small = np.min_scalar_type(-len(self.starts))
        pattern = np.repeat(np.arange(len(self.starts), dtype=small), self.runs)[at]
        order = np.argsort(pattern, kind="stable")
        pattern = pattern[order]
        cols = np.empty((self.k, len(at)))
        cols[self.binary] = np.take(np.ascontiguousarray(self.patterns.T), pattern, axis=1)
        cols[self.other_cols] = np.take(values, order, axis=1)
        return Grouped(order, self.binary, cols, _run_starts(pattern))

    def finite(self) -> bool:
        """Whether every value is finite (the patterns' are 0 or 1)."""
        return bool(np.isfinite(self.values).all())


class Patterned:
    """A fixed design (and its rows' categories) sorted by the rows' 0/1 patterns, made once.

    :meth:`subset` gives the :class:`PatternRows` of some of its rows without
    sorting again. None from :meth:`of` when the rows have too many patterns to gain.
    """

    def __init__(self, x: np.ndarray, codes: np.ndarray, binary: np.ndarray, key: np.ndarray):
        n = len(x)
        self.order = np.argsort(key, kind="stable")
        self.inverse = np.empty(n, dtype=np.intp)
        self.inverse[self.order] = np.arange(n)
        skey = key[self.order]
        first = np.r_[True, skey[1:] != skey[:-1]]
        self.pattern = np.cumsum(first) - 1  # each sorted row's pattern
        self.binary = binary
        self.other = np.setdiff1d(np.arange(x.shape[1]), binary)
        self.patterns = np.ascontiguousarray(x[self.order[first]][:, binary])
        self.values = np.ascontiguousarray(np.take(x, self.order, axis=0)[:, self.other].T)
        self.codes = codes[self.order]
        self.n = n

    @classmethod
    def of(cls, x: np.ndarray, codes: np.ndarray) -> Patterned | None:
        """``x`` and ``codes`` sorted by the rows' patterns, or None.

        None when there are fewer than two 0/1 columns, or more than one pattern
        for every eight rows.
        """
        binary = binary_columns(x)
        key = pattern_keys(x[:, binary])
        if len(binary) < 2 or len(np.unique(key)) > len(x) // 8:
            return None
        return cls(x, codes, binary, key)

    def subset(self, rows: np.ndarray) -> PatternRows:
        """The sorted rows ``rows`` (increasing positions in the sorted order)."""
        pattern = self.pattern[rows]
        starts = _run_starts(pattern)
        values = np.take(self.values, rows, axis=1)
        return PatternRows(self.binary, self.other, self.patterns[pattern[starts]], starts, values)


def binary_columns(x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` whose every value is 0 or 1 (their positions)."""
    return np.flatnonzero(((x == 0) | (x == 1)).all(axis=0))


def pattern_keys(bits: np.ndarray) -> np.ndarray:
    """An integer per row, the same for rows with the same 0/1 values (``bits``' columns)."""
    if bits.shape[1] <= 62:
        return np.asarray((bits > 0) @ (1 << np.arange(bits.shape[1], dtype=np.int64)))
    return np.asarray(np.unique(bits, axis=0, return_inverse=True)[1]).ravel()
