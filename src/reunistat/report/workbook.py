"""An Excel workbook of the main tables, to the Analysis Function standard, built with gptables.

``gptables`` (the Government Statistical Service's package for its
spreadsheet guidance) writes the cover, a contents sheet, a notes sheet and
one table per sheet, each a named Excel table with a title, a source and an
instruction line for screen readers. On top of it this module

* turns the CSV text of each published table back into numbers (the sheets
  copy tables already written and checked; nothing is computed here), so each
  cell holds the exact value of the CSV and the paper;
* gives each column a number format (thousands separators for counts and
  whole pounds, ``<0.001`` for small p-values, fixed decimals for estimates)
  and a readable heading with its unit, from :func:`column_heading`;
* labels model terms with :func:`term_label` (one function, the one the
  paper's tables use), keeping the model's own term beside it;
* writes the disclosure symbols as the standard's shorthand (``[c]``
  suppressed, ``[z]`` not applicable, ``[x]`` not available: no blank cell);
* freezes each table's heading row and fixes the file's dates, so the same
  tables give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.report.tables import term_label as _paper_term_label

FIXED_ZIP_DATE = (2024, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")

#: Disclosure and missing-value symbols of the CSVs → the standard's shorthand.
SHORTHAND = {"c": "[c]", "z": "[z]", "k": "[k]", "": "[x]"}
#: What each shorthand means (the notes sheet says it once).
SHORTHAND_TEXT = (
    "Shorthand: [c] suppressed to protect confidentiality (a count below the threshold, or "
    "a cell that would reveal one); [z] not applicable; [k] rounds to zero; [x] not "
    "available (not estimated or not made)."
)

#: Readable headings of the columns the tables share (others: underscores to spaces).
HEADINGS = {
    "term": "Term",
    "estimate": "Estimate",
    "std_error": "Standard error",
    "statistic": "Test statistic",
    "p_value": "p-value",
    "conf_low": "Lower 95% limit",
    "conf_high": "Upper 95% limit",
    "n_risk": "Number at risk",
    "n_events": "Events",
    "n_censored": "Censored",
    "horizon_days": "Horizon (days)",
    "cumulative_incidence": "Cumulative incidence",
    "item": "Item",
    "price_base": "Price base (financial year)",
    "children_per_year": "Children a year",
}

_IDENT = re.compile(r"^[a-z][a-z0-9_]*$")


def term_label(term: str) -> str:
    """Return a model term's label for the workbook: the paper's own labelling function.

    One function labels a term in the paper's tables and the workbook
    (:func:`reunistat.report.tables.term_label`), so the two never differ.

    >>> term_label("sex[T.male]") != "sex[T.male]"
    True
    """
    return _paper_term_label(term)


def column_heading(name: str) -> str:
    """Return a column's heading with its unit (money in £, durations in days).

    >>> column_heading("total_gbp"), column_heading("days_followed"), column_heading("p_value")
    ('Total (£)', 'Days followed', 'p-value')
    """
    if name in HEADINGS:
        return HEADINGS[name]
    text = name
    unit = ""
    if text.endswith("_gbp"):
        text, unit = text[: -len("_gbp")], " (£)"
    words = text.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else name


def number_format(name: str, values: pd.Series) -> str | None:
    """Return the Excel number format of a column of cells, or ``None`` for text.

    Whole numbers get thousands separators (counts, pounds); p-values show
    ``<0.001`` below 0.001; percentages one decimal; ratios (all at least 0.1
    in size) two decimals, smaller fractions three.

    >>> number_format("total_gbp", pd.Series([291927132, 56720160]))
    '#,##0'
    >>> number_format("p_value", pd.Series([0.2, 1e-9]))
    '[<0.001]"<0.001";0.000'
    >>> number_format("estimate", pd.Series([1.31, 0.87])), number_format("rate", pd.Series([0.05]))
    ('0.00', '0.000')
    """
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not nums:
        return None
    if name == "p_value" or name.endswith("_p") or name == "p":
        return '[<0.001]"<0.001";0.000'
    if name.endswith("%") or name.endswith("_pct"):
        return "0.0"
    if all(isinstance(v, int) for v in nums) or name.endswith("_gbp"):
        return "#,##0"
    if all(abs(v) >= 0.1 for v in nums if v):
        return "0.00"
    return "0.000"


def _cell(v: object) -> object:
    """A CSV cell → a number when it is one; the shorthand for symbols and blanks."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return SHORTHAND[""]
    if isinstance(v, str):
        s = v.strip()
        if s in SHORTHAND:
            return SHORTHAND[s]
        t = s.replace(",", "")
        try:
            f = float(t)
        except ValueError:
            return v
        if f != f or f in (float("inf"), float("-inf")):
            return v
        return int(f) if f.is_integer() and "." not in t and "e" not in t.lower() else f
    if hasattr(v, "item"):
        return v.item()
    return v


def sheet_table(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Return a table as the sheet shows it, and the number format of each column heading.

    Cells become numbers (or shorthand); a ``term`` column gets its label in
    front of it (the table's own ``label`` column when it has one); an
    ``item`` named like a column (``net_saving_gbp``) reads like a heading;
    the headings become readable with their units (each heading unique); the
    limits of an interval take the format of the estimate they bound.
    """
    data = pd.DataFrame({c: [_cell(v) for v in df[c]] for c in df.columns})
    if "term" in data.columns:
        labels = data.pop("label") if "label" in data.columns else df["term"].map(term_label)
        data.insert(list(data.columns).index("term"), "label", list(labels))
    if "item" in data.columns:
        data["item"] = [column_heading(v) if _IDENT.match(str(v)) else v for v in data["item"]]
    special = {"label": "Term", "term": "Model term"} if "term" in data.columns else {}
    fmt_of = {c: None if c in special else number_format(str(c), data[c]) for c in data.columns}
    main = next((c for c in ("estimate", "cumulative_incidence") if fmt_of.get(c)), None)
    headings: list[str] = []
    formats: dict[str, str] = {}
    for c in data.columns:
        h = special.get(str(c)) or column_heading(str(c))
        h = h if h not in headings else f"{h} ({c})"
        headings.append(h)
        fmt = fmt_of[main] if main and c in ("conf_low", "conf_high") and fmt_of[c] else fmt_of[c]
        if fmt is not None:
            formats[h] = fmt
    data.columns = pd.Index(headings)
    return data, formats


def _as_given(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """A table with its names and symbols as published; numbers as numbers."""
    data = pd.DataFrame(
        {c: [v if str(v).strip() in SHORTHAND else _cell(v) for v in df[c]] for c in df.columns}
    )
    formats = {str(c): f for c in data.columns if (f := number_format(str(c), data[c]))}
    return data, formats


def _table_name(name: str) -> str:
    """An Excel table name: a letter first, then letters, digits and underscores."""
    out = re.sub(r"\W", "_", name)
    return out if out[:1].isalpha() else f"t_{out}"


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]}_{i}"
        i += 1
    used.add(out.lower())
    return out


def _fix_bytes(raw: bytes) -> bytes:
    """Rewrite an xlsx with fixed document times and zip entry dates."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>2024-01-01T00:00:00Z\g<3>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    return out.getvalue()


def write_workbook(
    path: Path,
    *,
    title: str,
    cover: Sequence[str],
    notes: Sequence[str],
    sheets: Sequence[tuple[str, str, str, pd.DataFrame]],
    keep_names: bool = False,
) -> Path:
    """Write the workbook: cover, contents, notes, then one table per sheet.

    Each table's headings are on the sheet's fourth row (title, instructions,
    source above), frozen.

    Parameters
    ----------
    path : Path
        The ``.xlsx`` to write.
    title : str
        Title on the cover sheet.
    cover : sequence of str
        Lines under the title (what the data are, how to cite, where the
        provenance is).
    notes : sequence of str
        The notes (symbols, disclosure rules, definitions); each table
        refers to them. Empty lines are dropped.
    sheets : sequence of (name, title, source, DataFrame)
        One sheet per table: its name, title, the script and function that
        made it, and the table as published (the CSV's cells, as text or
        numbers).
    keep_names : bool
        Keep the column names, terms and disclosure symbols as published
        (for a workbook other code reads back by column name); cells still
        become numbers with their formats.
    """
    import gptables as gpt

    note_texts = [*([] if keep_names else [SHORTHAND_TEXT]), *(n for n in notes if n.strip())]
    keys = [f"note{i}" for i in range(1, len(note_texts) + 1)]
    read = (
        f"Read it with notes 1 to {len(keys)} on the notes worksheet."
        if len(keys) > 1
        else "Read it with note 1 on the notes worksheet."
        if keys
        else ""
    )
    used = {"cover", "contents", "notes"}
    tables: dict[str, Any] = {}
    formats_of: dict[str, dict[str, str]] = {}
    for name, table_title, source, df in sheets:
        sheet = _sheet_name(name, used)
        data, formats = _as_given(df) if keep_names else sheet_table(df)
        formats_of[sheet] = formats
        tables[sheet] = gpt.GPTable(
            table=data,
            table_name=_table_name(sheet),
            title=table_title,
            instructions=f"This worksheet contains one table. {read}".strip(),
            source=f"Source: {source}",
            index_columns={},
            additional_formatting=[
                {"column": {"columns": [c], "format": {"num_format": f}, "include_names": False}}
                for c, f in formats.items()
            ],
        )
    notes_table = pd.DataFrame({"Note number": keys, "Note text": note_texts}) if keys else None
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gptables warns of notes it renumbers
        wb = gpt.produce_workbook(
            filename=buf,  # xlsxwriter writes to a file object too
            sheets=tables,
            cover=gpt.Cover(title=title, intro=[c for c in cover if c.strip()]),
            notes_table=notes_table,
            contentsheet_label="Contents",
            contentsheet_options={"title": "Contents", "column_names": ["Sheet", "Table"]},
            # the sheets' XML kept in memory, not in temporary files (the same bytes)
            workbook_options={"in_memory": True},
        )
        wb.set_properties({"created": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)})
        for sheet, table in tables.items():
            ws = wb.get_worksheet_by_name(sheet)
            ws.freeze_panes(table.data_range[0] + 1, 0)  # the heading row stays in view
        wb.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fix_bytes(buf.getvalue()))
    return path
