"""Power and sample size for a pilot evaluation, by simulation and in closed form.

The simulator works at spell level, without the full SSDA903 generator: each
local authority has returns home at a constant yearly rate (Poisson counts,
return days uniform within each year), a normal frailty on the log hazard,
and a piecewise-constant baseline hazard matching the national cumulative
re-entry curve (12% by 3 months, 20% by 1 year, 35% by 6 years by default).
Pilot authorities adopt at ``adoption_year``; returns after that in a pilot
authority have hazard ratio ``hazard_ratio``. Follow-up ends at the end of the
study (and at ``max_followup_days`` if given). Each replicate is fitted with
the package's Cox engine, errors clustered by local authority.

Designs:

* ``"comparison"``: returns after adoption only; ``treated`` = pilot authority;
* ``"did"``: all returns; Cox stratified by authority with ``treated`` (pilot
  after adoption) and ``post`` (any return after adoption): the hazard-scale
  difference-in-differences.

Replicate ``i`` always uses the ``i``-th child of ``numpy.random.SeedSequence(seed)``,
so the answer depends on the seed only, not on the number of cores.

The closed forms (:func:`schoenfeld_power`, :func:`freedman_power`) need the
expected number of events, computed exactly from the same design
(:func:`expected_events`); they ignore clustering, so they apply to the
``"comparison"`` design with ``la_sd_log_hr = 0``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from reunistat.models.evaluation._common import EvaluationError
from reunistat.models.evaluation.binary_cox import binary_cox
from reunistat.replicates import ParallelBackend, as_backend, run_replicates, session
from reunistat.results import ModelResult, Provenance, data_hash

PowerDesignKind = Literal["comparison", "did"]
#: The national cumulative re-entry curve: (days, share re-entered) (DOMAIN.md §1).
NATIONAL_CURVE: tuple[tuple[float, float], ...] = ((91.0, 0.12), (365.0, 0.20), (2191.0, 0.35))
# The simulation's calendar: years of 365 whole days (not horizons.DAYS_PER_YEAR, a mean
# length for converting ages; changing this would change every simulated power).
DAYS = 365.0


@dataclass(frozen=True)
class PowerDesign:
    """A pilot evaluation to be powered.

    Attributes
    ----------
    hazard_ratio : float
        True hazard ratio of re-entry for returns in pilot authorities after adoption.
    n_authorities : int
        Local authorities in the study (pilot plus comparison).
    n_pilot : int
        Pilot authorities among them.
    returns_per_year : float
        Returns home a year across all the authorities (England: about 10,080).
    years : float
        Length of the study (years of returns; follow-up ends with the study).
    adoption_year : float
        Years from the study start to adoption in pilot authorities.
    baseline : tuple of (days, cumulative re-entry)
        The baseline cumulative re-entry curve, increasing in both.
    la_sd_log_hr : float
        SD of the authorities' log hazard frailty.
    max_followup_days : float or None
        Extra cap on follow-up (e.g. 365 to follow each return one year).
    design : {"comparison", "did"}
        The analysis (see the module notes).
    alpha : float
        Two-sided significance level.
    robust : bool
        Cluster-robust (by LA) variance in the fitted Cox models.
    t_reference : bool
        With ``robust``, test against a t distribution on ``n_pilot - 1``
        degrees of freedom instead of the normal: the cluster-robust test with
        few pilot authorities otherwise rejects too often (7.0% at nominal 5%
        with 15 of 150 piloting; 5.0% with the t reference).
    """

    hazard_ratio: float = 0.75
    n_authorities: int = 150
    n_pilot: int = 15
    returns_per_year: float = 10_080.0
    years: float = 6.0
    adoption_year: float = 3.0
    baseline: tuple[tuple[float, float], ...] = NATIONAL_CURVE
    la_sd_log_hr: float = 0.15
    max_followup_days: float | None = None
    design: PowerDesignKind = "comparison"
    alpha: float = 0.05
    robust: bool = True
    t_reference: bool = True

    def __post_init__(self) -> None:
        """Check the design at the boundary, with messages that say what is wrong."""
        if self.design not in ("comparison", "did"):
            raise EvaluationError(f"design must be 'comparison' or 'did', got {self.design!r}")
        if not self.hazard_ratio > 0:
            raise EvaluationError(f"hazard_ratio must be positive, got {self.hazard_ratio}")
        if not 1 <= self.n_pilot < self.n_authorities or (
            self.robust and self.t_reference and self.n_pilot < 2
        ):
            raise EvaluationError(
                f"n_pilot must be at least 1 and fewer than n_authorities ({self.n_authorities}),"
                f" got {self.n_pilot}"
            )
        if not self.returns_per_year > 0 or not self.years > 0:
            raise EvaluationError("returns_per_year and years must be positive")
        if not 0 <= self.adoption_year < self.years:
            raise EvaluationError(
                f"adoption_year ({self.adoption_year}) must lie in [0, years={self.years}): "
                "the pilot would have no post-adoption returns"
            )
        if self.design == "did" and self.adoption_year == 0:
            raise EvaluationError("a 'did' design needs returns before adoption: adoption_year > 0")
        if not 0 < self.alpha < 1:
            raise EvaluationError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")
        if self.la_sd_log_hr < 0:
            raise EvaluationError(f"la_sd_log_hr must be >= 0, got {self.la_sd_log_hr}")
        baseline_rates(self.baseline)

    def replace(self, **changes: Any) -> PowerDesign:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def baseline_rates(curve: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Return knots and piecewise-constant daily hazards that pass through ``curve``.

    Examples
    --------
    >>> k, r = baseline_rates(NATIONAL_CURVE)
    >>> round(float(1 - np.exp(-r[0] * 91)), 4)
    0.12
    """
    days = np.array([float(d) for d, _ in curve])
    risk = np.array([float(p) for _, p in curve])
    if (
        len(days) == 0
        or np.any(np.diff(days) <= 0)
        or np.any(np.diff(risk) <= 0)
        or days[0] <= 0
        or risk[0] <= 0
        or risk[-1] >= 1
    ):
        raise EvaluationError(
            f"baseline must be (days, cumulative re-entry) pairs increasing in both, with risks "
            f"in (0, 1), got {list(curve)}"
        )
    cumhaz = -np.log1p(-risk)
    knots = np.concatenate([[0.0], days])
    rates = np.diff(np.concatenate([[0.0], cumhaz])) / np.diff(knots)
    return knots[:-1], rates  # the last rate continues past the last knot


def _cumhaz(knots: np.ndarray, rates: np.ndarray, t: np.ndarray) -> np.ndarray:
    j = np.searchsorted(knots, t, side="right") - 1
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(knots))])
    return cum[j] + rates[j] * (t - knots[j])


def _invert(knots: np.ndarray, rates: np.ndarray, target: np.ndarray) -> np.ndarray:
    cum = np.concatenate([[0.0], np.cumsum(rates[:-1] * np.diff(knots))])
    j = np.searchsorted(cum, target, side="right") - 1
    return knots[j] + (target - cum[j]) / rates[j]


def hazard_ratio_from_risk_difference(
    risk_difference: float,
    horizon_days: float = 365.0,
    baseline: Sequence[tuple[float, float]] = NATIONAL_CURVE,
) -> float:
    """Return the hazard ratio that moves the baseline risk at a horizon by ``risk_difference``.

    Examples
    --------
    >>> round(hazard_ratio_from_risk_difference(-0.05, 365), 4)
    0.7283
    """
    knots, rates = baseline_rates(baseline)
    p0 = 1 - float(np.exp(-_cumhaz(knots, rates, np.array([horizon_days]))[0]))
    p1 = p0 + risk_difference
    if not 0 < p1 < 1:
        raise EvaluationError(
            f"a risk difference of {risk_difference} is impossible at baseline risk {p0:.3f}"
        )
    return float(np.log1p(-p1) / np.log1p(-p0))


def simulate_spells(design: PowerDesign, rng: np.random.Generator) -> pd.DataFrame:
    """Simulate one study's spells: ``LA, entry_day, days_followed, reentered, treated, post``."""
    return pd.DataFrame(_simulate(design, rng))


@functools.lru_cache(maxsize=64)
def _baseline(curve: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`baseline_rates` of a design's curve, computed once (read-only arrays)."""
    knots, rates = baseline_rates(curve)
    knots.flags.writeable = rates.flags.writeable = False
    return knots, rates


def _simulate(design: PowerDesign, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The columns of :func:`simulate_spells` as arrays (a replicate needs no DataFrame).

    Every return is drawn (so the random stream is the design's whatever is
    kept); with the ``"comparison"`` design, which keeps only returns after
    adoption, the event times are worked out for those only (each value as
    when worked out for all: the same elementwise operations).
    """
    knots, rates = _baseline(design.baseline)
    n_la, years = design.n_authorities, int(np.ceil(design.years))
    lam = design.returns_per_year / n_la
    width = np.minimum(1.0, design.years - np.arange(years))  # last year may be partial
    counts = rng.poisson(lam * width[None, :], size=(n_la, years)).ravel()
    la = np.repeat(np.repeat(np.arange(n_la), years), counts)
    yr = np.repeat(np.tile(np.arange(years), n_la), counts)
    entry = (yr + rng.random(la.size) * width[yr]) * DAYS
    frailty = rng.normal(0.0, design.la_sd_log_hr, n_la) if design.la_sd_log_hr > 0 else None
    pilot_la = np.arange(n_la) < design.n_pilot
    post = entry >= design.adoption_year * DAYS
    draw = rng.exponential(size=la.size)
    if design.design == "comparison":
        sub = np.flatnonzero(post)
        la, entry, draw = la[sub], entry[sub], draw[sub]
        post = np.ones(la.size, dtype=bool)
    treated = pilot_la[la] & post
    lp = np.where(treated, np.log(design.hazard_ratio), 0.0)
    if frailty is not None:
        lp = lp + frailty[la]
    t_event = _invert(knots, rates, draw / np.exp(lp))
    cens = design.years * DAYS - entry
    if design.max_followup_days is not None:
        cens = np.minimum(cens, design.max_followup_days)
    event_day = np.ceil(t_event)
    cens_day = np.floor(cens)
    reentered = event_day <= cens_day
    days_followed = np.where(reentered, event_day, cens_day)
    keep = days_followed > 0
    la_kept = la[keep]
    return {
        "LA": la_kept,
        "entry_day": entry[keep],
        "days_followed": days_followed[keep],
        "reentered": reentered[keep].astype(np.int64),
        "treated": treated[keep].astype(np.int64),
        "pilot_la": pilot_la[la_kept].astype(np.int64),
        "post": post[keep].astype(np.int64),
    }


def _cox_fast(
    x: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    strata: np.ndarray | None,
    cluster: np.ndarray | None,
) -> tuple[float, float]:
    """Fit a Cox model with the package's engine, skipping the formula and provenance.

    The same computation as :func:`reunistat.models.survival.cox` (a test checks
    they agree); a replicate needs only the first coefficient and its SE. One
    0/1 covariate without strata (the ``"comparison"`` design) is fitted from
    counts (:func:`~reunistat.models.evaluation.binary_cox.binary_cox`, the
    same estimate and SE to rounding), about four times faster.
    """
    from reunistat.models.survival import cox_arrays

    if strata is None and x.shape[1] == 1 and bool(((x == 0) | (x == 1)).all()):
        return binary_cox(x[:, 0], stop, event, cluster)
    beta, var = cox_arrays(x, stop, event, strata=strata, cluster=cluster)
    return float(beta[0]), float(np.sqrt(var[0, 0]))


def _fit_one(seed: np.random.SeedSequence, design: PowerDesign) -> tuple[float, ...]:
    """Simulate and fit one study (one replicate of :func:`simulate_power`)."""
    rng = np.random.default_rng(seed)
    d = _simulate(design, rng)
    n, ev = len(d["LA"]), int(d["reentered"].sum())
    cols = ["treated"] if design.design == "comparison" else ["treated", "post"]
    x = np.column_stack([d[c].astype(float) for c in cols])
    la = d["LA"]
    event = d["reentered"] == 1
    strata = la if design.design == "did" else None
    if ev == 0 or (x.min(axis=0) == x.max(axis=0)).any():
        return (np.nan, np.nan, np.nan, float(n), float(ev))
    try:
        b, se = _cox_fast(x, d["days_followed"], event, strata, la if design.robust else None)
    except (ValueError, np.linalg.LinAlgError):
        return (np.nan, np.nan, np.nan, float(n), float(ev))
    # scipy's t.sf and norm.sf, without their argument checks: the same special functions
    if design.robust and design.t_reference:
        p = float(2 * special.stdtr(design.n_pilot - 1, -abs(b / se)))
    else:
        p = float(2 * special.ndtr(-abs(b / se)))
    return (b, se, p, float(n), float(ev))


def expected_events(design: PowerDesign, n_nodes: int = 20, n_grid: int = 400) -> dict[str, float]:
    """Return the expected returns and re-entries in each arm of the analysed sample.

    Integrates over return dates (uniform) and the frailty (Gauss-Hermite).
    """
    knots, rates = baseline_rates(design.baseline)
    start = design.adoption_year * DAYS if design.design == "comparison" else 0.0
    end = design.years * DAYS
    entry = start + (np.arange(n_grid) + 0.5) / n_grid * (end - start)
    fu = end - entry
    if design.max_followup_days is not None:
        fu = np.minimum(fu, design.max_followup_days)
    h0 = _cumhaz(knots, rates, fu)
    nodes, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    b = design.la_sd_log_hr * nodes
    rate_per_day = design.returns_per_year / DAYS

    def events(hr: float | np.ndarray) -> np.ndarray:
        return 1 - np.exp(-np.multiply.outer(h0 * hr, np.exp(b))) @ w  # per return, by entry

    n_total = rate_per_day * (end - start)
    share_pilot = design.n_pilot / design.n_authorities
    hr_post = np.where(entry >= design.adoption_year * DAYS, design.hazard_ratio, 1.0)
    p_pilot = float(events(hr_post).mean())
    p_comp = float(events(1.0).mean())
    n_p, n_c = n_total * share_pilot, n_total * (1 - share_pilot)
    return {
        "returns_pilot": n_p,
        "returns_comparison": n_c,
        "events_pilot": n_p * p_pilot,
        "events_comparison": n_c * p_comp,
        "events": n_p * p_pilot + n_c * p_comp,
    }


def schoenfeld_power(
    events: float, hazard_ratio: float, share: float, alpha: float = 0.05
) -> float:
    """Schoenfeld (1983) power of the log-rank / Cox test: ``Φ(|log HR|·√(D·π(1-π)) − z)``.

    Examples
    --------
    >>> round(schoenfeld_power(379, 0.75, 0.5), 3)
    0.8
    """
    z = stats.norm.ppf(1 - alpha / 2)
    return float(
        stats.norm.cdf(abs(np.log(hazard_ratio)) * np.sqrt(events * share * (1 - share)) - z)
    )


def freedman_power(events: float, hazard_ratio: float, share: float, alpha: float = 0.05) -> float:
    """Freedman (1982) power: ``Φ(√D·√(k)·|1-HR|/(1+k·HR) − z)`` with allocation ratio k."""
    k = share / (1 - share)
    z = stats.norm.ppf(1 - alpha / 2)
    return float(
        stats.norm.cdf(np.sqrt(events * k) * abs(1 - hazard_ratio) / (1 + k * hazard_ratio) - z)
    )


def schoenfeld_events(
    hazard_ratio: float, share: float, power: float = 0.8, alpha: float = 0.05
) -> float:
    """Events needed for ``power`` by Schoenfeld's formula."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z**2 / (share * (1 - share) * np.log(hazard_ratio) ** 2))


def _closed_form(design: PowerDesign) -> dict[str, float]:
    e = expected_events(design)
    share = e["returns_pilot"] / (e["returns_pilot"] + e["returns_comparison"])
    return {
        "expected_events": e["events"],
        "expected_returns": e["returns_pilot"] + e["returns_comparison"],
        "schoenfeld_power": schoenfeld_power(e["events"], design.hazard_ratio, share, design.alpha),
        "freedman_power": freedman_power(e["events"], design.hazard_ratio, share, design.alpha),
    }


def simulate_power(
    design: PowerDesign | None = None,
    *,
    n_replicates: int = 1000,
    seed: int = 20240331,
    n_jobs: int = 1,
    progress: bool = False,
    chunk_size: int | None = None,
    backend: ParallelBackend | str | None = None,
) -> ModelResult:
    """Estimate power by simulating the study and fitting it ``n_replicates`` times.

    Parameters
    ----------
    design : PowerDesign, optional
        The study (default: :class:`PowerDesign` defaults: national size, 15 of
        150 authorities piloting, HR 0.75).
    n_replicates : int
        Simulated studies.
    seed : int
        Random seed: the same seed gives the same answer on any number of cores.
    n_jobs : int
        Workers (-1 for all cores): with ``backend=None``, 1 runs here and
        more in joblib's processes.
    progress : bool
        Show a progress bar (tqdm).
    chunk_size : int or None
        Replicates per task sent to a worker (default: a few tasks per worker).
    backend : ParallelBackend, str or None
        Where the replicates run (``"sequential"``, ``"loky"``,
        ``"threading"``, ``"dask"``): see :mod:`reunistat.replicates`. The
        replicates are identical on every backend.

    Returns
    -------
    ModelResult
        Terms ``power`` (share of replicates with p < alpha), ``mean_log_hr`` and
        ``mean_std_error``, with Monte Carlo covariance; ``fit_stats`` holds
        the closed-form powers (Schoenfeld, Freedman), expected events,
        failed fits and seconds taken; ``extras["replicates"]`` one row per
        replicate.
    """
    design = design or PowerDesign()
    if not isinstance(n_replicates, int) or n_replicates < 2:
        raise EvaluationError(f"n_replicates must be an integer >= 2, got {n_replicates!r}")
    if n_jobs == 0:
        raise EvaluationError("n_jobs must be a positive number of workers or -1 for all cores")
    how = as_backend(backend, n_jobs)
    t0 = time.perf_counter()
    rows = run_replicates(
        _fit_one,
        n_replicates,
        seed=seed,
        args=(design,),
        backend=how,
        chunk_size=chunk_size,
        progress=progress,
        desc="power",
    )
    seconds = time.perf_counter() - t0
    reps = pd.DataFrame(rows, columns=["log_hr", "std_error", "p_value", "n_spells", "n_events"])
    ok = reps["p_value"].notna()
    reject = (reps.loc[ok, "p_value"] < design.alpha).astype(float)
    m = int(ok.sum())
    if m == 0:
        raise EvaluationError("every simulated study failed to fit: the design is too small")
    power = float(reject.mean())
    est = reps.loc[ok, "log_hr"]
    ses = reps.loc[ok, "std_error"]
    params = pd.Series(
        {"power": power, "mean_log_hr": float(est.mean()), "mean_std_error": float(ses.mean())}
    )
    var = np.diag([power * (1 - power) / m, est.var() / m, ses.var() / m])
    stats_: dict[str, float] = {
        "n_replicates": float(n_replicates),
        "n_failed": float(n_replicates - m),
        "empirical_sd_log_hr": float(est.std()),
        "mean_events": float(reps["n_events"].mean()),
        "seconds": seconds,
        "n_jobs": float(how.n_jobs),
    }
    stats_.update(_closed_form(design))
    opts = {**dataclasses.asdict(design), "n_replicates": n_replicates, "seed": seed}
    return ModelResult(
        model="power_simulation",
        params=params,
        cov=pd.DataFrame(var, index=params.index, columns=params.index),
        vcov_type="monte carlo",
        n_obs=n_replicates,
        n_events=None,
        fit_stats=stats_,
        provenance=Provenance(
            function="reunistat.models.evaluation.simulate_power",
            data_sha256=_options_digest(opts),
            options=opts,
        ),
        exp_label="estimate",
        extras={"replicates": reps, "design": design},
    )


def _options_digest(opts: dict[str, Any]) -> str:
    """``data_hash`` of the one-row frame of the options as text, its columns hashed at once.

    Each text value's hash depends on that value only (pandas' ``hash_array``
    without categorising: the same numbers), so one call for the row gives
    every column's hash: the same digest without a pandas pass per column.
    """
    row = {k: str(v) for k, v in opts.items()}
    each = pd.util.hash_array(np.array(list(row.values()), dtype=object), categorize=False)
    return data_hash(pd.DataFrame([row]), hashes={k: each[j : j + 1] for j, k in enumerate(row)})


def power_curve(
    design: PowerDesign,
    returns_per_year: Sequence[float],
    *,
    n_replicates: int = 200,
    seed: int = 20240331,
    n_jobs: int = 1,
    progress: bool = False,
    backend: ParallelBackend | str | None = None,
) -> pd.DataFrame:
    """Simulated and closed-form power at several study sizes (returns a year).

    Size ``i`` uses seed ``seed + i``; ``backend`` as :func:`simulate_power`
    (a dask cluster is opened once for the whole curve).
    """
    how = as_backend(backend, n_jobs)
    rows = []
    with session(how):
        results = [
            simulate_power(
                design.replace(returns_per_year=float(n)),
                n_replicates=n_replicates,
                seed=seed + i,
                progress=progress,
                backend=how,
            )
            for i, n in enumerate(returns_per_year)
        ]
    for n, r in zip(returns_per_year, results, strict=True):
        rows.append(
            {
                "returns_per_year": float(n),
                "power": r.params["power"],
                "mc_se": float(r.std_errors["power"]),
                "schoenfeld_power": r.fit_stats["schoenfeld_power"],
                "freedman_power": r.fit_stats["freedman_power"],
                "expected_events": r.fit_stats["expected_events"],
            }
        )
    return pd.DataFrame(rows)


def sample_size(
    design: PowerDesign,
    *,
    target_power: float = 0.8,
    grid: Sequence[float] | None = None,
    n_replicates: int = 200,
    seed: int = 20240331,
    n_jobs: int = 1,
    progress: bool = False,
    backend: ParallelBackend | str | None = None,
) -> dict[str, Any]:
    """Returns a year needed for ``target_power``: by simulation over a grid, and closed form.

    The simulated powers on the grid are fitted by a probit regression on
    log(returns a year) and solved for the target; the closed form scales the
    design until Schoenfeld's expected-events requirement is met.

    Returns
    -------
    dict
        ``returns_per_year_simulated``, ``returns_per_year_schoenfeld`` and the
        ``curve`` (a DataFrame).
    """
    if not 0 < target_power < 1:
        raise EvaluationError(f"target_power must lie in (0, 1), got {target_power}")
    cf = _closed_form(design)
    share = design.n_pilot / design.n_authorities
    need = schoenfeld_events(design.hazard_ratio, share, target_power, design.alpha)
    n_cf = design.returns_per_year * need / cf["expected_events"]
    if grid is None:
        grid = [n_cf * f for f in (0.5, 0.75, 1.0, 1.5, 2.0)]
    curve = power_curve(
        design,
        grid,
        n_replicates=n_replicates,
        seed=seed,
        n_jobs=n_jobs,
        progress=progress,
        backend=backend,
    )
    p = curve["power"].clip(0.5 / n_replicates, 1 - 0.5 / n_replicates).to_numpy()
    x = np.log(curve["returns_per_year"].to_numpy())
    slope, icpt = np.polyfit(x, stats.norm.ppf(p), 1)
    n_sim = float(np.exp((stats.norm.ppf(target_power) - icpt) / slope)) if slope > 0 else np.nan
    return {
        "target_power": target_power,
        "returns_per_year_simulated": n_sim,
        "returns_per_year_schoenfeld": float(n_cf),
        "events_needed_schoenfeld": need,
        "curve": curve,
    }
