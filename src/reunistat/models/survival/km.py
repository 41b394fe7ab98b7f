"""Cumulative re-entry curves: Kaplan-Meier, Aalen-Johansen, horizon tables, log-rank.

Estimates agree with R's ``survfit`` and ``survdiff``: Kaplan-Meier with
Greenwood standard errors (of the log survival) and log-log intervals; the
Aalen-Johansen cumulative incidence with competing events and R's
infinitesimal-jackknife standard errors and log intervals. Curves are tidy
DataFrames with one row per distinct time (and group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.errors import InputError
from reunistat.horizons import PUBLISHED_HORIZONS_DAYS
from reunistat.models import _options
from reunistat.models.survival import _data
from reunistat.models.survival.aalen import aj_curve

ConfType = Literal["log-log", "log", "plain"]
#: The older name of :data:`reunistat.horizons.PUBLISHED_HORIZONS_DAYS`.
DEFAULT_HORIZONS_DAYS = PUBLISHED_HORIZONS_DAYS


def _counts(
    time: np.ndarray,
    status: np.ndarray,
    w: np.ndarray,
    n_causes: int,
    entry: np.ndarray | None = None,
    shared: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return unique times, weighted at-risk, events per cause (K, C), censored, exit index.

    With ``entry`` (delayed entry) a row is at risk at ``t`` when ``entry < t <= time``
    (R's ``(start, stop]``): rows entering at or after ``t`` are taken out of ``n_risk``.
    ``shared``: the distinct times of a larger sample holding these rows and
    each row's index among them (``np.unique(..., return_inverse=True)`` of
    it), so that the curves of several groups sort the times once; the
    arrays returned are the same.
    """
    if shared is None:
        uniq, idx = np.unique(time, return_inverse=True)
    else:
        times, inverse = shared
        present = np.bincount(inverse, minlength=len(times)) > 0
        uniq = times[present]
        idx = (np.cumsum(present) - 1)[inverse]
    k = uniq.shape[0]
    exits = np.bincount(idx, w, k)
    n_risk = np.cumsum(exits[::-1])[::-1]
    if entry is not None:
        late = _entry_index(uniq, entry) + 1  # first time the row is at risk
        n_risk = n_risk - np.cumsum(np.bincount(late, w, k + 1)[::-1])[::-1][1:]
    ev = np.stack([np.bincount(idx, w * (status == c), k) for c in range(1, n_causes + 1)], 1)
    cens = np.bincount(idx, w * (status == 0), k)
    return uniq, n_risk, ev, cens, idx


def _entry_index(uniq: np.ndarray, entry: np.ndarray) -> np.ndarray:
    """Index of the last distinct time at or before each entry (-1: none)."""
    return np.searchsorted(uniq, np.asarray(entry, dtype=float), "right").astype(np.int64) - 1


def entry_times(data: pd.DataFrame, entry_col: str | None, duration_col: str) -> np.ndarray | None:
    """Return the entry (delayed-entry, or interval start) times, checked to precede the exits.

    Raises
    ------
    InputError
        If an entry is missing, negative, or not before the row's exit.
    """
    if entry_col is None:
        return None
    _data.check_columns(data, [entry_col], "entry_col")
    start = pd.to_numeric(data[entry_col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(start) | (start < 0)
    if bad.any():
        raise InputError(
            f"entry column '{entry_col}' is missing, negative or not a number in "
            f"{int(bad.sum())} row(s), first at index {list(data.index[bad][:3])}"
        )
    bad = start >= _data.durations(data, duration_col)
    if bad.any():
        raise InputError(
            f"entry column '{entry_col}' must be before '{duration_col}'; "
            f"{int(bad.sum())} row(s) have start >= stop, first at index "
            f"{list(data.index[bad][:3])}"
        )
    return start


@dataclass(frozen=True)
class KMSteps:
    """The steps of a Kaplan-Meier curve: one entry per distinct time.

    Attributes
    ----------
    time : numpy.ndarray
        Distinct times (event or censoring), increasing.
    n_risk : numpy.ndarray
        (Weighted) number at risk just before each time.
    n_events : numpy.ndarray
        (Weighted) events at each time.
    surv : numpy.ndarray
        The Kaplan-Meier survival just after each time.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_events: np.ndarray
    surv: np.ndarray

    def cumulative_incidence_at(
        self, horizons: Sequence[float], *, hold_last: bool = False
    ) -> np.ndarray:
        """Return ``1 - S(h)`` at each horizon.

        0 before the first time; past the last time NaN, or the last value with
        ``hold_last=True``.
        """
        h = np.asarray(horizons, dtype=float)
        if self.time.size == 0:
            return np.full(h.shape, np.nan)
        i = np.searchsorted(self.time, h, side="right") - 1
        out = np.where(i >= 0, 1.0 - self.surv[np.clip(i, 0, None)], 0.0)
        return out if hold_last else np.where(h > self.time[-1], np.nan, out)


def km_steps(
    duration: np.ndarray,
    event: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    entry: np.ndarray | None = None,
) -> KMSteps:
    """The one Kaplan-Meier kernel of reunistat, on arrays.

    Used by :func:`kaplan_meier`, the cohort summary, the propensity-weighted
    curves and :func:`~reunistat.models.survival.cox_zph` (the generator keeps
    its own, independent one on purpose). With ``entry`` (delayed entry, or
    ``(start, stop]`` data) a row is at risk at ``t`` when ``entry < t <= duration``.

    Examples
    --------
    >>> km_steps(np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0])).surv.tolist()
    [0.75, 0.75, 0.375, 0.375]
    """
    w = np.ones(len(duration)) if weights is None else np.asarray(weights, dtype=float)
    uniq, n_risk, ev, _, _ = _counts(np.asarray(duration, float), np.asarray(event), w, 1, entry)
    d = ev[:, 0]
    return KMSteps(uniq, n_risk, d, _product_limit(d, n_risk))


def _product_limit(d: np.ndarray, n_risk: np.ndarray) -> np.ndarray:
    """The product-limit estimate ``prod(1 - d / n_risk)`` (a factor 1 where none is at risk)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.cumprod(np.where(n_risk > 0, 1 - d / n_risk, 1.0)))


def _z(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must lie strictly between 0 and 1, got {conf_level}")
    return float(stats.norm.ppf(0.5 + conf_level / 2))


def _km_one(
    time: np.ndarray,
    event: np.ndarray,
    w: np.ndarray,
    z: float,
    conf_type: ConfType,
    entry: np.ndarray | None = None,
    shared: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    uniq, n_risk, ev, cens, _ = _counts(time, event, w, 1, entry, shared)
    d = ev[:, 0]
    surv = _product_limit(d, n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.cumsum(np.where(n_risk > d, d / (n_risk * (n_risk - d)), np.inf * (d > 0)))
        se = np.sqrt(var)
        lo, hi = _interval(surv, se, z, conf_type)
    return pd.DataFrame(
        {
            "time": uniq,
            "n_risk": n_risk,
            "n_events": d,
            "n_censored": cens,
            "surv": surv,
            "std_error_log_surv": se,
            "surv_conf_low": lo,
            "surv_conf_high": hi,
        }
    )


def _interval(
    surv: np.ndarray, se: np.ndarray, z: float, conf_type: ConfType
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits of a survival curve given the standard error of log S."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log-log":
            ls = np.log(surv)
            lo = np.exp(-np.exp(np.log(-ls) - z * se / ls))
            hi = np.exp(-np.exp(np.log(-ls) + z * se / ls))
            one = surv == 1
            lo, hi = np.where(one, 1.0, lo), np.where(one, 1.0, hi)
        elif conf_type == "log":
            lo, hi = surv * np.exp(-z * se), np.minimum(surv * np.exp(z * se), 1.0)
        else:
            lo, hi = np.maximum(surv - z * se * surv, 0.0), np.minimum(surv + z * se * surv, 1.0)
        zero = surv == 0
    return np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)


def _groups(
    data: pd.DataFrame, by: str | Sequence[str] | None
) -> list[tuple[str | None, np.ndarray]]:
    if by is None:
        return [(None, np.ones(len(data), dtype=bool))]
    names = [by] if isinstance(by, str) else list(by)
    _data.check_columns(data, names, "by")
    if len(names) == 1:
        keys = data[names[0]]
        label = f"{names[0]}="
    else:  # one label per combination: "a=1, b=x"
        keys = (
            data[names]
            .astype(str)
            .apply(lambda r: ", ".join(f"{n}={v}" for n, v in zip(names, r, strict=True)), axis=1)
        )
        label = ""
    # the groups of pd.unique (missing left out) in text order, each row's found by one
    # factorisation instead of comparing every row with every group
    codes, uniques = pd.factorize(keys)
    values = list(uniques)
    order = sorted(range(len(values)), key=lambda i: str(values[i]))
    return [(f"{label}{values[i]}", codes == i) for i in order]


def kaplan_meier(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    conf_level: float = 0.95,
    conf_type: ConfType = "log-log",
    entry_col: str | None = None,
) -> pd.DataFrame:
    """Kaplan-Meier survival (no re-entry) and cumulative re-entry, overall or by group.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per spell.
    duration_col, event_col : str
        Days followed and the 0/1 re-entry indicator.
    entry_col : str, optional
        Delayed entry (left truncation): the time from which the row is followed,
        on the same clock as ``duration_col``; the row is at risk over
        ``(entry, duration]`` (R's ``survfit(Surv(entry, duration, event))``).
        For spells whose start predates the data, so that only those still home
        when the data begin are seen.
    by : str or list of str, optional
        Grouping column(s): one curve per group.
    weights : str, optional
        Case weights.
    conf_level : float
        Confidence level of the pointwise intervals.
    conf_type : {"log-log", "log", "plain"}
        Interval transformation; log-log (R's ``conf.type = "log-log"``) by default.

    Returns
    -------
    pandas.DataFrame
        ``group, time, n_risk, n_events, n_censored, surv, std_error_log_surv,
        surv_conf_low, surv_conf_high, cumulative_incidence, std_error, conf_low,
        conf_high``: the survival (no re-entry) with Greenwood's standard error of
        ``log(surv)`` (R's ``std.err``) and its limits, then the cumulative
        re-entry ``1 - surv`` with its standard error and its interval (the
        survival limits flipped), in the package's curve vocabulary
        (:data:`reunistat.results.CURVE_COLUMNS`).

    Notes
    -----
    With case weights the standard error is still Greenwood's (weighted
    counts), as R's ``survfit(..., robust = FALSE)``; R 3.x by default switches
    to the infinitesimal jackknife when weights are not whole numbers.
    """
    _data.check_choice("conf_type", conf_type, ("log-log", "log", "plain"))
    z = _z(conf_level)
    t = _data.durations(data, duration_col)
    e = _data.events(data, event_col)
    start = entry_times(data, entry_col, duration_col)
    w = _data.case_weights(data, weights)
    w = np.ones(len(t)) if w is None else w
    parts = []
    groups = _groups(data, by)
    # the distinct times sorted once for all the groups (without delayed entry)
    every = np.unique(t, return_inverse=True) if start is None and len(groups) > 1 else None
    for label, sel in groups:
        shared = None if every is None else (every[0], every[1][sel])
        part = _km_one(
            t[sel], e[sel], w[sel], z, conf_type, None if start is None else start[sel], shared
        )
        part.insert(0, "group", label if label is not None else "all")
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["cumulative_incidence"] = 1 - out["surv"]
    out["std_error"] = out["surv"] * out["std_error_log_surv"]
    out["conf_low"] = 1 - out["surv_conf_high"]
    out["conf_high"] = 1 - out["surv_conf_low"]
    return out


def _aj_one(
    time: np.ndarray,
    status: np.ndarray,
    w: np.ndarray,
    n_causes: int,
    z: float,
    entry: np.ndarray | None = None,
) -> pd.DataFrame:
    uniq, y, ev, cens, m = _counts(time, status, w, n_causes, entry)
    e1 = np.zeros(len(time), np.int64) if entry is None else _entry_index(uniq, entry) + 1
    return aj_curve(uniq, y, ev, cens, m, e1, status, w, z)


def aalen_johansen(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    by: str | Sequence[str] | None = None,
    weights: str | None = None,
    conf_level: float = 0.95,
    entry_col: str | None = None,
) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each event type with competing events.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per spell.
    duration_col : str
        Days followed.
    event_col : str
        0 censored, 1 re-entry, 2 competing exit (reached 18, other permanent exit);
        further codes 3, 4, ... are further competing events.
    by : str or list of str, optional
        Grouping column(s).
    weights : str, optional
        Case weights.
    conf_level : float
        Confidence level; intervals are on the log scale, as R's ``survfit``.
    entry_col : str, optional
        Delayed entry (left truncation): the row is at risk over ``(entry,
        duration]``, as R's multi-state ``survfit(Surv(entry, duration, event))``.

    Returns
    -------
    pandas.DataFrame
        ``group, time, n_risk, n_censored, surv`` (still home, no event of any
        type), ``surv_std_error`` and for each cause ``c``: ``n_events_c,
        cumulative_incidence_c, std_error_c, conf_low_c, conf_high_c``; standard
        errors by the infinitesimal jackknife.
    """
    z = _z(conf_level)
    t = _data.durations(data, duration_col)
    st = pd.to_numeric(data[event_col], errors="coerce").to_numpy(dtype=float)
    if np.isnan(st).any() or (st < 0).any() or (st != np.round(st)).any():
        raise InputError(f"event column '{event_col}' must hold codes 0 (censored), 1, 2, ...")
    status = st.astype(np.int64)
    n_causes = max(int(status.max()), 1)
    start = entry_times(data, entry_col, duration_col)
    w = _data.case_weights(data, weights)
    w = np.ones(len(t)) if w is None else w
    parts = []
    for label, sel in _groups(data, by):
        part = _aj_one(
            t[sel], status[sel], w[sel], n_causes, z, None if start is None else start[sel]
        )
        part.insert(0, "group", label if label is not None else "all")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def horizon_table(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    *,
    horizons_days: Sequence[float] = PUBLISHED_HORIZONS_DAYS,
    by: str | Sequence[str] | None = None,
    method: Literal["km", "aalen-johansen"] = "aalen-johansen",
    weights: str | None = None,
    conf_level: float = 0.95,
    entry_col: str | None = None,
    **deprecated: Any,
) -> pd.DataFrame:
    """Cumulative re-entry at chosen horizons, with confidence intervals.

    With ``method="aalen-johansen"`` (default) ``event_col`` holds 0/1/2 codes and
    competing exits are accounted for; with ``"km"`` it is a 0/1 indicator and the
    result is ``1 - KM`` (which overstates re-entry when competing exits matter).

    ``horizons_days`` are the horizons (3 months, 1, 2, 5 and 6 years by
    default; ``horizons=`` is the deprecated spelling). ``entry_col`` gives
    delayed entry, as in :func:`kaplan_meier`.

    Returns
    -------
    pandas.DataFrame
        ``group, horizon_days, n_risk, cumulative_incidence, conf_low, conf_high``
        with ``n_risk`` the number still followed just after the horizon.
    """
    old = _options.take_deprecated("horizon_table", deprecated, {"horizons": "horizons_days="})
    horizons_days = old.get("horizons", horizons_days)
    _data.check_choice("method", method, ("km", "aalen-johansen"))
    km = method == "km"
    curve = (kaplan_meier if km else aalen_johansen)(
        data,
        duration_col,
        event_col,
        by=by,
        weights=weights,
        conf_level=conf_level,
        entry_col=entry_col,
    )
    suffix = "" if km else "_1"
    est, lo, hi = (f"{c}{suffix}" for c in ("cumulative_incidence", "conf_low", "conf_high"))
    rows = []
    for group, c in curve.groupby("group", sort=False):
        times = c["time"].to_numpy()
        for h in horizons_days:
            i = int(np.searchsorted(times, h, "right")) - 1
            beyond = h > times.max()
            if i < 0:
                vals = (0.0, np.nan, np.nan)
            else:
                vals = (c[est].iloc[i], c[lo].iloc[i], c[hi].iloc[i])
            n_risk = float(c["n_risk"].iloc[i + 1]) if i + 1 < len(c) else 0.0
            rows.append(
                {
                    "group": group,
                    "horizon_days": h,
                    "n_risk": n_risk,
                    "cumulative_incidence": np.nan if beyond else vals[0],
                    "conf_low": np.nan if beyond else vals[1],
                    "conf_high": np.nan if beyond else vals[2],
                }
            )
    return pd.DataFrame(rows)
