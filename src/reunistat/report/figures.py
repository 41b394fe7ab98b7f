"""Publication figures: PNG and SVG with alt text and a source line, byte-reproducible.

Figures are drawn on :class:`matplotlib.figure.Figure` objects (no pyplot, no
global backend: the Agg canvas renders them), from data that has already
passed disclosure control. :func:`save_figure` writes PNG and SVG without
dates and with a fixed SVG hash salt, so the same data give the same bytes,
and a ``.alt.txt`` file holding the alt text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from reunistat.horizons import DAYS_PER_YEAR

_RC: Any = {
    "svg.hashsalt": "reunistat",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1", "#2073BC"]


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """Return an empty figure bound to the Agg canvas (no pyplot state)."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), dpi=100)
        FigureCanvasAgg(fig)
    return fig


def _make_room_below(fig: Figure, inches: float) -> None:
    """Grow the figure by ``inches`` at the bottom, keeping every axes' size and place."""
    h = fig.get_figheight()
    new_h = h + inches
    for ax in fig.axes:
        x0, y0, w, hh = ax.get_position().bounds
        ax.set_position((x0, (y0 * h + inches) / new_h, w, hh * h / new_h))
    for t in fig.texts:
        x, y = t.get_position()
        t.set_position((x, (y * h + inches) / new_h))
    fig.set_figheight(new_h)


def save_figure(fig: Figure, stem: Path, alt: str, source: str) -> list[Path]:
    """Write ``stem``.png, .svg and .alt.txt; return the paths written.

    Parameters
    ----------
    fig : Figure
        The figure.
    stem : Path
        Path without suffix.
    alt : str
        Alt text: what the figure shows, in words, for screen readers.
    source : str
        The source/version line printed under the figure.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    lines = textwrap.wrap(source, int(fig.get_figwidth() * 17))
    _make_room_below(fig, 0.06 + 0.11 * len(lines))
    fig.text(
        0.01,
        0.005,
        "\n".join(lines),
        fontsize=6.5,
        color="#505050",
        ha="left",
        va="bottom",
    )
    png, svg, txt = (stem.with_suffix(s) for s in (".png", ".svg", ".alt.txt"))
    with matplotlib.rc_context(_RC):
        fig.savefig(png, format="png", dpi=120, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    txt.write_text(alt.strip() + "\n", encoding="utf-8")
    return [png, svg, txt]


def curve_figure(
    curve: pd.DataFrame,
    at_risk: pd.DataFrame | None,
    *,
    estimate: str,
    conf: tuple[str, str] | None,
    title: str,
    ylabel: str = "Cumulative re-entry",
    xlabel: str = "Years since return home",
    group_col: str = "group",
    xmax_days: float | None = None,
) -> Figure:
    """Step curves by group with their intervals and, below, the numbers at risk.

    ``curve`` has ``group, time`` (days) and the estimate columns (already cut
    for disclosure); ``at_risk`` has ``group`` and one column per time (days).
    """
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.0, 5.2 if at_risk is not None else 4.2)
        box = (0.17, 0.36, 0.55, 0.53) if at_risk is not None else (0.1, 0.16, 0.62, 0.72)
        ax = fig.add_axes(box)
        for i, (label, g) in enumerate(curve.groupby(group_col, sort=False)):
            col = _PALETTE[i % len(_PALETTE)]
            x = g["time"].to_numpy(dtype=float) / DAYS_PER_YEAR
            ax.step(x, g[estimate], where="post", color=col, lw=1.4, label=str(label))
            if conf is not None:
                ax.fill_between(x, g[conf[0]], g[conf[1]], step="post", color=col, alpha=0.15, lw=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title("\n".join(textwrap.wrap(title, 70)), loc="left")
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        ax.set_ylim(bottom=0)
        if xmax_days is not None:
            ax.set_xlim(0, xmax_days / DAYS_PER_YEAR)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        if at_risk is not None:
            _at_risk_rows(fig, ax, at_risk, group_col)
    return fig


def _at_risk_rows(fig: Figure, ax: object, at_risk: pd.DataFrame, group_col: str) -> None:
    times = [c for c in at_risk.columns if c != group_col]
    years = [float(t) / DAYS_PER_YEAR for t in times]
    tab = fig.add_axes((0.17, 0.06, 0.55, 0.2), sharex=ax)
    tab.set_axis_off()
    tab.text(-0.3, 1.05, "Number at risk", transform=tab.transAxes, fontsize=8, weight="bold")
    n = len(at_risk)
    for i, row in enumerate(at_risk.itertuples(index=False)):
        y = 1 - (i + 1) / (n + 1)
        vals = dict(zip(at_risk.columns, row, strict=True))
        tab.text(-0.1, y, str(vals[group_col]), transform=tab.transAxes, ha="right", fontsize=7)
        for t, x in zip(times, years, strict=True):
            tab.text(
                x,
                y,
                _thousands(vals[t]),
                ha="center",
                fontsize=6.5,
                transform=tab.get_xaxis_transform(),
            )


def _thousands(v: object) -> str:
    s = str(v)
    return f"{int(s):,}" if s.isdigit() else s


def forest_figure(tidy: pd.DataFrame, *, label: str, title: str) -> Figure:
    """Forest plot of ratios with 95% intervals on a log axis (``tidy(exponentiate=True)``)."""
    t = tidy.reset_index(drop=True)
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.0, 1.2 + 0.24 * len(t))
        ax = fig.add_axes((0.38, 0.1, 0.58, 0.82))
        y = np.arange(len(t))[::-1]
        ax.errorbar(
            t["estimate"],
            y,
            xerr=[t["estimate"] - t["conf_low"], t["conf_high"] - t["estimate"]],
            fmt="s",
            ms=4,
            color=_PALETTE[0],
            ecolor=_PALETTE[0],
            lw=1,
        )
        ax.axvline(1.0, color="#808080", lw=0.8, ls="--")
        ax.set_xscale("log")
        lo, hi = float(t["conf_low"].min()), float(t["conf_high"].max())
        ticks = [x for x in (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0) if lo <= x <= hi]
        ticks = sorted({*ticks, 1.0})
        ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks(y, [str(s) for s in t["term"]], fontsize=7)
        ax.set_xlabel(f"{label} (95% CI, log scale)")
        ax.set_title(title, loc="left")
    return fig


def line_figure(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    group: str | None,
    title: str,
    xlabel: str,
    ylabel: str,
    hline: float | None = None,
) -> Figure:
    """Lines of ``y`` against ``x`` (one per ``group``), e.g. power curves."""
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.0, 4.2)
        ax = fig.add_axes((0.1, 0.14, 0.62, 0.76))
        groups = data.groupby(group, sort=False) if group else [("", data)]
        for i, (lab, g) in enumerate(groups):
            ax.plot(g[x], g[y], marker="o", ms=3, color=_PALETTE[i % len(_PALETTE)], label=str(lab))
        if hline is not None:
            ax.axhline(hline, color="#808080", lw=0.8, ls="--")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left")
        if group:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title=group)
    return fig


def flow_figure(steps: Sequence[tuple[str, str, bool]], title: str) -> Figure:
    """A CONSORT-style diagram: main boxes down the middle, exclusions to the right.

    ``steps`` are ``(text, count text, is_exclusion)`` in order.
    """
    n_main = sum(not s[2] for s in steps)
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.5, 1.0 + 0.62 * len(steps))
        ax = fig.add_axes((0.0, 0.04, 1.0, 0.9))
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, len(steps) + 0.5)
        ax.set_title(title, loc="left")
        y = len(steps)
        last_main: float | None = None
        for text, count, excl in steps:
            x = 0.5 if excl else 0.05
            text = "\n".join(textwrap.wrap(text, 60))
            box = dict(boxstyle="round,pad=0.3", fc="#f2f2f2" if excl else "#dde7f0", ec="#555")
            ax.text(x, y, f"{text}\n{count}", ha="left", va="center", fontsize=7, bbox=box)
            if not excl:
                if last_main is not None:
                    ax.annotate(
                        "", (0.2, y + 0.3), (0.2, last_main - 0.3), arrowprops={"arrowstyle": "->"}
                    )
                last_main = y
            y -= 1
        del n_main
    return fig
