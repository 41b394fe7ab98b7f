"""The Excel workbook: cover, notes, one sheet per table, the same bytes every time."""

from __future__ import annotations

import time

import pandas as pd
from openpyxl import load_workbook

from reunistat.pipeline import sha256_file
from reunistat.report.workbook import write_workbook


def _write(path):
    df = pd.DataFrame({"level": ["a", "b"], "n": ["1,234", "c"], "rate": ["0.25", ""]})
    return write_workbook(
        path,
        title="T",
        cover=["synthetic"],
        notes=["c = suppressed"],
        sheets=[("table1", "Table 1", "analyses/02_table1.py", df)],
    )


def test_workbook_sheets_and_values(tmp_path):
    wb = load_workbook(_write(tmp_path / "w.xlsx"))
    assert wb.sheetnames == ["Cover", "Notes", "table1"]
    sh = wb["table1"]
    assert sh["A2"].value == "Source: analyses/02_table1.py"
    assert [c.value for c in sh[5]] == ["a", 1234, 0.25]
    assert [c.value for c in sh[6]][:2] == ["b", "c"]


def test_workbook_bytes_do_not_depend_on_the_time(tmp_path):
    a = _write(tmp_path / "a.xlsx")
    time.sleep(1.1)
    b = _write(tmp_path / "b.xlsx")
    assert sha256_file(a) == sha256_file(b)
