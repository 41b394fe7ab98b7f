"""The Cox fit of a single 0/1 covariate from counts, for the power simulation's replicates.

With one 0/1 covariate ``x`` and right-censored follow-up, every sum of the
partial likelihood is a count: at the ``g``-th distinct event time, ``R0, R1``
rows of each group are at risk and ``E0, E1`` of them have the event. With
``r = exp(b)`` and Efron's handling of the ``d = E0 + E1`` tied events
(``f = j / d``, ``j = 0 .. d - 1``)::

    den_j = (R0 + r R1) - f (E0 + r E1)      num_j = r R1 - f r E1
    loglik = sum_g [b E1 - sum_j log den_j]
    score  = sum_g [E1 - sum_j num_j / den_j]
    info   = sum_g sum_j (num_j / den_j) (1 - num_j / den_j)     (x^2 = x)

so a Newton step costs a pass over the events, not over the rows. The steps,
step halving and stopping rule are the package engine's
(:func:`reunistat.models.survival._coxengine.newton`: from 0, stop when the
log-likelihood changes by at most ``1e-10`` of its size), and the clustered
variance is R's robust one (``CR0``) from Efron score residuals, as
:func:`reunistat.models.survival.cox_arrays` with ``cluster``. The sums are
taken in another order than the engine's, so the estimate and its standard
error agree with it to rounding (about 1e-13 relative; a test holds them to
1e-10), not to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reunistat.errors import ConvergenceError

#: The engine's Newton settings (reunistat.models.survival._coxengine.newton).
MAX_ITER = 30
TOL = 1e-10


@dataclass(frozen=True)
class _Counts:
    """Per event time: rows at risk and events of each group; Efron's terms expanded."""

    r0: np.ndarray  # at risk with x = 0, per event time
    r1: np.ndarray
    e0: np.ndarray  # events with x = 0
    e1: np.ndarray
    grp: np.ndarray  # the event time of each Efron term (one per event)
    frac: np.ndarray  # j / d of each term
    n_ev1: float  # events with x = 1 (the score's first part)


def _event_times(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each event's event time (0, 1, ... in time order); each row's event times up to its own.

    ``np.unique(time[event], return_inverse=True)``'s inverse and ``np.searchsorted`` of
    ``time`` in those times; by a table of days when the event times are whole days
    (as the simulation's), without sorting.
    """
    te = time[event]
    top = int(te.max()) if te.size and np.isfinite(te).all() else -1
    if 0 <= top < 100_000 and te.min() >= 0 and (te == np.floor(te)).all():
        if np.isfinite(time).all():
            days = te.astype(np.int64)
            upto = np.cumsum(np.bincount(days, minlength=top + 1) > 0)  # event times <= day
            day = np.floor(np.clip(time, -1, top)).astype(np.int64)
            return upto[days] - 1, np.where(day < 0, 0, upto[day])
    ut, inv = np.unique(te, return_inverse=True)
    return inv, np.searchsorted(ut, time, side="right")


def _counts(treated: np.ndarray, time: np.ndarray, event: np.ndarray) -> tuple[_Counts, np.ndarray]:
    """The counts, and each row's number of event times at or before its own time."""
    inv, past = _event_times(time, event)  # a row is at risk at event times [0, past)
    ng = int(inv.max()) + 1 if inv.size else 0
    d = np.bincount(inv, minlength=ng)
    e1 = np.bincount(inv, treated[event], ng)
    at1 = np.bincount(past, treated, ng + 1)
    at = np.bincount(past, minlength=ng + 1).astype(float)
    r1 = np.cumsum(at1[::-1])[::-1][1:]
    r0 = np.cumsum(at[::-1])[::-1][1:] - r1
    grp = np.repeat(np.arange(ng), d)
    starts = np.cumsum(d) - d
    frac = (np.arange(grp.size) - starts[grp]) / d[grp]
    c = _Counts(r0, r1, d - e1, e1, grp, frac, float(e1.sum()))
    return c, past


def _terms(c: _Counts, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Each Efron term's denominator and ``num / den`` at ``b``."""
    r = np.exp(b)
    s0 = c.r0 + r * c.r1
    d0 = c.e0 + r * c.e1
    den = s0[c.grp] - c.frac * d0[c.grp]
    num = r * c.r1[c.grp] - c.frac * (r * c.e1[c.grp])
    return den, num / den


def _evaluate(c: _Counts, b: float) -> tuple[float, float, float]:
    """Log partial likelihood, score and information at ``b``."""
    den, ratio = _terms(c, b)
    loglik = b * c.n_ev1 - float(np.log(den).sum())
    return loglik, c.n_ev1 - float(ratio.sum()), float((ratio * (1 - ratio)).sum())


def _newton(c: _Counts) -> tuple[float, float]:
    """The engine's Newton-Raphson with step halving, from 0: the estimate and information."""
    b = 0.0
    ll, score, info = _evaluate(c, b)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(MAX_ITER):
            if info == 0 or not np.isfinite(info):
                break
            step = score / info
            new = _evaluate(c, b + step)
            halvings = 0
            slack = 1e-11 * max(1.0, abs(ll))  # rounding noise of the sums
            while (not np.isfinite(new[0]) or new[0] < ll - slack) and halvings < 30:
                step = step / 2
                new = _evaluate(c, b + step)
                halvings += 1
            b = b + step
            change = abs(new[0] - ll)
            ll, score, info = new
            if change <= TOL * max(1.0, abs(ll)):
                return b, info
    raise ConvergenceError("the Cox fit did not converge")


def _cluster_scores(
    c: _Counts,
    past: np.ndarray,
    treated: np.ndarray,
    event: np.ndarray,
    cluster: np.ndarray,
    b: float,
) -> np.ndarray:
    """Efron score residuals at ``b`` summed by cluster (as the engine's ``cluster_scores``)."""
    den, ratio = _terms(c, b)
    ng = len(c.r0)
    inv = 1 / den
    hazard = np.bincount(c.grp, inv, ng)
    h2 = np.bincount(c.grp, c.frac * inv, ng)
    gk = np.bincount(c.grp, ratio * inv, ng)
    g2 = np.bincount(c.grp, c.frac * ratio * inv, ng)
    amean = np.bincount(c.grp, ratio, ng) / (c.e0 + c.e1)
    cum_h = np.concatenate([[0.0], np.cumsum(hazard)])
    cum_g = np.concatenate([[0.0], np.cumsum(gk)])
    risk = np.where(treated == 1, np.exp(b), 1.0)
    resid = risk * (cum_g[past] - treated * cum_h[past])
    rows = np.flatnonzero(event)
    g = past[rows] - 1  # an event row's own event time
    xr = treated[rows]
    resid[rows] += risk[rows] * (xr * h2[g] - g2[g]) + xr - amean[g]
    return np.bincount(cluster, resid)


def binary_cox(
    treated: np.ndarray, time: np.ndarray, event: np.ndarray, cluster: np.ndarray | None = None
) -> tuple[float, float]:
    """Fit a Cox model of one 0/1 covariate (Efron ties): the log hazard ratio and its SE.

    ``cluster`` (integer codes) gives R's cluster-robust SE; without it the
    model-based one.

    Raises
    ------
    ConvergenceError
        If Newton's method does not converge (as the engine).

    Examples
    --------
    >>> x = np.array([0.0, 0, 0, 1, 1, 1])
    >>> b, se = binary_cox(x, np.array([1.0, 2, 3, 1, 4, 5]), np.ones(6, dtype=bool))
    >>> round(b, 4), round(se, 4)
    (-1.2936, 1.166)
    """
    x = np.asarray(treated, dtype=float)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=bool)
    c, past = _counts(x, t, e)
    b, info = _newton(c)
    var = 1 / info
    if cluster is None:
        return b, float(np.sqrt(var))
    u = _cluster_scores(c, past, x, e, np.asarray(cluster, dtype=np.int64), b) * var
    return b, float(np.sqrt(u @ u))
