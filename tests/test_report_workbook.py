"""The Excel workbook to the Analysis Function standard: cover, contents, notes, one table per
sheet, number formats, frozen headings, shorthand for symbols, and the same bytes every time."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from reunistat.pipeline import sha256_file
from reunistat.report.workbook import column_heading, term_label, write_workbook

COX = pd.DataFrame(
    {
        "term": ["C(return_type, contr.treatment('planned'))[T.unplanned]", "placement_moves"],
        "estimate": ["1.31", "1.05"],
        "conf_low": ["1.12", ""],
        "p_value": ["2.1e-130", "0.0412"],
        "n_obs": ["1695", "1695"],
    }
)
COSTS = pd.DataFrame(
    {
        "item": ["failed returns (re-entries)", "support for all returns"],
        "children_per_year": ["4738", "10080"],
        "total_gbp": ["291927132", "56720160"],
        "price_base": ["2012/13", "2012/13"],
    }
)
TABLE1 = pd.DataFrame({"level": ["a", "b"], "n": ["1,234", "c"], "rate": ["0.25", ""]})


def _write(path: Path) -> Path:
    return write_workbook(
        path,
        title="Re-entry to care: tables",
        cover=["Synthetic data: no real children", ""],
        notes=["A return home: a period of care ending with E4A, E4B or E13.", ""],
        sheets=[
            ("table1", "Table 1", "analyses/02_table1.py", TABLE1),
            ("cox", "Cox model", "analyses/04_cox.py (reunistat.models.survival.cox)", COX),
            ("costs_national", "National costs", "analyses/09_costs.py", COSTS),
        ],
    )


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(tmp_path_factory.mktemp("wb") / "w.xlsx")


def _rows(ws) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [[c.value for c in row] for row in ws.iter_rows()]


def _heading_row(ws) -> int:  # type: ignore[no-untyped-def]
    """1-based row of the table's headings (the row of the Excel table's first cell)."""
    (table,) = ws.tables.values()
    return int(table.ref.split(":")[0].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def test_cover_contents_notes_then_one_named_table_per_sheet(book: Path) -> None:
    wb = load_workbook(book)
    assert wb.sheetnames == ["Cover", "Contents", "Notes", "table1", "cox", "costs_national"]
    assert wb["Cover"]["A1"].value == "Re-entry to care: tables"
    contents = _rows(wb["Contents"])
    assert ["cox", "Cox model"] in contents and ["table1", "Table 1"] in contents
    notes = " ".join(str(v) for r in _rows(wb["Notes"]) for v in r)
    assert "[c] suppressed" in notes and "E4A, E4B or E13" in notes
    for name in ("table1", "cox", "costs_national"):
        ws = wb[name]
        assert len(ws.tables) == 1  # a real Excel table: screen readers announce its headings
        assert ws["A1"].value and "notes 1 to 2 on the notes worksheet" in str(ws["A2"].value)
        assert _heading_row(ws) == 4  # title, instructions, source, then the headings
        assert any(str(c.value).startswith("Source: analyses/") for c in ws["A"])


def test_headings_frozen_numbers_formatted_and_no_blank_cells(book: Path) -> None:
    ws = load_workbook(book)["cox"]
    head = _heading_row(ws)
    assert ws.freeze_panes == f"A{head + 1}"
    headings = [c.value for c in ws[head]]
    assert headings == ["Term", "Model term", "Estimate", "Lower 95% limit", "p-value", "N obs"]
    first, second = ws[head + 1], ws[head + 2]
    assert first[0].value == term_label(COX["term"][0]) != COX["term"][0]
    assert first[1].value == COX["term"][0]
    assert first[2].value == 1.31 and first[2].number_format == "0.00"
    assert first[4].value == 2.1e-130 and first[4].number_format.startswith('[<0.001]"<0.001"')
    assert first[5].value == 1695 and first[5].number_format == "#,##0"
    assert second[3].value == "[x]"  # a blank interval is 'not available', not an empty cell
    assert ws.column_dimensions["A"].width > 12  # widths fitted to the labels
    t1 = load_workbook(book)["table1"]
    h = _heading_row(t1)
    assert [c.value for c in t1[h + 1]] == ["a", 1234, 0.25]
    assert [c.value for c in t1[h + 2]] == ["b", "[c]", "[x]"]


def test_money_is_exact_to_the_pound_with_its_unit(book: Path) -> None:
    ws = load_workbook(book)["costs_national"]
    h = _heading_row(ws)
    assert [c.value for c in ws[h]] == [
        "Item",
        "Children a year",
        "Total (£)",
        "Price base (financial year)",
    ]
    assert [ws.cell(h + i, 3).value for i in (1, 2)] == [291_927_132, 56_720_160]
    assert ws.cell(h + 1, 3).number_format == "#,##0"


def test_column_headings_carry_units() -> None:
    assert column_heading("net_saving_gbp") == "Net saving (£)"
    assert column_heading("horizon_days") == "Horizon (days)"


def test_workbook_bytes_do_not_depend_on_the_time(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.xlsx")
    time.sleep(1.1)
    b = _write(tmp_path / "b.xlsx")
    assert sha256_file(a) == sha256_file(b)


def test_keep_names_keeps_columns_and_symbols_for_code_that_reads_them_back(
    tmp_path: Path,
) -> None:
    path = write_workbook(
        tmp_path / "la.xlsx",
        title="One authority",
        cover=["x"],
        notes=[],
        sheets=[("by_year", "By year", "reunistat la-report", TABLE1)],
        keep_names=True,
    )
    t = pd.read_excel(path, sheet_name="by_year", header=3, dtype=str)
    assert list(t.columns) == ["level", "n", "rate"]
    assert t["n"].tolist() == ["1234", "c"]
    ws = load_workbook(path)["by_year"]
    assert ws.freeze_panes == "A5" and ws["B5"].number_format == "#,##0"
