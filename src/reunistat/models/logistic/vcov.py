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


def sum_by_cluster(scores: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Sum the rows of ``scores`` (n x k) within clusters: a G x k array."""
    out = np.empty((n_clusters, scores.shape[1]))
    for j in range(scores.shape[1]):
        out[:, j] = np.bincount(codes, weights=scores[:, j], minlength=n_clusters)
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
        u = sum_by_cluster(X * resid[:, None], codes, n_clusters)
        meat = u.T @ u
        adj = n_clusters / (n_clusters - 1)
    else:
        meat = xtwx(X, resid**2)
        adj = 1.0 if kind == "HC0" else n / (n - k)
    v = bread @ meat @ bread * adj
    return (v + v.T) / 2
