"""The three global tests of a Cox fit (R's ``summary.coxph``): likelihood ratio, Wald, score.

Each is a chi-square on as many degrees of freedom as coefficients, testing all
coefficients zero. The Wald test uses the fit's variance (robust when the fit
is, as R); the score test is at zero with the model-based information, and with
a robust fit the robust score test (R's ``rscore``) uses the score residuals at
zero summed within clusters. :func:`iteration_history` replays the Newton steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.errors import InputError
from reunistat.models.survival import _coxengine as engine


def _quad(v: np.ndarray, m: np.ndarray) -> float:
    """``v' m^-1 v``; NaN when ``m`` is singular (a robust score test, too few clusters)."""
    if np.linalg.matrix_rank(m) < m.shape[0]:
        return float("nan")
    return float(v @ np.linalg.solve(m, v))


def global_tests(
    prob: engine.CoxProblem,
    fit: engine.CoxFit,
    at_zero: engine.Evaluation,
    var: np.ndarray,
    robust: str | None,
    codes: np.ndarray | None = None,
) -> dict[str, float]:
    """Return the statistics and p-values of the three tests, for ``glance()``.

    ``robust`` is None (model-based fit), ``"HC0"`` (each row its own cluster)
    or ``"CR0"`` with ``codes`` the integer cluster codes (one clustering
    column; for two-way clustering the robust score test is left out).
    """
    df = float(fit.beta.shape[0])
    lr = 2 * (fit.loglik - fit.loglik_null)
    out = {
        "lr_statistic": lr,
        "lr_p_value": float(stats.chi2.sf(lr, df)),
        "wald_statistic": _quad(np.asarray(fit.beta), var),
        "score_statistic": _quad(at_zero.score, at_zero.info),
        "df": df,
    }
    out["wald_p_value"] = float(stats.chi2.sf(out["wald_statistic"], df))
    out["score_p_value"] = float(stats.chi2.sf(out["score_statistic"], df))
    u0: np.ndarray | None = None
    if robust == "HC0":
        u0 = engine.score_residuals(prob, at_zero) * prob.w[:, None]
    elif robust == "CR0" and codes is not None:
        u0 = engine.cluster_scores(prob, at_zero, codes)
    if u0 is not None:
        rs = _quad(u0.sum(axis=0), u0.T @ u0)
        out["robust_score_statistic"] = rs
        out["robust_score_p_value"] = float(stats.chi2.sf(rs, df))
    return out


def iteration_history(result: Any) -> pd.DataFrame:
    """The Newton-Raphson path of a Cox fit: log-likelihood, score and coefficients per step.

    Replays the fit's steps from zero (the same arithmetic, so the last row is
    the fit's estimate), for a reviewer checking convergence: the
    log-likelihood should rise and settle, the score fall to zero.

    Returns
    -------
    pandas.DataFrame
        ``iteration`` (0 = start at zero), ``loglik``, ``max_abs_score`` and one
        column per coefficient.

    Examples
    --------
    >>> from pandas import DataFrame
    >>> from reunistat.models.survival import cox
    >>> spells = DataFrame({"days": [3, 8, 9, 14, 20, 31, 40], "back": [1, 0, 1, 1, 0, 1, 0],
    ...                     "s20": [1, 1, 0, 1, 0, 0, 0]})
    >>> path = iteration_history(cox("~ s20", spells, "days", "back"))
    >>> bool(path["loglik"].is_monotonic_increasing), int(path["iteration"].iloc[0])
    (True, 0)
    """
    st = result.extras.get("state")
    if st is None or not hasattr(st, "fit") or st.problem.tail is not None:
        raise InputError("iteration_history: pass a Cox fit (cox, andersen_gill, pwp)")
    prob, fit = st.problem, st.fit
    beta = np.zeros(len(fit.beta))
    ev = engine.evaluate(prob, beta)
    rows = [(0, ev.loglik, float(np.abs(ev.score).max()), *beta)]
    for it in range(1, fit.iterations + 1):
        step = engine.newton(prob, beta0=beta, max_iter=1, first=ev)
        beta, ev = np.asarray(step.beta), step.last
        rows.append((it, ev.loglik, float(np.abs(ev.score).max()), *beta))
    return pd.DataFrame(rows, columns=["iteration", "loglik", "max_abs_score", *st.columns])
