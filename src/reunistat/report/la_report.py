"""A report a local authority can run on its own 903 returns: HTML and a workbook.

:func:`build_la_report` takes the spells of one authority (from its own
annual returns, through :mod:`reunistat.cohort`) and the disclosure rules,
and returns tables and figures already through disclosure control:

* an overview (returns home, children, re-entries, years covered);
* re-entry at 3, 12 and 24 months (Kaplan-Meier) by year of return, and by
  the published risk factors (age, Section 20, previous periods of care,
  placement moves, planned or unplanned return, last placement, disability,
  ethnic group);
* cumulative re-entry curves with the numbers at risk under them;
* a simple adjusted Cox model where the numbers allow it;
* the authority's figures set against national ones, either supplied by the
  user or the small dated table :data:`NATIONAL_BENCHMARKS` of published
  figures with their sources.

:func:`write_la_report` writes ``la_report.html`` (self-contained: figures
embedded) and ``la_report.xlsx`` (the same tables). Counts below the
threshold are ``c`` (with secondary suppression), curves are cut where fewer
than the threshold remain at risk, and model terms resting on fewer are not
shown: the report is safe to share by default.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reunistat.errors import InputError, ReunistatError
from reunistat.horizons import AT_RISK_DAYS, DAYS_PER_YEAR
from reunistat.report.curves import PublishedCurve, publish_curve
from reunistat.report.disclosure import SUPPRESSED, DisclosureRules
from reunistat.report.figures import _RC, curve_figure
from reunistat.report.labels import level_label, short_level_label, variable_label
from reunistat.report.release_plan import MISSING_ROW, curve_labels
from reunistat.report.release_tables import Release, ReleaseTables
from reunistat.report.tables import model_table, smallest_cell, term_label

#: Published national figures on re-entry after a return home (England), with sources.
NATIONAL_BENCHMARKS = pd.DataFrame(
    [
        (91, 0.12, "Action for Children & NSPCC (2024), Home again", 2024),
        (
            365,
            0.20,
            "Goldacre, Hood, Jones, King & Wang (2022), Br J Soc Work 52(8); CLA 2014-2020",
            2022,
        ),
        (1826, 0.30, "DfE analysis cited by NSPCC: returns home in 2006-07, by March 2012", 2012),
        (2191, 0.35, "Goldacre et al. (2022), Br J Soc Work 52(8)", 2022),
    ],
    columns=["horizon_days", "national_reentry", "source", "published"],
)
#: When the table of national figures above was compiled.
NATIONAL_BENCHMARKS_DATE = "2026-12-01"
HORIZONS_DAYS = (91, 365, 730)
#: The characteristics of the table by characteristic: column -> the variable it shows
#: (named, with its levels, by :mod:`reunistat.report.labels`).
_GROUP_VARIABLES = {
    "age_band": "age_band",
    "section20_label": "section20",
    "prior_periods_band": "prior_periods",
    "placement_moves_band": "placement_moves",
    "return_type": "return_type",
    "last_placement_type": "last_placement_type",
    "disability_label": "disability",
    "ethnic_group": "ethnic_group",
}
GROUPS = {col: variable_label(var) for col, var in _GROUP_VARIABLES.items()}
MODEL_TERMS = ("age_band", "section20", "prior_periods", "return_type")


@dataclass
class LaReport:
    """What the report shows, already through disclosure control.

    Attributes
    ----------
    title : str
        Title of the report.
    intro : list of str
        Paragraphs under the title.
    tables : list of (name, title, DataFrame, notes)
        Tables as published.
    figures : list of (name, title, Figure, alt text)
        Figures drawn from published curves.
    rules : DisclosureRules
        The rules applied.
    """

    title: str
    intro: list[str]
    tables: list[tuple[str, str, pd.DataFrame, list[str]]] = field(default_factory=list)
    figures: list[tuple[str, str, Figure, str]] = field(default_factory=list)
    rules: DisclosureRules = field(default_factory=DisclosureRules)


def read_benchmarks(path: str | Path) -> pd.DataFrame:
    """Read national figures supplied by the user (CSV).

    Columns ``horizon_days`` (whole days), ``national_reentry`` (a share, 0-1)
    and ``source``; ``published`` (a year) is optional.
    """
    p = Path(path)
    try:
        df = pd.read_csv(p)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the benchmarks file {p}: {e}") from e
    need = ["horizon_days", "national_reentry", "source"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(
            f"benchmarks file {p} has no column(s) {missing}; it needs {need} (and optionally "
            "'published'): one row per horizon, the national share re-entering by then"
        )
    share = pd.to_numeric(df["national_reentry"], errors="coerce")
    days = pd.to_numeric(df["horizon_days"], errors="coerce")
    bad = share.isna() | (share < 0) | (share > 1) | days.isna() | (days <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"benchmarks file {p}, row {i + 2}: horizon_days must be a positive number of days "
            "and national_reentry a share between 0 and 1"
        )
    out = df.assign(horizon_days=days.astype(int), national_reentry=share)
    if "published" not in out.columns:
        out["published"] = ""
    return out[["horizon_days", "national_reentry", "source", "published"]]


def _pct(v: object) -> str:
    try:
        return f"{100 * float(v):.1f}%"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)


#: Rows of the overview table (its counts; the years covered are added as text).
OVERVIEW_ROWS = ("returns home", "children", "re-entered care", "not re-entered (so far)")
#: The curves drawn (numbers still followed under them at the at-risk times).
CURVES = {"overall": (None, "all returns home"), "return_type": ("return_type", "return type")}


def la_release(spells: pd.DataFrame, rules: DisclosureRules) -> Release:
    """Declare every count the report publishes in one registry and suppress them jointly.

    The tables share margins, and the registry is told which: the overview's
    returns home are the sum of the returns home of every year and of every
    group of each characteristic (a group not shown, such as a missing
    value, is declared and always hidden), and the number still followed at
    0 under the curves; re-entered and not re-entered add to returns home;
    a group of the return-type curve at 0 is its size in the characteristics
    table; numbers still followed never grow with time. Primary suppression
    (below the threshold, zeros), secondary suppression and the linear
    programming audit of :meth:`ReleaseTables.solve` then hold across all of
    them, so no hidden count comes back by differencing the tables.

    Parameters
    ----------
    spells : DataFrame
        The authority's spells, with the label columns of
        :func:`reunistat.report.release_plan.curve_labels` and ``year``.
    rules : DisclosureRules
        The rules.

    Returns
    -------
    Release
        Tables ``overview`` (column ``n``), ``at_risk:overall`` and
        ``at_risk:return_type`` (columns: the days of
        :data:`reunistat.horizons.AT_RISK_DAYS`, the only times whose numbers
        followed the report shows), and ``at_risk:<column>``
        (column ``0``: the group sizes) per characteristic of :data:`GROUPS`
        and ``year``.
    """
    from reunistat.report.release_plan import declare_curves

    reg = ReleaseTables(rules)
    n, n_re = float(len(spells)), float(spells["reentered"].sum())
    counts = [n, float(spells["CHILD"].nunique()), n_re, n - n_re]
    reg.add_table(
        "overview",
        pd.DataFrame({"n": counts}, index=list(OVERVIEW_ROWS)),
        sums=[("n", list(OVERVIEW_ROWS[2:]), OVERVIEW_ROWS[0])],
    )
    reg.link_at_most(
        ("overview", OVERVIEW_ROWS[1], "n"), ("overview", OVERVIEW_ROWS[0], "n"), "children"
    )
    total = ("overview", OVERVIEW_ROWS[0], "n")
    declare_curves(reg, spells, AT_RISK_DAYS, {}, CURVES, total=total)
    by = {col: (col, label) for col, label in {"year": "year", **GROUPS}.items()}
    by = {c: v for c, v in by.items() if c not in CURVES and spells[c].notna().any()}
    declare_curves(reg, spells, [0], {}, by, total=total)
    return reg.solve()


def _overview(sp: pd.DataFrame, rel: Release) -> pd.DataFrame:
    years = sp["return_year"].dropna()
    out = pd.DataFrame(
        {
            "item": list(OVERVIEW_ROWS),
            "number": [rel.text("overview", r, "n") for r in OVERVIEW_ROWS],
        }
    )
    span = f"{int(years.min())} to {int(years.max())}" if len(years) else "none"
    return pd.concat(
        [out, pd.DataFrame([{"item": "years of return (April-March)", "number": span}])],
        ignore_index=True,
    )


def _safe_horizons(
    curve: pd.DataFrame, rules: DisclosureRules, horizons: Sequence[int]
) -> pd.DataFrame:
    """Cumulative re-entry at each horizon read from the published curve, by group.

    The published curve moves only in steps resting on at least the threshold of
    re-entries; where it still shows 0 although re-entries happened by then, the
    value is ``c`` (held back), not a misleading 0%.
    """
    from reunistat.report.curves import relabel_groups

    pub = publish_curve(curve, rules, horizons)
    raw = relabel_groups(curve)
    est = pub.estimate
    out: dict[str, dict[str, str]] = {}
    for r in pub.horizons.to_dict("records"):
        g, h, v = str(r["group"]), int(r["horizon_days"]), r[est]
        if v not in (SUPPRESSED, "z"):
            rg = raw[(raw["group"].astype(str) == g) & (raw["time"] <= h)]
            exact = float(rg[est].iloc[-1]) if len(rg) else 0.0
            zero_hidden = rules.apply and rules.zeros_disclosive  # 0%: none of them re-entered
            v = SUPPRESSED if float(v) == 0.0 and (exact > 0 or zero_hidden) else _pct(v)
        out.setdefault(g, {})[f"re-entered by {_horizon_label(h)}"] = str(v)
    cols = [f"re-entered by {_horizon_label(int(h))}" for h in horizons]
    return pd.DataFrame.from_dict(out, orient="index").reindex(columns=cols)


def _horizon_label(days: int) -> str:
    return {
        91: "3 months",
        182: "6 months",
        365: "12 months",
        730: "24 months",
        1826: "5 years",
        2191: "6 years",
    }.get(days, f"{days} days")


def _by(
    sp: pd.DataFrame, col: str, rules: DisclosureRules, horizons: Sequence[int], rel: Release
) -> pd.DataFrame:
    """Returns home (as jointly suppressed) and re-entry at the horizons by one variable."""
    from reunistat.models.survival import kaplan_meier

    data = sp.dropna(subset=[col])
    curve = kaplan_meier(data, "days_followed", "reentered", by=col)
    rates = _safe_horizons(curve, rules, horizons)
    table = f"at_risk:{col}"
    groups = [g for g in rel.registry.tables[table].counts.index if g not in ("all", MISSING_ROW)]
    shown = pd.Series({g: rel.text(table, g, "0") for g in groups}, name="returns home")
    order = [*rates.index, *[g for g in shown.index if g not in rates.index]]
    out = rates.reindex(order).join(shown, how="left")
    out = out[["returns home", *rates.columns]].fillna(SUPPRESSED)
    rate_cols = list(rates.columns)
    # a rate of a group whose size is hidden reveals that group's outcome ("0.0% of c")
    hidden = out["returns home"].astype(str) == SUPPRESSED
    out.loc[hidden, rate_cols] = SUPPRESSED
    out.index = pd.Index([level_label(col, g) for g in out.index], name="group")
    return out.reset_index()


def _at_risk(rel: Release) -> pd.DataFrame:
    """The numbers still followed under the curves, as jointly suppressed (years as columns)."""
    rows = []
    for name, (col, label) in CURVES.items():
        table = f"at_risk:{name}"
        for g in rel.registry.tables[table].counts.index:
            if g == MISSING_ROW or (g == "all" and name != "overall"):
                continue
            cells = {_years_label(t): rel.text(table, g, str(t)) for t in AT_RISK_DAYS}
            rows.append({"curve": label, "group": level_label(col or "", g), **cells})
    return pd.DataFrame(rows)


def _flat_to_limit(pub: PublishedCurve, rel: Release, grouping: str = "overall") -> PublishedCurve:
    """Draw each curve on, flat, to the last time its number followed is published.

    The published curve stops at its last step; between that step and the
    last at-risk time shown before a hidden one, no step resting on the
    threshold of re-entries happened, so the curve is known flat there.
    """
    from reunistat.report.release_plan import curve_limits

    limits = curve_limits(rel, grouping, AT_RISK_DAYS)
    ends = []
    for group, g in pub.curve.groupby("group", sort=False):
        limit = limits.get("all" if grouping == "overall" else str(group))
        if limit is not None and np.isfinite(limit) and len(g) and g["time"].max() < limit:
            ends.append(g.iloc[[-1]].assign(time=limit))
    if ends:
        pub.curve = pd.concat([pub.curve, *ends], ignore_index=True)
    return pub


def _years_label(days: int) -> str:
    years = round(days / DAYS_PER_YEAR)
    return f"{years} year" if years == 1 else f"{years} years"


def _model(
    sp: pd.DataFrame, rules: DisclosureRules, rel: Release
) -> tuple[pd.DataFrame | None, str]:
    """A Cox model of re-entry on a few published risk factors, where numbers allow."""
    from reunistat.models.survival import cox

    n_ev = int(sp["reentered"].sum())
    terms = [t for t in MODEL_TERMS if sp[t].nunique(dropna=True) > 1]
    if n_ev < 10 * max(len(terms), 1) * 2:
        shown = rel.text("overview", "re-entered care", "n")  # as the overview shows it
        return None, (
            f"Not fitted: {shown} re-entries are too few for an adjusted model of {len(terms)} "
            "characteristics (at least 20 re-entries per characteristic are needed)."
            if shown != SUPPRESSED
            else "Not fitted: too few re-entries for an adjusted model."
        )
    small = smallest_cell(sp, terms, "reentered")
    if rules.apply and small < rules.threshold:
        return None, (
            "Not shown: a group of the model rests on fewer returns or re-entries than the "
            f"disclosure threshold ({rules.threshold})."
        )
    refs = {"age_band": "5-9", "return_type": "planned"}
    rhs = [
        f"C({t}, contr.treatment('{refs[t]}'))" if t in refs and (sp[t] == refs[t]).any() else t
        for t in terms
    ]
    try:
        res = cox("~ " + " + ".join(rhs), sp, "days_followed", "reentered", cluster="CHILD")
    except (ReunistatError, ValueError) as e:
        return None, f"Not fitted: {e}"
    tidy = res.tidy(exponentiate=True)
    tidy = tidy.assign(term=[term_label(t) for t in tidy["term"]])
    return model_table(tidy, "HR"), (
        "Hazard ratios of re-entry (Cox model, Efron ties, standard errors robust to "
        "clustering by child), each adjusted for the others; against age 5-9 and a planned "
        "return where present. Associations, not effects; "
        "not for decisions about an individual child."
    )


def _benchmarks(
    overall_curve: pd.DataFrame, rules: DisclosureRules, national: pd.DataFrame
) -> pd.DataFrame:
    """The authority's cumulative re-entry at the national figures' horizons, beside them."""
    horizons = [int(h) for h in national["horizon_days"]]
    local = _safe_horizons(overall_curve, rules, horizons).iloc[0]
    rows = []
    for r in national.to_dict("records"):
        h = int(r["horizon_days"])
        published = str(r.get("published", "") or "")
        rows.append(
            {
                "horizon": _horizon_label(h),
                "this authority": local.get(f"re-entered by {_horizon_label(h)}", "z"),
                "national": _pct(r["national_reentry"]),
                "national source": str(r["source"]) + (f" ({published})" if published else ""),
            }
        )
    return pd.DataFrame(rows)


def build_la_report(
    spells: pd.DataFrame,
    rules: DisclosureRules,
    *,
    title: str = "Re-entry to care after a return home",
    benchmarks: pd.DataFrame | None = None,
    horizons_days: Sequence[int] = HORIZONS_DAYS,
    source: str = "",
) -> LaReport:
    """Build the tables and figures of an authority's report.

    Parameters
    ----------
    spells : DataFrame
        The spells table of the authority (:mod:`reunistat.spells`).
    rules : DisclosureRules
        Disclosure rules (on by default, for sharing).
    title : str
        Title of the report.
    benchmarks : DataFrame, optional
        National figures (:func:`read_benchmarks`); by default
        :data:`NATIONAL_BENCHMARKS`.
    horizons_days : sequence of int
        Horizons of the re-entry tables (3, 12 and 24 months).
    source : str
        What the data are (shown in the introduction).
    """
    from reunistat.models.survival import kaplan_meier

    if len(spells) == 0:
        raise InputError(
            "no returns home were found in these returns (no period of care ending in E4A, "
            "E4B or E13): there is nothing to report"
        )
    sp = curve_labels(spells).assign(year=spells["return_year"].astype("Int64").astype("string"))
    rel = la_release(sp, rules)
    national = NATIONAL_BENCHMARKS if benchmarks is None else benchmarks
    intro = [
        f"Data: {source}." if source else "",
        "A return home is a period of care ending with a return to parents or others with "
        "parental responsibility (E4A planned, E4B unplanned) or to live with parents or "
        "relatives without it (E13); re-entry is the start of the child's next period of care. "
        "Re-entry by a horizon is estimated by Kaplan-Meier, so returns not yet followed that "
        "long count for as long as they were followed.",
        (
            f"Disclosure control is on: counts below {rules.threshold} are shown as c "
            "(with further cells hidden so that none can be worked out from a total), curves "
            f"stop where fewer than {rules.threshold} returns remain followed, and a figure "
            "resting on fewer is not shown."
            if rules.apply
            else "Disclosure control is OFF: this report shows exact small numbers and must "
            "not be shared outside the authority."
        ),
        "These figures describe groups of children; they are not for decisions about an "
        "individual child.",
    ]
    rep = LaReport(title, [p for p in intro if p], rules=rules)
    rep.tables.append(("overview", "Overview", _overview(sp, rel), []))
    by_year = _by(sp, "year", rules, horizons_days, rel)
    rep.tables.append(
        (
            "by_year",
            "Re-entry by year of return home (financial year, April start)",
            by_year.sort_values("group", kind="stable").rename(columns={"group": "year of return"}),
            [
                "c: suppressed, or held back because the published curve moves only in steps "
                f"of at least {rules.threshold} re-entries; z: not yet followed that long.",
            ],
        )
    )
    parts = []
    for col, label in GROUPS.items():
        if col not in sp.columns or sp[col].dropna().nunique() < 1:
            continue
        t = _by(sp, col, rules, horizons_days, rel)
        parts.append(t.assign(characteristic=label))
    factors = pd.concat(parts, ignore_index=True)
    factors = factors[["characteristic", *[c for c in factors.columns if c != "characteristic"]]]
    rep.tables.append(
        (
            "by_factor",
            "Re-entry by characteristic at the return home",
            factors,
            [
                "Characteristics with higher re-entry in national research: older age, Section 20, "
                "previous periods of care, more placement moves, an unplanned return, a last "
                "placement in a children's home."
            ],
        )
    )
    overall = kaplan_meier(sp, "days_followed", "reentered")
    pub = _flat_to_limit(publish_curve(overall, rules, (), release=rel, grouping="overall"), rel)
    xmax = float(min(sp["days_followed"].max(), 2191)) + 90
    if float(pd.to_numeric(pub.curve[pub.estimate]).max()) > 0:
        rep.figures.append(_overall_figure(pub, xmax))
    else:
        rep.intro.append(
            "No cumulative re-entry curve is shown: no step of the curve rests on at least "
            f"{rules.threshold} re-entries."
            if rules.apply
            else "No child re-entered care."
        )
    by_type = kaplan_meier(sp, "days_followed", "reentered", by="return_type")
    pub_t = _flat_to_limit(
        publish_curve(by_type, rules, (), release=rel, grouping="return_type"), rel, "return_type"
    )
    if len(pub_t.curve) and float(pd.to_numeric(pub_t.curve[pub_t.estimate]).max()) > 0:
        rep.figures.append(
            (
                "curve_return_type",
                "Cumulative re-entry by planned or unplanned return",
                curve_figure(
                    _short_groups(pub_t.curve, "return_type"),
                    _short_groups(pub_t.at_risk, "return_type"),
                    estimate=pub_t.estimate,
                    conf=pub_t.conf,
                    title="Cumulative re-entry: planned (E4A), unplanned (E4B) or E13 return",
                    xmax_days=xmax,
                ),
                "Step curves of cumulative re-entry for planned, unplanned and E13 returns, "
                "with the numbers still followed below.",
            )
        )
    rep.tables.append(
        (
            "at_risk",
            "Returns home still followed under the curves",
            _at_risk(rel),
            [
                "Returns home followed for at least so many years since the return, without "
                "re-entry or the end of follow-up before; c: suppressed (fewer than "
                f"{rules.threshold}, or hidden so that no hidden count can be worked out)."
            ],
        )
    )
    model, note = _model(sp, rules, rel)
    if model is not None:
        rep.tables.append(("model", "Adjusted model of re-entry (Cox)", model, [note]))
    else:
        rep.tables.append(
            ("model", "Adjusted model of re-entry (Cox)", pd.DataFrame({"note": [note]}), [])
        )
    bench = _benchmarks(overall, rules, national)
    rep.tables.append(
        (
            "national",
            "This authority against national figures",
            bench,
            [
                "National figures: "
                + (
                    "supplied by the user."
                    if benchmarks is not None
                    else f"published figures compiled {NATIONAL_BENCHMARKS_DATE}; definitions and "
                    "periods differ from this authority's data, so compare with care."
                ),
                "This authority: Kaplan-Meier estimate from the published curve; z: not "
                "followed that long.",
            ],
        )
    )
    return rep


def _short_groups(frame: pd.DataFrame, col: str) -> pd.DataFrame:
    """The figure's groups by their short labels (legend and at-risk rows)."""
    return frame.assign(group=[short_level_label(col, g) for g in frame["group"].astype(str)])


def _overall_figure(pub: PublishedCurve, xmax: float) -> tuple[str, str, Figure, str]:
    fig = curve_figure(
        pub.curve,
        pub.at_risk,
        estimate=pub.estimate,
        conf=pub.conf,
        title="Cumulative re-entry to care after a return home",
        xmax_days=xmax,
    )
    return (
        "curve_overall",
        "Cumulative re-entry after a return home",
        fig,
        "Step curve of the share of returns home followed by re-entry to care against years "
        "since the return, with its 95% interval and the numbers still followed below.",
    )


def _png_base64(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _html_table(df: pd.DataFrame) -> str:
    esc = html.escape
    head = "".join(f"<th scope='col'>{esc(str(c))}</th>" for c in df.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>"
        for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:60em;margin:2em auto;"
    "color:#0b0c0c;line-height:1.4}h1{color:#12436D}h2{color:#12436D;border-bottom:"
    "2px solid #12436D;padding-bottom:.2em;margin-top:2em}table{border-collapse:collapse;"
    "margin:.5em 0;font-size:90%}td,th{border:1px solid #b1b4b6;padding:3px 8px}"
    "th{background:#f3f2f1;text-align:left}td{text-align:right}td:first-child,"
    "td:nth-child(2){text-align:left}.note{font-size:85%;color:#505a5f}img{max-width:100%}"
    ".warn{background:#fff4e5;border-left:5px solid #F46A25;padding:.5em 1em}"
)


def render_html(report: LaReport, generated: str) -> str:
    """Return the report as one self-contained HTML page (figures embedded as PNG)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>\n<html lang='en-GB'><head><meta charset='utf-8'>",
        f"<title>{esc(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
    ]
    for p in report.intro:
        cls = " class='warn'" if "OFF" in p else ""
        parts.append(f"<p{cls}>{esc(p)}</p>")
    figs = {name: (t, f, alt) for name, t, f, alt in report.figures}
    for name, title, df, notes in report.tables:
        parts.append(f"<h2 id='{esc(name)}'>{esc(title)}</h2>")
        parts.append(_html_table(df))
        parts += [f"<p class='note'>{esc(n)}</p>" for n in notes]
        if name == "overview":
            for t, f, alt in figs.values():
                parts.append(f"<h2>{esc(t)}</h2>")
                parts.append(f"<img alt='{esc(alt)}' src='data:image/png;base64,{_png_base64(f)}'>")
    parts.append(f"<p class='note'>{esc(generated)}</p></body></html>\n")
    return "\n".join(parts)


def write_la_report(report: LaReport, out_dir: str | Path, *, generated: str = "") -> list[Path]:
    """Write ``la_report.html`` and ``la_report.xlsx`` into ``out_dir``; return the paths."""
    from reunistat.report.workbook import write_workbook

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not generated:
        from reunistat import __version__

        generated = f"Made with reunistat {__version__}."
    text = generated
    page = out / "la_report.html"
    page.write_text(render_html(report, text), encoding="utf-8")
    book = write_workbook(
        out / "la_report.xlsx",
        title=report.title,
        cover=[*report.intro, text],
        notes=[n for _, _, _, notes in report.tables for n in notes],
        sheets=[(name, title, "reunistat la-report", df) for name, title, df, _ in report.tables],
        keep_names=True,  # its tables are read back by column name, with their symbols
    )
    return [page, book]
