"""Publishing cumulative re-entry curves: cut for disclosure, at-risk rows, horizon values.

A curve from :func:`reunistat.models.survival.kaplan_meier` or
:func:`~reunistat.models.survival.aalen_johansen` is exact; what is published
is the curve after :func:`reunistat.report.disclosure.cut_curve`, the numbers
at risk at round times, and the cumulative re-entry at chosen horizons read
from the *published* curve (so every number shown rests on the published
steps), with ``c`` where fewer than the threshold remain at risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reunistat.horizons import AT_RISK_DAYS
from reunistat.report.disclosure import (
    NOT_APPLICABLE,
    SUPPRESSED,
    DisclosureRules,
    at_risk_table,
    cut_curve,
)
from reunistat.report.release_tables import Release

_AGE_ORDER = ["under 1", "1-4", "5-9", "10-15", "16+"]


@dataclass
class PublishedCurve:
    """A curve ready to write: the cut curve, its at-risk rows and horizon values."""

    curve: pd.DataFrame
    at_risk: pd.DataFrame
    horizons: pd.DataFrame
    estimate: str
    conf: tuple[str, str]


def relabel_groups(curve: pd.DataFrame, group_col: str = "group") -> pd.DataFrame:
    """Drop the ``variable=`` prefix of group labels and order groups naturally.

    Age bands follow the DfE order; other labels sort as text, ``all`` first.
    """
    out = curve.copy()
    # each distinct label once (a curve has thousands of rows and a few groups)
    codes, labels_in = pd.factorize(out[group_col].astype(str))
    short = np.array([s.split("=", 1)[-1] for s in labels_in], dtype=object)
    out[group_col] = short[codes]
    labels = list(pd.unique(out[group_col]))
    order = [a for a in _AGE_ORDER if a in labels]
    if len(order) != len(labels):
        order = sorted(labels, key=lambda s: (s != "all", s))
    rank = {g: i for i, g in enumerate(order)}
    out["_rank"] = out[group_col].map(rank)
    return (
        out.sort_values(["_rank", "time"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def _cut(
    curve: pd.DataFrame,
    rules: DisclosureRules,
    estimate: str,
    conf: tuple[str, str],
    event_cols: Sequence[str],
    drop_cols: Sequence[str],
) -> pd.DataFrame:
    """The curve cut by the disclosure rules, with only the columns it publishes."""
    keep_cols = ["group", "time", "n_risk", *event_cols, estimate, *conf]
    drop = [c for c in curve.columns if c not in keep_cols or c in drop_cols]
    return cut_curve(
        curve.drop(columns=[c for c in drop if c not in event_cols]),
        rules,
        event_cols=event_cols,
        start={estimate: 0.0, conf[0]: 0.0, conf[1]: 0.0},
    )


def publish_curve(
    curve: pd.DataFrame,
    rules: DisclosureRules,
    horizons_days: Sequence[int],
    *,
    estimate: str = "cumulative_incidence",
    conf: tuple[str, str] = ("conf_low", "conf_high"),
    event_cols: Sequence[str] = ("n_events",),
    at_risk_days: Sequence[int] = AT_RISK_DAYS,
    drop_cols: Sequence[str] = (
        "n_censored",
        "surv",
        "std_error",
        "std_error_log_surv",
        "surv_conf_low",
        "surv_conf_high",
    ),
    release: Release | None = None,
    grouping: str | None = None,
) -> PublishedCurve:
    """Return the disclosure-controlled curve, its at-risk table and horizon values.

    Parameters
    ----------
    curve : DataFrame
        A tidy curve (``group, time, n_risk, n_events, ...``), exact.
    rules : DisclosureRules
        Disclosure rules.
    horizons_days : sequence of int
        Horizons for the table of cumulative re-entry.
    estimate, conf : str, (str, str)
        The estimate column and its interval columns.
    event_cols : sequence of str
        Event count columns (one per event type).
    at_risk_days : sequence of int
        Times of the at-risk rows under the figure.
    drop_cols : sequence of str
        Columns not published (counts and the survival scale).
    release : Release, optional
        The release-wide suppression.
    grouping : str, optional
        With ``release``: the curve's grouping (a key of
        :data:`reunistat.report.release_plan.KM_GROUPINGS`) the numbers at
        risk come from its ``at_risk:<grouping>`` table: a group whose size is
        suppressed has no curve, a curve stops at the last fixed time whose
        number at risk is published before one that is not, and a horizon
        value is shown only where every number at risk up to it is.
    """
    if release is not None and grouping is not None:
        return _publish_in_release(
            curve,
            rules,
            horizons_days,
            release,
            grouping,
            estimate=estimate,
            conf=conf,
            event_cols=event_cols,
            at_risk_days=at_risk_days,
            drop_cols=drop_cols,
        )
    curve = relabel_groups(curve)
    cut = _cut(curve, rules, estimate, conf, event_cols, drop_cols)
    at_risk = at_risk_table(curve, at_risk_days, rules)
    rows = []
    for group, g in cut.groupby("group", sort=False):
        raw = curve.loc[curve["group"] == group]
        for h in horizons_days:
            rows.append(
                {"group": group, "horizon_days": h, **_at(g, raw, h, rules, estimate, conf)}
            )
    return PublishedCurve(cut, at_risk, pd.DataFrame(rows), estimate, conf)


def _at(
    cut: pd.DataFrame,
    raw: pd.DataFrame,
    h: int,
    rules: DisclosureRules,
    estimate: str,
    conf: tuple[str, str],
) -> dict[str, object]:
    times = raw["time"].to_numpy(dtype=float)
    i = int(np.searchsorted(times, h, side="left"))
    n_risk = float(raw["n_risk"].iloc[i]) if i < len(raw) else 0.0
    if n_risk == 0:
        return {"n_risk": NOT_APPLICABLE, estimate: NOT_APPLICABLE, "conf_low": "", "conf_high": ""}
    if rules.apply and n_risk < rules.threshold:
        return {"n_risk": SUPPRESSED, estimate: SUPPRESSED, "conf_low": "", "conf_high": ""}
    j = int(np.searchsorted(cut["time"].to_numpy(dtype=float), h, side="right")) - 1
    row = cut.iloc[max(j, 0)]
    return {
        "n_risk": str(int(rules.round(np.array([n_risk]))[0])),
        estimate: f"{row[estimate]:.4f}",
        "conf_low": f"{row[conf[0]]:.4f}",
        "conf_high": f"{row[conf[1]]:.4f}",
    }


def _publish_in_release(
    curve: pd.DataFrame,
    rules: DisclosureRules,
    horizons_days: Sequence[int],
    release: Release,
    grouping: str,
    *,
    estimate: str,
    conf: tuple[str, str],
    event_cols: Sequence[str],
    at_risk_days: Sequence[int],
    drop_cols: Sequence[str],
) -> PublishedCurve:
    from reunistat.report.release_plan import curve_limits, fixed_times

    table = f"at_risk:{grouping}"
    times = fixed_times(horizons_days, at_risk_days)
    limits = curve_limits(release, grouping, times)
    curve = relabel_groups(curve)
    if grouping == "overall":
        curve = curve.assign(group="all")
    cut = _cut(curve, rules, estimate, conf, event_cols, drop_cols)
    parts = []
    for group, g in cut.groupby("group", sort=False):
        limit = limits.get(str(group))
        if limit is None:
            continue  # its size is suppressed: no curve
        parts.append(g.loc[(g["time"] < limit) | (g["time"] == 0)])
    cut = pd.concat(parts, ignore_index=True) if parts else cut.iloc[:0]
    groups = [str(x) for x in pd.unique(curve["group"])]
    at_risk = pd.DataFrame(
        [[g, *(release.text(table, g, str(int(t))) for t in at_risk_days)] for g in groups],
        columns=["group", *(str(int(t)) for t in at_risk_days)],
    )
    rows = []
    for group in groups:
        g = cut.loc[cut["group"] == group]
        limit = limits.get(group)
        for h in horizons_days:
            n_risk = release.text(table, group, str(int(h)))
            if limit is None or h > limit or n_risk == SUPPRESSED or g.empty:
                cell = {"n_risk": SUPPRESSED, estimate: SUPPRESSED, "conf_low": "", "conf_high": ""}
            else:
                j = int(np.searchsorted(g["time"].to_numpy(dtype=float), h, side="right")) - 1
                row = g.iloc[max(j, 0)]
                cell = {
                    "n_risk": n_risk,
                    estimate: f"{row[estimate]:.4f}",
                    "conf_low": f"{row[conf[0]]:.4f}",
                    "conf_high": f"{row[conf[1]]:.4f}",
                }
            rows.append({"group": group, "horizon_days": h, **cell})
    return PublishedCurve(cut, at_risk, pd.DataFrame(rows), estimate, conf)


def horizon_grid(horizons: pd.DataFrame, estimate: str = "cumulative_incidence") -> pd.DataFrame:
    """Return a compact horizon table: a row per group, a column per horizon in months.

    ``horizons`` has ``variable, group, horizon_days``, the estimate and
    ``conf_low, conf_high`` as published (text; ``c``/``z`` kept). Each cell
    reads ``19.2 (17.1-21.4)``, per cent with its 95% interval.

    >>> h = pd.DataFrame({"variable": ["all"] * 2, "group": ["all"] * 2,
    ...                   "horizon_days": [91, 365], "cumulative_incidence": ["0.1234", "c"],
    ...                   "conf_low": ["0.1", ""], "conf_high": ["0.15", ""]})
    >>> horizon_grid(h).to_dict("records")
    [{'characteristic': 'all', 'group': 'all', '3 months': '12.3 (10.0-15.0)', '12 months': 'c'}]
    """
    from reunistat.horizons import DAYS_PER_MONTH

    def cell(r: pd.Series) -> str:
        est = str(r[estimate])
        try:
            e = 100 * float(est)
            lo, hi = 100 * float(r["conf_low"]), 100 * float(r["conf_high"])
        except (TypeError, ValueError):
            return est
        return f"{e:.1f} ({lo:.1f}-{hi:.1f})"

    h = horizons.assign(
        _month=[f"{round(int(d) / DAYS_PER_MONTH)} months" for d in horizons["horizon_days"]],
        _cell=horizons.apply(cell, axis=1),
    )
    months = list(pd.unique(h["_month"]))
    wide = h.pivot_table(
        index=["variable", "group"], columns="_month", values="_cell", aggfunc="first", sort=False
    )
    wide = wide[months].reset_index().rename(columns={"variable": "characteristic"})
    wide.columns.name = None
    return wide
