"""Truth check of the comparison: false alarms under the null and power to flag an authority.

Given returns home with their true linear predictor (the generator's
``truth_returns``: ``true_lp`` and ``days_potential_followup``; ``true_lp``
there *includes* the generator's authority frailty, so generate the base data
with ``reentry.la_sd_log_hr = 0``) and the generator's piecewise-constant baseline
hazard (``truth.json``), :func:`simulate_outcomes` redraws the time to
re-entry with hazard ``baseline(t) exp(true_lp + b_LA)`` for chosen authority
effects ``b_LA`` and censors it at the potential follow-up. Each replicate
(:func:`comparison_replicate`) draws the authority effects (normal with a
given SD, 0 for the null; plus one *planted* authority with a fixed hazard
ratio), fits the national model without the authority, and records which
authorities fall outside the funnel limits, with and without over-dispersion
adjustment. :func:`truth_check` runs replicates in parallel (joblib), one
seed per replicate, so results do not depend on the number of workers.

This module simulates outcomes on fixed covariates ("spells-level"); the
slow tests also run the whole generator (``reunistat.synthetic``) through the
cohort derivation for the null.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import InputError
from reunistat.models.comparison.expected import Method, indirect_standardisation
from reunistat.models.comparison.funnel import ADJUSTMENTS, LEVELS, funnel_table, level_tag
from reunistat.replicates import ParallelBackend, run_replicates


def _piecewise(truth: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    knots = np.asarray(truth["baseline_knots_days"], dtype=float)
    rates = np.asarray(truth["baseline_hazard_per_day"], dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(knots))])
    return knots, rates, cum


def simulate_outcomes(
    returns: pd.DataFrame,
    truth: Mapping[str, Any],
    la_log_hr: Mapping[str, float] | pd.Series,
    rng: np.random.Generator,
    *,
    group: str = "LA",
) -> pd.DataFrame:
    """Redraw re-entry for every return under known authority effects.

    Parameters
    ----------
    returns : DataFrame
        Returns home with ``true_lp``, ``days_potential_followup`` and ``group``.
    truth : mapping
        ``baseline_knots_days`` and ``baseline_hazard_per_day`` (a Cox truth).
    la_log_hr : mapping
        Log hazard ratio of each authority (missing authorities: 0).
    rng : numpy.random.Generator
        The only source of randomness.
    group : str
        Authority column.

    Returns
    -------
    DataFrame
        A copy of ``returns`` with new ``days_followed`` (whole days, >= 1) and
        ``reentered``.
    """
    for col in ("true_lp", "days_potential_followup", group):
        if col not in returns.columns:
            raise InputError(f"returns have no column {col!r}")
    knots, rates, cum = _piecewise(truth)
    b = pd.Series(la_log_hr, dtype=float)
    lp = returns["true_lp"].to_numpy(dtype=float) + returns[group].map(b).fillna(0.0).to_numpy()
    target = rng.exponential(size=len(returns)) / np.exp(lp)
    j = np.searchsorted(cum, target, side="right") - 1
    t = knots[j] + (target - cum[j]) / rates[j]
    t_days = np.maximum(1, np.ceil(t))
    pot = returns["days_potential_followup"].to_numpy(dtype=float)
    out = returns.copy()
    event = t_days <= pot
    out["days_followed"] = np.where(event, t_days, np.maximum(pot, 0)).astype(np.int64)
    out["reentered"] = event.astype(np.int64)
    return out


def comparison_replicate(
    returns: pd.DataFrame,
    truth: Mapping[str, Any],
    covariates: str,
    seed: int | np.random.SeedSequence,
    *,
    la_sd_log_hr: float = 0.0,
    planted: str | None = None,
    planted_hr: float = 1.5,
    methods: tuple[Method, ...] = ("cox",),
    group: str = "LA",
    horizon_days: int = 365,
    winsorise: float = 0.1,
) -> dict[str, Any]:
    """One replicate: draw authority effects and outcomes, standardise, flag.

    ``winsorise`` is passed to :func:`~reunistat.models.comparison.funnel_table`
    (0.1, the NHS convention; 0 for plain DerSimonian-Laird).

    Returns
    -------
    dict
        ``n_units``; for each method ``<method>_phi``, ``<method>_tau2`` and,
        for each adjustment and level, ``<method>_outside_<adj>_<lvl>`` (the
        number of authorities outside the limits, the planted one excluded)
        and, with a planted authority, ``<method>_planted_high_<adj>_<lvl>``
        (1 when it is flagged above the upper limit).
    """
    rng = np.random.default_rng(seed)
    las = np.sort(returns[group].dropna().unique())
    effects = pd.Series(rng.normal(0.0, la_sd_log_hr, len(las)) if la_sd_log_hr > 0 else 0.0, las)
    if planted is not None:
        if planted not in effects.index:
            raise InputError(f"the planted authority {planted!r} has no returns")
        effects[planted] = np.log(planted_hr)
    sim = simulate_outcomes(returns, truth, effects, rng, group=group)
    out: dict[str, Any] = {"n_units": len(las)}
    for method in methods:
        st = indirect_standardisation(
            sim, covariates, method=method, group=group, horizon_days=horizon_days
        )
        t = st.table.set_index(group)
        table, od = funnel_table(t["observed"], t["expected"], index=t.index, winsorise=winsorise)
        out[f"{method}_phi"], out[f"{method}_tau2"] = od.phi, od.tau2
        others = table.drop(index=planted) if planted is not None else table
        for adj in ADJUSTMENTS:
            for level in LEVELS:
                col = f"outside_{adj}_{level_tag(level)}"
                out[f"{method}_{col}"] = int((others[col] != 0).sum())
                if planted is not None:
                    out[f"{method}_planted_high_{adj}_{level_tag(level)}"] = int(
                        table.loc[planted, col] == 1
                    )
    return out


def _replicate_from_seed(
    seed: np.random.SeedSequence,
    returns: pd.DataFrame,
    truth: Mapping[str, Any],
    covariates: str,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`comparison_replicate` with the seed first, as the replicate runner calls it."""
    return comparison_replicate(returns, truth, covariates, seed, **kwargs)


def truth_check(
    returns: pd.DataFrame,
    truth: Mapping[str, Any],
    covariates: str,
    *,
    n_replicates: int = 200,
    seed: int = 20261201,
    n_jobs: int = 1,
    backend: ParallelBackend | str | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Run :func:`comparison_replicate` ``n_replicates`` times (one seed each, in parallel).

    Returns one row per replicate; the same ``seed`` gives the same rows
    whatever ``n_jobs`` or ``backend`` (:func:`reunistat.replicates.run_replicates`).
    """
    if n_replicates < 1:
        raise InputError(f"n_replicates must be at least 1, got {n_replicates}")
    rows = run_replicates(
        _replicate_from_seed,
        n_replicates,
        seed=seed,
        args=(returns, truth, covariates),
        kwargs=kwargs,
        backend=backend,
        n_jobs=n_jobs,
        desc="truth check",
    )
    return pd.DataFrame(rows)


def summarise(reps: pd.DataFrame, method: str = "cox") -> pd.DataFrame:
    """Share of authorities outside the limits (and power for a planted one), by limit.

    Returns one row per adjustment and level: ``adjustment, level,
    share_outside, nominal, mc_se`` and, with a planted authority, ``power``
    (share of replicates flagging it above the upper limit) and its ``power_mc_se``.
    """
    n_units = reps["n_units"] - (1 if f"{method}_planted_high_none_95" in reps else 0)
    total = float(n_units.sum())
    rows = []
    for adj in ADJUSTMENTS:
        for level in LEVELS:
            tag = level_tag(level)
            share = float(reps[f"{method}_outside_{adj}_{tag}"].sum()) / total
            row: dict[str, Any] = {
                "adjustment": adj,
                "level": level,
                "share_outside": share,
                "nominal": 1 - level,
                "mc_se": float(np.sqrt((1 - level) * level / total)),
            }
            key = f"{method}_planted_high_{adj}_{tag}"
            if key in reps:
                p = float(reps[key].mean())
                row["power"] = p
                row["power_mc_se"] = float(np.sqrt(p * (1 - p) / len(reps)))
            rows.append(row)
    return pd.DataFrame(rows)
