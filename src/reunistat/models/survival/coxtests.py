"""The three global tests of a Cox fit (R's ``summary.coxph``): likelihood ratio, Wald, score.

Each is a chi-square on as many degrees of freedom as coefficients, testing all
coefficients zero. The Wald test uses the fit's variance (robust when the fit
is, as R); the score test is at zero with the model-based information, and with
a robust fit the robust score test (R's ``rscore``) uses the score residuals at
zero summed within clusters.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

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
