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

**The baseline risk of invest-to-save** (re-entry without support) is the
risk of re-entry within a year of a return home, by default the published
national figure, one in five (:data:`DEFAULT_BASELINE_RISK`, Goldacre et al.
2022), used alike by ``reunistat costs`` and the pipeline's paper unless the
user sets another. It is *not* Holmes's 4,738 / 10,080 = 47%: those 4,738
re-entries a year count every re-entry in a year, from returns home of earlier
years too, so their ratio to one year's returns is no risk.

Money is reported in whole pounds and re-entries in whole children (the
arithmetic runs unrounded; :func:`invest_to_save_table` rounds once).

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

#: Risk of re-entry within a year of a return home without support: the default baseline.
DEFAULT_BASELINE_RISK = 0.20
#: Where :data:`DEFAULT_BASELINE_RISK` comes from.
BASELINE_SOURCE = (
    "one in five returns home re-enter care within a year: Goldacre, Hood, Jones, King & "
    "Wang (2022), Br J Soc Work 52(8), national children-looked-after data 2014-2020"
)
_MONEY = ("cost_avoided_gbp", "support_cost_gbp", "net_saving_gbp")

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
    Amounts are whole pounds (``int64``), each total rounded once from the
    unrounded product.

    >>> t = national_costs().set_index("item")["total_gbp"]
    >>> int(t["failed returns (re-entries)"]), int(t["support for all returns"])
    (291927132, 56720160)
    """
    c = costs or holmes_2014()
    rows = [
        ("failed returns (re-entries)", c.national_reentries_per_year, c.cost_per_reentry),
        ("support for all returns", c.national_returns_per_year, c.support_per_child),
    ]
    out = pd.DataFrame(rows, columns=["item", "children_per_year", "unit_cost_gbp"])
    total = out["children_per_year"] * out["unit_cost_gbp"]
    out["children_per_year"] = whole(out["children_per_year"])
    out["unit_cost_gbp"] = whole(out["unit_cost_gbp"])
    out["total_gbp"] = whole(total)
    out["price_base"] = c.price_base
    return out


def whole(x: pd.Series | np.ndarray | float) -> Any:
    """Round to whole pounds or children (half away from zero) as ``int64``; NaN stays missing.

    >>> whole(pd.Series([291_927_132.0, 2.5, -2.5, float("nan")])).tolist()
    [291927132, 3, -3, <NA>]
    """
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    rounded = np.sign(arr) * np.floor(np.abs(arr) + 0.5)
    out = pd.array(np.where(np.isnan(arr), 0, rounded).astype(np.int64), dtype="Int64")
    out[np.isnan(arr)] = pd.NA
    if isinstance(x, pd.Series):
        return pd.Series(out, index=x.index, name=x.name)
    return out if np.ndim(x) else out[0]


def gbp(x: float) -> str:
    """Return an amount in whole pounds with the sign in front.

    >>> gbp(-15_960_198.4), gbp(291_927_132)
    ('-£15,960,198', '£291,927,132')
    """
    n = int(whole(x))
    return ("-" if n < 0 else "") + f"£{abs(n):,}"


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
        Confidence interval of ``effect``; without it the uncertainty is not
        estimated: no draws, intervals missing and ``prob_net_saving`` None.
    conf_level : float
        Level of ``conf_int`` and of the reported intervals.
    baseline_risk : float, optional
        Risk of re-entry within a year without support; default
        :data:`DEFAULT_BASELINE_RISK` (one in five, :data:`BASELINE_SOURCE`).
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
        holds simulation percentile intervals (prefer these; NaN when not
        simulated), ``extras["prob_net_saving"]`` the share of draws that save
        money (None when not simulated) and ``extras["draws"]`` the draws.
    """
    c = costs or holmes_2014()
    p0 = float(DEFAULT_BASELINE_RISK if baseline_risk is None else baseline_risk)
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
    simulated = conf_int is not None and n_sim > 1
    pct = draws.quantile([a, 1 - a]).T
    pct.columns = pd.Index(["conf_low", "conf_high"])
    params = pd.Series({k: float(v[0]) for k, v in point.items()})
    cov = draws.cov().fillna(0.0)
    prob: float | None = float((draws["net_saving_gbp"] > 0).mean())
    if not simulated:  # no interval given: the uncertainty is not estimated (not zero)
        pct.loc[:, :] = np.nan
        cov = pd.DataFrame(np.nan, index=terms, columns=terms)
        prob = None
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
            "prob_net_saving": np.nan if prob is None else prob,
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
            "prob_net_saving": prob,
            "draws": draws if simulated else draws.iloc[:0],
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
    """Return the invest-to-save result as a table in whole pounds and whole children.

    Money rows (``*_gbp``) are whole pounds; re-entries are whole children
    (the break-even number rounded up: the re-entries that must be avoided to
    pay for the support). ``conf_low``/``conf_high`` are the simulation
    percentile intervals, missing when the uncertainty was not estimated (no
    interval of the effect given). The columns are ``Int64``, so a CSV holds
    exact integers, never exponent notation.
    """
    if result.model != "invest_to_save":
        raise InputError(f"expected an invest_to_save result, got {result.model!r}")
    pct = result.extras["percentile_intervals"]
    items = list(result.params.index)
    cols = {
        "estimate": result.params.to_numpy(dtype=float),
        "conf_low": pct["conf_low"].to_numpy(dtype=float),
        "conf_high": pct["conf_high"].to_numpy(dtype=float),
    }
    up = np.array([i == "break_even_reentries_avoided" for i in items])
    out = pd.DataFrame({"item": items})
    for name, x in cols.items():
        out[name] = whole(np.where(up, np.ceil(x), x))
    out["price_base"] = result.extras["price_base"]
    return out


def sensitivity_table(
    effect: float,
    *,
    effect_scale: EffectScale = "hazard_ratio",
    baseline_risks: Sequence[float] = (0.144, DEFAULT_BASELINE_RISK, 0.233),
    effects: Sequence[float] | None = None,
    cost_multipliers: Sequence[float] = (0.75, 1.0, 1.25),
    years_in_care: Sequence[float] = (0.5, 1.0, 2.0),
    n_returns: float | None = None,
    support_share: float = 1.0,
    costs: UnitCosts | None = None,
) -> pd.DataFrame:
    """Net saving across a grid of assumptions (one-way and joint).

    Varies the baseline risk of re-entry (by default over the published range
    of re-entry within a year in England, 14.4% for 2012 exits to 23.3% for
    2007 exits, Mc Grath-Lone et al. 2017, around the default one in five),
    the effect, the unit cost of a failed return (as a multiple of the
    default) and the years of care costed per re-entry. No simulation: point
    values only; re-entries in whole children, money in whole pounds.

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
    out["break_even_reentries_avoided"] = np.ceil(out["break_even_reentries_avoided"])
    for col in ("reentries_avoided", "break_even_reentries_avoided", *_MONEY):
        out[col] = whole(out[col])
    out["price_base"] = c.price_base
    return out
