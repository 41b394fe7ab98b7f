"""The known truth: re-entry after a return home.

Each return home gets covariates as the cohort derivation should see them and
a linear predictor from the configured ratios. Under ``model = "cox"`` the
time to re-entry has hazard ``baseline(t) * exp(lp)`` with a piecewise-constant
baseline; under ``model = "logistic"`` re-entry by the horizon is Bernoulli with
``logit p = intercept + lp`` (timing inside the horizon drawn from the Cox
baseline's shape), and a small constant hazard applies after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.synthetic._draw import rows_by_level

CONTINUOUS_TERMS = (
    "disability",
    "section20",
    "prior_periods",
    "placement_moves",
    "log_period_length",
    "idaci_decile",
    "pilot",
    "return_year",
)
FACTOR_TERMS = ("age_band", "ethnic_group", "last_placement_type", "return_type")
REFERENCE_LEVELS = {
    "age_band": "1-4",
    "ethnic_group": "White",
    "last_placement_type": "foster",
    "return_type": "planned",
}


def ratio_table(cfg: dict[str, Any]) -> dict[str, Any]:
    """Return the configured ratios of the active model (hazard or odds)."""
    re = cfg["reentry"]
    return re["hazard_ratios"] if re["model"] == "cox" else re["logistic"]["odds_ratios"]


def true_log_ratios(cfg: dict[str, Any]) -> dict[str, float]:
    """Return the true log hazard (or odds) ratio of every model term.

    Factor terms are named ``factor[level]`` against the reference levels in
    :data:`REFERENCE_LEVELS`; ``log_period_length`` is per unit of
    ``log(period_length_days / 365)``; ``return_year`` per financial year.

    >>> from reunistat.synthetic.config import default_config
    >>> round(true_log_ratios(default_config().values)["section20"], 4)
    0.2624
    """
    ratios = ratio_table(cfg)
    out: dict[str, float] = {}
    for term in FACTOR_TERMS:
        for level, value in ratios[term].items():
            out[f"{term}[{level}]"] = float(np.log(value))
    for term in CONTINUOUS_TERMS:
        out[term] = float(np.log(ratios[term]))
    return out


def linear_predictor(cfg: dict[str, Any], cov: pd.DataFrame) -> np.ndarray:
    """Return the true linear predictor of each return home (without the LA frailty)."""
    beta = true_log_ratios(cfg)
    lp = np.zeros(len(cov))
    for term in FACTOR_TERMS:
        col = cov[term].to_numpy()
        for level, rows in rows_by_level(col):
            lp[rows] += beta.get(f"{term}[{level}]", 0.0)
    ref_year = cfg["reentry"]["reference_year"]
    x = {
        "disability": cov["disability"],
        "section20": cov["section20"],
        "prior_periods": cov["prior_periods"],
        "placement_moves": cov["placement_moves"],
        "log_period_length": np.log(cov["period_length_days"] / 365.0),
        "idaci_decile": cov["idaci_decile"],
        "pilot": cov["pilot"],
        "return_year": cov["return_year"] - ref_year,
    }
    for term in CONTINUOUS_TERMS:
        lp += beta[term] * np.asarray(x[term], dtype=float)
    return lp


def _invert_piecewise(knots: np.ndarray, rates: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Time t at which the piecewise-constant cumulative hazard reaches ``target``."""
    widths = np.diff(knots)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * widths)])
    j = np.searchsorted(cum, target, side="right") - 1
    return knots[j] + (target - cum[j]) / rates[j]


def baseline_cumhaz(cfg: dict[str, Any], t_days: np.ndarray) -> np.ndarray:
    """Return the true baseline cumulative hazard at ``t_days`` (Cox truth)."""
    re = cfg["reentry"]
    knots = np.asarray(re["baseline_knots_days"], dtype=float)
    rates = np.asarray(re["baseline_hazard_per_day"], dtype=float)
    t = np.asarray(t_days, dtype=float)
    j = np.searchsorted(knots, t, side="right") - 1
    widths = np.diff(knots)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * widths)])
    return cum[j] + rates[j] * (t - knots[j])


def draw_days_to_reentry(
    rng: np.random.Generator, cfg: dict[str, Any], lp: np.ndarray
) -> np.ndarray:
    """Draw whole days from return to re-entry (>= 1) for linear predictors ``lp``."""
    re = cfg["reentry"]
    knots = np.asarray(re["baseline_knots_days"], dtype=float)
    rates = np.asarray(re["baseline_hazard_per_day"], dtype=float)
    e = rng.exponential(size=lp.size)
    if re["model"] == "cox":
        t = _invert_piecewise(knots, rates, e / np.exp(lp))
    else:
        lg = re["logistic"]
        h = float(lg["horizon_days"])
        p = 1.0 / (1.0 + np.exp(-(lg["intercept"] + lp)))
        yes = rng.random(lp.size) < p
        # inside the horizon: the baseline's shape, truncated at the horizon
        h_end = float(baseline_cumhaz(cfg, np.array([h]))[0])
        u = rng.random(lp.size)
        inside = _invert_piecewise(knots, rates, -np.log1p(-u * (1 - np.exp(-h_end))))
        after = h + e / lg["late_hazard_per_day"]
        t = np.where(yes, np.minimum(inside, h - 1e-9), after)
    return np.maximum(1, np.ceil(t)).astype(np.int64)


def covariates_at_return(
    *,
    age_days: np.ndarray,
    ethnic: np.ndarray,
    disabled: np.ndarray,
    final_ls: np.ndarray,
    prior_periods: np.ndarray,
    placement_moves: np.ndarray,
    last_place: np.ndarray,
    period_length_days: np.ndarray,
    rec: np.ndarray,
    idaci: np.ndarray,
    pilot: np.ndarray,
    return_year: np.ndarray,
) -> pd.DataFrame:
    """Return the true covariates of each return home, named as in the spells table."""
    age_years = age_days / 365.25
    band = np.array([b for b, _ in codes.AGE_BANDS], dtype=object)[
        np.searchsorted(np.array([1.0, 5.0, 10.0, 16.0]), age_years, side="right")
    ]
    return pd.DataFrame(
        {
            "age_at_return_years": age_years,
            "age_band": band,
            "ethnic_group": pd.Series(ethnic).map(codes.ETHNIC_GROUP).to_numpy(),
            "disability": disabled.astype(np.int8),
            "section20": (final_ls == codes.SECTION20_LS).astype(np.int8),
            "prior_periods": prior_periods.astype(np.int64),
            "placement_moves": placement_moves.astype(np.int64),
            "last_placement_type": pd.Series(last_place).map(codes.PLACE_GROUP).to_numpy(),
            "period_length_days": period_length_days.astype(np.int64),
            "return_type": pd.Series(rec)
            .map({"E4A": "planned", "E4B": "unplanned", "E13": "e13"})
            .to_numpy(),
            "idaci_decile": idaci.astype(np.int64),
            "pilot": pilot.astype(np.int8),
            "return_year": return_year.astype(np.int64),
        }
    )
