"""An Excel workbook of the main tables for policy users: a cover, notes, one sheet per table.

The sheets copy tables already written (and checked) as CSV; nothing is
computed here. The file is byte-reproducible: openpyxl's creation and
modification times and the zip entries' dates are fixed.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

FIXED_ZIP_DATE = (2024, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def _fix_bytes(raw: bytes) -> bytes:
    """Rewrite an xlsx with fixed document times and zip entry dates."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _STAMP.sub(rb"\g<1>2024-01-01T00:00:00Z\g<3>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    return out.getvalue()


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    out, i = base, 2
    while out.lower() in used:
        out = f"{base[:28]}_{i}"
        i += 1
    used.add(out.lower())
    return out


def write_workbook(
    path: Path,
    *,
    title: str,
    cover: Sequence[str],
    notes: Sequence[str],
    sheets: Sequence[tuple[str, str, str, pd.DataFrame]],
) -> Path:
    """Write the workbook.

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
        Lines of the notes sheet (symbols, disclosure rules, definitions).
    sheets : sequence of (name, title, source, DataFrame)
        One sheet per table: its name, title, the script and function that
        made it, and the table as published.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Cover"
    ws["A1"] = title
    ws["A1"].font = Font(bold=True, size=14)
    for i, line in enumerate(cover, start=3):
        ws.cell(row=i, column=1, value=line)
    start = len(cover) + 4
    ws.cell(row=start, column=1, value="Sheets").font = Font(bold=True)
    used = {"cover", "notes"}
    named = [(_sheet_name(n, used), t, s, df) for n, t, s, df in sheets]
    for i, (name, t, _, _) in enumerate(named, start=start + 1):
        ws.cell(row=i, column=1, value=name)
        ws.cell(row=i, column=2, value=t)
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 90
    nt = wb.create_sheet("Notes")
    nt["A1"] = "Notes"
    nt["A1"].font = Font(bold=True, size=12)
    for i, line in enumerate(notes, start=3):
        nt.cell(row=i, column=1, value=line)
    nt.column_dimensions["A"].width = 120
    for name, t, source, df in named:
        sh = wb.create_sheet(name)
        sh["A1"] = t
        sh["A1"].font = Font(bold=True)
        sh["A2"] = f"Source: {source}"
        for j, col in enumerate(df.columns, start=1):
            sh.cell(row=4, column=j, value=str(col)).font = Font(bold=True)
            sh.column_dimensions[sh.cell(row=4, column=j).column_letter].width = max(
                12, min(60, len(str(col)) + 2)
            )
        for i, row in enumerate(df.itertuples(index=False), start=5):
            for j, v in enumerate(row, start=1):
                sh.cell(row=i, column=j, value=_cell(v))
    buf = io.BytesIO()
    wb.save(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fix_bytes(buf.getvalue()))
    return path


def _cell(v: object) -> object:
    """Numbers stay numbers; disclosure symbols and labels stay text."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if isinstance(v, str):
        s = v.replace(",", "")
        try:
            f = float(s)
        except ValueError:
            return v
        return int(f) if f.is_integer() and "." not in s else f
    if hasattr(v, "item"):
        return v.item()
    return v
