"""Publication tables: descriptive counts with disclosure control, and their files.

A table is written three ways with the same content: CSV (for reuse),
Markdown (pulled into the paper) and HTML (to read). Counts pass through
:mod:`reunistat.report.disclosure` before they are written.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import DisclosureError
from reunistat.report.disclosure import SUPPRESSED, Cell, DisclosureRules
from reunistat.report.labels import level_label, num_text, p_text, variable_label
from reunistat.report.labels import term_label as term_label
from reunistat.report.release_tables import Release, ReleaseTables

#: Variables of Table 1 (spells column → label, from :mod:`reunistat.report.labels`), in order.
TABLE1_VARIABLES: dict[str, str] = {
    k: variable_label(k)
    for k in (
        "age_band",
        "sex",
        "ethnic_group",
        "disability",
        "section20",
        "legal_status_group",
        "prior_periods",
        "placement_moves",
        "last_placement_type",
        "category_of_need",
        "return_type",
    )
}

#: Count columns capped into an open top band in descriptive tables.
DEFAULT_CAPS: dict[str, int] = {"prior_periods": 3, "placement_moves": 3}
_AGE_ORDER = ["under 1", "1-4", "5-9", "10-15", "16+"]


@dataclass
class CountTable:
    """A published table of counts and its disclosure record.

    Attributes
    ----------
    table : DataFrame
        What is written: label columns, then counts (strings; ``c`` where
        suppressed) and percentages.
    count_cols : list of str
        The count columns (for the checker).
    lines : list of list of (row key, column)
        The additive relationships between cells (for the checker).
    row_key : str
        The column naming rows in ``lines``.
    log : DataFrame
        The suppressed cells and why.
    """

    table: pd.DataFrame
    count_cols: list[str]
    lines: list[list[Cell]]
    row_key: str
    log: pd.DataFrame = field(default_factory=pd.DataFrame)


def capped(values: pd.Series, cap: int) -> pd.Series:
    """Return counts as labels with an open top band, e.g. ``0, 1, 2, 3+``.

    >>> capped(pd.Series([0, 2, 5]), 3).tolist()
    ['0', '2', '3+']
    """
    v = pd.to_numeric(values, errors="coerce")
    out = v.clip(upper=cap).astype("Int64").astype(str)
    out = out.where(v < cap, f"{cap}+")
    return out.where(v.notna(), "missing")


def _levels(col: pd.Series, name: str, caps: Mapping[str, int]) -> pd.Series:
    if name in caps:
        return capped(col, caps[name])
    if name in ("disability", "section20", "pilot", "fsm"):
        return col.map({1: "yes", 0: "no"}).fillna("missing")
    return col.astype("string").fillna("missing").astype(str)


def _level_order(levels: Sequence[str]) -> list[str]:
    known = [x for x in _AGE_ORDER if x in levels]
    if len(known) == len(levels):
        return known
    rest = sorted(x for x in levels if x != "missing")
    return rest + (["missing"] if "missing" in levels else [])


def table1_counts(
    spells: pd.DataFrame,
    *,
    variables: Mapping[str, str] | None = None,
    status_col: str = "reentered",
    status_labels: tuple[str, str] = ("re-entered", "not re-entered"),
    caps: Mapping[str, int] | None = None,
) -> tuple[pd.DataFrame, list[list[str]], dict[str, pd.Series]]:
    """Return Table 1's exact counts, its blocks of levels and each variable's level per spell.

    The counts have one row per ``variable=level`` (``all`` first) and the
    columns ``status_labels`` and ``all``; ``variable`` and ``level`` give
    the labels. Each block lists the row keys of one variable's levels.
    """
    variables = variables or {k: v for k, v in TABLE1_VARIABLES.items() if k in spells.columns}
    caps = DEFAULT_CAPS if caps is None else caps
    yes, no = status_labels
    status = spells[status_col].to_numpy() == 1
    rows: list[dict[str, Any]] = [
        {
            "key": "all",
            "variable": "All spells",
            "level": "",
            yes: int(status.sum()),
            no: int((~status).sum()),
        }
    ]
    blocks: list[list[str]] = []
    levels: dict[str, pd.Series] = {}
    for col, label in variables.items():
        lev = _levels(spells[col], col, caps)
        levels[col] = lev
        block = []
        # each level's rows by its code (levels are text: the same rows as lev == level)
        codes, uniques = pd.factorize(lev.to_numpy())
        n_yes = np.bincount(codes[status], minlength=len(uniques))
        n_no = np.bincount(codes[~status], minlength=len(uniques))
        position = {level: i for i, level in enumerate(uniques)}
        for level in _level_order(list(uniques)):
            key = f"{col}={level}"
            i = position[level]
            rows.append(
                {
                    "key": key,
                    "variable": label,
                    "level": level,
                    yes: int(n_yes[i]),
                    no: int(n_no[i]),
                }
            )
            block.append(key)
        blocks.append(block)
    counts = pd.DataFrame(rows).set_index("key")
    counts["all"] = counts[yes] + counts[no]
    return counts, blocks, levels


def table1(
    spells: pd.DataFrame,
    rules: DisclosureRules,
    *,
    variables: Mapping[str, str] | None = None,
    status_col: str = "reentered",
    status_labels: tuple[str, str] = ("re-entered", "not re-entered"),
    caps: Mapping[str, int] | None = None,
    release: Release | None = None,
) -> CountTable:
    """Table 1: spells by characteristic at return, split by re-entry status.

    Counts of spells with column percentages, for each level of each
    variable; ``All spells`` heads the table. Each variable's levels add up to
    ``All spells`` in each column and each row's two statuses add up to its
    total: both are lines for secondary suppression.

    Parameters
    ----------
    spells : DataFrame
        The spells table (:mod:`reunistat.spells`).
    rules : DisclosureRules
        Disclosure rules for the counts shown.
    variables : mapping, optional
        Column → label (default :data:`TABLE1_VARIABLES`, those present).
    status_col : str
        0/1 re-entry status.
    status_labels : (str, str)
        Labels of status 1 and 0.
    caps : mapping, optional
        Count columns shown with an open top band (default :data:`DEFAULT_CAPS`).
    release : Release, optional
        The release-wide suppression holding a ``table1`` table (see
        :func:`reunistat.report.release_plan.standard_release`); without it
        the table is suppressed on its own.

    Returns
    -------
    CountTable
    """
    counts, blocks, _ = table1_counts(
        spells, variables=variables, status_col=status_col, status_labels=status_labels, caps=caps
    )
    yes, no = status_labels
    cols = [yes, no, "all"]
    lines: list[list[Cell]] = [[(k, c) for c in cols] for k in counts.index]
    for block in blocks:
        for c in cols:
            lines.append([(k, c) for k in [*block, "all"]])
    if release is None:
        reg = ReleaseTables(rules)
        reg.add_table(
            "table1",
            counts[cols],
            row_sums=[(k, [yes, no], "all") for k in counts.index],
            sums=[(c, block, "all") for block in blocks for c in cols],
        )
        release = reg.solve()
    table = counts[["variable", "level"]].copy()
    var_of = {label: col for col, label in TABLE1_VARIABLES.items()}
    table["level"] = [
        level_label(var_of.get(str(v), ""), lev) if lev else lev
        for v, lev in zip(table["variable"], table["level"], strict=True)
    ]
    for c in cols:
        table[c] = [release.text("table1", k, c) for k in counts.index]
        table[f"{c} %"] = [
            release.percent(("table1", k, c), ("table1", "all", c)) for k in counts.index
        ]
    table = table.reset_index()
    return CountTable(table, cols, lines, "key", _log(release, "table1"))


def _log(release: Release, name: str) -> pd.DataFrame:
    return release.log(name).drop(columns="table")


def flow_table(
    flow: pd.DataFrame, rules: DisclosureRules, release: Release | None = None
) -> CountTable:
    """The cohort flow (CONSORT) with disclosure control.

    Each ``remaining`` count equals the one before less the exclusions in
    between, and the outcomes add up to the spells: each is a line, so a
    suppressed exclusion cannot be recovered by subtraction. With
    ``release`` the counts come from the release-wide suppression (its
    ``cohort_flow`` table); without it the flow is suppressed on its own.
    """
    from reunistat.report.release_plan import declare_flow

    counts_cols = ["children", "episodes", "periods", "spells"]
    f = flow.reset_index(drop=True).copy()
    f.insert(0, "key", [f"step{i + 1:02d}" for i in range(len(f))])
    counts = f.set_index("key")[counts_cols].astype("Float64").astype(float)
    counts.loc[(f["stage"] == "note").to_numpy(), :] = np.nan  # notes: not published as counts
    lines: list[list[Cell]] = []
    last_base: str | None = None
    since: list[str] = []
    for key, stage in zip(f["key"], f["stage"], strict=True):
        if stage in ("start", "remaining"):
            if last_base is not None:
                lines += [[(k, c) for k in [last_base, *since, key]] for c in counts_cols]
            last_base, since = key, []
        elif stage == "exclude":
            since.append(key)
    outcomes = f.loc[f["stage"] == "outcome", "key"].tolist()
    if outcomes and last_base is not None:
        lines.append([(k, "spells") for k in [last_base, *outcomes]])
    lines = [[cell for cell in line if not pd.isna(counts.at[cell])] for line in lines]
    if release is None:
        reg = ReleaseTables(rules)
        declare_flow(reg, flow)
        release = reg.solve()
    table = f[["key", "stage", "step", "reason"]].copy()
    for c in counts_cols:
        table[c] = [
            "" if pd.isna(counts.at[k, c]) else release.text("cohort_flow", k, c) for k in f["key"]
        ]
    return CountTable(table, counts_cols, lines, "key", _log(release, "cohort_flow"))


def count_table(release: Release, name: str, *, item_col: str = "item") -> CountTable:
    """A one-column table of counts of the release (e.g. ``logistic_outcome``), as published.

    Its lines are the release's sums within the table, for the checker.
    """
    t = release.registry.tables[name].counts
    col = str(t.columns[0])
    table = pd.DataFrame(
        {item_col: list(t.index), col: [release.text(name, r, col) for r in t.index]}
    )
    lines: list[list[Cell]] = []
    for rel in release.relations:
        keys = [release.keys[i] for i in rel.cells]
        if rel.kind == "eq" and len(keys) > 2 and all(k[0] == name for k in keys):
            lines.append([(k[1], k[2]) for k in keys])
    return CountTable(table, [col], lines, item_col, _log(release, name))


def format_number(x: Any, digits: int = 2) -> str:
    """Return a number for a readable table: integers with commas, floats to ``digits``.

    >>> format_number(12345), format_number(0.12345), format_number("c")
    ('12,345', '0.12', 'c')
    """
    if isinstance(x, (bool, np.bool_)):
        return str(x)
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        if np.isnan(x):
            return ""
        return num_text(float(x), digits)
    s = str(x)
    if s.isdigit() and len(s) > 3:
        return f"{int(s):,}"
    return s


def gbp_millions(x: float) -> str:
    """Return pounds as millions with the sign in front.

    >>> gbp_millions(-15_960_198), gbp_millions(18_515_100)
    ('-£16m', '£19m')
    """
    return ("-" if x < 0 else "") + f"£{abs(x) / 1e6:,.0f}m"


def model_table(tidy: pd.DataFrame, label: str, digits: int = 2) -> pd.DataFrame:
    """Return a readable model table: term, ratio (95% CI), p-value.

    ``tidy`` is ``ModelResult.tidy(exponentiate=True)``; p-values are written
    ``<0.001`` below 0.001 and no number is written ``-0.00``.
    """
    return pd.DataFrame(
        {
            "term": tidy["term"],
            label: [num_text(e, digits) for e in tidy["estimate"]],
            "95% CI": [
                f"{num_text(lo, digits)} to {num_text(hi, digits)}"
                for lo, hi in zip(tidy["conf_low"], tidy["conf_high"], strict=True)
            ],
            "p": [p_text(p) for p in tidy["p_value"]],
        }
    )


def _p(p: float) -> str:
    return p_text(p)


#: Columns holding p-values: written ``<0.001`` below 0.001 in readable tables.
P_COLUMNS = ("p", "p_value", "p-value", "p_overdispersion")


def _cell(v: Any, column: str, digits: int) -> str:
    if column in P_COLUMNS and isinstance(v, (float, np.floating)):
        return p_text(float(v))
    return format_number(v, digits)


def to_csv_text(df: pd.DataFrame) -> str:
    """Return a DataFrame as CSV text with stable float formatting (6 significant digits).

    The float columns are formatted first, as pandas formats them with
    ``float_format="%.6g"`` (``"%.6g" % v``, missing values empty), in one
    list comprehension a column instead of pandas' three calls a value; the
    text is the same (a test checks it).
    """
    floats = [j for j, dt in enumerate(df.dtypes) if dt == np.float64]
    if floats:
        df = df.copy(deep=False)
        for j in floats:
            values = df.iloc[:, j].to_numpy().tolist()
            df.isetitem(j, np.array([_G6 % v if v == v else "" for v in values], dtype=object))
    return df.to_csv(index=False, float_format=_G6, lineterminator="\n")


#: The CSV files' float format (6 significant digits).
_G6 = "%.6g"


def _column_cells(values: Sequence[Any], column: str, digits: int) -> list[str]:
    """Return :func:`_cell` of every value of one column, with fast paths for plain floats.

    ``values`` are the column's values as iterating its Series gives them (as
    :meth:`pandas.DataFrame.itertuples` does), so every string is the one
    :func:`_cell` returns for the same value.
    """
    return _plain_cells(values, column, digits) or [_cell(v, column, digits) for v in values]


def _plain_cells(values: Sequence[Any], column: str, digits: int) -> list[str] | None:
    """:func:`_cell` of a column of plain floats (not p-values) or plain integers, else None.

    Such cells are numbers written with digits, commas, a point and a sign,
    ``inf`` or empty: nothing in them is escaped in HTML or Markdown, and
    every one reads as a number (:func:`_looks_numeric`).
    """
    if not values:
        return None
    if column not in P_COLUMNS and all(type(v) is float for v in values):
        spec = f",.{digits}f"  # num_text, inline: never -0.00
        out = []
        for v in values:
            if v != v:
                out.append("")
                continue
            s = format(v, spec)
            out.append(s[1:] if s[0] == "-" and not s.strip("-0.,") else s)
        return out
    if all(type(v) is int for v in values):  # format_number of an int (bool is not int here)
        return [f"{v:,}" for v in values]
    return None


def _column_values(col: pd.Series) -> list[Any]:
    """The values of a column as iterating it gives them (Python scalars for NumPy columns)."""
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":
        return col.to_numpy().tolist()  # Series.__iter__ gives each value's .item(), as here
    return list(col)


def _formatted_columns(df: pd.DataFrame, digits: int) -> tuple[list[list[str]], list[bool]]:
    """The readable text of every cell, column by column, and which columns are plain numbers.

    A plain column (:func:`_plain_cells`) needs no escaping and reads as numeric.
    """
    cols: list[list[str]] = []
    plain: list[bool] = []
    for j, c in enumerate(str(c) for c in df.columns):
        values = _column_values(df.iloc[:, j])
        fast = _plain_cells(values, c, digits)
        if fast is not None:
            cols.append(fast)
        elif all(type(v) is str for v in values):  # text: each distinct value formatted once
            once = {v: _cell(v, c, digits) for v in set(values)}
            cols.append([once[v] for v in values])
        else:
            cols.append([_cell(v, c, digits) for v in values])
        plain.append(fast is not None)
    return cols, plain


def formatted_cells(df: pd.DataFrame, digits: int = 2) -> list[list[str]]:
    """Return the readable text of every cell (rows of strings), as the Markdown and HTML show.

    Each cell is :func:`_cell` of its value (p-value columns as :func:`p_text`,
    the rest as :func:`format_number`); worked out column by column, once for
    both files.
    """
    cols, _ = _formatted_columns(df, digits)
    return [list(r) for r in zip(*cols, strict=True)] if cols else [[] for _ in range(len(df))]


def _as_columns(
    df: pd.DataFrame, digits: int, cells: list[list[str]] | None
) -> tuple[list[list[str]], list[bool]]:
    """Columns of cells and their plain flags: from ``cells`` (rows, none plain) or worked out."""
    if cells is None:
        return _formatted_columns(df, digits)
    cols = [list(c) for c in zip(*cells, strict=True)] if cells else [[] for _ in df.columns]
    return cols, [False] * len(cols)


def _rows(cols: list[list[str]], n: int, start: str, sep: str, end: str) -> list[str]:
    """Each row's cells joined: ``start + sep.join(cells) + end``, a row of no cells too."""
    if not cols:
        return [start + end] * n
    return [start + sep.join(r) + end for r in zip(*cols, strict=True)]


def to_markdown(df: pd.DataFrame, digits: int = 2, *, cells: list[list[str]] | None = None) -> str:
    """Return a pipe table (Pandoc and GitHub Markdown) of a DataFrame.

    ``cells`` are its :func:`formatted_cells` when already worked out.
    """
    cols, plain = _as_columns(df, digits, cells)
    return _markdown(
        [str(c) for c in df.columns], cols, plain, len(df) if cells is None else len(cells)
    )


def _markdown(head: list[str], cols: list[list[str]], plain: list[bool], n: int) -> str:
    body = [
        c if p else [v.replace("|", "\\|") for v in c] for c, p in zip(cols, plain, strict=True)
    ]
    numeric = [
        n > 0 and (p or all(_looks_numeric(s) for s in set(c)))
        for c, p in zip(body, plain, strict=True)
    ]
    out = ["| " + " | ".join(head) + " |"]
    out.append("|" + "|".join("---:" if x else ":---" for x in numeric) + "|")
    out += _rows(body, n, "| ", " | ", " |")
    return "\n".join(out) + "\n"


def _looks_numeric(s: str) -> bool:
    t = s.replace(",", "").replace("%", "").replace("<", "").strip()
    if t in ("c", "z", "k", ""):
        return True
    try:
        float(t)
    except ValueError:
        return False
    return True


def to_html(
    df: pd.DataFrame,
    title: str,
    notes: Sequence[str] = (),
    digits: int = 2,
    *,
    cells: list[list[str]] | None = None,
) -> str:
    """Return a small standalone HTML page holding the table, its title and notes.

    ``cells`` are its :func:`formatted_cells` when already worked out.
    """
    cols, plain = _as_columns(df, digits, cells)
    n = len(df) if cells is None else len(cells)
    return _html([str(c) for c in df.columns], cols, plain, n, title, notes)


def _html(
    head: list[str],
    cols: list[list[str]],
    plain: list[bool],
    n: int,
    title: str,
    notes: Sequence[str],
) -> str:
    esc = html.escape
    shown = []
    for c, p in zip(cols, plain, strict=True):
        if p:  # plain numbers: nothing to escape
            shown.append(c)
        else:
            escaped = {v: esc(v) for v in set(c)}
            shown.append([escaped[v] for v in c])
    rows = _rows(shown, n, "<tr><td>", "</td><td>", "</td></tr>") if shown else ["<tr></tr>"] * n
    body = "\n".join(rows)
    th = "".join(f"<th>{esc(c)}</th>" for c in head)
    note_html = "".join(f"<p class='note'>{esc(x)}</p>" for x in notes)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px}td{text-align:right}"
        ".note{font-size:90%}</style></head><body>\n"
        f"<table>\n<caption>{esc(title)}</caption>\n<thead><tr>{th}</tr></thead>\n"
        f"<tbody>\n{body}\n</tbody></table>\n{note_html}\n</body></html>\n"
    )


def write_table(
    df: pd.DataFrame,
    stem: Path,
    title: str,
    notes: Sequence[str] = (),
    readable: pd.DataFrame | None = None,
    digits: int = 2,
) -> list[Path]:
    """Write ``stem``.csv, .md and .html; return the paths written.

    The CSV holds ``df``; the Markdown and HTML hold ``readable`` (default
    ``df``) with the title and notes.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    shown = df if readable is None else readable
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".html")]
    paths[0].write_text(to_csv_text(df), encoding="utf-8")
    cols, plain = _formatted_columns(shown, digits)  # once, for the Markdown and the HTML
    head = [str(c) for c in shown.columns]
    md = _markdown(head, cols, plain, len(shown))
    if notes:
        md += "\n" + "\n".join(f"*{n}*  " for n in notes) + "\n"
    paths[1].write_text(md, encoding="utf-8")
    paths[2].write_text(_html(head, cols, plain, len(shown), title, notes), encoding="utf-8")
    return paths


def formula_variables(formula: str, data: pd.DataFrame) -> list[str]:
    """Return the data columns a formula names, in the order of the data.

    >>> formula_variables("C(a) + np.log(b)", pd.DataFrame(columns=["b", "a"]))
    ['b', 'a']
    """
    words = set(re.findall(r"[A-Za-z_]\w*", formula))
    return [c for c in data.columns if c in words]


def smallest_cell(data: pd.DataFrame, variables: Sequence[str], event_col: str) -> int:
    """Return the fewest spells or events in any level of the categorical covariates.

    A model estimate for a level resting on fewer than the disclosure threshold
    is disclosive; the checker compares this with the threshold. Numeric
    columns other than 0/1 indicators enter models as numbers (one slope
    over all spells) and are skipped.
    """
    smallest = len(data)
    ev = pd.to_numeric(data[event_col], errors="coerce").fillna(0).to_numpy() > 0
    for v in variables:
        col = data[v]
        if pd.api.types.is_numeric_dtype(col) and col.nunique() > 2:
            continue
        codes = _text_codes(col)
        if codes is None and isinstance(col.dtype, np.dtype) and col.dtype.kind in "biu":
            codes = pd.factorize(col.to_numpy())[0]  # integers: one text per value, and back
        if codes is not None:  # the same groups as the text of the values, without the text
            size = np.bincount(codes)
            events = np.bincount(codes[ev], minlength=len(size))
            seen = size > 0
            smallest = min(smallest, int(size[seen].min()), int(events[seen].min()))
            continue
        g = pd.DataFrame({"lev": col.astype(str).to_numpy(), "ev": ev}).groupby("lev")["ev"]
        smallest = min(smallest, int(g.size().min()), int(g.sum().min()))
    return smallest


def _text_codes(col: pd.Series) -> np.ndarray | None:
    """Codes of a column's values when they are text with none missing (else None).

    For such a column ``astype(str)`` changes nothing, so its levels are the
    codes' groups: categories of text (codes of unused ones are simply absent),
    or Python strings.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = col.cat.categories
        codes = col.cat.codes.to_numpy()
        if len(codes) and codes.min() >= 0 and pd.api.types.infer_dtype(cats) == "string":
            return codes.astype(np.intp)
        return None
    if col.dtype == object and len(col):
        values = col.to_numpy()
        if pd.api.types.infer_dtype(values, skipna=False) == "string":
            return pd.factorize(values)[0]
    return None


def model_spec(
    res: Any,
    data: pd.DataFrame,
    covariates: str,
    event_col: str,
    *,
    release: Release | None = None,
    counts: str | None = None,
) -> dict[str, Any]:
    """Return the disclosure spec of a model's table: its n, events and smallest cell.

    ``covariates`` is the right side of the model's formula (the pipeline's
    ``[analysis] covariates``); the checker compares ``n_min_cell`` with the
    threshold (see :func:`smallest_cell`). With ``release`` and ``counts``
    (a model population of the release: ``"cox"`` or ``"logistic"``, see
    :func:`reunistat.report.release_plan.declare_model_counts`) the spec
    quotes the released counts instead (:func:`linked_spec`), and the
    model's own ``n_obs`` and ``n_events`` must equal them.
    """
    if release is not None and counts is not None:
        m = release.extra.get("models", {}).get(counts)
        if m is None:
            raise DisclosureError(
                f"the release declares no counts of the {counts!r} models "
                "(reunistat.report.release_plan.standard_release(covariates=...))"
            )
        if (int(res.n_obs), int(res.n_events)) != (m.n_obs, m.n_events):
            raise DisclosureError(
                f"a model's n or events differ from the release's {m.table!r} cells: its "
                "population or formula is not the one declared in reunistat.report.release_plan"
            )
        return linked_spec(release, counts)
    return {
        "type": "model",
        "n_obs": res.n_obs,
        "n_events": res.n_events,
        "n_min_cell": smallest_cell(data, formula_variables(covariates, data), event_col),
    }


def released_count(release: Release, table: str, row: str, col: str) -> int | str:
    """A release cell as a spec or a note quotes it: the (rounded) count, or ``c``."""
    v = release.shown_number(table, row, col)
    return SUPPRESSED if v is None else int(v)


def linked_spec(release: Release, counts: str, *, small_cell: bool = False) -> dict[str, Any]:
    """The disclosure spec of a model whose counts are the release's ``model:<counts>`` cells.

    ``n_obs`` and ``n_events`` are what the release publishes (``c`` where
    the joint suppression hides them); ``small_cell`` says whether the model
    rests on a count below the threshold (its n, events, or a level of a
    categorical covariate; or ``small_cell`` given here, e.g. a calibration
    bin), for the checker, which then leaves the model out. No category count
    itself is quoted.
    """
    m = release.extra["models"][counts]
    return {
        "type": "model",
        "counts": m.table,
        "n_obs": released_count(release, m.table, "all", "n"),
        "n_events": released_count(release, m.table, "all", "events"),
        "small_cell": bool(m.small_cell or small_cell),
    }
