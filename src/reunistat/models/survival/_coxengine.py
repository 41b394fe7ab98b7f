"""Vectorised numpy core of the Cox partial likelihood (Efron and Breslow ties).

The data are sorted once. Every Newton evaluation is then a handful of whole-array
passes: the linear predictor, sums within each distinct (stratum, time) by
:func:`numpy.add.reduceat`, reverse cumulative sums over those groups for the
risk sets, and one weighted ``X' D X`` product for the information. Counting-
process data ``(start, stop]`` are handled by subtracting the sums of rows whose
entry time is at or after the event time, so a row is at risk for an event at
``t`` when ``start < t <= stop`` (R's convention). Strata never mix: times are
replaced by integer ranks and offset by ``stratum * K``.

Weights enter as in R's ``coxph`` (``coxfit6`` / ``agfit4``): for a tied event
time with ``d`` events whose weights sum to ``dw``, the Efron term ``j`` (``j = 0
.. d-1``) has denominator ``S0 - (j / d) * S0_deaths`` and weight ``dw / d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[Any]  # float64 in practice; bincount is typed as int
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CoxProblem:
    """Sorted, grouped data ready for repeated likelihood evaluations."""

    x: FloatArray  # (n, p) centred covariates in sorted order
    means: FloatArray  # (p,) the centring
    w: FloatArray  # (n,) case weights, sorted
    event: NDArray[np.bool_]  # (n,) sorted
    order: IntArray  # sorted position -> original row
    exit_starts: IntArray  # reduceat boundaries of the distinct stop keys
    entry_perm: IntArray | None  # sorted position order by start key (None: same order)
    entry_starts: IntArray  # reduceat boundaries of the distinct start keys
    ev_exit_pos: IntArray  # per event group: first exit group with key >= event key
    ev_entry_pos: IntArray  # per event group: first entry group with key >= event key
    death_rows: IntArray  # sorted positions of the event rows, grouped by key
    death_starts: IntArray  # reduceat boundaries of the event groups among death_rows
    death_group: IntArray  # event group of each death row
    death_frac: FloatArray  # Efron fraction j/d of each death row (0 for Breslow)
    row_hi: IntArray  # per row: event groups with key <= stop key
    row_lo: IntArray  # per row: event groups with key <= start key
    ev_keys: IntArray  # (n_groups,) composite keys of the event groups
    ev_stratum: IntArray  # stratum code of each event group
    ev_time: FloatArray  # event time of each event group
    n_strata: int

    @property
    def n_groups(self) -> int:
        """Number of distinct (stratum, event time) groups."""
        return int(self.ev_keys.shape[0])


def _boundaries(sorted_keys: IntArray) -> IntArray:
    """Return the first index of each run of equal values in a sorted array."""
    if sorted_keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.int64)


def prepare(
    x: FloatArray,
    stop: FloatArray,
    event: NDArray[np.bool_],
    *,
    start: FloatArray | None = None,
    weights: FloatArray | None = None,
    strata: IntArray | None = None,
    ties: str = "efron",
) -> CoxProblem:
    """Sort and group the data once for :func:`evaluate`.

    Parameters
    ----------
    x : ndarray of shape (n, p)
        Covariates (not yet centred).
    stop : ndarray of shape (n,)
        Exit (event or censoring) times.
    event : ndarray of shape (n,)
        True where the row ends in the event.
    start : ndarray of shape (n,), optional
        Entry times for ``(start, stop]`` data.
    weights : ndarray of shape (n,), optional
        Case weights (default 1).
    strata : ndarray of shape (n,), optional
        Integer stratum codes ``0 .. S-1``.
    ties : {"efron", "breslow"}
        Handling of tied event times.

    Returns
    -------
    CoxProblem
        The prepared problem.
    """
    n = x.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    n_strata = int(s.max()) + 1 if n else 1
    if start is None:
        uniq, rank = np.unique(stop, return_inverse=True)
        k_mult = uniq.shape[0] + 1
        stop_key = s * k_mult + rank + 1
        start_key = s * k_mult
    else:
        uniq, inv = np.unique(np.concatenate([stop, start]), return_inverse=True)
        k_mult = uniq.shape[0] + 1
        stop_key = s * k_mult + inv[:n] + 1
        start_key = s * k_mult + inv[n:] + 1
    # sort by stop key, events first within a key (keeps death rows contiguous)
    order = np.lexsort((~event, stop_key)).astype(np.int64)
    sk = stop_key[order]
    ek = start_key[order]
    ev = event[order]
    xs = x[order]
    ws = w[order]
    means = np.average(xs, axis=0, weights=ws) if n else np.zeros(x.shape[1])
    xs = xs - means
    exit_starts = _boundaries(sk)
    exit_keys = sk[exit_starts]
    if start is None:
        entry_perm = None
        ek_sorted = ek  # s * K is already sorted when rows are sorted by stop key
    else:
        entry_perm = np.argsort(ek, kind="stable").astype(np.int64)
        ek_sorted = ek[entry_perm]
    entry_starts = _boundaries(ek_sorted)
    entry_keys = ek_sorted[entry_starts]
    death_rows = np.flatnonzero(ev).astype(np.int64)
    dk = sk[death_rows]
    death_starts = _boundaries(dk)
    ev_keys = dk[death_starts]
    sizes = np.diff(np.append(death_starts, death_rows.shape[0]))
    death_group = np.repeat(np.arange(ev_keys.shape[0]), sizes).astype(np.int64)
    if ties == "efron":
        j = np.arange(death_rows.shape[0]) - np.repeat(death_starts, sizes)
        death_frac = j / np.repeat(sizes, sizes)
    else:
        death_frac = np.zeros(death_rows.shape[0])
    ev_time = uniq[(ev_keys % k_mult) - 1] if ev_keys.shape[0] else np.zeros(0)
    return CoxProblem(
        x=np.ascontiguousarray(xs, dtype=float),
        means=np.asarray(means, dtype=float),
        w=ws,
        event=ev,
        order=order,
        exit_starts=exit_starts,
        entry_perm=entry_perm,
        entry_starts=entry_starts,
        ev_exit_pos=np.searchsorted(exit_keys, ev_keys, "left").astype(np.int64),
        ev_entry_pos=np.searchsorted(entry_keys, ev_keys, "left").astype(np.int64),
        death_rows=death_rows,
        death_starts=death_starts,
        death_group=death_group,
        death_frac=death_frac,
        row_hi=np.searchsorted(ev_keys, sk, "right").astype(np.int64),
        row_lo=np.searchsorted(ev_keys, ek, "right").astype(np.int64),
        ev_keys=ev_keys,
        ev_stratum=(ev_keys // k_mult).astype(np.int64),
        ev_time=np.asarray(ev_time, dtype=float),
        n_strata=n_strata,
    )


def _revcum(groups: FloatArray) -> FloatArray:
    """Reverse cumulative sum along axis 0 with a trailing zero row."""
    out = np.zeros((groups.shape[0] + 1, *groups.shape[1:]))
    out[:-1] = np.cumsum(groups[::-1], axis=0)[::-1]
    return out


def _interval_sum(per_group: FloatArray, hi: IntArray, lo: IntArray) -> FloatArray:
    """For each row, sum ``per_group`` over the event groups in its at-risk interval."""
    cum = np.zeros((per_group.shape[0] + 1, *per_group.shape[1:]))
    np.cumsum(per_group, axis=0, out=cum[1:])
    return cum[hi] - cum[lo]


@dataclass(frozen=True)
class Evaluation:
    """The partial log-likelihood and its derivatives at one coefficient vector."""

    loglik: float
    score: FloatArray
    info: FloatArray
    eta: FloatArray  # centred linear predictor, sorted order
    risk: FloatArray  # exp(eta)
    abar: FloatArray  # (n_deaths, p) Efron-adjusted means per death row
    den: FloatArray  # (n_deaths,) Efron denominators
    meanwt: FloatArray  # (n_groups,) mean weight of the events in each group
    hazard: FloatArray  # (n_groups,) baseline hazard increments (centred covariates)


def _risk_set_sums(prob: CoxProblem, z: FloatArray) -> FloatArray:
    """Sum ``z`` (n, q) over the risk set of every event group: (n_groups, q)."""
    exit_sums = np.add.reduceat(z, prob.exit_starts, axis=0) if z.shape[0] else z
    total = _revcum(exit_sums)[prob.ev_exit_pos]
    ze = z if prob.entry_perm is None else z[prob.entry_perm]
    entry_sums = np.add.reduceat(ze, prob.entry_starts, axis=0) if z.shape[0] else z
    return total - _revcum(entry_sums)[prob.ev_entry_pos]


def evaluate(prob: CoxProblem, beta: FloatArray, need_info: bool = True) -> Evaluation:
    """Evaluate the partial log-likelihood, score and information at ``beta``."""
    x, w = prob.x, prob.w
    p = x.shape[1]
    eta = x @ beta
    risk = np.exp(eta)
    wr = w * risk
    z = np.empty((x.shape[0], p + 1))
    z[:, 0] = wr
    np.multiply(x, wr[:, None], out=z[:, 1:])
    rs = _risk_set_sums(prob, z)
    dr = prob.death_rows
    zd = z[dr]
    ds = np.add.reduceat(zd, prob.death_starts, axis=0) if dr.shape[0] else zd
    dwt = np.add.reduceat(w[dr], prob.death_starts) if dr.shape[0] else np.zeros(0)
    sizes = np.diff(np.append(prob.death_starts, dr.shape[0]))
    meanwt = dwt / np.maximum(sizes, 1)
    g, f = prob.death_group, prob.death_frac
    num = rs[g] - f[:, None] * ds[g]  # (D, p+1)
    den = num[:, 0]
    abar = num[:, 1:] / den[:, None]
    mw = meanwt[g]
    loglik = float(np.dot(w[dr], eta[dr]) - np.dot(mw, np.log(den)))
    score = w[dr] @ x[dr] - mw @ abar
    hazard = np.bincount(g, weights=mw / den, minlength=prob.n_groups)
    if need_info:
        dcoef = np.bincount(g, weights=mw * f / den, minlength=prob.n_groups)
        c_row = _interval_sum(hazard, prob.row_hi, prob.row_lo)
        diag = wr * c_row
        diag[dr] -= wr[dr] * dcoef[g]
        info = (x * diag[:, None]).T @ x - (abar * mw[:, None]).T @ abar
    else:
        info = np.zeros((p, p))
    return Evaluation(loglik, score, info, eta, risk, abar, den, meanwt, hazard)


@dataclass(frozen=True)
class CoxFit:
    """Output of :func:`newton`."""

    beta: FloatArray  # on the original (uncentred) covariate scale; identical slopes
    info: FloatArray
    loglik: float
    loglik_null: float
    iterations: int
    converged: bool
    last: Evaluation


def newton(
    prob: CoxProblem,
    beta0: FloatArray | None = None,
    max_iter: int = 30,
    tol: float = 1e-10,
) -> CoxFit:
    """Maximise the partial likelihood by Newton-Raphson with step halving.

    Converges when the relative change in the log-likelihood falls below ``tol``
    and the Newton step is tiny; a final evaluation gives the information at the
    returned estimate.
    """
    p = prob.x.shape[1]
    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float)
    ev = evaluate(prob, beta)
    ll_null = ev.loglik if beta0 is None else evaluate(prob, np.zeros(p), False).loglik
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        try:
            step = np.linalg.solve(ev.info, ev.score)
        except np.linalg.LinAlgError:
            break
        new = evaluate(prob, beta + step)
        halvings = 0
        while (not np.isfinite(new.loglik) or new.loglik < ev.loglik - 1e-12) and halvings < 30:
            step = step / 2
            new = evaluate(prob, beta + step)
            halvings += 1
        beta = beta + step
        change = abs(new.loglik - ev.loglik)
        ev = new
        if change <= tol * max(1.0, abs(ev.loglik)) and np.max(np.abs(step), initial=0) < 1e-7:
            converged = True
            break
    return CoxFit(beta, ev.info, ev.loglik, ll_null, it, converged, ev)


def score_residuals(prob: CoxProblem, ev: Evaluation) -> FloatArray:
    """Return the (unweighted) score residuals in sorted order, shape (n, p).

    ``sum_i w_i U_i`` is the score; ``w_i U_i V`` are R's weighted dfbeta residuals.
    """
    x = prob.x
    g, f = prob.death_group, prob.death_frac
    dr = prob.death_rows
    mw = ev.meanwt[g]
    ng = prob.n_groups
    a_over = ev.abar * (mw / ev.den)[:, None]
    hz = ev.hazard
    gk = np.stack([np.bincount(g, a_over[:, j], ng) for j in range(x.shape[1])], axis=1)
    h_row = _interval_sum(hz, prob.row_hi, prob.row_lo)
    g_row = _interval_sum(gk, prob.row_hi, prob.row_lo)
    if f.any():
        h2 = np.bincount(g, mw * f / ev.den, ng)
        g2 = np.stack([np.bincount(g, a_over[:, j] * f, ng) for j in range(x.shape[1])], axis=1)
        h_row[dr] -= h2[g]
        g_row[dr] -= g2[g]
    resid = -ev.risk[:, None] * (x * h_row[:, None] - g_row)
    sizes = np.diff(np.append(prob.death_starts, dr.shape[0]))
    amean = np.add.reduceat(ev.abar, prob.death_starts, axis=0) / sizes[:, None]
    resid[dr] += x[dr] - amean[g]
    return resid


def robust_cov(
    prob: CoxProblem,
    ev: Evaluation,
    var: NDArray[np.floating],
    cluster: IntArray | None = None,
) -> FloatArray:
    """Return R's robust variance ``D'D`` from dfbeta residuals summed by cluster.

    ``cluster`` holds integer codes in the original row order (None: each row is
    its own cluster).
    """
    u = score_residuals(prob, ev) * prob.w[:, None]
    if cluster is not None:
        codes = np.asarray(cluster)[prob.order]
        n_cl = int(codes.max()) + 1
        u = np.stack([np.bincount(codes, u[:, j], n_cl) for j in range(u.shape[1])], axis=1)
    d = u @ var
    return np.asarray(d.T @ d)
