"""Variance of logistic estimates: model-based, heteroskedasticity- and cluster-robust.

The cluster-robust variance is R's ``sandwich::vcovCL(fit, cluster = ~ g)`` for
a ``glm`` (its default there, type HC0 with the cluster adjustment):
``G/(G-1) * B M B`` with ``B`` the inverse information and ``M`` the sum over
clusters of the outer product of the summed scores. (Stata and statsmodels
multiply this further by ``(n-1)/(n-k)``, negligible at the sizes here.)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from reunistat.errors import InputError
from reunistat.models.logistic.linalg import xtwx

VcovType = Literal["model", "HC0", "HC1", "cluster"]


def cluster_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Return integer codes 0..G-1 of cluster labels and G."""
    codes, uniques = pd.factorize(pd.Series(values), sort=False)
    return codes.astype(np.int64), len(uniques)


def sum_by_cluster(
    x: np.ndarray, codes: np.ndarray, n_clusters: int, resid: np.ndarray | None = None
) -> np.ndarray:
    """Sum the rows of ``x`` (n x k), times ``resid`` if given, within clusters: G x k.

    One sparse product ``A @ x`` with ``A[g, i] = resid[i]`` for row i of
    cluster g: each row of ``x`` is read once in its own (row-major) order and
    no n x k array of scores is made. Each cluster's sum adds ``resid[i] *
    x[i, j]`` over its rows in row order, from zero, as ``np.bincount`` of the
    scores did, so the sums are the same to the bit.

    >>> x = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> sum_by_cluster(x, np.array([1, 0, 1]), 2, np.array([1.0, 0.5, 2.0]))
    array([[ 1.5,  2. ],
           [11. , 14. ]])
    """
    from scipy import sparse

    n = x.shape[0]
    weights = np.ones(n) if resid is None else np.asarray(resid, dtype=float)
    # COO -> CSR is a counting sort that keeps each cluster's rows in row order
    a = sparse.coo_matrix((weights, (codes, np.arange(n))), shape=(n_clusters, n)).tocsr()
    out: np.ndarray = np.asarray(a @ np.ascontiguousarray(x, dtype=float))
    return out


def sandwich(
    X: np.ndarray,
    resid: np.ndarray,
    bread: np.ndarray,
    kind: VcovType,
    codes: np.ndarray | None = None,
    n_clusters: int | None = None,
) -> np.ndarray:
    """Return the variance of the estimates.

    Parameters
    ----------
    X : numpy.ndarray
        Design matrix (n x k).
    resid : numpy.ndarray
        Response residuals ``y - p``: the score of row i is ``resid[i] * X[i]``.
    bread : numpy.ndarray
        Inverse of the information matrix ``X' W X``.
    kind : {"model", "HC0", "HC1", "cluster"}
        Which variance.
    codes, n_clusters
        Cluster codes from :func:`cluster_codes` when ``kind == "cluster"``.
    """
    n, k = X.shape
    if kind == "model":
        return bread
    if kind == "cluster":
        if codes is None or n_clusters is None:
            raise InputError("cluster variance needs cluster codes")
        u = sum_by_cluster(X, codes, n_clusters, resid)
        meat = u.T @ u
        adj = n_clusters / (n_clusters - 1)
    else:
        meat = xtwx(X, resid**2)
        adj = 1.0 if kind == "HC0" else n / (n - k)
    v = bread @ meat @ bread * adj
    return (v + v.T) / 2
