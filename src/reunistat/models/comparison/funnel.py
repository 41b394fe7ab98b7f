"""Funnel plots: control limits for ratios and proportions, and over-dispersion.

Spiegelhalter (2005), *Funnel plots for comparing institutional performance*,
Statistics in Medicine 24:1185-1202, and *Handling over-dispersion of
performance indicators*, Quality and Safety in Health Care 14:347-351, as NHS
indicators (e.g. the Summary Hospital-level Mortality Indicator) apply them.

Each authority ``i`` has an indicator ``y_i`` with a precision ``rho_i``:

* **ratio** (indirectly standardised): ``y = O / E`` with precision ``E``,
  the expected count; target 1; under the null ``O ~ Poisson(E)``;
* **proportion**: ``y = O / n`` with precision ``n``; target the overall
  proportion ``theta0``; under the null ``O ~ Binomial(n, theta0)``.

Limits without over-dispersion are exact (Poisson or binomial quantiles with
Spiegelhalter's interpolation, his Appendix A.1.1): for a one-sided
probability ``p``, with ``r_p`` the ``p``-quantile of the count and ``F`` its
distribution function,
``alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1))`` and the limit is
``(r_p - alpha) / rho``.

Over-dispersion works on z-scores ``z_i = (t(y_i) - t(theta0)) / s_i``: for
ratios the square-root scale ``z_i = 2 (sqrt(O_i) - sqrt(E_i))``
(``s_i = 1 / (2 sqrt(E_i))``), for proportions the natural scale
``s_i = sqrt(theta0 (1 - theta0) / n_i)``. The z-scores are winsorised (the
lowest 10% set to the 10th percentile, the highest 10% to the 90th; R's
default quantile, type 7), then

* multiplicative: ``phi = sum(z_w^2) / I``; limits
  ``theta0 +/- z_p sqrt(phi) s_i`` (when ``phi > 1``; else the exact limits);
* additive random effects (DerSimonian-Laird on the winsorised z-scores):
  ``tau^2 = (I phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w))`` with
  ``w_i = 1 / s_i^2``, and 0 when ``I phi <= I - 1``; limits
  ``theta0 +/- z_p sqrt(s_i^2 + tau^2)`` on the transformed scale (when
  ``tau^2 > 0``; else the exact limits).

Limits on the square-root scale are squared back to ratios (a negative lower
limit is 0).

Calibration (``benchmarks/results/comparison.md``, 200 replicates of 149
authorities): with no authority effect the exact 99.8% limits put 0.20% of
authorities outside (nominal 0.2%). With a normal authority frailty (SD 0.15
on the log hazard) the additive adjustment from **winsorised** z-scores leaves
1.1% outside, because winsorising 10% of each tail shrinks the mean squared
z-score (to about 0.68 of its value for normal z-scores) and ``tau^2`` by
about 4 times; with ``winsorise=0`` (plain DerSimonian-Laird) 0.16% fall
outside. Winsorising guards against a few outliers inflating ``tau^2``; it
costs calibration when authorities genuinely vary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from reunistat.errors import InputError

Kind = Literal["ratio", "proportion"]
Adjustment = Literal["none", "multiplicative", "additive"]
LEVELS: tuple[float, ...] = (0.95, 0.998)
ADJUSTMENTS: tuple[Adjustment, ...] = ("none", "multiplicative", "additive")


def _check_kind(kind: str) -> None:
    if kind not in ("ratio", "proportion"):
        raise InputError(f"kind must be 'ratio' or 'proportion', got {kind!r}")


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise InputError(f"a control limit level must lie between 0 and 1, got {level}")


def _check_counts(observed: np.ndarray, precision: np.ndarray, kind: str) -> None:
    if observed.shape != precision.shape:
        raise InputError("observed and precision must have the same length")
    if np.any(~np.isfinite(observed)) or np.any(observed < 0):
        raise InputError("observed counts must be finite and non-negative")
    if np.any(~np.isfinite(precision)) or np.any(precision <= 0):
        name = "expected counts" if kind == "ratio" else "denominators"
        raise InputError(f"{name} must be finite and positive")
    if kind == "proportion" and np.any(observed > precision):
        raise InputError("an observed count exceeds its denominator")


def exact_poisson_ratio_ci(
    observed: ArrayLike,
    expected: ArrayLike,
    conf_level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) confidence interval of the ratio ``O / E`` for Poisson ``O``.

    ``[qchisq(a/2, 2O) / 2, qchisq(1 - a/2, 2O + 2) / 2] / E``, as R's
    ``poisson.test(O, E)$conf.int``; the lower limit is 0 when ``O = 0``.

    Examples
    --------
    >>> lo, hi = exact_poisson_ratio_ci([10], [8.0])
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.5994, 2.2988)
    """
    _check_level(conf_level)
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    _check_counts(o, e, "ratio")
    a = 1 - conf_level
    lo = np.where(o > 0, stats.chi2.ppf(a / 2, 2 * np.maximum(o, 1e-300)) / 2, 0.0)
    hi = stats.chi2.ppf(1 - a / 2, 2 * o + 2) / 2
    return lo / e, hi / e


def _interpolated_quantile(dist: stats.rv_discrete, p: float) -> np.ndarray:
    """Spiegelhalter's interpolated count at one-sided probability ``p``."""
    r = dist.ppf(p)
    f_r = dist.cdf(r)
    f_below = dist.cdf(r - 1)
    step = f_r - f_below
    alpha = np.where(step > 0, (f_r - p) / np.where(step > 0, step, 1.0), 0.0)
    return np.asarray(r - alpha, dtype=float)


def exact_limits(
    precision: ArrayLike,
    level: float,
    *,
    kind: Kind = "ratio",
    target: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact funnel limits (no over-dispersion) at each precision, Spiegelhalter's A.1.1.

    Parameters
    ----------
    precision : array-like
        Expected counts ``E`` (ratios) or denominators ``n`` (proportions).
    level : float
        Two-sided coverage, e.g. 0.95 or 0.998.
    kind : {"ratio", "proportion"}
        Poisson (``O / E`` around ``target``, usually 1) or binomial (``O / n``
        around ``target``, the overall proportion).
    target : float
        The target ``theta0``.

    Returns
    -------
    (lower, upper) : tuple of arrays
        The limits on the scale of the indicator (ratio or proportion).

    Examples
    --------
    >>> lo, hi = exact_limits([20.0], 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.5603, 1.4373)
    """
    _check_kind(kind)
    _check_level(level)
    rho = np.asarray(precision, dtype=float)
    if np.any(~np.isfinite(rho)) or np.any(rho <= 0):
        raise InputError("precisions (expected counts or denominators) must be positive")
    p_lo, p_hi = (1 - level) / 2, (1 + level) / 2
    if kind == "ratio":
        dist = stats.poisson(target * rho)
    else:
        if not 0 < target < 1:
            raise InputError(f"a target proportion must lie between 0 and 1, got {target}")
        dist = stats.binom(np.round(rho).astype(np.int64), target)
    lo = np.maximum(_interpolated_quantile(dist, p_lo), 0.0) / rho
    hi = _interpolated_quantile(dist, p_hi) / rho
    return lo, hi


def z_scores(
    observed: ArrayLike,
    precision: ArrayLike,
    *,
    kind: Kind = "ratio",
    target: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the z-scores and their standard errors ``s_i`` on the comparison scale.

    Ratios: ``z = 2 (sqrt(O) - sqrt(target E))``, ``s = 1 / (2 sqrt(E))`` (the
    square-root scale, where the indicator is ``sqrt(O / E)``). Proportions:
    ``z = (O / n - target) / s``, ``s = sqrt(target (1 - target) / n)``.

    Examples
    --------
    >>> z, s = z_scores([16.0], [9.0])
    >>> round(float(z[0]), 10), round(float(s[0]), 4)
    (2.0, 0.1667)
    """
    _check_kind(kind)
    o = np.asarray(observed, dtype=float)
    rho = np.asarray(precision, dtype=float)
    _check_counts(o, rho, kind)
    if kind == "ratio":
        s = 1.0 / (2.0 * np.sqrt(rho))
        z = (np.sqrt(o / rho) - np.sqrt(target)) / s
    else:
        if not 0 < target < 1:
            raise InputError(f"a target proportion must lie between 0 and 1, got {target}")
        s = np.sqrt(target * (1 - target) / rho)
        z = (o / rho - target) / s
    return z, s


@dataclass(frozen=True)
class Overdispersion:
    """Over-dispersion of z-scores (Spiegelhalter 2005, QSHC 14:347).

    Attributes
    ----------
    phi : float
        Multiplicative factor: the mean of the squared winsorised z-scores.
    tau2 : float
        Additive between-unit variance on the comparison scale (DerSimonian-
        Laird on the winsorised z-scores; 0 when ``I phi <= I - 1``).
    n_units : int
        Number of units ``I``.
    winsor_low, winsor_high : float
        The percentiles the z-scores were winsorised to.
    p_value : float
        Test of no over-dispersion: ``P(chi2_{I-1} >= I phi)``.
    """

    phi: float
    tau2: float
    n_units: int
    winsor_low: float
    winsor_high: float
    p_value: float


def overdispersion(
    z: ArrayLike,
    s: ArrayLike,
    *,
    winsorise: float = 0.1,
) -> Overdispersion:
    """Estimate multiplicative ``phi`` and additive ``tau^2`` from z-scores.

    Parameters
    ----------
    z : array-like
        z-scores of the units (:func:`z_scores`).
    s : array-like
        Their standard errors on the comparison scale (``w = 1 / s^2``).
    winsorise : float
        Share winsorised in each tail (0.1: to the 10th and 90th percentiles;
        0 for none).

    Examples
    --------
    >>> od = overdispersion([-2.0, -1.0, 0.0, 1.0, 2.0], [0.1, 0.1, 0.1, 0.1, 0.1], winsorise=0)
    >>> od.phi, round(od.tau2, 6)
    (2.0, 0.015)
    """
    zz = np.asarray(z, dtype=float)
    ss = np.asarray(s, dtype=float)
    if zz.shape != ss.shape or zz.ndim != 1:
        raise InputError("z and s must be one-dimensional and of the same length")
    if len(zz) < 3:
        raise InputError(f"over-dispersion needs at least 3 units, got {len(zz)}")
    if not np.all(np.isfinite(zz)) or not np.all(np.isfinite(ss)) or np.any(ss <= 0):
        raise InputError("z-scores must be finite and standard errors positive")
    if not 0 <= winsorise < 0.5:
        raise InputError(f"winsorise must be in [0, 0.5), got {winsorise}")
    lo, hi = (
        np.quantile(zz, [winsorise, 1 - winsorise])
        if winsorise > 0
        else (float(zz.min()), float(zz.max()))
    )
    zw = np.clip(zz, lo, hi)
    n = len(zz)
    phi = float(np.mean(zw**2))
    w = 1.0 / ss**2
    denom = float(w.sum() - (w**2).sum() / w.sum())
    tau2 = max(0.0, (n * phi - (n - 1)) / denom) if denom > 0 else 0.0
    p = float(stats.chi2.sf(n * phi, n - 1))
    return Overdispersion(phi, tau2, n, float(lo), float(hi), p)


def limits(
    precision: ArrayLike,
    level: float,
    *,
    kind: Kind = "ratio",
    target: float = 1.0,
    adjustment: Adjustment = "none",
    od: Overdispersion | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Funnel limits at each precision, without or with over-dispersion adjustment.

    ``adjustment="none"`` gives :func:`exact_limits`; ``"multiplicative"``
    ``target +/- z sqrt(phi) s`` and ``"additive"``
    ``target +/- z sqrt(s^2 + tau^2)``, on the square-root scale for ratios
    (squared back) and the natural scale for proportions; both need ``od``.
    When no over-dispersion is found (``phi <= 1``, or ``tau^2 = 0``) the
    adjusted limits are the exact ones.

    Examples
    --------
    >>> od = Overdispersion(phi=2.0, tau2=0.01, n_units=5, winsor_low=0,
    ...                     winsor_high=0, p_value=0.1)
    >>> lo, hi = limits([25.0], 0.95, adjustment="additive", od=od)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.5225, 1.6312)
    """
    if adjustment == "none":
        return exact_limits(precision, level, kind=kind, target=target)
    if adjustment not in ADJUSTMENTS:
        raise InputError(f"adjustment must be one of {ADJUSTMENTS}, got {adjustment!r}")
    if od is None:
        raise InputError(f"adjustment={adjustment!r} needs the over-dispersion estimate od=")
    if (adjustment == "multiplicative" and od.phi <= 1) or (
        adjustment == "additive" and od.tau2 <= 0
    ):
        # no over-dispersion found: the exact limits (the normal approximation that the
        # adjusted limits rest on is anti-conservative when expected counts are small)
        return exact_limits(precision, level, kind=kind, target=target)
    _check_kind(kind)
    _check_level(level)
    rho = np.asarray(precision, dtype=float)
    if np.any(~np.isfinite(rho)) or np.any(rho <= 0):
        raise InputError("precisions (expected counts or denominators) must be positive")
    zq = float(stats.norm.ppf((1 + level) / 2))
    if kind == "ratio":
        s = 1.0 / (2.0 * np.sqrt(rho))
        centre = np.sqrt(target)
    else:
        s = np.sqrt(target * (1 - target) / rho)
        centre = target
    if adjustment == "multiplicative":
        half = zq * np.sqrt(max(od.phi, 1.0)) * s
    else:
        half = zq * np.sqrt(s**2 + od.tau2)
    lo, hi = centre - half, centre + half
    if kind == "ratio":
        return np.maximum(lo, 0.0) ** 2, hi**2
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)


def funnel_table(
    observed: ArrayLike,
    precision: ArrayLike,
    *,
    kind: Kind = "ratio",
    target: float | None = None,
    levels: Sequence[float] = LEVELS,
    winsorise: float = 0.1,
    index: Sequence[object] | pd.Index | pd.Series | None = None,
) -> tuple[pd.DataFrame, Overdispersion]:
    """Indicator, z-score, limits and flags of every unit, and the over-dispersion.

    Parameters
    ----------
    observed : array-like
        Observed counts ``O``.
    precision : array-like
        Expected counts ``E`` (``kind="ratio"``) or denominators ``n``.
    kind : {"ratio", "proportion"}
        What is compared.
    target : float, optional
        ``theta0``: 1 for ratios; the pooled proportion ``sum(O) / sum(n)`` by default.
    levels : sequence of float
        Two-sided levels of the limits (95% and 99.8% by default).
    winsorise : float
        Share winsorised in each tail for the over-dispersion estimate.
    index : sequence, optional
        Labels of the units (e.g. authority codes).

    Returns
    -------
    (DataFrame, Overdispersion)
        One row per unit: ``observed, precision, indicator, z, s``, then for
        every level (as ``95``, ``99.8``) and adjustment (``none``,
        ``multiplicative``, ``additive``) the columns ``lower_<adj>_<lvl>``,
        ``upper_<adj>_<lvl>`` and ``outside_<adj>_<lvl>`` (-1 below, 1
        above, 0 inside).

    Examples
    --------
    >>> t, od = funnel_table([5, 30, 12, 9], [10.0, 15.0, 11.0, 12.0])
    >>> t["outside_none_99.8"].tolist()
    [0, 1, 0, 0]
    """
    _check_kind(kind)
    o = np.asarray(observed, dtype=float)
    rho = np.asarray(precision, dtype=float)
    _check_counts(o, rho, kind)
    if target is None:
        target = 1.0 if kind == "ratio" else float(o.sum() / rho.sum())
    z, s = z_scores(o, rho, kind=kind, target=target)
    od = overdispersion(z, s, winsorise=winsorise)
    y = o / rho
    out = pd.DataFrame(
        {"observed": o, "precision": rho, "indicator": y, "z": z, "s": s},
        index=pd.Index(index) if index is not None else None,
    )
    for level in levels:
        tag = level_tag(level)
        for adj in ADJUSTMENTS:
            lo, hi = limits(rho, level, kind=kind, target=target, adjustment=adj, od=od)
            out[f"lower_{adj}_{tag}"] = lo
            out[f"upper_{adj}_{tag}"] = hi
            out[f"outside_{adj}_{tag}"] = np.where(y < lo, -1, np.where(y > hi, 1, 0))
    return out, od


def level_tag(level: float) -> str:
    """Return the label of a level in column names: 0.95 -> ``"95"``, 0.998 -> ``"99.8"``.

    >>> level_tag(0.998)
    '99.8'
    """
    return f"{100 * level:.10g}"


def funnel_curve(
    precision_range: tuple[float, float],
    *,
    kind: Kind = "ratio",
    target: float = 1.0,
    levels: Sequence[float] = LEVELS,
    adjustment: Adjustment = "none",
    od: Overdispersion | None = None,
    n_points: int = 200,
) -> pd.DataFrame:
    """Limits along a grid of precisions, to draw the funnel's lines.

    Returns ``precision`` and ``lower_<lvl>``, ``upper_<lvl>`` for each level.
    For proportions the grid holds whole denominators.
    """
    lo_p, hi_p = precision_range
    if not 0 < lo_p < hi_p:
        raise InputError(f"a precision range must be positive and increasing: {precision_range}")
    grid = np.geomspace(lo_p, hi_p, n_points)
    if kind == "proportion":
        grid = np.unique(np.maximum(np.round(grid), 1.0))
    out = pd.DataFrame({"precision": grid})
    for level in levels:
        lo, hi = limits(grid, level, kind=kind, target=target, adjustment=adjustment, od=od)
        out[f"lower_{level_tag(level)}"] = lo
        out[f"upper_{level_tag(level)}"] = hi
    return out
