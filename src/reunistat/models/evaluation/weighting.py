"""Propensity-score weighting at spell level: weights, balance, weighted curves, risk differences.

The propensity score is the probability that a return is in the pilot group
given its covariates (a logistic model). Weights:

* ``"ipw"``: inverse probability, ``1/e`` for pilot and ``1/(1-e)`` for
  comparison returns (the average effect over all returns);
* ``"att"``: ``1`` for pilot and ``e/(1-e)`` for comparison returns (the
  effect among pilot returns);
* ``"overlap"``: ``1-e`` for pilot and ``e`` for comparison returns (Li,
  Morgan & Zaslavsky 2018: the population where the groups overlap; exact
  mean balance on every term of the propensity model, no extreme weights).

Balance is shown as standardised mean differences (difference in means over
the pooled unweighted SD) before and after weighting; |SMD| < 0.1 is the usual
threshold. Weighted cumulative re-entry curves are weighted Kaplan-Meier
(:func:`reunistat.models.survival.kaplan_meier`), and the risk differences at
6, 12 and 24 months get confidence intervals by a bootstrap that resamples
local authorities (the unit of adoption) and refits the propensity model.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from reunistat.horizons import WEIGHTING_HORIZONS_DAYS
from reunistat.models import _options
from reunistat.models.evaluation._common import EvaluationError
from reunistat.models.evaluation.weighting_bootstrap import cluster_bootstrap
from reunistat.models.logistic import IrlsFit
from reunistat.replicates import one_blas_thread
from reunistat.results import ModelResult, Provenance, data_hash

WeightKind = Literal["ipw", "att", "overlap"]
OnExtreme = Literal["error", "trim"]
#: 6, 12 and 24 months, in days (the older name of horizons.WEIGHTING_HORIZONS_DAYS).
DEFAULT_HORIZONS = WEIGHTING_HORIZONS_DAYS
PS_ADJUST = (
    "age_band + ethnic_group + disability + section20 + prior_periods + placement_moves"
    " + np.log(period_length_days) + last_placement_type + return_type + return_year"
)


@dataclass(frozen=True)
class WeightingResult:
    """Everything a propensity-weighted comparison produces.

    Attributes
    ----------
    risk_differences : ModelResult
        Terms ``rd_<H>d`` (pilot minus comparison cumulative re-entry at H days),
        bootstrap covariance; ``extras["percentile_intervals"]``.
    balance : pandas.DataFrame
        One row per design column: means by group, SMD before and after weighting.
    curves : pandas.DataFrame
        Weighted Kaplan-Meier curves by group (``cumulative_incidence``).
    risks : pandas.DataFrame
        Weighted cumulative re-entry by group at each horizon.
    propensity : pandas.Series
        Propensity scores of the rows used (index of the input).
    weights : pandas.Series
        Balancing weights of the rows used.
    method : str
        The weights.
    n_trimmed : int
        Rows dropped for extreme propensity scores (``on_extreme="trim"``).
    """

    risk_differences: ModelResult
    balance: pd.DataFrame
    curves: pd.DataFrame
    risks: pd.DataFrame
    propensity: pd.Series
    weights: pd.Series
    method: str
    n_trimmed: int


def _design(data: pd.DataFrame, formula: str) -> tuple[np.ndarray, list[str], pd.Index, set[str]]:
    """The propensity model's design, its columns, the rows used and the data columns read."""
    from reunistat.models._formula import design

    d = design(formula, data, intercept=True, error=EvaluationError)
    read = {str(v) for v in getattr(d.spec, "required_variables", ())} & set(data.columns)
    return d.x, d.columns, d.rows, read


def _fit_ps(x: np.ndarray, z: np.ndarray, terms: list[str]) -> IrlsFit:
    from reunistat.models.logistic import SeparationError, irls

    try:
        return irls(x, z, terms)
    except SeparationError as exc:
        raise EvaluationError(
            "the pilot and comparison groups do not overlap: the propensity model separates "
            f"them perfectly ({exc}). No weighting can compare them; restrict both groups to "
            "returns with comparable characteristics (e.g. the same years)"
        ) from exc


def balancing_weights(ps: np.ndarray, treated: np.ndarray, method: WeightKind) -> np.ndarray:
    """Return the weights of each row for propensity scores ``ps`` and 0/1 ``treated``.

    Examples
    --------
    >>> balancing_weights(np.array([0.2, 0.5]), np.array([1, 0]), "overlap").tolist()
    [0.8, 0.5]
    """
    t = np.asarray(treated) == 1
    if method == "ipw":
        return np.where(t, 1 / ps, 1 / (1 - ps))
    if method == "att":
        return np.where(t, 1.0, ps / (1 - ps))
    if method == "overlap":
        return np.where(t, 1 - ps, ps)
    raise EvaluationError(f"method must be 'ipw', 'att' or 'overlap', got {method!r}")


def balance_table(
    x: np.ndarray, terms: list[str], treated: np.ndarray, weights: np.ndarray
) -> pd.DataFrame:
    """Standardised mean differences of each design column, unweighted and weighted.

    The denominator is the pooled unweighted SD, ``sqrt((var_1 + var_0) / 2)``,
    the same before and after weighting so the two are comparable.
    """
    t = np.asarray(treated) == 1
    rows = []
    for j, name in enumerate(terms):
        if name == "Intercept":
            continue
        a, b = x[t, j], x[~t, j]
        sd = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        m1, m0 = a.mean(), b.mean()
        w1, w0 = np.average(a, weights=weights[t]), np.average(b, weights=weights[~t])
        with np.errstate(divide="ignore", invalid="ignore"):
            rows.append(
                {
                    "term": name,
                    "mean_pilot": m1,
                    "mean_comparison": m0,
                    "smd_unweighted": (m1 - m0) / sd if sd > 0 else 0.0,
                    "mean_pilot_weighted": w1,
                    "mean_comparison_weighted": w0,
                    "smd_weighted": (w1 - w0) / sd if sd > 0 else 0.0,
                }
            )
    return pd.DataFrame(rows)


def _risks_at(
    t: np.ndarray, e: np.ndarray, z: np.ndarray, w: np.ndarray, horizons: Sequence[int]
) -> np.ndarray:
    """Weighted 1 - KM at each horizon, rows (comparison, pilot); NaN beyond follow-up."""
    from reunistat.models.survival import km_steps

    out = np.full((2, len(horizons)), np.nan)
    z = z == 1
    for g, sel in enumerate((~z, z)):
        steps = km_steps(t[sel], e[sel], weights=w[sel])
        out[g] = steps.cumulative_incidence_at(horizons)
    return out


def _prepare(
    data: pd.DataFrame,
    treatment: str,
    formula: str,
    duration_col: str,
    event_col: str,
    cluster: str,
) -> tuple[pd.DataFrame, np.ndarray, list[str], list[str]]:
    """The rows used, the design, its terms and the columns read (in the data's order)."""
    for c in (treatment, duration_col, event_col, cluster):
        if c not in data.columns:
            raise EvaluationError(f"the spells table has no column {c!r}")
    z = pd.to_numeric(data[treatment], errors="coerce")
    if not z.isin((0, 1)).all():
        raise EvaluationError(f"treatment column {treatment!r} must be 0/1 without missing values")
    if z.nunique() < 2:
        raise EvaluationError(
            f"treatment column {treatment!r} has one group only: nothing to compare"
        )
    x, terms, idx, variables = _design(data, formula)
    used = data.loc[idx]
    read = variables | {treatment, duration_col, event_col, cluster}
    return used, x, terms, [c for c in data.columns if c in read]


@one_blas_thread
def propensity_weighting(
    data: pd.DataFrame,
    treatment: str = "treated",
    *,
    formula: str = PS_ADJUST,
    method: WeightKind = "overlap",
    horizons_days: Sequence[int] = WEIGHTING_HORIZONS_DAYS,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    cluster: str = "LA",
    n_boot: int = 200,
    seed: int = 20240331,
    min_ps: float = 0.01,
    on_extreme: OnExtreme = "error",
    **deprecated: Any,
) -> WeightingResult:
    """Propensity-weighted comparison of re-entry between pilot and comparison returns.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per return (e.g. :func:`~reunistat.models.evaluation.comparison_sample`).
    treatment : str
        0/1 column: 1 for returns in the pilot group.
    formula : str
        Right-hand side of the propensity model (formulaic).
    method : {"ipw", "att", "overlap"}
        The weights (see the module notes).
    horizons_days : sequence of int
        Days at which to compare cumulative re-entry (6, 12, 24 months).
        (Replaces ``horizons=``, deprecated.)
    duration_col, event_col : str
        Follow-up and re-entry columns.
    cluster : str
        Column resampled by the bootstrap (the local authority).
    n_boot : int
        Bootstrap replicates (0 for none: point estimates only).
    seed : int
        Random seed of the bootstrap.
    min_ps : float
        Propensity scores below ``min_ps`` or above ``1 - min_ps`` are extreme.
    on_extreme : {"error", "trim"}
        With IPW/ATT weights, extreme scores raise an error (default) or are
        dropped; overlap weights are bounded and never need trimming.

    **deprecated
        The older spelling horizons=, with a :class:`DeprecationWarning`.

    Returns
    -------
    WeightingResult
    """
    old = _options.take_deprecated(
        "propensity_weighting", deprecated, {"horizons": "horizons_days="}
    )
    horizons_days = old.get("horizons", horizons_days)
    if method not in ("ipw", "att", "overlap"):
        raise EvaluationError(f"method must be 'ipw', 'att' or 'overlap', got {method!r}")
    if on_extreme not in ("error", "trim"):
        raise EvaluationError(f"on_extreme must be 'error' or 'trim', got {on_extreme!r}")
    if not 0 <= min_ps < 0.5:
        raise EvaluationError(f"min_ps must lie in [0, 0.5), got {min_ps}")
    hz = [int(h) for h in horizons_days]
    used, x, terms, read = _prepare(data, treatment, formula, duration_col, event_col, cluster)
    n_missing = len(data) - len(used)  # rows with a missing covariate of the propensity model
    z = used[treatment].to_numpy(dtype=float)
    fit = _fit_ps(x, z, terms)
    ps = fit.p
    extreme = (ps < min_ps) | (ps > 1 - min_ps)
    n_trim = 0
    if method != "overlap" and extreme.any():
        msg = (
            f"{int(extreme.sum())} of {len(ps)} returns have propensity scores outside "
            f"[{min_ps}, {1 - min_ps}] (min {ps.min():.4f}, max {ps.max():.4f}): the groups "
            f"barely overlap and {method} weights would be extreme"
        )
        if on_extreme == "error":
            raise EvaluationError(msg + "; use method='overlap', or on_extreme='trim'")
        keep = ~extreme
        n_trim = int(extreme.sum())
        used, x, z = used.loc[keep], x[keep], z[keep]
        if len(np.unique(z)) < 2:
            raise EvaluationError(msg + "; after trimming one group is empty")
        fit = _fit_ps(x, z, terms)
        ps = fit.p
    w = balancing_weights(ps, z, method)
    bal = balance_table(x, terms, z, w)
    bad = bal.loc[bal["smd_weighted"].abs() > 0.1, "term"].tolist()
    if bad:
        warnings.warn(
            f"after {method} weighting {len(bad)} term(s) remain unbalanced (|SMD| > 0.1): "
            f"{bad[:8]}",
            UserWarning,
            stacklevel=2,
        )
    tt = used[duration_col].to_numpy(dtype=float)
    ee = used[event_col].to_numpy(dtype=float)
    risks = _risks_at(tt, ee, z, w, hz)
    beyond = [h for k, h in enumerate(hz) if np.isnan(risks[:, k]).any()]
    if beyond:
        raise EvaluationError(
            f"horizon(s) {beyond} days are beyond the follow-up of one group (longest "
            f"{used[duration_col].max():.0f} days); choose shorter horizons"
        )
    est = risks[1] - risks[0]
    boot = (
        cluster_bootstrap(
            used,
            x,
            terms,
            fit.params,
            (treatment, duration_col, event_col, cluster),
            lambda p, t: balancing_weights(p, t, method),
            hz,
            n_boot,
            seed,
        )
        if n_boot > 0
        else np.empty((0, len(hz)))
    )
    names = [f"rd_{h}d" for h in hz]
    return WeightingResult(
        risk_differences=_rd_result(
            est, boot, names, used[read], method, n_boot, seed, (n_trim, n_missing), cluster
        ),
        balance=bal,
        curves=_curves(used, w, treatment, duration_col, event_col),
        risks=pd.DataFrame(
            {
                "horizon_days": hz,
                "risk_comparison": risks[0],
                "risk_pilot": risks[1],
                "risk_difference": est,
            }
        ),
        propensity=pd.Series(ps, index=used.index, name="propensity"),
        weights=pd.Series(w, index=used.index, name="weight"),
        method=method,
        n_trimmed=n_trim,
    )


def _curves(
    used: pd.DataFrame, w: np.ndarray, treatment: str, duration_col: str, event_col: str
) -> pd.DataFrame:
    from reunistat.models.survival import kaplan_meier

    d = used[[duration_col, event_col, treatment]].copy()
    d["_w"] = w
    return kaplan_meier(d, duration_col, event_col, by=treatment, weights="_w")


def _rd_result(
    est: np.ndarray,
    boot: np.ndarray,
    names: list[str],
    used: pd.DataFrame,
    method: str,
    n_boot: int,
    seed: int,
    dropped: tuple[int, int],
    cluster: str,
) -> ModelResult:
    """The risk differences' result; ``used``: the rows used, the columns read (hashed)."""
    ok = boot[~np.isnan(boot).any(axis=1)]
    if len(ok) >= 2:
        cov = np.cov(ok, rowvar=False).reshape(len(names), len(names))
        pct = pd.DataFrame(
            {
                "conf_low": np.quantile(ok, 0.025, axis=0),
                "conf_high": np.quantile(ok, 0.975, axis=0),
            },
            index=names,
        )
    else:
        cov = np.full((len(names), len(names)), np.nan)
        pct = pd.DataFrame({"conf_low": np.nan, "conf_high": np.nan}, index=names)
    return ModelResult(
        model="weighted_risk_difference",
        params=pd.Series(est, index=names),
        cov=pd.DataFrame(cov, index=names, columns=names),
        vcov_type=f"bootstrap({cluster} clusters, {len(ok)} of {n_boot})",
        n_obs=len(used),
        n_events=None,
        fit_stats={
            "n_boot_ok": float(len(ok)),
            "n_trimmed": float(dropped[0]),
            "n_dropped_missing": float(dropped[1]),
        },
        provenance=Provenance(
            function="reunistat.models.evaluation.propensity_weighting",
            data_sha256=data_hash(used.reset_index(drop=True)),
            options={"method": method, "n_boot": n_boot, "seed": seed, "cluster": cluster},
        ),
        exp_label="estimate",
        extras={"percentile_intervals": pct, "bootstrap": ok},
    )
