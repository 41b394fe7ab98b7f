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
from matplotlib.figure import Figure

from reunistat.horizons import DAYS_PER_YEAR
from reunistat.report.renderers import SharedRendererCanvas
from reunistat.report.tick_clones import ticks_copied

_RC: Any = {
    "svg.hashsalt": "reunistat",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
#: Resolution of the PNG files (the SVG is the vector form).
PNG_DPI = 200
_PALETTE = ["#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1", "#2073BC"]


def new_figure(width: float = 7.0, height: float = 4.5) -> Figure:
    """Return an empty figure bound to the Agg canvas (no pyplot state)."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(width, height), dpi=100)
        SharedRendererCanvas(fig)
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
        fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
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
                lo, hi = g[conf[0]].to_numpy(dtype=float), g[conf[1]].to_numpy(dtype=float)
                ax.fill_between(x, lo, hi, step="post", color=col, alpha=0.28, lw=0)
                for band in (lo, hi):  # the limits drawn too: visible where the band is narrow
                    ax.step(x, band, where="post", color=col, lw=0.5, ls=(0, (2, 2)))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title("\n".join(textwrap.wrap(title, 70)), loc="left", y=1.0)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        shown = curve if xmax_days is None else curve.loc[curve["time"] <= xmax_days]
        ax.set_ylim(0, fitted_top(shown, estimate, conf))
        if xmax_days is not None:
            ax.set_xlim(0, xmax_days / DAYS_PER_YEAR)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        if at_risk is not None:
            _at_risk_rows(fig, ax, at_risk, group_col)
    return fig


def fitted_top(curve: pd.DataFrame, estimate: str, conf: tuple[str, str] | None) -> float:
    """Return the top of a cumulative-incidence axis fitted to the curves (a 5% step).

    The axis reaches just above the highest estimate, or its upper limit
    when that is not far above (a wide interval at the tail is cut at the
    frame rather than squashing every curve into the bottom of the plot).

    >>> fitted_top(pd.DataFrame({"e": [0.0, 0.33], "hi": [0.0, 0.36]}), "e", ("e", "hi"))
    0.4
    """
    est = pd.to_numeric(curve[estimate], errors="coerce").max()
    top = float(est) if np.isfinite(est) else 1.0
    if conf is not None:
        hi = pd.to_numeric(curve[conf[1]], errors="coerce").max()
        if np.isfinite(hi):
            top = max(top, min(float(hi), 1.15 * top))
    return float(min(1.0, max(0.05, np.ceil((top + 0.02) / 0.05) * 0.05)))


def _at_risk_rows(fig: Figure, ax: object, at_risk: pd.DataFrame, group_col: str) -> None:
    times = [c for c in at_risk.columns if c != group_col]
    years = [float(t) / DAYS_PER_YEAR for t in times]
    tab = fig.add_axes((0.17, 0.06, 0.55, 0.2), sharex=ax)
    tab.set_axis_off()
    labels = [
        tab.text(-0.3, 1.05, "Number at risk", transform=tab.transAxes, fontsize=8, weight="bold")
    ]
    n = len(at_risk)
    for i, row in enumerate(at_risk.itertuples(index=False)):
        y = 1 - (i + 1) / (n + 1)
        vals = dict(zip(at_risk.columns, row, strict=True))
        labels.append(
            tab.text(-0.1, y, str(vals[group_col]), transform=tab.transAxes, ha="right", fontsize=7)
        )
        for t, x in zip(times, years, strict=True):
            tab.text(
                x,
                y,
                _thousands(vals[t]),
                ha="center",
                fontsize=6.5,
                transform=tab.get_xaxis_transform(),
            )

    _keep_left_inside(fig, [ax, tab], labels)


def _keep_left_inside(fig: Figure, axes: Sequence[Any], texts: Sequence[Any]) -> None:
    """Move ``axes`` right until every text drawn left of them is inside the figure."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    left_px = min(t.get_window_extent(renderer).x0 for t in texts)
    shift = (2 - left_px) / fig.bbox.width  # 2 px of margin (at 100 dpi)
    if shift > 0:
        for a in axes:
            x0, y0, w, h = a.get_position().bounds
            a.set_position((x0 + shift, y0, w, h))


def _thousands(v: object) -> str:
    s = str(v)
    return f"{int(s):,}" if s.isdigit() else s


def forest_figure(tidy: pd.DataFrame, *, label: str, title: str) -> Figure:
    """Forest plot of ratios with 95% intervals on a log axis (``tidy(exponentiate=True)``)."""
    t = tidy.reset_index(drop=True)
    labels = ["\n".join(textwrap.wrap(str(s), 46)) for s in t["term"]]
    n_lines = sum(lab.count("\n") + 1 for lab in labels)
    with matplotlib.rc_context(_RC):
        height = 1.2 + 0.17 * n_lines + 0.06 * len(t)
        fig = new_figure(7.5, height)
        ax = fig.add_axes((0.42, 0.7 / height, 0.54, 1 - 1.1 / height))
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
        with ticks_copied(ax):  # one per term: copied from a fresh tick
            ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_yticks(y, labels, fontsize=7)
        ax.set_ylim(-0.7, len(t) - 0.3)
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


def _flow_stages(
    steps: Sequence[tuple[str, str, bool]],
) -> list[tuple[str, list[str]]]:
    """Group the steps: each main box, and the exclusions after it in one box."""
    stages: list[tuple[str, list[str]]] = []
    for text, count, excl in steps:
        if excl:
            line = f"{text}: {count}"
            if stages and stages[-1][0] == "exclude":
                stages[-1][1].append(line)
            else:
                stages.append(("exclude", [line]))
        else:
            stages.append(("main", [text, count]))
    return stages


def flow_figure(steps: Sequence[tuple[str, str, bool]], title: str) -> Figure:
    """A CONSORT-style diagram: main boxes down the left joined by arrows, exclusions to the right.

    ``steps`` are ``(text, count text, is_exclusion)`` in order. The
    exclusions between two main boxes are listed in one box, reached by an
    arrow from the line joining the two main boxes.
    """
    from matplotlib.patches import FancyBboxPatch

    stages = _flow_stages(steps)
    wrapped = [
        (kind, ["\n".join(textwrap.wrap(x, 44 if kind == "main" else 62)) for x in lines])
        for kind, lines in stages
    ]
    heights = [sum(x.count("\n") + 1 for x in lines) + 0.9 for _, lines in wrapped]
    gap = 1.2
    total = sum(heights) + gap * (len(heights) + 1)
    unit = 0.125  # inches per text line at 7 pt
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.5, total * unit + 0.5)
        ax = fig.add_axes((0.01, 0.02, 0.98, 1 - 0.45 / (total * unit + 0.5)))
        ax.set_axis_off()
        ax.set_xlim(0, 1)
        ax.set_ylim(0, total)
        ax.set_title(title, loc="left")
        spine_x, excl_x, y = 0.25, 0.53, total - gap
        last_bottom: float | None = None
        for (kind, lines), h in zip(wrapped, heights, strict=True):
            top, mid = y, y - h / 2
            if kind == "main":
                x0, w, fc = 0.03, 0.44, "#dde7f0"
                if last_bottom is not None:
                    ax.annotate(
                        "",
                        (spine_x, top),
                        (spine_x, last_bottom),
                        arrowprops={"arrowstyle": "-|>", "color": "#333", "lw": 0.9},
                    )
                last_bottom = top - h
                text, ha, tx = "\n".join(lines), "center", x0 + w / 2
            else:
                x0, w, fc = excl_x, 0.45, "#f2f2f2"
                ax.annotate(
                    "",
                    (excl_x, mid),
                    (spine_x, mid),
                    arrowprops={"arrowstyle": "-|>", "color": "#333", "lw": 0.9},
                )
                text, ha, tx = "\n".join(lines), "left", x0 + 0.012
            ax.add_patch(
                FancyBboxPatch(
                    (x0, top - h + 0.15),
                    w,
                    h - 0.3,
                    boxstyle="round,pad=0.0,rounding_size=0.2",
                    fc=fc,
                    ec="#555",
                    lw=0.8,
                    mutation_aspect=1 / 40,
                )
            )
            ax.text(tx, mid, text, ha=ha, va="center", fontsize=7, linespacing=1.25)
            y -= h + gap
    return fig
