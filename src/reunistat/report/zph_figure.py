"""Smoothed scaled-Schoenfeld plots of a Cox model: R's ``plot(cox.zph(fit))`` without points.

:func:`zph_smooth` computes, for each term of a fit from
:func:`reunistat.models.survival.cox`, the scaled Schoenfeld residuals as
``survival::cox.zph`` (version 3) defines them and smooths them against the
Kaplan-Meier transform of time as ``plot.cox.zph`` does: a least-squares fit
on a natural cubic spline with ``df`` degrees of freedom (knots at the
quantiles of the grid and the event times), evaluated at ``n_points`` points,
with a band of two standard errors. A factor's columns are one term: its
curve is the multiplier of the factor's fitted log hazard ratios (1 when
they are constant in time), R's ``terms = TRUE``. In a stratified fit every
covariate is taken to vary within every stratum (R leaves out, per stratum,
one that does not).

:func:`zph_figure` draws the curves, their bands and a horizontal line at the
Cox estimate, one panel per term. It never draws the residuals themselves:
each is one child's re-entry, so only the smooth of all of them is shown.
Agreement with R: ``tests/reference/survival/zph_plot.R``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reunistat.errors import InputError
from reunistat.horizons import DAYS_PER_MONTH
from reunistat.models.survival import km_steps, residuals
from reunistat.report.figures import new_figure
from reunistat.results import ModelResult

_BLUE = "#12436D"


def _cox_state(result: ModelResult) -> Any:
    """The fit's state kept for diagnostics (``extras["state"]`` of a Cox fit)."""
    st = result.extras.get("state")
    if st is None or not hasattr(st, "term_columns"):
        raise InputError("zph_smooth needs a result of reunistat.models.survival.cox")
    return st


def _km_transform(st: Any, times: np.ndarray) -> np.ndarray:
    """Return ``1 - KM(t-)`` at ``times``, the KM of all rows (cox.zph's ``transform="km"``)."""
    steps = km_steps(st.stop, st.event.astype(np.int64), entry=st.start)
    left = np.concatenate([[1.0], steps.surv[:-1]])
    return np.asarray(1 - left[np.searchsorted(steps.time, times)])


def natural_spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Natural cubic spline basis with an intercept (the space of R's ``ns(intercept=TRUE)``).

    ``knots`` are all the knots, boundaries included (``K`` of them give ``K``
    columns): the truncated-power form of Hastie, Tibshirani and Friedman
    (2009, eq. 5.4-5.5). Fitted values and their variances do not depend on
    the basis chosen for a space, so they equal R's B-spline form of ``ns``.

    Examples
    --------
    >>> b = natural_spline_basis(np.linspace(0, 1, 5), np.array([0, 1 / 3, 2 / 3, 1]))
    >>> b.shape
    (5, 4)
    """
    k = np.asarray(knots, dtype=float)

    def d(j: int) -> np.ndarray:
        return (np.clip(x - k[j], 0, None) ** 3 - np.clip(x - k[-1], 0, None) ** 3) / (k[-1] - k[j])

    cols = [np.ones_like(x), x] + [d(j) - d(len(k) - 2) for j in range(len(k) - 2)]
    return np.column_stack(cols)


def _term_columns(st: Any, terms: bool) -> dict[str, list[int]]:
    if terms:
        return st.term_columns
    return {c: [j] for j, c in enumerate(st.columns)}


def _scaled(
    result: ModelResult, terms: bool = True
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[str, list[int]]]:
    """Return cox.zph's ``y`` (one column per term), ``var``, the constants and the terms."""
    st = _cox_state(result)
    sch = residuals(result, "schoenfeld")
    raw = sch[st.columns].to_numpy(dtype=float)
    beta = np.asarray(st.fit.beta, dtype=float)
    tc = _term_columns(st, terms)
    # R: a term of several columns is projected on its coefficients (terms = TRUE)
    proj = np.zeros((len(st.columns), len(tc)))
    for i, cols in enumerate(tc.values()):
        proj[cols, i] = 1.0 if len(cols) == 1 else beta[cols]
    const = np.array([beta[c[0]] if len(c) == 1 else 1.0 for c in tc.values()], dtype=float)
    vmean = proj.T @ (st.fit.info / raw.shape[0]) @ proj
    y = np.linalg.solve(vmean, (raw @ proj).T).T + const
    out = pd.DataFrame(y, columns=list(tc))
    out.insert(0, "time", sch["time"].to_numpy(dtype=float))
    return out, np.linalg.inv(vmean), const, tc


def zph_smooth(
    result: ModelResult, *, df: int = 4, n_points: int = 40, terms: bool = True
) -> pd.DataFrame:
    """Smoothed scaled Schoenfeld residuals of each term, as R's ``plot.cox.zph`` draws them.

    Parameters
    ----------
    result : ModelResult
        A fit from :func:`reunistat.models.survival.cox`.
    df : int
        Degrees of freedom of the natural spline (R's default 4).
    n_points : int
        Points of the curve, evenly spaced on the transformed time (R's ``nsmo``).
    terms : bool
        One curve per term, a factor's columns together (R's default); ``False``
        for one curve per column of the model.

    Returns
    -------
    pandas.DataFrame
        One row per term and point: ``term, x`` (the Kaplan-Meier transform of
        time, 0 to the largest ``1 - KM``), ``days`` (the time at ``x``,
        interpolated between event times as R labels its axis), ``beta_t``,
        ``conf_low``, ``conf_high`` (two standard errors) and ``estimate`` (the
        fitted coefficient, or 1 for a term of several columns) and ``n_columns``
        (the term's columns in the model). No residual:
        only the smooth of all of them.
    """
    if df < 2:
        raise InputError(f"df must be at least 2 (got {df})")
    y, var, const, tc = _scaled(result, terms)
    st = _cox_state(result)
    times = y["time"].to_numpy()
    xx = _km_transform(st, times)
    grid = np.linspace(xx.min(), xx.max(), n_points)
    both = np.concatenate([grid, xx])
    # R's ns(): df - 1 interior knots at quantiles (type 7) of the grid and the event times
    inner = np.quantile(both, np.arange(1, df - 1) / (df - 1))
    basis = natural_spline_basis(both, np.concatenate([[both.min()], inner, [both.max()]]))
    pmat, xmat = basis[:n_points], basis[n_points:]
    q, r = np.linalg.qr(xmat)
    if np.linalg.matrix_rank(r) < df:
        raise InputError("the spline fit of the scaled Schoenfeld residuals is singular")
    bk = np.linalg.inv(r)
    seval = ((pmat @ bk) ** 2).sum(axis=1)
    uniq = np.unique(xx, return_index=True)[1]
    days = np.interp(grid, xx[uniq], times[uniq])
    parts = []
    for i, (term, cols) in enumerate(tc.items()):
        yhat = pmat @ np.linalg.solve(r, q.T @ y[term].to_numpy())
        half = 2 * np.sqrt(var[i, i] * seval)
        parts.append(
            pd.DataFrame(
                {
                    "term": term,
                    "x": grid,
                    "days": days,
                    "beta_t": yhat,
                    "conf_low": yhat - half,
                    "conf_high": yhat + half,
                    "estimate": const[i],
                    "n_columns": len(cols),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _month_ticks(curve: pd.DataFrame) -> tuple[list[float], list[str]]:
    """Ticks on the transformed axis at round numbers of months since the return."""
    months = curve["days"].to_numpy() / DAYS_PER_MONTH
    x = curve["x"].to_numpy()
    cands = [m for m in (1, 3, 6, 12, 24, 36, 60, 72) if months[0] <= m <= months[-1]]
    pos = list(np.interp(cands, months, x))
    keep, last = [], -1.0
    for m, p in zip(cands, pos, strict=True):
        if p - last >= 0.13 * (x[-1] - x[0]):  # no overlapping labels
            keep.append((p, str(m)))
            last = p
    return [p for p, _ in keep], [s for _, s in keep]


def zph_figure(
    smooth: pd.DataFrame, *, labels: Mapping[str, str] | None = None, title: str = ""
) -> Figure:
    """Draw :func:`zph_smooth`'s curves: one panel per term, band, line at the Cox estimate.

    Parameters
    ----------
    smooth : DataFrame
        The output of :func:`zph_smooth` (or the rows of some terms).
    labels : mapping, optional
        Term to the label printed over its panel (the term itself if missing).
    title : str
        The figure's title.
    """
    labels = labels or {}
    terms = list(pd.unique(smooth["term"]))
    ncol = min(4 if len(terms) > 6 else 3, len(terms))  # short enough for a page with text
    nrow = -(-len(terms) // ncol)
    fig = new_figure(7.5, 0.75 + 1.85 * nrow)
    top = 1 - 0.8 / fig.get_figheight()
    gs = fig.add_gridspec(nrow, ncol, hspace=0.85, wspace=0.5, left=0.07, right=0.98, top=top)
    for k, term in enumerate(terms):
        g = smooth.loc[smooth["term"] == term]
        ax = fig.add_subplot(gs[k // ncol, k % ncol])
        ax.fill_between(g["x"], g["conf_low"], g["conf_high"], color=_BLUE, alpha=0.18, lw=0)
        ax.plot(g["x"], g["beta_t"], color=_BLUE, lw=1.3)
        est = float(g["estimate"].iloc[0])
        ax.axhline(est, color="#801650", lw=0.9, ls="--")
        several = int(g["n_columns"].iloc[0]) > 1
        title_lines = textwrap.wrap(labels.get(term, term), 30 if ncol == 4 else 34)[:2]
        ax.set_title("\n".join(title_lines), loc="left", fontsize=7.5)
        ax.set_ylabel("multiplier of log HRs" if several else "log HR, β(t)", fontsize=6.5)
        ticks, names = _month_ticks(g)
        ax.set_xticks(ticks, names, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        if k // ncol == nrow - 1 or k + ncol >= len(terms):
            ax.set_xlabel("Months since return (KM scale)", fontsize=6.5)
    h = fig.get_figheight()
    fig.suptitle(title, x=0.01, y=1 - 0.08 / h, ha="left", va="top", fontsize=9)
    fig.text(
        0.01,
        1 - 0.33 / h,
        "Solid: smoothed scaled Schoenfeld residuals, band of two standard errors; dashed: "
        "the Cox estimate (1 for a factor: its log HRs unchanged). Residuals not drawn.",
        fontsize=6.5,
        va="top",
        color="#505a5f",
    )
    return fig
