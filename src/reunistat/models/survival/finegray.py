"""Fine-Gray subdistribution hazards for re-entry with competing exits, and cause-specific Cox.

The Fine-Gray fit is a weighted Cox fit (Breslow ties, as ``cmprsk::crr``) in
which a row with a competing exit at ``X_j`` stays in later risk sets with the
inverse-probability-of-censoring weight ``G(t-) / G(X_j-)``. Those weights enter
the risk-set sums as cumulative sums, so the data are never expanded (R's
``finegray()`` expands them) and the cost stays ``O(n log n)``. The default
variance is Fine and Gray's (1999) sandwich including the term for the estimated
censoring distribution, as ``crr`` reports it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd

from reunistat.errors import ConvergenceError, InputError, ModelError
from reunistat.models import _options
from reunistat.models._formula import split_formula
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import _data
from reunistat.models.survival.cox import _check_monotone, cox
from reunistat.results import ModelResult, Provenance, data_hash, restamp

FGVcov = Literal["fine-gray", "model", "CR0"]
_CHUNK = 16_384  # rows per block where (rows, p) temporaries would otherwise be (n, p)


def _censoring_left(
    time_s: np.ndarray, censored_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring distribution from times in sorted order.

    Returns the unique times, ``G(t-)`` at them and each row's unique-time index
    (whole-number counts: the values of :func:`reunistat.models.survival.km._counts`).
    """
    n = time_s.shape[0]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(time_s[1:], time_s[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    exits = np.diff(np.append(starts, n)).astype(float)
    n_risk = np.cumsum(exits[::-1])[::-1]
    ev = np.add.reduceat(censored_s.astype(float), starts) if n else np.zeros(0)
    g = np.cumprod(1 - ev / n_risk)
    return time_s[starts], np.concatenate([[1.0], g[:-1]]), np.cumsum(new) - 1


def _add_psi(
    total: np.ndarray,
    prob: engine.CoxProblem,
    ev: engine.Evaluation,
    time_s: np.ndarray,
    cens_s: np.ndarray,
    comp_idx: np.ndarray,
) -> None:
    """Add Fine-Gray's correction for the estimated censoring distribution to ``total``.

    ``total`` holds the score residuals in sorted order; the correction ``psi`` is
    added a block of rows at a time (the same sums, no ``(n, p)`` array of it).
    """
    tl = prob.tail
    assert tl is not None
    x = prob.x
    n = x.shape[0]
    dlam = ev.hazard
    # Breslow: all rows of a group share one denominator
    den_g = np.zeros(prob.n_groups)
    den_g[prob.death_group] = ev.den
    ebar = ev.s1 / den_g[:, None]
    ga = tl.gain * dlam  # G(t_k-) dLambda_k
    # q(u) = sum over competing rows with X_j < u and event times t_k >= u of
    # (r_j / G_j) G(t_k-) (x_j - ebar_k) dLambda_k  (cmprsk's tie conventions)
    tc_all = time_s[cens_s]  # sorted, as time_s is
    first = np.flatnonzero(np.r_[True, tc_all[1:] != tc_all[:-1]]) if tc_all.size else tc_all
    uniq_c, idx_c = (
        tc_all[first],
        np.repeat(np.arange(first.shape[0]), np.diff(np.append(first, tc_all.shape[0]))),
    )
    n_at = n - np.searchsorted(time_s, uniq_c, "left")  # pi(u) = #{X >= u}
    d_c = np.bincount(idx_c, minlength=uniq_c.shape[0]).astype(float)
    k_from = np.searchsorted(prob.ev_time, uniq_c, "left")  # groups with t_k > u
    a_rev = engine._revcum(ga)
    b_rev = engine._revcum(ga[:, None] * ebar)
    a_u, b_u = a_rev[k_from], b_rev[k_from]
    r = ev.risk[comp_idx] * tl.inv_g
    tc = time_s[comp_idx]  # sorted: comp_idx ascends
    cum_r = np.concatenate([[0.0], np.cumsum(r)])
    cum_rx = np.zeros((comp_idx.shape[0] + 1, x.shape[1]))
    for i in range(0, comp_idx.shape[0], _CHUNK):  # a running sum block by block: same order
        block = cum_rx[1 + i : 1 + i + _CHUNK]
        np.multiply(r[i : i + _CHUNK, None], x[comp_idx[i : i + _CHUNK]], out=block)
        if i:
            block[0] += cum_rx[i]
        np.cumsum(block, axis=0, out=block)
    upto = np.searchsorted(tc, uniq_c, "left")
    q = a_u[:, None] * cum_rx[upto] - b_u * cum_r[upto][:, None]  # (n_u, p)
    qp = q / n_at[:, None]
    # psi_i = [censored at u_i] q(u_i)/pi(u_i) - sum_{u <= X_i} q(u) dN^c(u) / pi(u)^2
    comp_term = np.vstack([np.zeros(x.shape[1]), np.cumsum(qp * (d_c / n_at)[:, None], axis=0)])
    upto_i = np.searchsorted(uniq_c, time_s, "right")
    ci = np.flatnonzero(cens_s)  # censored rows, in the order of idx_c
    cuts = np.searchsorted(ci, np.arange(0, n + _CHUNK, _CHUNK))
    for k, i in enumerate(range(0, n, _CHUNK)):
        psi = comp_term[upto_i[i : i + _CHUNK]]
        np.negative(psi, out=psi)
        lo, hi = cuts[k], cuts[k + 1]
        psi[ci[lo:hi] - i] += qp[idx_c[lo:hi]]
        total[i : i + _CHUNK] += psi


def _eta(prob: engine.CoxProblem, ev: engine.Evaluation) -> np.ndarray:
    """Score residuals of the weighted fit, including the tail rows' time-varying part."""
    tl = prob.tail
    assert tl is not None
    u = engine.score_residuals(prob, ev)
    den_g = np.zeros(prob.n_groups)
    den_g[prob.death_group] = ev.den
    ebar = ev.s1 / den_g[:, None]
    ga = tl.gain * ev.hazard
    a = engine._revcum(ga)[tl.pos]
    b = engine._revcum(ga[:, None] * ebar)[tl.pos]
    r = ev.risk[tl.rows] * tl.inv_g
    x = prob.x
    for i in range(0, tl.rows.shape[0], _CHUNK):  # (chunk, p) temporaries, same values
        c = slice(i, i + _CHUNK)
        rows = tl.rows[c]
        u[rows] -= r[c, None] * (x[rows] * a[c, None] - b[c])
    return u


def fine_gray(
    formula: str,
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    cause: int = 1,
    censor_code: int = 0,
    cluster: str | tuple[str, ...] | None = None,
    vcov: FGVcov | None = None,
    **deprecated: Any,
) -> ModelResult:
    """Fit a Fine-Gray subdistribution hazards model (``cmprsk::crr``).

    Parameters
    ----------
    formula : str
        ``"~ age_band + section20 + ..."`` (a left side is ignored).
    data : pandas.DataFrame
        One row per spell.
    duration_col : str
        Days to the first event of any type or censoring.
    event_col : str
        Event codes: ``censor_code`` for censoring, ``cause`` for the event of
        interest (re-entry), anything else a competing exit.
    cause, censor_code : int
        The codes above.
    cluster : str or tuple of str, optional
        Column(s) of clusters (the child, the local authority) for a
        cluster-robust variance.
    vcov : {"fine-gray", "model", "CR0"}, optional
        Fine and Gray's sandwich (accounts for estimating the censoring
        distribution; ``crr``'s; the default without ``cluster``), the
        model-based inverse information, or the cluster-robust sandwich of the
        weighted fit's score residuals summed within cluster (the default with
        ``cluster``): R's ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x +
        cluster(id), weights = fgwt, ties = "breslow")`` on ``finegray()`` data,
        which, like it, treats the censoring weights as known. (Replaces
        ``variance=``, deprecated.)

    **deprecated
        The older spelling variance=, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        Log subdistribution hazard ratios (``exp_label="SHR"``).
    """
    old = _options.take_deprecated("fine_gray", deprecated, {"variance": "vcov="})
    kind: str = vcov or old.get("variance") or ("CR0" if cluster is not None else "fine-gray")
    _options.check_vcov("fine_gray", kind, ("fine-gray", "model", "CR0"))
    if kind == "CR0" and cluster is None:
        raise InputError("fine_gray: vcov='CR0' needs cluster= a column (or a tuple of columns)")
    des = _data.design(formula, data)
    read = _data.read_columns(des, duration_col, event_col, _options.cluster_columns(cluster))
    digest = data_hash(data, read, coded=des.coded)  # the columns read, with the index
    used = data if len(des.rows) == len(data) else data.loc[des.rows]
    _data.check_columns(used, [event_col, *_options.cluster_columns(cluster)], "fine_gray")
    t = _data.durations(used, duration_col)
    st = pd.to_numeric(used[event_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(st).any():
        raise InputError(f"event column '{event_col}' has missing values")
    ev_mask = st == cause
    cens = st == censor_code
    comp = ~ev_mask & ~cens
    if not ev_mask.any():
        raise ModelError(f"no events of cause {cause} in '{event_col}': nothing to model")
    lo_hi = des.column_range()  # the design's own minima and maxima when it found them
    _data.check_constant(des.x, des.columns, lo_hi)
    _check_monotone(des.x, des.columns, ev_mask, lo_hi)
    prob = engine.prepare(des.x, t, ev_mask, ties="breslow", overwrite_x=True)
    ts = t[prob.order]  # sorted times
    uniq, g_left, at_time = _censoring_left(ts, cens[prob.order])
    rows = np.flatnonzero(comp[prob.order]).astype(np.int64)
    inv_g = 1 / g_left[at_time[rows]]
    gain = g_left[np.searchsorted(uniq, prob.ev_time)]
    tail = engine.TailWeights(rows, inv_g, prob.row_hi[rows], gain)
    prob = dataclasses.replace(prob, tail=tail)
    ev0 = engine.evaluate(prob, np.zeros(des.x.shape[1]))
    _data.check_collinear(ev0.info, des.columns)
    fit = engine.newton(prob, first=ev0)
    if not fit.converged:
        raise ConvergenceError("the Fine-Gray fit did not converge (monotone likelihood?)")
    var = np.linalg.inv(fit.info)
    vcov_type = kind
    if kind == "fine-gray":
        total = _eta(prob, fit.last)
        _add_psi(total, prob, fit.last, ts, cens[prob.order], rows)
        var = var @ (total.T @ total) @ var
    elif kind == "CR0":
        eta = np.empty_like(prob.x)
        eta[prob.order] = _eta(prob, fit.last)  # back to the rows' order
        inv = var

        def one_way(codes: np.ndarray, n_cl: int) -> np.ndarray:
            u = np.stack([np.bincount(codes, eta[:, j], n_cl) for j in range(eta.shape[1])], 1)
            return np.asarray(inv @ (u.T @ u) @ inv)

        var = _options.multiway(used, cluster, one_way)
        vcov_type = f"cluster({_options.cluster_label(cluster)})"
    p = des.x.shape[1]
    stats = {
        "loglik": fit.loglik,
        "loglik_null": fit.loglik_null,
        "aic": -2 * fit.loglik + 2 * p,
        "iterations": float(fit.iterations),
        "n_competing": float(comp.sum()),
        "n_censored": float(cens.sum()),
        "n_dropped_missing": float(des.n_dropped_missing),
    }
    opts = {
        "duration_col": duration_col,
        "event_col": event_col,
        "cause": cause,
        "censor_code": censor_code,
        "variance": kind,
    }
    if cluster is not None:
        opts["cluster"] = cluster
    return ModelResult(
        model="fine_gray",
        params=pd.Series(fit.beta, index=des.columns),
        cov=pd.DataFrame(var, index=des.columns, columns=des.columns),
        vcov_type=vcov_type,
        n_obs=len(used),
        n_events=int(ev_mask.sum()),
        fit_stats=stats,
        provenance=Provenance("reunistat.models.survival.fine_gray", digest, formula, opts),
        exp_label="SHR",
    )


def cause_specific_cox(
    formula: str,
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    cause: int = 1,
    **kwargs: Any,
) -> ModelResult:
    """Cause-specific Cox model: events of other types are treated as censoring.

    Takes the options of :func:`reunistat.models.survival.cox` (strata, weights,
    cluster, vcov, ties, ...). The event column holds codes (0 censored, 1
    re-entry, 2 competing exit, ...).
    """
    _, rhs = split_formula(formula)
    flag = f"_cause_{cause}_event"
    if flag in data.columns:
        raise InputError(f"column name {flag!r} is reserved")
    _data.check_columns(data, [event_col], "event")
    st = pd.to_numeric(data[event_col], errors="coerce")
    d = data.assign(**{flag: (st == cause).astype(int)})
    res = cox(f"~ {rhs}", d, duration_col, flag, **kwargs)
    return restamp(res, "reunistat.models.survival.cause_specific_cox", "cause_specific_cox")
