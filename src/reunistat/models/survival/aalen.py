"""The Aalen-Johansen cumulative incidence and its infinitesimal-jackknife variance.

For right-censored and delayed-entry data alike: each row is at risk over
``(entry, exit]``, and every sum of squared influences is a few cumulative sums
(no rows-by-times matrix), so a curve over a million spells costs a few passes.
Agrees with R's multi-state ``survfit`` (``tests/test_survival_entry.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _exit_entry_sums(
    vals: np.ndarray, m: np.ndarray, e1: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative sums of ``vals`` over rows exited by each time, and over rows in progress.

    A row is in progress at time index ``j`` when ``e1 <= j < m`` (at risk at ``j``,
    exit later); ``e1`` is the first time index the row is at risk.
    """
    exited = np.cumsum(np.bincount(m, vals, k))
    entered = np.cumsum(np.bincount(e1, vals, k + 1))[:k]
    return exited, entered - exited


def aj_curve(
    uniq: np.ndarray,
    y: np.ndarray,
    ev: np.ndarray,
    cens: np.ndarray,
    m: np.ndarray,
    e1: np.ndarray,
    status: np.ndarray,
    w: np.ndarray,
    z: float,
) -> pd.DataFrame:
    """Aalen-Johansen estimates and infinitesimal-jackknife SEs of one group.

    Inputs: the distinct times, weighted at risk, events per cause (K, C),
    censored, and per row its exit index ``m``, first at-risk index ``e1``,
    status, case weight; ``z`` the normal quantile of the intervals.

    The influence of a row on the cumulative incidence of cause c at time t
    (hazards dA = d / y, all causes, and dA_c, survival S, incidence F_c):
    ``sum_{s<=t} S(s-) g(s) - sum_{u<=t} h(u) (F_c(t) - F_c(u))`` with
    ``g = (dN_c - Y dA_c) / y`` and ``h = (dN - Y dA) / (y (1 - dA))`` over the
    row's time at risk. After its exit this is ``alpha - F_c(t) lam`` (constants
    of the row); while at risk it is ``Q(t) + u - F_c(t) v`` with ``u, v`` fixed
    at its entry, so every sum of squares is a few cumulative sums.
    """
    k = uniq.shape[0]
    n_causes = ev.shape[1]
    d = ev.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        yy = np.where(y > 0, y, 1.0)
        da, dac = d / yy, ev / yy[:, None]
        hb = np.where(y > d, 1 / (y - d), 0.0)  # 1 / (y (1 - dA))
    surv = np.cumprod(1 - da)
    s_prev = np.concatenate([[1.0], surv[:-1]])
    cif = np.cumsum(s_prev[:, None] * dac, axis=0)
    w2 = w * w
    died = status > 0
    hh = np.concatenate([[0.0], np.cumsum(da * hb)])  # H, with H(before any time) = 0
    lam = -(hh[m + 1] - hh[e1]) + died * hb[m]
    v = hh[e1]
    exit_ll, _ = _exit_entry_sums(w2 * lam**2, m, e1, k)
    _, prog_n = _exit_entry_sums(w2, m, e1, k)
    _, prog_v = _exit_entry_sums(w2 * v, m, e1, k)
    _, prog_vv = _exit_entry_sums(w2 * v * v, m, e1, k)
    h_now = hh[1:]
    var_s = surv**2 * (exit_ll + h_now**2 * prog_n - 2 * h_now * prog_v + prog_vv)
    cols = {"time": uniq, "n_risk": y, "n_censored": cens, "surv": surv}
    cols["surv_std_error"] = np.sqrt(np.maximum(var_s, 0.0))
    for c in range(n_causes):
        f = cif[:, c]
        pp = np.concatenate([[0.0], np.cumsum(s_prev * dac[:, c] / yy)])
        hf = np.concatenate([[0.0], np.cumsum(da * hb * f)])
        alpha = (
            -(pp[m + 1] - pp[e1])
            + s_prev[m] * (status == c + 1) / yy[m]
            - (hf[m + 1] - hf[e1])
            + died * f[m] * hb[m]
        )
        u = pp[e1] + hf[e1]
        q = -pp[1:] + f * h_now - hf[1:]
        s_aa, _ = _exit_entry_sums(w2 * alpha**2, m, e1, k)
        s_al, _ = _exit_entry_sums(w2 * alpha * lam, m, e1, k)
        _, p_u = _exit_entry_sums(w2 * u, m, e1, k)
        _, p_uu = _exit_entry_sums(w2 * u * u, m, e1, k)
        _, p_uv = _exit_entry_sums(w2 * u * v, m, e1, k)
        var = (
            s_aa
            - 2 * f * s_al
            + f**2 * exit_ll
            + q**2 * prog_n
            + p_uu
            + f**2 * prog_vv
            + 2 * q * p_u
            - 2 * q * f * prog_v
            - 2 * f * p_uv
        )
        se = np.sqrt(np.maximum(var, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(f > 0, f * np.exp(-z * se / f), np.nan)
            hi = np.where(f > 0, np.minimum(f * np.exp(z * se / f), 1.0), np.nan)
        cols[f"n_events_{c + 1}"] = ev[:, c]
        cols[f"cumulative_incidence_{c + 1}"] = f
        cols[f"std_error_{c + 1}"] = se
        cols[f"conf_low_{c + 1}"] = lo
        cols[f"conf_high_{c + 1}"] = hi
    return pd.DataFrame(cols)
