"""The authority bootstrap of the propensity-weighted risk differences, drawn as weights.

A cluster bootstrap replicate draws ``G`` local authorities with replacement;
an authority drawn ``m`` times enters the replicate ``m`` times. Instead of
stacking those copies, each row here carries its authority's multiplicity
``m`` as a case weight (0 for an authority not drawn), which is the same
replicate:

* the propensity model's likelihood with case weights ``m`` is the likelihood
  of the stacked copies, so the refit has the same maximum; Newton's method
  starts from the full sample's estimate (a replicate's estimate is near it;
  the first step comes from sums per authority taken once; each step's
  products over the design's 0/1 columns are taken over their distinct
  combinations, :class:`GroupedDesign`), and falls back
  to :func:`reunistat.models.logistic.irls` with the weights (from zero,
  with step halving and its separation checks) if it does not converge
  cleanly from there;
* the weighted Kaplan-Meier of the stacked copies sums each row's weight
  ``m`` times: here ``m * weight`` once, on each group's distinct times
  sorted once for every replicate (a time no drawn row has adds a factor of
  exactly 1).

The replicates are the same draws from the same seed as stacking the copies;
the sums are taken in another order, so a replicate's risk differences can
differ from the stacked computation's in the last digits (by at most 5.9e-14
at national size; 1e-12 in the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit

from reunistat.models.evaluation._grouped_design import GroupedDesign
from reunistat.models.logistic import SeparationError, irls, xtwx
from reunistat.models.survival import KMSteps

#: Newton steps from the full sample's estimate before falling back to irls().
MAX_NEWTON_STEPS = 25


def refit_weighted(
    x: GroupedDesign, z: np.ndarray, c: np.ndarray, start: np.ndarray, terms: list[str]
) -> np.ndarray | None:
    """Return the fitted probabilities of a logistic model with case weights ``c``.

    Newton's method from ``start`` (its products over the design's distinct
    rows, :class:`GroupedDesign`), until a step moves no linear predictor by
    more than 1e-6 (Newton converges quadratically, so the probabilities are
    then within about 1e-13 of the maximum, the rounding noise of the fit);
    :func:`~reunistat.models.logistic.irls` with ``weights=c`` (from zero,
    with step halving and its separation checks) if the information is
    singular, a linear predictor passes 30, or 25 steps do not converge.
    ``None`` when the model separates the groups (the replicate is skipped).

    Examples
    --------
    >>> x = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> z = np.array([0.0, 0, 1, 0, 1, 1])
    >>> c = np.array([1.0, 2, 1, 1, 2, 1])
    >>> p = refit_weighted(GroupedDesign.of(x), z, c, np.zeros(2), ["Intercept", "x"])
    >>> bool(np.allclose(p, irls(x, z, weights=c).p, rtol=0, atol=1e-12))
    True
    """
    beta = np.asarray(start, dtype=float).copy()
    eta = x.eta(beta)
    for _ in range(MAX_NEWTON_STEPS):
        p = expit(eta)
        try:
            beta = beta + np.linalg.solve(x.info(c * p * (1 - p)), x.score(c * (z - p)))
        except np.linalg.LinAlgError:
            break
        new_eta = x.eta(beta)
        moved = float(np.max(np.abs(new_eta - eta)))
        eta = new_eta
        if not moved <= 30 or np.max(np.abs(eta)) > 30:  # NaN, or heading to separation
            break
        if moved < 1e-6:
            return np.asarray(expit(eta))
    try:
        return irls(x.matrix(), z, terms, weights=c).p
    except (SeparationError, np.linalg.LinAlgError):
        return None


class GroupCurves:
    """Weighted Kaplan-Meier of the comparison and pilot rows under changing row weights.

    Each group's distinct times are found once; a set of row weights then
    costs two ``bincount`` calls per group. ``codes`` (the row's cluster,
    ``0..n_clusters-1``) give the last time each cluster reaches, so a curve
    ends where the drawn clusters' follow-up ends, as it would on the stacked
    copies.
    """

    def __init__(
        self, t: np.ndarray, e: np.ndarray, z: np.ndarray, codes: np.ndarray, n_clusters: int
    ) -> None:
        self.groups = []
        for sel in (z != 1, z == 1):  # rows (comparison, pilot), as _risks_at
            rows = np.flatnonzero(sel)
            uniq, inv = np.unique(t[rows], return_inverse=True)
            last = np.full(n_clusters, -1, dtype=np.int64)
            np.maximum.at(last, codes[rows], inv)
            self.groups.append((rows, uniq, inv, e[rows] == 1, last))

    def risks(self, w: np.ndarray, drawn: np.ndarray, horizons: Sequence[int]) -> np.ndarray:
        """Weighted 1 - KM at each horizon, rows (comparison, pilot), for row weights ``w``.

        ``drawn`` marks the clusters in the replicate (every row of the
        others has weight 0). NaN beyond a group's follow-up.
        """
        out = np.full((2, len(horizons)), np.nan)
        for g, (rows, uniq, inv, ev, last) in enumerate(self.groups):
            end = int(last[drawn].max()) + 1
            if end == 0:
                continue
            wg = w[rows]
            k = len(uniq)
            n_risk = np.cumsum(np.bincount(inv, wg, k)[::-1])[::-1][:end]
            d = np.bincount(inv, wg * ev, k)[:end]
            with np.errstate(divide="ignore", invalid="ignore"):  # as km_steps: no one at risk
                surv = np.cumprod(np.where(n_risk > 0, 1 - d / n_risk, 1.0))
            steps = KMSteps(uniq[:end], n_risk, d, surv)
            out[g] = steps.cumulative_incidence_at(horizons)
        return out


class FirstStep:
    """Every replicate's first Newton step from the full sample's estimate, without the data.

    At ``start`` each cluster's information ``X_g' W_g X_g`` and score
    ``X_g' (z_g - p_g)`` are summed once; a replicate drawing cluster ``g``
    ``m_g`` times has information and score ``sum_g m_g (...)``, so its first
    step costs O(G k^2) instead of a pass over its rows.
    """

    def __init__(
        self, x: np.ndarray, z: np.ndarray, codes: np.ndarray, n_clusters: int, start: np.ndarray
    ) -> None:
        self.start = np.asarray(start, dtype=float)
        p = expit(x @ self.start)
        k = x.shape[1]
        self.info = np.zeros((n_clusters, k, k))
        self.score = np.zeros((n_clusters, k))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(n_clusters + 1))
        for g in range(n_clusters):
            r = order[bounds[g] : bounds[g + 1]]
            self.info[g] = xtwx(x[r], p[r] * (1 - p[r]))
            self.score[g] = x[r].T @ (z[r] - p[r])

    def step(self, m: np.ndarray) -> np.ndarray:
        """Return ``start`` plus the first Newton step of the replicate with multiplicities ``m``.

        ``start`` itself when that replicate's information is singular.
        """
        mf = m.astype(float)
        try:
            return self.start + np.linalg.solve(
                np.tensordot(mf, self.info, axes=1), mf @ self.score
            )
        except np.linalg.LinAlgError:
            return self.start


def cluster_bootstrap(
    used: pd.DataFrame,
    x: np.ndarray,
    terms: list[str],
    start: np.ndarray,
    columns: tuple[str, str, str, str],
    weigh: Callable[[np.ndarray, np.ndarray], np.ndarray],
    hz: list[int],
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """Risk differences (pilot minus comparison) of ``n_boot`` authority bootstrap replicates.

    Parameters
    ----------
    used : pandas.DataFrame
        The rows of the weighted comparison (aligned with ``x``).
    x : numpy.ndarray
        The propensity model's design; ``start`` its estimate on every row.
    terms : list of str
        The design's columns.
    start : numpy.ndarray
        Where each replicate's refit starts.
    columns : (treatment, duration, event, cluster)
        Column names in ``used``.
    weigh : callable
        ``weigh(ps, z)``: the balancing weights of propensity scores ``ps``.
    hz : list of int
        Horizons (days).
    n_boot, seed : int
        Replicates and the seed of their draws.

    Returns
    -------
    numpy.ndarray
        ``(n_boot, len(hz))``; a row of NaN for a replicate with one group
        only or a propensity model that separates the groups.
    """
    treatment, duration_col, event_col, cluster = columns
    rng = np.random.default_rng(seed)
    codes, labels = pd.factorize(used[cluster])
    n_cl = len(labels)
    codes = np.where(codes < 0, n_cl, codes)  # a missing cluster: in no replicate, as before
    z = used[treatment].to_numpy(dtype=float)
    curves = GroupCurves(
        used[duration_col].to_numpy(dtype=float),
        used[event_col].to_numpy(dtype=float),
        z,
        codes,
        n_cl + 1,
    )
    first = FirstStep(x, z, codes, n_cl, start)
    grouped = GroupedDesign.of(x)
    has = np.zeros((n_cl + 1, 2), dtype=bool)
    has[codes, (z == 1).astype(np.int64)] = True
    out = np.full((n_boot, len(hz)), np.nan)
    w = np.zeros(len(z))
    for b in range(n_boot):
        m = np.bincount(rng.integers(0, n_cl, n_cl), minlength=n_cl + 1)
        drawn = m > 0
        if not has[drawn].any(axis=0).all():  # one group only
            continue
        rows = np.flatnonzero(drawn[codes])
        c = m[codes[rows]].astype(float)
        ps = refit_weighted(grouped.take(rows), z[rows], c, first.step(m[:n_cl]), terms)
        if ps is None:
            continue
        w[:] = 0.0
        w[rows] = c * weigh(ps, z[rows])
        r = curves.risks(w, drawn, hz)
        out[b] = r[1] - r[0]
    return out
