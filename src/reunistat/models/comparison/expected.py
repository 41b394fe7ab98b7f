"""Indirect standardisation: expected re-entries per authority from a model without it.

A model of re-entry is fitted to the returns home of **all** authorities with
the children's characteristics at return and no authority term; each return's
expected number of re-entries under that national model is summed within
each authority. The observed-to-expected ratio ``O / E`` then says how an
authority's re-entries compare with what its own intake would have had under
the national pattern (indirect standardisation).

Two models:

* ``method="cox"``: the expected count of a return followed for ``t`` days is
  its cumulative hazard ``exp(x' beta) Lambda0(t)`` at the fitted
  coefficients (``O - E`` is the martingale residual). The baseline increments
  follow the fit's tie method (Efron or Breslow, as R's
  ``predict(coxph, type = "expected")``), so the expected counts add up to the
  observed total exactly.
* ``method="logistic"``: re-entry within ``horizon_days``; the expected count
  is the sum of the fitted probabilities of the returns with a known outcome
  at the horizon (a logistic fit with an intercept also adds up exactly).

These compare authorities as populations; they are not for decisions about
an individual child.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from reunistat.errors import InputError
from reunistat.models.comparison.funnel import exact_poisson_ratio_ci
from reunistat.results import ModelResult

Method = Literal["cox", "logistic"]


@dataclass(frozen=True)
class Standardised:
    """Observed and expected re-entries per authority.

    Attributes
    ----------
    table : DataFrame
        One row per authority (in order of its label): ``<group>, n_spells,
        observed, expected, ratio, conf_low, conf_high`` (exact Poisson
        interval of ``observed / expected``).
    model : ModelResult
        The national model without the authority term.
    method : str
        "cox" or "logistic".
    n_dropped : int
        Returns not used (missing covariates; for the logistic method also
        those without a known outcome at the horizon).
    """

    table: pd.DataFrame
    model: ModelResult
    method: str
    n_dropped: int


def _tie_increments(
    s_risk: np.ndarray, s_dead: np.ndarray, d: np.ndarray, ties: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return per event time the hazard increment for those at risk and for those who died."""
    if ties == "breslow":
        h = d / s_risk
        return h, h
    n_groups = len(d)
    dd = d.astype(np.int64)
    grp = np.repeat(np.arange(n_groups), dd)
    first = np.cumsum(dd) - dd
    k = np.arange(int(dd.sum())) - np.repeat(first, dd)
    frac = k / dd[grp]
    den = s_risk[grp] - frac * s_dead[grp]
    h = np.bincount(grp, 1.0 / den, n_groups)
    h_dead = np.bincount(grp, (1.0 - frac) / den, n_groups)
    return h, h_dead


def cox_expected(
    eta: np.ndarray, days: np.ndarray, event: np.ndarray, ties: str = "efron"
) -> np.ndarray:
    """Expected events of each row: its cumulative hazard at its own follow-up.

    Parameters
    ----------
    eta : array
        Linear predictor ``x' beta`` of each row (any constant cancels).
    days : array
        Follow-up (time to the event or censoring).
    event : array
        1 for an event, 0 for censoring.
    ties : {"efron", "breslow"}
        Tie method of the baseline increments (as the fit's).

    Returns
    -------
    array
        ``E_i = event_i - martingale residual_i``; sums to ``sum(event)``.

    Examples
    --------
    >>> e = cox_expected(np.zeros(4), np.array([1.0, 2, 2, 3]), np.array([1, 1, 0, 1]))
    >>> e.round(4).tolist(), float(e.sum())
    ([0.25, 0.5833, 0.5833, 1.5833], 3.0)
    """
    if ties not in ("efron", "breslow"):
        raise InputError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    t = np.asarray(days, dtype=float)
    ev = np.asarray(event).astype(bool)
    r = np.exp(np.asarray(eta, dtype=float) - float(np.mean(eta)))
    order = np.argsort(t, kind="stable")
    ts, rs = t[order], r[order]
    at_or_after = np.cumsum(rs[::-1])[::-1]  # sum of r over t_j >= ts[i]
    t_ev, inv = np.unique(t[ev], return_inverse=True)
    d = np.bincount(inv, minlength=len(t_ev)).astype(float)
    s_dead = np.bincount(inv, r[ev], len(t_ev))
    s_risk = at_or_after[np.searchsorted(ts, t_ev, "left")]
    h, h_dead = _tie_increments(s_risk, s_dead, d, ties)
    cum_before = np.concatenate([[0.0], np.cumsum(h)])
    pos = np.searchsorted(t_ev, t, "left")  # event times strictly before t
    j = np.minimum(pos, len(t_ev) - 1)
    at_t = (pos < len(t_ev)) & (t_ev[j] == t)
    own = np.where(at_t, np.where(ev, h_dead[j], h[j]), 0.0)
    return r * (cum_before[pos] + own)


def _check_columns(data: pd.DataFrame, cols: list[str]) -> None:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"data has no column(s) {missing}")


def _table(
    labels: pd.Series, observed: np.ndarray, expected: np.ndarray, group: str, conf_level: float
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {group: labels.to_numpy(), "observed": observed, "expected": expected, "n": 1}
    )
    agg = frame.groupby(group, sort=True).agg(
        n_spells=("n", "sum"), observed=("observed", "sum"), expected=("expected", "sum")
    )
    agg = agg.reset_index()
    agg["observed"] = agg["observed"].astype(np.int64)
    agg["ratio"] = agg["observed"] / agg["expected"]
    lo, hi = exact_poisson_ratio_ci(agg["observed"], agg["expected"], conf_level)
    agg["conf_low"], agg["conf_high"] = lo, hi
    return agg


def _rhs(covariates: str) -> str:
    rhs = covariates.split("~", 1)[1] if "~" in covariates else covariates
    if not rhs.strip():
        raise InputError("covariates must name at least one column (a formula right-hand side)")
    return rhs.strip()


def indirect_standardisation(
    data: pd.DataFrame,
    covariates: str,
    *,
    method: Method = "cox",
    group: str = "LA",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    ties: Literal["efron", "breslow"] = "efron",
    horizon_days: int = 365,
    potential_followup_col: str | None = "days_potential_followup",
    conf_level: float = 0.95,
    model: ModelResult | None = None,
) -> Standardised:
    """Observed and expected re-entries per authority from a national model without it.

    Parameters
    ----------
    data : pandas.DataFrame
        The spells table (one row per return home).
    covariates : str
        Right-hand side of the national model, e.g. ``"age_band + section20 +
        prior_periods"``; it must not hold the authority.
    method : {"cox", "logistic"}
        Cox model of time to re-entry, or logistic model of re-entry within
        ``horizon_days``.
    group : str
        The authority column.
    duration_col, event_col : str
        Follow-up and event columns (Cox).
    ties : {"efron", "breslow"}
        Tie method of the Cox fit and of its expected counts.
    horizon_days : int
        Horizon of the logistic outcome.
    potential_followup_col : str or None
        For the logistic method: use only returns whose potential follow-up
        reaches the horizon (see :func:`reunistat.models.logistic.logistic`);
        ``None`` to exclude by observed follow-up instead.
    conf_level : float
        Level of the exact Poisson intervals of ``O / E``.
    model : ModelResult, optional
        The same national model, already fitted to ``data``: for the logistic
        method by :func:`reunistat.models.logistic.logistic` (analysis 05
        shares its fit), for the Cox method by
        :func:`reunistat.models.survival.cox` (analysis 04's, whatever its
        variance: only the coefficients are read); used instead of fitting
        again when its formula and options are the ones these arguments ask
        for (and, for Cox, its rows and events those of ``data``'s returns
        with a known authority).

    Returns
    -------
    Standardised
    """
    rhs = _rhs(covariates)
    if group in {t.strip() for t in rhs.replace("*", "+").replace(":", "+").split("+")}:
        raise InputError(
            f"the national model must not hold the authority term {group!r}: indirect "
            "standardisation compares each authority with a model fitted without it"
        )
    _check_columns(data, [group, duration_col, event_col])
    if method == "cox":
        return _cox_standardised(data, rhs, group, duration_col, event_col, ties, conf_level, model)
    if method == "logistic":
        return _logistic_standardised(
            data, rhs, group, horizon_days, potential_followup_col, conf_level, model
        )
    raise InputError(f"method must be 'cox' or 'logistic', got {method!r}")


def _cox_standardised(
    data: pd.DataFrame,
    rhs: str,
    group: str,
    duration_col: str,
    event_col: str,
    ties: str,
    conf_level: float,
    model: ModelResult | None = None,
) -> Standardised:
    from reunistat.models import _formula
    from reunistat.models.survival import cox

    known = data[group].notna()
    if bool(known.all()) and data.index.equals(pd.RangeIndex(len(data))):
        used = data  # what the selection and a new index would give (without the copies)
    else:
        used = data.loc[known].reset_index(drop=True)
    des = _formula.design(rhs, used, intercept=False)  # the fit's own design
    cols = list(dict.fromkeys([group, duration_col, event_col]))
    rows = used if des.n_dropped_missing == 0 else used.loc[des.rows, cols]
    days = rows[duration_col].to_numpy(dtype=float)
    ev = rows[event_col].to_numpy(dtype=float)
    if model is not None and _same_cox(model, rhs, duration_col, event_col, ties, len(rows), ev):
        res = model
    else:
        res = cox(f"~ {rhs}", used, duration_col, event_col, ties=ties, concordance=False)  # type: ignore[arg-type]
    where = {c: j for j, c in enumerate(des.columns)}
    # column-major, as a DataFrame's values: the same matrix-vector product, to the bit
    x = np.asfortranarray(des.x[:, [where[c] for c in res.params.index]])
    eta = x @ res.params.to_numpy()
    exp_i = cox_expected(eta, days, ev, ties)
    table = _table(rows[group], ev, exp_i, group, conf_level)
    return Standardised(table, res, "cox", len(data) - len(rows))


def _same_cox(
    model: ModelResult,
    rhs: str,
    duration_col: str,
    event_col: str,
    ties: str,
    n_rows: int,
    event: np.ndarray,
) -> bool:
    """Whether ``model`` has the coefficients the Cox fit of :func:`_cox_standardised` would.

    The same formula, times, events and ties, no entry times, strata nor
    weights, on as many rows with as many events (a cluster changes only the
    variance, which is not read).
    """
    opts = model.provenance.options
    return (
        model.model == "cox"
        and model.provenance.function == "reunistat.models.survival.cox"
        and (model.provenance.formula or "").split("~", 1)[-1].strip() == rhs
        and opts.get("duration_col") == duration_col
        and opts.get("event_col") == event_col
        and opts.get("ties") == ties
        and opts.get("entry_col") is None
        and opts.get("strata") is None
        and opts.get("weights") is None
        and model.n_obs == n_rows
        and model.n_events == int(event.sum())
    )


def _logistic_standardised(
    data: pd.DataFrame,
    rhs: str,
    group: str,
    horizon_days: int,
    potential_followup_col: str | None,
    conf_level: float,
    model: ModelResult | None = None,
) -> Standardised:
    from reunistat.models.logistic import logistic

    pf = potential_followup_col if potential_followup_col in data.columns else None
    if model is not None and _same_logistic(model, rhs, group, horizon_days, pf):
        res = model
    else:
        res = logistic(
            f"~ {rhs}",
            data,
            horizon_days=horizon_days,
            cluster=group,
            potential_followup_col=pf,
        )
    frame = res.extras["data"]
    y = frame[res.extras["outcome_col"]].to_numpy(dtype=float)
    p = np.asarray(res.extras["fitted"], dtype=float)
    table = _table(frame[group], y, p, group, conf_level)
    return Standardised(table, res, "logistic", len(data) - len(frame))


def _same_logistic(
    model: ModelResult, rhs: str, group: str, horizon_days: int, pf: str | None
) -> bool:
    """Whether ``model`` is the logistic fit :func:`_logistic_standardised` would make."""
    opts = model.provenance.options
    return (
        model.model == "logistic"
        and "fitted" in model.extras
        and (model.provenance.formula or "").split("~", 1)[-1].strip() == rhs
        and opts.get("horizon_days") == horizon_days
        and opts.get("cluster") == group
        and opts.get("potential_followup_col") == pf
        and opts.get("competing", "exclude") == "exclude"
        and "weights" not in opts
    )
