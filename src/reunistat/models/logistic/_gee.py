"""statsmodels' GEE without the rank of the design it computes and then discards.

``GEE`` is a ``GLM``, whose ``initialize`` sets ``df_model`` from
``np.linalg.matrix_rank(exog)``: an SVD of the whole n x k design (about
0.1 s at national size). ``GEE.__init__`` then overwrites ``df_model`` and
``df_resid`` from the number of columns ("column based, not on rank", its
comment says), and nothing in between reads them, so the SVD changes nothing.

:class:`SequentialExchangeable` is statsmodels' exchangeable working
correlation whose solve sums a cluster's residuals in numpy instead of with
Python's ``sum`` (an object per element; about 0.15 s of a national GEE), in
the same order, so to the same bits.
This module is imported only when a GEE is fitted (statsmodels is slow to import).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from statsmodels.genmod.cov_struct import Exchangeable
from statsmodels.genmod.generalized_estimating_equations import GEE


class ColumnRankGEE(GEE):
    """``GEE`` without the rank's SVD, each cluster's adjacent rows copied once.

    ``initialize`` counts columns instead of computing the design's rank;
    ``cluster_list`` copies a cluster's rows from a slice when they are adjacent.
    """

    def initialize(self) -> None:
        """``GLM.initialize`` with the column count for the rank.

        ``GEE.__init__`` then sets ``df_model`` and ``df_resid`` from the column count itself.
        """
        self.df_model = self.exog.shape[1] - 1
        weights = self.freq_weights  # None here: GLM fills it in after initialize
        if weights is not None and weights.shape[0] == self.endog.shape[0]:
            self.wnobs = weights.sum()
            self.df_resid = self.wnobs - self.df_model - 1
        else:
            self.wnobs = self.exog.shape[0]
            self.df_resid = self.exog.shape[0] - self.df_model - 1

    def cluster_list(self, array: np.ndarray) -> list[np.ndarray]:
        """``array`` split by cluster, as statsmodels splits it: each cluster's rows copied.

        A cluster whose rows are adjacent and in order (rows sorted by cluster) is copied
        from a slice, once; statsmodels gathers the rows and then copies them again.
        """
        out = []
        for k in self.group_labels:
            ix = self.group_indices[k]
            adjacent = len(ix) > 0 and bool((ix[1:] - ix[:-1] == 1).all())
            out.append(np.array(array[ix[0] : ix[-1] + 1] if adjacent else array[ix]))
        return out


def sequential_sum(x: np.ndarray) -> Any:
    """Python's ``sum(x)`` of a float array, to the bit: ``0 + x[0] + x[1] + ...`` in turn.

    :func:`numpy.add.accumulate` adds in that order (not pairwise, as ``x.sum()``
    does); adding its last value to ``0.0`` turns a sum of negative zeros into
    ``+0.0``, as starting from the integer 0 does.
    """
    if len(x) == 0:
        return 0
    return 0.0 + np.add.accumulate(x)[-1]


class SequentialExchangeable(Exchangeable):
    """``Exchangeable`` whose ``covariance_matrix_solve`` sums a vector in numpy.

    The same operations as statsmodels 0.14-0.15's, in the same order, except
    that the one-dimensional right-hand side's ``sum(x1)`` is
    :func:`sequential_sum` (the same value).
    """

    def covariance_matrix_solve(
        self, expval: np.ndarray, index: int, stdev: np.ndarray, rhs: Any
    ) -> list[np.ndarray]:
        """Solve the working covariance of one cluster against each of ``rhs``."""
        k = len(expval)
        c = self.dep_params / (1.0 - self.dep_params)
        c /= 1.0 + self.dep_params * (k - 1)
        rslt = []
        for x in rhs:
            if x.ndim == 1:
                x1 = x / stdev
                y = x1 / (1.0 - self.dep_params)
                y -= c * sequential_sum(x1)
                y /= stdev
            else:
                x1 = x / stdev[:, None]
                y = x1 / (1.0 - self.dep_params)
                y -= c * x1.sum(0)
                y /= stdev[:, None]
            rslt.append(y)
        return rslt
