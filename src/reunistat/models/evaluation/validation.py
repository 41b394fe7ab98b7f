"""Known answers on generator data: the true pilot effect on the risk scale.

The generator (:mod:`reunistat.synthetic`, ``reentry.model = "cox"``) gives
each return a hazard ``baseline(t) * exp(true_lp + b_LA)`` with ``b_LA`` a
normal frailty. The true effect of the pilot on the risk of re-entry within H
days, for a set of returns, is the mean of ``F(H | lp with pilot) - F(H | lp
without pilot)``, integrating the frailty out by Gauss-Hermite quadrature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import InputError


def _baseline_cumhaz(truth: dict[str, Any], t_days: float) -> float:
    knots = np.asarray(truth["baseline_knots_days"], dtype=float)
    rates = np.asarray(truth["baseline_hazard_per_day"], dtype=float)
    j = int(np.searchsorted(knots, t_days, side="right")) - 1
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(knots))])
    return float(cum[j] + rates[j] * (t_days - knots[j]))


def counterfactual_risks(
    truth_returns: pd.DataFrame, truth: dict[str, Any], horizon_days: int, n_nodes: int = 20
) -> pd.DataFrame:
    """Return each return's true risk of re-entry within H with and without the pilot.

    Columns ``risk_pilot`` and ``risk_no_pilot``, aligned to ``truth_returns``.
    """
    if truth.get("model", "cox") != "cox":
        raise InputError("counterfactual risks need a generator run with reentry.model = 'cox'")
    b_pilot = float(truth["true_log_ratios"]["pilot"])
    lp0 = truth_returns["true_lp"].to_numpy(float) - b_pilot * truth_returns["pilot"].to_numpy(
        float
    )
    h0 = _baseline_cumhaz(truth, float(horizon_days))
    nodes, wts = np.polynomial.hermite_e.hermegauss(n_nodes)
    wts = wts / wts.sum()
    b = float(truth["la_sd_log_hr"]) * nodes

    def risk(lp: np.ndarray) -> np.ndarray:
        return 1.0 - (np.exp(-h0 * np.exp(lp[:, None] + b[None, :])) @ wts)

    return pd.DataFrame(
        {"risk_pilot": risk(lp0 + b_pilot), "risk_no_pilot": risk(lp0)},
        index=truth_returns.index,
    )


def true_risk_difference(
    truth_returns: pd.DataFrame,
    truth: dict[str, Any],
    horizon_days: int,
    rows: np.ndarray | pd.Series | None = None,
    weights: np.ndarray | None = None,
) -> float:
    """Return the (weighted) mean true risk difference, pilot minus no pilot, over ``rows``."""
    r = counterfactual_risks(truth_returns, truth, horizon_days)
    d = (r["risk_pilot"] - r["risk_no_pilot"]).to_numpy()
    if rows is not None:
        d = d[np.asarray(rows, dtype=bool)]
    return float(np.average(d, weights=weights))
