"""Cumulative re-entry curves with an at-risk / events / censored table under the axis.

The layout follows the KMunicate recommendations (Morris et al. 2019): step
curves with confidence bands, and under the time axis, for each group, the
number still at risk, the cumulative number of events and the cumulative
number censored at each labelled time.

For a Cox fit: the Cox-Snell check of overall fit (:func:`cox_snell_plot`) and
martingale residuals against a covariate for its functional form
(:func:`martingale_plot`), with their data (:func:`cox_snell`,
:func:`martingale_form`).
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


def cox_snell(result: Any) -> pd.DataFrame:
    """Cox-Snell residuals of a Cox fit and their Nelson-Aalen cumulative hazard.

    The Cox-Snell residual of a row is its expected number of events,
    ``event - martingale``. If the model is right they behave as censored
    draws from a unit exponential, so the Nelson-Aalen cumulative hazard of the
    residuals (with the rows' event indicators and case weights) lies along the
    line ``y = x`` (:func:`cox_snell_plot`). Each row of the fit is one
    residual (for ``(start, stop]`` data, one interval).

    Returns
    -------
    pandas.DataFrame
        ``residual, n_risk, n_events, cumulative_hazard``: one row per distinct
        residual that ends in an event, increasing.
    """
    from reunistat.models.survival.residuals import _state, expected_events

    st = _state(result)
    r = expected_events(st)
    w = np.ones(len(r)) if st.weights is None else st.weights
    order = np.argsort(r, kind="stable")
    r, ev, w = r[order], st.event[order], w[order]
    uniq, idx = np.unique(r, return_inverse=True)
    at_risk = np.cumsum(np.bincount(idx, w)[::-1])[::-1]
    d = np.bincount(idx, w * ev, len(uniq))
    keep = d > 0
    return pd.DataFrame(
        {
            "residual": uniq[keep],
            "n_risk": at_risk[keep],
            "n_events": d[keep],
            "cumulative_hazard": np.cumsum(d[keep] / at_risk[keep]),
        }
    )


def martingale_form(
    result: Any, covariate: str, *, data: pd.DataFrame | None = None, frac: float = 2 / 3
) -> pd.DataFrame:
    """Martingale residuals against one covariate with a lowess smooth (functional form).

    Fit the model without the covariate (or with it, to look for what is
    left), then look at the smooth: a straight line supports a linear term, a
    bend suggests a transformation or bands (Therneau, Grambsch and Fleming 1990).

    Parameters
    ----------
    result : ModelResult
        A fit from :func:`reunistat.models.survival.cox`.
    covariate : str
        A column of the fit's design (``result.params.index``), or of ``data``.
    data : pandas.DataFrame, optional
        The data the model was fitted to, for a covariate not in the model.
    frac : float
        The lowess span.

    Returns
    -------
    pandas.DataFrame
        ``value, residual, smooth`` sorted by ``value``, indexed by the data's rows.
    """
    from statsmodels.nonparametric.smoothers_lowess import lowess

    from reunistat.models.survival.residuals import _state, residuals

    st = _state(result)
    m = residuals(result, "martingale")
    if covariate in st.columns:
        j = st.columns.index(covariate)
        x = np.empty(len(st.stop))
        x[st.problem.order] = st.problem.x[:, j] + st.problem.means[j]
    elif data is not None and covariate in data.columns:
        x = pd.to_numeric(data.loc[m.index, covariate], errors="coerce").to_numpy(dtype=float)
        if np.isnan(x).any():
            raise InputError(f"martingale_form: {covariate!r} is missing or not numeric")
    else:
        raise InputError(
            f"martingale_form: {covariate!r} is not one of the fit's {st.columns}; "
            "for another covariate pass data="
        )
    out = pd.DataFrame({"value": x, "residual": m.to_numpy()}, index=m.index)
    out = out.sort_values("value", kind="stable")
    # a covariate with few distinct values makes lowess's robustness step divide 0 by 0
    # for tied neighbourhoods; the smooth itself stays finite
    with np.errstate(invalid="ignore", divide="ignore"):
        out["smooth"] = lowess(out["residual"], out["value"], frac=frac, return_sorted=False)
    return out


def cox_snell_plot(result: Any, *, ax: Any = None) -> Any:
    """Plot the Nelson-Aalen cumulative hazard of the Cox-Snell residuals against ``y = x``.

    Returns
    -------
    matplotlib.figure.Figure
        A figure with the step curve and the reference line.
    """
    import matplotlib.pyplot as plt

    cs = cox_snell(result)
    fig, ax = plt.subplots(figsize=(5, 5)) if ax is None else (ax.figure, ax)
    ax.step(cs["residual"], cs["cumulative_hazard"], where="post", label="Nelson-Aalen")
    top = float(max(cs["residual"].max(), cs["cumulative_hazard"].max()))
    ax.plot([0, top], [0, top], ls="--", color="grey", label="y = x")
    ax.set_xlabel("Cox-Snell residual")
    ax.set_ylabel("Cumulative hazard of the residuals")
    ax.legend(frameon=False)
    return fig


def martingale_plot(
    result: Any, covariate: str, *, data: pd.DataFrame | None = None, ax: Any = None
) -> Any:
    """Plot martingale residuals against a covariate with their lowess smooth.

    Returns
    -------
    matplotlib.figure.Figure
        A scatter of the residuals and the smooth (see :func:`martingale_form`).
    """
    import matplotlib.pyplot as plt

    mf = martingale_form(result, covariate, data=data)
    fig, ax = plt.subplots(figsize=(6, 4.5)) if ax is None else (ax.figure, ax)
    ax.scatter(mf["value"], mf["residual"], s=6, alpha=0.4)
    ax.plot(mf["value"], mf["smooth"], color="black")
    ax.axhline(0, ls="--", color="grey", lw=0.8)
    ax.set_xlabel(covariate)
    ax.set_ylabel("Martingale residual")
    return fig
