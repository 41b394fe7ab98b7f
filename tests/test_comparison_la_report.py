"""``reunistat la-report``: one authority's annual 903 returns to an HTML report and workbook."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reunistat.cli import app
from reunistat.errors import InputError
from reunistat.report.disclosure import DisclosureRules, check_table
from reunistat.report.la_report import NATIONAL_BENCHMARKS, read_benchmarks

_IN_REPO = Path(__file__).parent / "fixtures" / "sector903"
SECTOR = _IN_REPO if _IN_REPO.is_dir() else Path("/work/shared/fixtures/sector903")
runner = CliRunner()


def write_annual_returns(tables: dict[str, pd.DataFrame], la: str, out: Path) -> None:
    """Write one authority's returns as it holds them: one folder per collection year.

    Each return holds the episodes open at any time from 1 April to 31 March
    (an episode still open at 31 March is written open, and again, closed, in
    a later return) and the header rows of those children; dates dd/mm/YYYY.
    """
    ep = tables["episodes"][tables["episodes"]["LA"] == la].drop(columns=["LA"])
    hd = tables["header"][tables["header"]["LA"] == la].drop(columns=["LA"])
    for year in range(2016, 2025):
        start, end = pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31)
        e = ep[(ep["DECOM"] <= end) & (ep["DEC"].isna() | (ep["DEC"] >= start))].copy()
        e.loc[e["DEC"] > end, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = None
        h = hd[hd["CHILD"].isin(e["CHILD"])]
        folder = out / str(year)
        folder.mkdir(parents=True)
        for df, name in ((e, "episodes"), (h, "header")):
            df = df.copy()
            for c in df.columns:
                if pd.api.types.is_datetime64_any_dtype(df[c]):
                    df[c] = df[c].dt.strftime("%d/%m/%Y")
            df.to_csv(folder / f"{name}.csv", index=False)


@pytest.fixture(scope="module")
def la_returns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    from reunistat.synthetic import default_config, generate

    data = generate(default_config(), seed=7, scale=0.05)
    ep = data.tables["episodes"]
    la = str(ep.groupby("LA").size().idxmax())
    out = tmp_path_factory.mktemp("la_returns")
    write_annual_returns(data.tables, la, out)
    ids = set(ep.loc[ep["LA"] == la, "CHILD"].astype(str))
    return out, ids


def _cells(html: str) -> list[str]:
    return re.findall(r"<td>([^<]*)</td>", html)


def _cells_html(html: str) -> str:
    return "".join(f"<td>{c}</td>" for c in _cells(html))


def test_report_on_synthetic_authority(la_returns: tuple[Path, set[str]], tmp_path: Path) -> None:
    folder, ids = la_returns
    res = runner.invoke(app, ["la-report", str(folder), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "la_report.html").read_text("utf-8")
    for section in ("Overview", "year of return", "characteristic", "national figures"):
        assert section in html
    assert "data:image/png;base64," in html  # self-contained: figures embedded
    assert not any(i in html for i in ids)  # no child identifier anywhere
    book = tmp_path / "r" / "la_report.xlsx"
    sheets = pd.read_excel(book, sheet_name=None, header=3, dtype=str)
    assert {"overview", "by_year", "by_factor", "national"} <= set(sheets)
    # no count below the threshold in any count column; the same cells in the HTML
    rules = DisclosureRules()
    counts = {"overview": "number", "by_year": "returns home", "by_factor": "returns home"}
    for sheet, col in counts.items():
        t = sheets[sheet].iloc[: -1 if sheet == "overview" else None]  # last row: years
        assert check_table(t, [col], rules) == [], sheet
        assert (t[col] == "c").any() or sheet == "overview"
    # the HTML shows the same (suppressed) counts as the workbook
    for v in sheets["by_year"]["returns home"]:
        assert f"<td>{v}</td>" in _cells_html(html)
    # same bytes for the same returns (reproducible), apart from the date line
    res2 = runner.invoke(app, ["la-report", str(folder), "--out", str(tmp_path / "r2")])
    assert res2.exit_code == 0
    assert (tmp_path / "r2" / "la_report.html").read_text("utf-8") == html


def test_no_disclosure_shows_exact_numbers_and_warns(
    la_returns: tuple[Path, set[str]], tmp_path: Path
) -> None:
    folder, _ = la_returns
    res = runner.invoke(app, ["la-report", str(folder), "--out", str(tmp_path), "--no-disclosure"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "la_report.html").read_text("utf-8")
    assert "Disclosure control is OFF" in html
    assert "<td>c</td>" not in html


@pytest.mark.parametrize("name", ["qlacv", "cscv"])
def test_report_on_sector_fixtures(name: str, tmp_path: Path) -> None:
    """The sector's test return (its CSV tables; the same return as XML is read on its own)."""
    import shutil

    folder = tmp_path / name
    shutil.copytree(SECTOR / name, folder, ignore=shutil.ignore_patterns("*.xml"))
    out = tmp_path / "report"
    res = runner.invoke(app, ["la-report", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "la_report.html").read_text("utf-8")
    assert "returns home" in html and "Not fitted" in html
    assert (out / "la_report.xlsx").stat().st_size > 0


def test_user_benchmarks(la_returns: tuple[Path, set[str]], tmp_path: Path) -> None:
    folder, _ = la_returns
    bench = tmp_path / "national.csv"
    bench.write_text("horizon_days,national_reentry,source\n365,0.18,Our own national table\n")
    res = runner.invoke(
        app, ["la-report", str(folder), "--out", str(tmp_path / "r"), "--benchmarks", str(bench)]
    )
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "la_report.html").read_text("utf-8")
    assert "Our own national table" in html and "18.0%" in html
    assert "Goldacre" not in html


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from reunistat.cli import main

    with pytest.raises(SystemExit) as ex:
        main(["la-report", str(tmp_path / "missing")])
    assert ex.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a folder" in err and "Traceback" not in err
    bad = tmp_path / "b.csv"
    bad.write_text("horizon,share\n365,0.2\n")
    with pytest.raises(InputError, match="national_reentry"):
        read_benchmarks(bad)
    bad.write_text("horizon_days,national_reentry,source\n365,20,percent by mistake\n")
    with pytest.raises(InputError, match="row 2"):
        read_benchmarks(bad)


def test_packaged_benchmarks_have_sources() -> None:
    assert NATIONAL_BENCHMARKS["source"].str.len().min() > 10
    assert NATIONAL_BENCHMARKS["national_reentry"].between(0, 1).all()


def test_adjusted_model_where_numbers_allow() -> None:
    from reunistat.cohort import derive_cohort
    from reunistat.report.la_report import build_la_report
    from reunistat.synthetic import default_config, generate

    spells = derive_cohort(generate(default_config(), seed=5, scale=0.02).tables)
    rep = build_la_report(spells, DisclosureRules())
    model = next(df for name, _, df, _ in rep.tables if name == "model")
    assert list(model.columns) == ["term", "HR", "95% CI", "p"]
    assert "Section 20 accommodation at return (yes vs no)" in set(model["term"])
    assert any("(vs planned (E4A))" in t for t in model["term"])
    few = build_la_report(spells.iloc[:60], DisclosureRules())
    note = next(df for name, _, df, _ in few.tables if name == "model")
    assert "Not fitted" in str(note.iloc[0, 0])


def test_sector_return_shows_no_rate_of_a_hidden_group_and_no_zero(tmp_path: Path):
    """On the sector's return (no re-entry in one year), a group whose size is hidden shows
    no rate ("0.0% of c" would reveal that none of it re-entered), and no 0.0% is shown."""
    src = tmp_path / "q"
    src.mkdir()
    for f in (SECTOR / "qlacv").glob("*.csv"):
        (src / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "report"
    r = runner.invoke(app, ["la-report", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    html = (out / "la_report.html").read_text("utf-8")
    assert "<td>0.0%</td>" not in html
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    for row in rows:
        cells = re.findall(r"<td>([^<]*)</td>", row)
        if len(cells) == 6 and cells[2].strip() == "c":  # characteristic, group, returns, rates
            assert all(c.strip() == "c" for c in cells[3:]), cells
