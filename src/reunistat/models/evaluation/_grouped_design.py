"""A design's products taken over its distinct rows, for the bootstrap's propensity refits.

Most columns of a propensity model's design are 0/1 (the intercept and the
dummies of its factors): their distinct combinations, the *levels*, are far
fewer than the rows (1,038 of 70,000 returns at national size). With each
row's level ``code`` and its other columns ``other`` (counts, years, a log
length), the products a Newton step of a logistic model needs cost a
``bincount`` over the rows and dense algebra over the levels:

* ``X beta = (levels beta_d)[code] + other beta_o``;
* ``X' r = [levels' bincount(code, r), other' r]``;
* ``X' W X``: ``levels' diag(bincount(code, w)) levels``, the cross block
  ``levels' bincount(code, w other)`` and ``other' W other``.

The sums are taken in another order than over the rows, so the results can
differ from ``x @ beta``, ``x.T @ r`` and ``xtwx(x, w)`` in their last bits.
"""

from __future__ import annotations

import numpy as np

from reunistat.models.logistic import xtwx


class GroupedDesign:
    """The rows of a design ``x`` as levels of its two-valued columns plus its other columns.

    Build with :meth:`of`; :meth:`take` keeps some rows (the levels stay the
    same). When the levels would not be much fewer than the rows, every column
    is kept per row (the plain products).

    Examples
    --------
    >>> x = np.column_stack([np.ones(6), [0.0, 1, 0, 1, 0, 1], np.linspace(0, 1, 6)])
    >>> g = GroupedDesign.of(x, max_share=1.0)
    >>> g.n_levels, g.take(np.array([0, 1, 2])).n_rows
    (2, 3)
    >>> beta = np.array([0.5, -1.0, 2.0])
    >>> bool(np.allclose(g.eta(beta), x @ beta)), bool(np.array_equal(g.matrix(), x))
    (True, True)
    >>> w = np.linspace(1, 2, 6)
    >>> bool(np.allclose(g.info(w), x.T @ (x * w[:, None])))
    True
    """

    def __init__(
        self,
        levels: np.ndarray,
        code: np.ndarray,
        other: np.ndarray,
        columns: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.levels = levels
        self.code = code
        self.other = other
        self.d_cols, self.l_cols = columns

    @classmethod
    def of(cls, x: np.ndarray, max_share: float = 0.5) -> GroupedDesign:
        """Group the rows of ``x`` by its columns of at most two values (the 0/1 columns).

        Every other column (a count, a year, a log length) stays per row: at
        national size, taking the counts and the year into the levels too
        (14,000 levels instead of 1,038) made a Newton step 1.4 times as long.
        Every column stays per row when the levels would be more than
        ``max_share`` of the rows.
        """
        n = x.shape[0]
        lo, hi = x.min(axis=0), x.max(axis=0)
        two = ((x == lo) | (x == hi)).all(axis=0)  # constant or two values (no NaN)
        key, size = np.zeros(n, dtype=np.int64), 1
        for j in np.flatnonzero(two):  # the combination's number, in binary
            if size > 2**31:  # renumber the combinations seen, 0..n-1
                size, key = n, np.unique(key, return_inverse=True)[1].reshape(-1)
            key, size = 2 * key + (x[:, j] == hi[j]), 2 * size
        _, first, code = np.unique(key, return_index=True, return_inverse=True)
        levels = x[np.ix_(first, np.flatnonzero(two))]
        if len(levels) > max_share * n:
            two[:] = False
            levels, code = np.zeros((1, 0)), np.zeros(n, dtype=np.int64)
        columns = (np.flatnonzero(two), np.flatnonzero(~two))
        return cls(levels, code.reshape(-1), np.asfortranarray(x[:, ~two]), columns)

    def take(self, rows: np.ndarray) -> GroupedDesign:
        """The design of rows ``rows`` only (the same levels; ``other`` column-major)."""
        other = np.empty((len(rows), self.other.shape[1]), order="F")
        for j in range(other.shape[1]):
            np.take(self.other[:, j], rows, out=other[:, j])
        return GroupedDesign(self.levels, self.code[rows], other, (self.d_cols, self.l_cols))

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    @property
    def n_rows(self) -> int:
        return len(self.code)

    def matrix(self) -> np.ndarray:
        """The design itself (the same values as the ``x`` grouped)."""
        x = np.empty((self.n_rows, len(self.d_cols) + len(self.l_cols)))
        x[:, self.d_cols] = self.levels[self.code]
        x[:, self.l_cols] = self.other
        return x

    def eta(self, beta: np.ndarray) -> np.ndarray:
        """``x @ beta``."""
        out = (self.levels @ beta[self.d_cols])[self.code]
        if len(self.l_cols):
            out += self.other @ beta[self.l_cols]
        return out

    def score(self, r: np.ndarray) -> np.ndarray:
        """``x.T @ r``."""
        out = np.empty(len(self.d_cols) + len(self.l_cols))
        out[self.d_cols] = self.levels.T @ np.bincount(self.code, r, self.n_levels)
        out[self.l_cols] = self.other.T @ r
        return out

    def info(self, w: np.ndarray) -> np.ndarray:
        """``x' diag(w) x``."""
        d, c = self.d_cols, self.l_cols
        out = np.empty((len(d) + len(c),) * 2)
        out[np.ix_(d, d)] = xtwx(self.levels, np.bincount(self.code, w, self.n_levels))
        if len(c):
            wo = self.other * w[:, None]  # column-major, as ``other``
            by_level = [np.bincount(self.code, wo[:, j], self.n_levels) for j in range(len(c))]
            cross = self.levels.T @ np.column_stack(by_level)
            out[np.ix_(d, c)] = cross
            out[np.ix_(c, d)] = cross.T
            out[np.ix_(c, c)] = wo.T @ self.other
        return out
