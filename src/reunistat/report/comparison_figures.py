"""Publishing the comparison of authorities: safe tables, funnel plots, caterpillar plots.

Takes plain frames from :mod:`reunistat.models.comparison` and the release's
:class:`~reunistat.report.disclosure.DisclosureRules`:

* :func:`authority_table`: one row per authority with its returns home,
  re-entries and returns without re-entry (counts below the threshold shown
  as ``c``, with secondary suppression so that neither a row nor the total row
  reveals one), the expected count, ``O / E`` with its interval and where it
  falls against the funnel limits. An authority whose re-entries (or returns)
  are suppressed has its ratio, interval and position hidden too, since
  ``O / E`` times ``E`` would give the count back; it is not plotted
  individually and only counted in the figures' notes.
* :func:`funnel_figure` and :func:`caterpillar_figure` draw the authorities
  that may be shown, in the style of :mod:`reunistat.report.figures`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reunistat.report.disclosure import SUPPRESSED, Cell, DisclosureRules, suppress_counts
from reunistat.report.figures import _PALETTE, _RC, new_figure
from reunistat.report.tables import CountTable

TOTAL = "All authorities"
COUNT_COLS = ["returns_home", "reentered", "not_reentered"]


def position(table: pd.DataFrame, adjustment: str) -> pd.Series:
    """Describe where each authority falls against the 95% and 99.8% limits.

    ``table`` is a :func:`reunistat.models.comparison.funnel_table`; returns
    ``"above 99.8%"``, ``"above 95%"``, ``"within 95%"``, ``"below 95%"`` or
    ``"below 99.8%"``.

    >>> t = pd.DataFrame({"outside_none_95": [1, 0, -1], "outside_none_99.8": [1, 0, 0]})
    >>> position(t, "none").tolist()
    ['above 99.8%', 'within 95%', 'below 95%']
    """
    o95 = table[f"outside_{adjustment}_95"].to_numpy()
    o998 = table[f"outside_{adjustment}_99.8"].to_numpy()
    out = np.where(o95 > 0, "above 95%", np.where(o95 < 0, "below 95%", "within 95%"))
    out = np.where(o998 > 0, "above 99.8%", np.where(o998 < 0, "below 99.8%", out))
    return pd.Series(out, index=table.index, dtype=object)


def authority_table(
    standardised: pd.DataFrame,
    funnel: pd.DataFrame,
    rules: DisclosureRules,
    *,
    group: str = "LA",
    adjustment: str = "additive",
    extra: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[CountTable, pd.Series]:
    """Return the publishable table of authorities and which of them may be plotted.

    Parameters
    ----------
    standardised : DataFrame
        ``Standardised.table``: ``group, n_spells, observed, expected, ratio,
        conf_low, conf_high``.
    funnel : DataFrame
        :func:`~reunistat.models.comparison.funnel_table` indexed by authority.
    rules : DisclosureRules
        The release's rules.
    group : str
        Authority column.
    adjustment : str
        Over-dispersion adjustment of the "position" column (the unadjusted
        position is shown too).
    extra : mapping of str to DataFrame, optional
        Further funnel tables (e.g. over-dispersion estimated another way):
        a column ``position_<key>`` each, with the same ``adjustment``.

    Returns
    -------
    (CountTable, Series)
        The table (the authorities, then a total row) and a boolean Series
        by authority: True where it may be shown individually.
    """
    s = standardised.set_index(group)
    counts = pd.DataFrame(
        {
            "returns_home": s["n_spells"].astype(float),
            "reentered": s["observed"].astype(float),
            "not_reentered": (s["n_spells"] - s["observed"]).astype(float),
        }
    )
    counts.index = counts.index.astype(str)
    counts.loc[TOTAL] = counts.sum()
    lines: list[list[Cell]] = [
        [(r, c) for c in ("reentered", "not_reentered", "returns_home")] for r in counts.index
    ]
    lines += [[(r, c) for r in counts.index] for c in COUNT_COLS]
    sup = suppress_counts(counts, rules, lines)
    hidden = sup.mask.any(axis=1)
    table = sup.shown.copy()
    table.insert(0, group, table.index)
    f = funnel.copy()
    f.index = f.index.astype(str)
    est = pd.DataFrame(
        {
            "expected": s["expected"].to_numpy(),
            "ratio_oe": s["ratio"].to_numpy(),
            "conf_low": s["conf_low"].to_numpy(),
            "conf_high": s["conf_high"].to_numpy(),
            "position_unadjusted": position(f, "none").reindex(s.index.astype(str)).to_numpy(),
            f"position_{adjustment}": position(f, adjustment)
            .reindex(s.index.astype(str))
            .to_numpy(),
        },
        index=s.index.astype(str),
    )
    pos_cols = ["position_unadjusted", f"position_{adjustment}"]
    for key, other in (extra or {}).items():
        o = other.copy()
        o.index = o.index.astype(str)
        est[f"position_{key}"] = position(o, adjustment).reindex(est.index).to_numpy()
        pos_cols.append(f"position_{key}")
    est.loc[TOTAL, "expected"] = float(s["expected"].sum())
    est.loc[TOTAL, "ratio_oe"] = float(s["observed"].sum() / s["expected"].sum())
    est = est.astype(object)
    for col in ("expected", "ratio_oe", "conf_low", "conf_high"):
        est[col] = [_num(v, 3 if col != "expected" else 1) for v in est[col]]
    hide = hidden.reindex(est.index).fillna(False).to_numpy(dtype=bool)
    for col in ("ratio_oe", "conf_low", "conf_high", *pos_cols):
        est.loc[hide, col] = SUPPRESSED
    est.loc[TOTAL, ["conf_low", "conf_high", *pos_cols]] = ""
    table = pd.concat([table, est], axis=1).reset_index(drop=True)
    shown = ~hidden.drop(index=TOTAL)
    return CountTable(table, list(COUNT_COLS), lines, group, sup.log), shown


def _num(v: object, digits: int) -> str:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return "" if not np.isfinite(x) else f"{x:.{digits}f}"


def _note(n_hidden: int, threshold: int) -> str:
    if n_hidden == 0:
        return ""
    return (
        f"{n_hidden} authorit{'y' if n_hidden == 1 else 'ies'} with fewer than {threshold} "
        "returns home or re-entries (or whose count would reveal one) not shown individually."
    )


def funnel_figure(
    points: pd.DataFrame,
    curves: Sequence[tuple[str, pd.DataFrame]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    target: float,
    n_hidden: int = 0,
    threshold: int = 10,
    percent: bool = False,
) -> Figure:
    """Funnel plot: the authorities shown, and control limits along the precision.

    Parameters
    ----------
    points : DataFrame
        ``precision`` and ``indicator`` of the authorities that may be shown.
    curves : sequence of (label, DataFrame)
        Limits from :func:`~reunistat.models.comparison.funnel_curve`
        (``precision, lower_95, upper_95, lower_99.8, upper_99.8``); the first is
        drawn in grey, the next in colour.
    title, xlabel, ylabel : str
        Text.
    target : float
        The horizontal target line (1 for ratios).
    n_hidden, threshold : int
        Authorities not shown, for the note under the axes.
    percent : bool
        Show the y axis as percentages (proportions).
    """
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.0, 4.8)
        ax = fig.add_axes((0.1, 0.18, 0.6, 0.72))
        colours = ["#8a8a8a", _PALETTE[2], _PALETTE[1], _PALETTE[3]]
        for i, (label, c) in enumerate(curves):
            col = colours[i % len(colours)]
            for tag, ls in (("95", "--"), ("99.8", "-")):
                ax.plot(c["precision"], c[f"upper_{tag}"], color=col, lw=1, ls=ls)
                ax.plot(
                    c["precision"],
                    c[f"lower_{tag}"],
                    color=col,
                    lw=1,
                    ls=ls,
                    label=f"{label} {tag}%",
                )
        ax.axhline(target, color="#3D3D3D", lw=0.8)
        ax.scatter(
            points["precision"],
            points["indicator"],
            s=14,
            color=_PALETTE[0],
            alpha=0.8,
            zorder=3,
            label="authority",
        )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title("\n".join(textwrap.wrap(title, 70)), loc="left")
        if percent:
            ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        hi = float(np.nanmax(points["indicator"])) if len(points) else target * 2
        ax.set_ylim(0, max(hi * 1.1, target * 1.6))
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=7)
        note = _note(n_hidden, threshold)
        if note:
            fig.text(0.1, 0.04, "\n".join(textwrap.wrap(note, 110)), fontsize=7, color="#505050")
    return fig


def caterpillar_figure(
    shrunk: pd.DataFrame,
    *,
    title: str,
    group: str = "LA",
    n_hidden: int = 0,
    threshold: int = 10,
) -> Figure:
    """Caterpillar plot: shrunken odds ratios of the authorities shown, ranked, with intervals.

    ``shrunk`` is :attr:`reunistat.models.comparison.Shrunken.table` restricted
    to the authorities that may be shown.
    """
    t = shrunk.sort_values("odds_ratio", kind="stable").reset_index(drop=True)
    with matplotlib.rc_context(_RC):
        fig = new_figure(7.0, 4.8)
        ax = fig.add_axes((0.1, 0.18, 0.85, 0.72))
        x = np.arange(1, len(t) + 1)
        above = t["conf_low"] > 1
        below = t["conf_high"] < 1
        colour = np.where(above, _PALETTE[2], np.where(below, _PALETTE[1], _PALETTE[0]))
        ax.vlines(x, t["conf_low"], t["conf_high"], colors=list(colour), lw=0.8)
        ax.scatter(x, t["odds_ratio"], s=8, c=colour, zorder=3)
        ax.axhline(1.0, color="#808080", lw=0.8, ls="--")
        ax.set_yscale("log")
        ticks = [0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0]
        lo = float(t["conf_low"].min()) if len(t) else 0.5
        hi = float(t["conf_high"].max()) if len(t) else 2.0
        ticks = [v for v in ticks if lo * 0.9 <= v <= hi * 1.1] or [1.0]
        ax.set_yticks(ticks, [f"{v:g}" for v in ticks])
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel(f"Authorities ranked by shrunken odds ratio ({group})")
        ax.set_ylabel("Odds ratio vs average authority (95% interval)")
        ax.set_title("\n".join(textwrap.wrap(title, 80)), loc="left")
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        note = _note(n_hidden, threshold)
        if note:
            fig.text(0.1, 0.04, "\n".join(textwrap.wrap(note, 110)), fontsize=7, color="#505050")
    return fig
