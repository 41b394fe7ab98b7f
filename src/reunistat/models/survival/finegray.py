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
from reunistat.models.survival.km import _counts
from reunistat.results import ModelResult, Provenance, data_hash, restamp

FGVcov = Literal["fine-gray", "model", "CR0"]
_CHUNK = 16_384  # rows per block where (rows, p) temporaries would otherwise be (n, p)


def _censoring_left(time: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier of the censoring distribution: unique times and ``G(t-)`` at them."""
    uniq, n_risk, ev, _, _ = _counts(time, censored.astype(np.int64), np.ones(len(time)), 1)
    g = np.cumprod(1 - ev[:, 0] / n_risk)
    return uniq, np.concatenate([[1.0], g[:-1]])


def _psi(
    prob: engine.CoxProblem,
    ev: engine.Evaluation,
    time_s: np.ndarray,
    cens_s: np.ndarray,
    comp_idx: np.ndarray,
) -> np.ndarray:
    """Fine-Gray's correction for the estimated censoring distribution, sorted order."""
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
    uniq_c, idx_c = np.unique(time_s[cens_s], return_inverse=True)
    n_at = n - np.searchsorted(np.sort(time_s), uniq_c, "left")  # pi(u) = #{X >= u}
    d_c = np.bincount(idx_c, minlength=uniq_c.shape[0]).astype(float)
    k_from = np.searchsorted(prob.ev_time, uniq_c, "left")  # groups with t_k > u
    a_rev = engine._revcum(ga)
    b_rev = engine._revcum(ga[:, None] * ebar)
    a_u, b_u = a_rev[k_from], b_rev[k_from]
    r = ev.risk[comp_idx] * tl.inv_g
    order = np.argsort(time_s[comp_idx], kind="stable")
    tc = time_s[comp_idx][order]
    cum_r = np.concatenate([[0.0], np.cumsum(r[order])])
    cum_rx = np.zeros((comp_idx.shape[0] + 1, x.shape[1]))
    np.cumsum(r[order, None] * x[comp_idx[order]], axis=0, out=cum_rx[1:])
    upto = np.searchsorted(tc, uniq_c, "left")
    q = a_u[:, None] * cum_rx[upto] - b_u * cum_r[upto][:, None]  # (n_u, p)
    qp = q / n_at[:, None]
    # psi_i = [censored at u_i] q(u_i)/pi(u_i) - sum_{u <= X_i} q(u) dN^c(u) / pi(u)^2
    comp_term = np.vstack([np.zeros(x.shape[1]), np.cumsum(qp * (d_c / n_at)[:, None], axis=0)])
    upto_i = np.searchsorted(uniq_c, time_s, "right")
    psi = comp_term[upto_i]
    np.negative(psi, out=psi)
    ci = np.flatnonzero(cens_s)
    for i in range(0, ci.shape[0], _CHUNK):
        psi[ci[i : i + _CHUNK]] += qp[idx_c[i : i + _CHUNK]]
    return np.asarray(psi)


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
    _data.check_constant(des.x, des.columns)
    _check_monotone(des.x, des.columns, ev_mask)
    prob = engine.prepare(des.x, t, ev_mask, ties="breslow", overwrite_x=True)
    uniq, g_left = _censoring_left(t, cens)
    ts = t[prob.order]
    comp_s = comp[prob.order]
    rows = np.flatnonzero(comp_s).astype(np.int64)
    inv_g = 1 / g_left[np.searchsorted(uniq, ts[rows])]
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
        total += _psi(prob, fit.last, ts, cens[prob.order], rows)
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
        provenance=Provenance(
            "reunistat.models.survival.fine_gray", data_hash(data), formula, opts
        ),
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
