"""A wide 0/1 design (an intercept, some columns, fixed effects' dummies) made by blocks of rows.

The difference-in-differences designs have one dummy per authority: at national
size ``x`` is 145,657 x 176, 205 MB of which about 4 entries a row are not zero.
Every product they take of it (``x @ v``, ``x @ M``, a cluster's rows) works on
rows apart from the others, so :class:`DummyDesign` writes the rows asked for
(the values the dense matrix holds) instead of keeping the dense matrix: the
same numbers to the bit, without allocating and writing the whole of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DummyDesign:
    """``[1, values, dummies]``: an intercept, ``values`` (n x t) and one 1 per row per factor.

    ``ones`` holds, for each factor, the column of each row's 1 (0, the
    intercept's column, for the reference level: no dummy is 1 there). ``sparse``
    is the same matrix as a CSR matrix.

    Examples
    --------
    >>> d = DummyDesign(np.array([[0.0], [1.0], [1.0]]), [np.array([0, 2, 3])], 4, None)
    >>> d.rows(slice(None))
    array([[1., 0., 0., 0.],
           [1., 1., 1., 0.],
           [1., 1., 0., 1.]])
    >>> d.rows(np.array([2]))
    array([[1., 1., 0., 1.]])
    """

    dtype = np.dtype(np.float64)

    def __init__(self, values: np.ndarray, ones: list[np.ndarray], k: int, sparse: Any) -> None:
        self.values = values
        self.ones = ones
        self.shape = (len(values), k)
        self.sparse = sparse

    def rows(self, r: slice | np.ndarray) -> np.ndarray:
        """The dense rows ``r`` (a slice or row numbers), C-contiguous."""
        vals = self.values[r]
        m, k = len(vals), self.shape[1]
        out = np.zeros((m, k))
        out[:, 0] = 1.0
        out[:, 1 : 1 + vals.shape[1]] = vals
        flat = out.reshape(-1)
        starts = np.arange(0, m * k, k)
        for col in self.ones:
            flat[starts + col[r]] = 1.0
        return out

    def dense(self) -> np.ndarray:
        """The whole matrix (for a computation that needs it whole)."""
        return self.rows(slice(None))
