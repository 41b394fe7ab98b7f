"""la-report names every characteristic and level as the paper does (report.labels)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reunistat.cli import app
from reunistat.report.labels import VARIABLES, level_label, short_level_label

SECTOR = Path(__file__).parent / "fixtures" / "sector903" / "qlacv"
runner = CliRunner()

#: Codes whose label differs from the code (e13, childrens_home, with_parents, ...).
RAW = {
    code
    for name, v in VARIABLES.items()
    for code in v.levels
    if level_label(name, code) != code and not code.replace(".", "").isdigit()
}


def test_sector_return_shows_labels_not_codes(tmp_path: Path) -> None:
    out = tmp_path / "r"
    res = runner.invoke(app, ["la-report", str(SECTOR), "--out", str(out), "--no-disclosure"])
    assert res.exit_code == 0, res.output
    html = (out / "la_report.html").read_text("utf-8")
    cells = {unescape(c) for c in re.findall(r"<t[dh][^>]*>([^<]*)</t[dh]>", html)}
    assert not cells & RAW, cells & RAW
    assert not [c for c in cells if re.fullmatch(r"[a-z]+_[a-z_]+", c)]  # no column names
    # the sector's return has every return type and last placement: their labels are shown
    for var, code in (("return_type", "e13"), ("last_placement_type", "childrens_home")):
        assert level_label(var, code) in cells
    assert "Return type" in cells and "Last placement" in cells
    sheets = pd.read_excel(out / "la_report.xlsx", sheet_name=None, header=3, dtype=str)
    shown = {str(v) for df in sheets.values() for v in df.to_numpy().ravel()}
    assert not shown & RAW, shown & RAW
    at_risk = sheets["at_risk"]
    assert set(at_risk.loc[at_risk["curve"] == "return type", "group"]) == {
        level_label("return_type", c) for c in ("planned", "unplanned", "e13")
    }


def test_figure_legend_uses_short_labels() -> None:
    from reunistat.cohort import derive_cohort
    from reunistat.report.disclosure import DisclosureRules
    from reunistat.report.la_report import build_la_report
    from reunistat.synthetic import default_config, generate

    sp = derive_cohort(generate(default_config(), seed=5, scale=0.02).tables)
    rep = build_la_report(sp, DisclosureRules())
    fig = next(f for name, _, f, _ in rep.figures if name == "curve_return_type")
    legend = {t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts}
    assert short_level_label("return_type", "e13") in legend
    assert not legend & RAW
