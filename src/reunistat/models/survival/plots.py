"""Cumulative re-entry curves with an at-risk / events / censored table under the axis.

The layout follows the KMunicate recommendations (Morris et al. 2019): step
curves with confidence bands, and under the time axis, for each group, the
number still at risk, the cumulative number of events and the cumulative
number censored at each labelled time.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import InputError


def _curve_columns(curve: pd.DataFrame) -> tuple[str, str, str, str]:
    """Return (estimate, low, high, events) column names for a KM or AJ curve."""
    if "cumulative_incidence_1" in curve.columns:
        return "cumulative_incidence_1", "conf_low_1", "conf_high_1", "n_events_1"
    if "cumulative_incidence" in curve.columns:
        return "cumulative_incidence", "conf_low", "conf_high", "n_events"
    raise InputError("curve must come from kaplan_meier() or aalen_johansen()")


def risk_table(curve: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
    """At risk, cumulative events and cumulative censored per group at ``times``.

    Returns
    -------
    pandas.DataFrame
        ``group, time, n_risk, n_events, n_censored`` (cumulative events and
        censored up to ``time``). ``n_risk`` counts rows still followed at
        ``time`` (time >= the labelled time), as survfit's summary does.
    """
    _, _, _, ev_col = _curve_columns(curve)
    rows = []
    for group, c in curve.groupby("group", sort=False):
        t = c["time"].to_numpy()
        n_risk = c["n_risk"].to_numpy()
        ev = np.cumsum(c[ev_col].to_numpy())
        cens = np.cumsum(c["n_censored"].to_numpy())
        for x in times:
            i = int(np.searchsorted(t, x, "left"))  # first time >= x
            at_risk = float(n_risk[i]) if i < len(t) else 0.0
            j = int(np.searchsorted(t, x, "right")) - 1  # last time <= x
            rows.append(
                {
                    "group": group,
                    "time": x,
                    "n_risk": at_risk,
                    "n_events": float(ev[j]) if j >= 0 else 0.0,
                    "n_censored": float(cens[j]) if j >= 0 else 0.0,
                }
            )
    return pd.DataFrame(rows)


def plot_cumulative_reentry(
    curve: pd.DataFrame,
    *,
    times: Sequence[float] | None = None,
    ax: Any = None,
    show_ci: bool = True,
    xlabel: str = "Days since return home",
    ylabel: str = "Cumulative re-entry",
) -> Any:
    """Plot cumulative re-entry curves with the at-risk table beneath (deprecated).

    Deprecated: :func:`reunistat.report.figures.curve_figure` draws the
    published curves (after disclosure control, with the at-risk rows); this
    duplicate will be removed in the next release.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`kaplan_meier` (plots ``1 - S``) or :func:`aalen_johansen`
        (plots the cumulative incidence of event type 1).
    times : sequence of float, optional
        Times labelled on the axis and in the table (default: 5 even ticks).
    ax : matplotlib Axes, optional
        Where to draw the curves; a new figure is made when omitted.
    show_ci : bool
        Draw the pointwise confidence bands.
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the curves and the table.
    """
    import matplotlib.pyplot as plt

    warnings.warn(
        "plot_cumulative_reentry is deprecated and will be removed in the next release; "
        "use reunistat.report.figures.curve_figure",
        DeprecationWarning,
        stacklevel=2,
    )
    est, lo, hi, _ = _curve_columns(curve)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 5.5))
    else:
        fig = ax.figure
    t_max = float(curve["time"].max())
    if times is None:
        times = list(np.linspace(0, t_max, 5).round())
    groups = list(dict.fromkeys(curve["group"]))
    for group in groups:
        c = curve[curve["group"] == group]
        t = np.concatenate([[0.0], c["time"].to_numpy()])
        y = np.concatenate([[0.0], c[est].to_numpy()])
        (line,) = ax.step(t, y, where="post", label=str(group))
        if show_ci:
            ylo = np.concatenate([[0.0], c[lo].to_numpy()])
            yhi = np.concatenate([[0.0], c[hi].to_numpy()])
            ax.fill_between(t, ylo, yhi, step="post", alpha=0.2, color=line.get_color(), lw=0)
    ax.set_xlim(0, max(t_max, max(times)))
    ax.set_ylim(0, None)
    ax.set_xticks(list(times))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(groups) > 1:
        ax.legend(frameon=False)
    table = risk_table(curve, times)
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    n_rows = 0
    for group in groups:
        g = table[table["group"] == group]
        if len(groups) > 1:
            ax.text(
                -0.09,
                -0.3 - 0.08 * n_rows,
                str(group),
                transform=ax.transAxes,
                ha="right",
                va="center",
                fontsize=8,
                fontweight="bold",
            )
            n_rows += 1
        rows = (("n_risk", "At risk"), ("n_events", "Events"), ("n_censored", "Censored"))
        for what, label in rows:
            row_y = -0.3 - 0.08 * n_rows
            ax.text(
                -0.09, row_y, label, transform=ax.transAxes, ha="right", va="center", fontsize=8
            )
            for x, v in zip(g["time"], g[what], strict=True):
                ax.text(
                    x, row_y, f"{v:,.0f}", transform=trans, ha="center", va="center", fontsize=8
                )
            n_rows += 1
    fig.set_size_inches(8, 4.5 + 0.2 * n_rows)
    fig.subplots_adjust(bottom=(0.9 + 0.2 * n_rows) / (4.5 + 0.2 * n_rows), left=0.2)
    return fig
