"""Money and counts are exact across outputs: CSV, workbook and paper agree to the pound/person.

One run of the pipeline on the committed sample (with the paper). Before, the
CSV held ``2.91927e+08``, the workbook 291,927,000 and the paper 291,927,132;
re-entries were fractional (1,938.38).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from reunistat.costs import gbp
from reunistat.pipeline import load_config, reproduce
from reunistat.report.workbook import SHORTHAND

ROOT = Path(__file__).parents[1]
MONEY_TABLES = ("costs_national", "costs")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exact") / "outputs"
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=ROOT / "data/synthetic/sample",
        outputs_dir=out,
        analyses_dir=ROOT / "analyses",
        paper_template=ROOT / "paper/paper.md",
        power_replicates=2,
    )
    reproduce(cfg, log=lambda s: None)
    return out


def _csv(run: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(run / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def test_money_csvs_hold_whole_numbers_never_exponents(run: Path) -> None:
    for name in MONEY_TABLES:
        text = (run / "tables" / f"{name}.csv").read_text()
        assert not re.search(r"\d[eE][+-]?\d", text), name
        t = _csv(run, name)
        for col in t.columns:
            if col not in ("item", "price_base"):
                assert t[col].str.fullmatch(r"-?\d+").all(), (name, col, t[col].tolist())


def _sheet_rows(run: Path, sheet: str) -> list[list[object]]:
    ws = load_workbook(run / "reunistat_tables.xlsx")[sheet]
    (table,) = ws.tables.values()
    first, last = table.ref.split(":")
    head = int(re.sub(r"[A-Z]", "", first))
    end = int(re.sub(r"[A-Z]", "", last))
    return [[c.value for c in ws[r]] for r in range(head + 1, end + 1)]


def _numbers(row: list[object]) -> list[float]:
    return [float(v) for v in row if isinstance(v, (int, float)) and not isinstance(v, bool)]


def test_every_workbook_number_is_the_csv_number_exactly(run: Path) -> None:
    wb = load_workbook(run / "reunistat_tables.xlsx")
    tables = [s for s in wb.sheetnames if s not in ("Cover", "Contents", "Notes")]
    assert set(MONEY_TABLES) <= set(tables) and "table1" in tables
    for sheet in tables:
        csv = _csv(run, sheet)
        rows = _sheet_rows(run, sheet)
        assert len(rows) == len(csv), sheet
        for got, (_, want) in zip(rows, csv.iterrows(), strict=True):
            expected = []
            for v in want:
                try:
                    expected.append(float(v.replace(",", "")))
                except ValueError:
                    continue
            assert _numbers(got) == expected, (sheet, got, list(want))
            shown = {v for v in got if isinstance(v, str)}
            assert "" not in shown and not (shown & {"c", "z", "k"})  # the shorthand instead
            assert set(SHORTHAND.values()) >= {v for v in shown if re.fullmatch(r"\[.\]", v)}


def test_paper_quotes_the_workbook_money_to_the_pound(run: Path) -> None:
    paper = (run / "paper" / "paper.md").read_text()
    for sheet in MONEY_TABLES:
        for row in _sheet_rows(run, sheet):
            for v in _numbers(row):
                assert f"{int(v):,}" in paper, (sheet, v)
    values = json.loads((run / "values.json").read_text())
    costs = {str(r[0]): r for r in _sheet_rows(run, "costs")}
    net = costs["Net saving (£)"]
    assert values["costs_net_saving"]["text"] == (
        f"{gbp(net[1])} (95% interval {gbp(net[2])} to {gbp(net[3])})"
    )
    assert values["costs_net_saving"]["text"] in paper


def test_paper_counts_are_the_workbook_counts(run: Path) -> None:
    paper = (run / "paper" / "paper.md").read_text()
    t1 = _csv(run, "table1")
    rows = _sheet_rows(run, "table1")
    col = next(c for c in t1.columns if c.lower() == "all")  # returns home in each group
    j = list(t1.columns).index(col)
    for got, (_, want) in zip(rows, t1.iterrows(), strict=True):
        assert got[j] == int(want[col].replace(",", ""))
    assert f"{int(t1[col].iloc[0]):,}" in paper  # the number of returns home analysed
