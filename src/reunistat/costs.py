"""Unit costs of failed returns home and of support, and invest-to-save arithmetic.

Defaults are Holmes (2014), *Supporting children and families returning home
from care: counting the costs* (Centre for Child and Family Research,
Loughborough University, for the NSPCC), England, 2012/13 prices:

* a failed reunification (the child re-enters care) costs on average
  **£61,614 per child per year**;
* appropriate support and services for a family whose child returns home cost
  **£5,627 per child**;
* nationally **4,738 re-entries** a year (about **£300m**) against **10,080
  returns home** a year (about **£56m** to support them all).

Every figure is an editable field of :class:`UnitCosts`. Prices are reported
in the price base of the unit costs (2012/13) unless the user supplies an
inflation index: reunistat ships **no** index values, because it could not
verify a published series (such as the PSSRU *Unit Costs of Health and Social
Care* inflation indices) covering 2012/13 to date. Supply the index values
from the published table you use (see :func:`reprice`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.errors import InputError
from reunistat.results import ModelResult, Provenance, data_hash

EffectScale = Literal["hazard_ratio", "risk_ratio", "risk_difference"]
_SCALES = ("hazard_ratio", "risk_ratio", "risk_difference")

HOLMES_2014_SOURCE = (
    "Holmes L (2014) Supporting children and families returning home from care: counting the "
    "costs. Centre for Child and Family Research, Loughborough University, for the NSPCC. "
    "England, 2012/13 prices."
)


@dataclass(frozen=True)
class UnitCosts:
    """Unit costs and national volumes, with their source and price base.

    Attributes
    ----------
    failed_return_per_child_year : float
        Cost of a failed reunification per child per year in care (£).
    support_per_child : float
        Cost of appropriate support for one child returning home (£).
    national_reentries_per_year : float
        Re-entries to care after a return home in England per year.
    national_returns_per_year : float
        Returns home in England per year.
    years_in_care_per_reentry : float
        Years of care costed per failed return (1 reproduces Holmes's total).
    price_base : str
        Financial year of the prices, e.g. ``"2012/13"``.
    source : str
        Where the figures come from.
    """

    failed_return_per_child_year: float = 61_614.0
    support_per_child: float = 5_627.0
    national_reentries_per_year: float = 4_738.0
    national_returns_per_year: float = 10_080.0
    years_in_care_per_reentry: float = 1.0
    price_base: str = "2012/13"
    source: str = HOLMES_2014_SOURCE

    def __post_init__(self) -> None:
        """Check every amount is a finite non-negative number."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", float) and (
                not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0
            ):
                raise InputError(f"UnitCosts.{f.name} must be a finite number >= 0, got {v!r}")

    @property
    def cost_per_reentry(self) -> float:
        """Cost of one failed return: per-year cost times years in care."""
        return self.failed_return_per_child_year * self.years_in_care_per_reentry

    def replace(self, **changes: Any) -> UnitCosts:
        """Return a copy with some fields changed (e.g. local figures)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a dictionary."""
        return dataclasses.asdict(self)


def holmes_2014() -> UnitCosts:
    """Return the Holmes (2014) unit costs and national volumes (2012/13 prices)."""
    return UnitCosts()


def national_costs(costs: UnitCosts | None = None) -> pd.DataFrame:
    """Reproduce the national totals: cost of all failed returns and of support for all.

    Examples
    --------
    >>> t = national_costs().set_index("item")["total_gbp"]
    >>> round(t["failed returns (re-entries)"] / 1e6), round(t["support for all returns"] / 1e6)
    (292, 57)
    """
    c = costs or holmes_2014()
    rows = [
        ("failed returns (re-entries)", c.national_reentries_per_year, c.cost_per_reentry),
        ("support for all returns", c.national_returns_per_year, c.support_per_child),
    ]
    out = pd.DataFrame(rows, columns=["item", "children_per_year", "unit_cost_gbp"])
    out["total_gbp"] = out["children_per_year"] * out["unit_cost_gbp"]
    out["price_base"] = c.price_base
    return out


def reprice(
    amount: float | np.ndarray,
    index: Mapping[str, float],
    from_year: str,
    to_year: str,
) -> float | np.ndarray:
    """Move an amount between price years with a user-supplied index.

    Parameters
    ----------
    amount : float or array
        Amount(s) in ``from_year`` prices.
    index : mapping of str to float
        Index values by financial year (e.g. ``{"2012/13": ..., "2022/23": ...}``)
        copied from a published table (e.g. the PSSRU inflation indices).
        reunistat ships no values.
    from_year, to_year : str
        Price years, keys of ``index``.

    Examples
    --------
    >>> reprice(100.0, {"a": 50.0, "b": 60.0}, "a", "b")
    120.0
    """
    for y in (from_year, to_year):
        if y not in index:
            raise InputError(
                f"the inflation index has no value for {y!r} (it has {sorted(index)}); "
                "supply values from a published index table"
            )
        if not np.isfinite(index[y]) or index[y] <= 0:
            raise InputError(f"index value for {y!r} must be positive, got {index[y]!r}")
    return amount * (index[to_year] / index[from_year])


def reprice_costs(costs: UnitCosts, index: Mapping[str, float], to_year: str) -> UnitCosts:
    """Return ``costs`` with both unit costs moved to ``to_year`` prices by a user-supplied index.

    ``index`` must hold values for ``costs.price_base`` and ``to_year`` (copied
    from a published table; reunistat ships none).

    Examples
    --------
    >>> c = reprice_costs(holmes_2014(), {"2012/13": 100.0, "2015/16": 110.0}, "2015/16")
    >>> round(c.failed_return_per_child_year), c.price_base
    (67775, '2015/16')
    """
    f = float(reprice(1.0, index, costs.price_base, to_year))
    return costs.replace(
        failed_return_per_child_year=costs.failed_return_per_child_year * f,
        support_per_child=costs.support_per_child * f,
        price_base=to_year,
        source=f"{costs.source} Repriced from {costs.price_base} to {to_year} with a "
        f"user-supplied index ({index[costs.price_base]} -> {index[to_year]}).",
    )


def _risk_treated(p0: np.ndarray | float, effect: np.ndarray, scale: EffectScale) -> np.ndarray:
    p0 = np.asarray(p0, dtype=float)
    if scale == "hazard_ratio":
        return 1.0 - (1.0 - p0) ** effect
    if scale == "risk_ratio":
        return np.clip(p0 * effect, 0.0, 1.0)
    return np.clip(p0 + effect, 0.0, 1.0)


def _draw_effect(
    estimate: float,
    conf_int: tuple[float, float] | None,
    scale: EffectScale,
    n_sim: int,
    rng: np.random.Generator,
    conf_level: float,
) -> np.ndarray:
    if conf_int is None or n_sim == 0:
        return np.full(max(n_sim, 1), estimate)
    lo, hi = conf_int
    if not lo <= estimate <= hi:
        raise InputError(f"the estimate {estimate} is not inside its interval ({lo}, {hi})")
    z = stats.norm.ppf(0.5 + conf_level / 2)
    if scale == "risk_difference":
        se = (hi - lo) / (2 * z)
        return estimate + se * rng.standard_normal(n_sim)
    if lo <= 0:
        raise InputError(f"a ratio's interval must be positive, got ({lo}, {hi})")
    se = (np.log(hi) - np.log(lo)) / (2 * z)
    return np.exp(np.log(estimate) + se * rng.standard_normal(n_sim))


def _check_effect(effect: float, scale: EffectScale, baseline_risk: float) -> None:
    if scale not in _SCALES:
        raise InputError(f"effect_scale must be one of {_SCALES}, got {scale!r}")
    if not 0 < baseline_risk < 1:
        raise InputError(f"baseline_risk must lie strictly between 0 and 1, got {baseline_risk}")
    if scale != "risk_difference" and effect <= 0:
        raise InputError(f"a {scale.replace('_', ' ')} must be positive, got {effect}")
    if scale == "risk_difference" and not -baseline_risk <= effect <= 1 - baseline_risk:
        raise InputError(
            f"a risk difference of {effect} is impossible with baseline risk {baseline_risk}"
        )


def invest_to_save(
    effect: float,
    *,
    effect_scale: EffectScale = "hazard_ratio",
    conf_int: tuple[float, float] | None = None,
    conf_level: float = 0.95,
    baseline_risk: float | None = None,
    n_returns: float | None = None,
    support_share: float = 1.0,
    costs: UnitCosts | None = None,
    n_sim: int = 10_000,
    seed: int | np.random.Generator = 2014,
) -> ModelResult:
    """Re-entries avoided, money saved, support cost and net saving of a support policy.

    Support is given to ``support_share`` of ``n_returns`` returns home a year;
    among those supported the risk of re-entry moves from ``baseline_risk`` to
    the risk implied by ``effect``. Re-entries avoided are costed at
    :attr:`UnitCosts.cost_per_reentry`; support at
    :attr:`UnitCosts.support_per_child` per child supported. Uncertainty in the
    effect (its confidence interval, normal on the log scale for ratios) is
    carried through by simulation.

    Parameters
    ----------
    effect : float
        Effect of support: a hazard ratio, risk ratio, or risk difference
        (supported minus unsupported).
    effect_scale : {"hazard_ratio", "risk_ratio", "risk_difference"}
        Scale of ``effect``. A hazard ratio is turned into a risk by
        ``1 - (1 - p0) ** HR`` (proportional hazards).
    conf_int : (float, float), optional
        Confidence interval of ``effect``; without it, no uncertainty.
    conf_level : float
        Level of ``conf_int`` and of the reported intervals.
    baseline_risk : float, optional
        Risk of re-entry without support; default the national ratio of
        re-entries to returns in ``costs`` (4,738 / 10,080 = 0.47).
    n_returns : float, optional
        Returns home a year; default the national figure (10,080).
    support_share : float
        Share of returns that receive support (1 = all).
    costs : UnitCosts, optional
        Unit costs (default :func:`holmes_2014`).
    n_sim : int
        Simulation draws of the effect.
    seed : int or numpy.random.Generator
        Random seed.

    Returns
    -------
    ModelResult
        Terms ``baseline_reentries, reentries_avoided, cost_avoided_gbp,
        support_cost_gbp, net_saving_gbp, break_even_reentries_avoided``;
        ``cov`` from the simulation draws; ``extras["percentile_intervals"]``
        holds simulation percentile intervals (prefer these),
        ``extras["prob_net_saving"]`` the share of draws that save money and
        ``extras["draws"]`` the draws.
    """
    c = costs or holmes_2014()
    p0 = c.national_reentries_per_year / c.national_returns_per_year
    p0 = float(p0 if baseline_risk is None else baseline_risk)
    n = float(c.national_returns_per_year if n_returns is None else n_returns)
    _check_effect(effect, effect_scale, p0)
    if not 0 <= support_share <= 1:
        raise InputError(f"support_share must lie in [0, 1], got {support_share}")
    if n <= 0:
        raise InputError(f"n_returns must be positive, got {n}")
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must lie strictly between 0 and 1, got {conf_level}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    draws_eff = _draw_effect(effect, conf_int, effect_scale, n_sim, rng, conf_level)
    point = _arith(np.array([effect]), effect_scale, p0, n, support_share, c)
    sims = _arith(draws_eff, effect_scale, p0, n, support_share, c)
    terms = list(point)
    draws = pd.DataFrame(sims)
    a = (1 - conf_level) / 2
    pct = draws.quantile([a, 1 - a]).T
    pct.columns = pd.Index(["conf_low", "conf_high"])
    params = pd.Series({k: float(v[0]) for k, v in point.items()})
    cov = draws.cov() if len(draws) > 1 else pd.DataFrame(0.0, index=terms, columns=terms)
    cov = cov.fillna(0.0)
    options = {
        "effect": effect,
        "effect_scale": effect_scale,
        "conf_int": conf_int,
        "baseline_risk": p0,
        "n_returns": n,
        "support_share": support_share,
        "costs": c.as_dict(),
        "n_sim": n_sim,
        "seed": seed if isinstance(seed, int) else "generator",
    }
    return ModelResult(
        model="invest_to_save",
        params=params,
        cov=cov.loc[terms, terms],
        vcov_type="simulation" if conf_int is not None else "none (no interval given)",
        n_obs=round(n),
        n_events=None,
        fit_stats={
            "prob_net_saving": float((draws["net_saving_gbp"] > 0).mean()),
            "cost_per_reentry_gbp": c.cost_per_reentry,
        },
        provenance=Provenance(
            function="reunistat.costs.invest_to_save",
            data_sha256=data_hash(pd.DataFrame([{k: str(v) for k, v in options.items()}])),
            options=options,
        ),
        exp_label="estimate",
        extras={
            "percentile_intervals": pct.loc[terms],
            "prob_net_saving": float((draws["net_saving_gbp"] > 0).mean()),
            "draws": draws,
            "price_base": c.price_base,
            "source": c.source,
        },
    )


def _arith(
    eff: np.ndarray,
    scale: EffectScale,
    p0: float,
    n: float,
    share: float,
    c: UnitCosts,
) -> dict[str, np.ndarray]:
    supported = n * share
    p1 = _risk_treated(p0, eff, scale)
    avoided = supported * (p0 - p1)
    saved = avoided * c.cost_per_reentry
    support = np.full_like(avoided, supported * c.support_per_child)
    be = support / c.cost_per_reentry if c.cost_per_reentry > 0 else np.full_like(support, np.inf)
    return {
        "baseline_reentries": np.full_like(avoided, n * p0),
        "reentries_avoided": avoided,
        "cost_avoided_gbp": saved,
        "support_cost_gbp": support,
        "net_saving_gbp": saved - support,
        "break_even_reentries_avoided": be,
    }


def invest_to_save_table(result: ModelResult) -> pd.DataFrame:
    """Return the invest-to-save result as a readable table with percentile intervals."""
    if result.model != "invest_to_save":
        raise InputError(f"expected an invest_to_save result, got {result.model!r}")
    pct = result.extras["percentile_intervals"]
    out = pd.DataFrame(
        {
            "item": result.params.index,
            "estimate": result.params.to_numpy(),
            "conf_low": pct["conf_low"].to_numpy(),
            "conf_high": pct["conf_high"].to_numpy(),
        }
    )
    out["price_base"] = result.extras["price_base"]
    return out


def sensitivity_table(
    effect: float,
    *,
    effect_scale: EffectScale = "hazard_ratio",
    baseline_risks: Sequence[float] = (0.20, 0.35, 0.47),
    effects: Sequence[float] | None = None,
    cost_multipliers: Sequence[float] = (0.75, 1.0, 1.25),
    years_in_care: Sequence[float] = (0.5, 1.0, 2.0),
    n_returns: float | None = None,
    support_share: float = 1.0,
    costs: UnitCosts | None = None,
) -> pd.DataFrame:
    """Net saving across a grid of assumptions (one-way and joint).

    Varies the baseline risk of re-entry, the effect, the unit cost of a failed
    return (as a multiple of the default) and the years of care costed per
    re-entry. No simulation: point values only.

    Returns
    -------
    pandas.DataFrame
        One row per combination: the assumptions, ``reentries_avoided``,
        ``cost_avoided_gbp``, ``support_cost_gbp``, ``net_saving_gbp`` and
        ``saves_money``.
    """
    c = costs or holmes_2014()
    effects = [effect] if effects is None else list(effects)
    n = float(c.national_returns_per_year if n_returns is None else n_returns)
    rows = []
    for p0 in baseline_risks:
        for eff in effects:
            _check_effect(eff, effect_scale, p0)
            for m in cost_multipliers:
                for yrs in years_in_care:
                    cc = c.replace(
                        failed_return_per_child_year=c.failed_return_per_child_year * m,
                        years_in_care_per_reentry=yrs,
                    )
                    r = _arith(np.array([eff]), effect_scale, p0, n, support_share, cc)
                    rows.append(
                        {
                            "baseline_risk": p0,
                            "effect": eff,
                            "effect_scale": effect_scale,
                            "cost_multiplier": m,
                            "years_in_care_per_reentry": yrs,
                            **{k: float(v[0]) for k, v in r.items() if k != "baseline_reentries"},
                        }
                    )
    out = pd.DataFrame(rows)
    out["saves_money"] = out["net_saving_gbp"] > 0
    out["price_base"] = c.price_base
    return out
