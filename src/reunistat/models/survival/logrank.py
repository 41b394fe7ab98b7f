"""The weighted log-rank family of tests, plain or stratified (R's ``survdiff``).

At each distinct event time the observed minus expected events of each group
are weighted: 1 (log-rank), ``S(t-)^rho (1 - S(t-))^gamma`` (Fleming-Harrington
G(rho, gamma), with ``S`` the pooled Kaplan-Meier, left-continuous, within the
stratum; R's ``survdiff(rho=)`` is gamma = 0), ``sqrt(n at risk)``
(Tarone-Ware) or ``n at risk`` (Gehan-Breslow). With strata the weighted
differences and their variances are summed over strata.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.errors import InputError
from reunistat.models import _options
from reunistat.models.survival import _data

Weighting = Literal["fleming-harrington", "tarone-ware", "gehan"]


def _time_weights(
    weighting: str, y: np.ndarray, d: np.ndarray, rho: float, gamma: float
) -> np.ndarray:
    """Weights at each distinct time of a stratum (``y`` at risk, ``d`` events)."""
    if weighting == "tarone-ware":
        return np.sqrt(y)
    if weighting == "gehan":
        return y.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        km = np.cumprod(np.where(y > 0, 1 - d / np.where(y > 0, y, 1), 1.0))
    left = np.concatenate([[1.0], km[:-1]])
    return np.asarray(left**rho * (1 - left) ** gamma)


def _stratum_sums(
    t: np.ndarray, e: np.ndarray, g: np.ndarray, n_g: int, weighting: str, rho: float, gamma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted observed, expected, their variance, and the unweighted (observed, expected)."""
    uniq, idx = np.unique(t, return_inverse=True)
    k = uniq.shape[0]
    y_g = np.stack(
        [np.cumsum(np.bincount(idx[g == j], minlength=k)[::-1])[::-1] for j in range(n_g)], 1
    ).astype(float)
    d_g = np.stack([np.bincount(idx[g == j], e[g == j], k) for j in range(n_g)], 1)
    y, d = y_g.sum(1), d_g.sum(1)
    wt = _time_weights(weighting, y, d, rho, gamma)
    keep = (d > 0) & (y > 0)
    y_g, d_g, y, d, wt = y_g[keep], d_g[keep], y[keep], d[keep], wt[keep]
    frac = y_g / y[:, None]
    expected = d[:, None] * frac
    factor = wt**2 * np.where(y > 1, d * (y - d) / np.maximum(y - 1, 1), 0.0)
    var = np.diag((factor[:, None] * frac).sum(0)) - np.einsum("k,ki,kj->ij", factor, frac, frac)
    return (
        (wt[:, None] * d_g).sum(0),
        (wt[:, None] * expected).sum(0),
        var,
        np.vstack([d_g.sum(0), expected.sum(0)]),
    )


def log_rank(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    by: str | None = None,
    *,
    strata: str | Sequence[str] | None = None,
    weighting: Weighting = "fleming-harrington",
    rho: float = 0.0,
    gamma: float = 0.0,
    **deprecated: Any,
) -> pd.DataFrame:
    """Log-rank test of equal re-entry hazards across groups (R's ``survdiff``).

    ``by`` is the grouping column compared (as in :func:`kaplan_meier`;
    ``group=`` is its deprecated spelling); ``strata`` stratifies the test.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per spell.
    duration_col, event_col : str
        Days followed and the 0/1 event indicator.
    by : str
        The column whose groups are compared.
    strata : str or list of str, optional
        Stratify: compare groups within each stratum and sum.
    weighting : {"fleming-harrington", "tarone-ware", "gehan"}
        The weight of each event time: Fleming-Harrington ``S(t-)^rho (1 -
        S(t-))^gamma`` (with the default ``rho = gamma = 0`` the log-rank test;
        ``rho = 1`` the Peto-Peto / Prentice-Wilcoxon test, weighting early
        differences; ``gamma = 1`` weights late ones), Tarone-Ware
        ``sqrt(n at risk)`` or Gehan-Breslow ``n at risk``.
    rho, gamma : float
        The Fleming-Harrington exponents (non-negative).
    **deprecated
        The older spelling group=, with a :class:`DeprecationWarning`.

    Returns
    -------
    pandas.DataFrame
        One row per group (``group, observed, expected``: event counts, not
        weighted; with weights, ``observed_weighted`` and ``expected_weighted``
        enter the statistic) with the test's ``statistic``, ``df`` and
        ``p_value`` repeated on every row.
    """
    group = _options.take_deprecated("log_rank", deprecated, {"group": "by="}).get("group", by)
    if group is None:
        raise InputError("log_rank: name the column of the groups compared, by=")
    _data.check_choice("weighting", weighting, ("fleming-harrington", "tarone-ware", "gehan"))
    if not (rho >= 0 and gamma >= 0):
        raise InputError(f"log_rank: rho and gamma must be >= 0, got rho={rho}, gamma={gamma}")
    if weighting != "fleming-harrington" and (rho or gamma):
        raise InputError("log_rank: rho and gamma apply to weighting='fleming-harrington' only")
    t = _data.durations(data, duration_col)
    e = _data.events(data, event_col).astype(float)
    _data.check_columns(data, [group], "group")
    g_codes, g_levels = pd.factorize(data[group], sort=True)
    if (g_codes < 0).any():
        raise InputError(f"group column '{group}' has missing values")
    n_g = len(g_levels)
    if n_g < 2:
        raise InputError(f"group column '{group}' has a single level: nothing to compare")
    s_codes = _data.codes(data, strata, "strata")
    s_codes = np.zeros(len(t), dtype=np.int64) if s_codes is None else s_codes
    obs, exp_ = np.zeros(n_g), np.zeros(n_g)
    var = np.zeros((n_g, n_g))
    plain = np.zeros((2, n_g))
    for s in np.unique(s_codes):
        sel = s_codes == s
        o, x, v, p = _stratum_sums(t[sel], e[sel], g_codes[sel], n_g, weighting, rho, gamma)
        obs, exp_, var, plain = obs + o, exp_ + x, var + v, plain + p
    diff = (obs - exp_)[:-1]
    stat = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    df = n_g - 1
    out = pd.DataFrame(
        {
            "group": [f"{group}={v}" for v in g_levels],
            "observed": plain[0],
            "expected": plain[1],
        }
    )
    if weighting != "fleming-harrington" or rho or gamma:
        out["observed_weighted"], out["expected_weighted"] = obs, exp_
    out["statistic"], out["df"], out["p_value"] = stat, df, float(stats.chi2.sf(stat, df))
    return out
