"""``reunistat la-report``: one authority's annual 903 returns to an HTML report and workbook."""

from __future__ import annotations

import itertools
import re
from html import unescape
from pathlib import Path

import numpy as np
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


def _report_on_sector_return(tmp_path: Path) -> tuple[Path, Path]:
    """Run la-report on the sector's return (its CSV tables); return its folder and the report's."""
    src = tmp_path / "q"
    src.mkdir()
    for f in (SECTOR / "qlacv").glob("*.csv"):
        (src / f.name).write_bytes(f.read_bytes())
    out = tmp_path / "report"
    r = runner.invoke(app, ["la-report", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return src, out


def test_sector_return_shows_no_rate_of_a_hidden_group_and_no_zero(tmp_path: Path):
    """On the sector's return (no re-entry in one year), a group whose size is hidden shows
    no rate ("0.0% of c" would reveal that none of it re-entered), and no 0.0% is shown."""
    _, out = _report_on_sector_return(tmp_path)
    html = (out / "la_report.html").read_text("utf-8")
    assert "<td>0.0%</td>" not in html
    rows = re.findall(r"<tr>(.*?)</tr>", html, flags=re.S)
    for row in rows:
        cells = re.findall(r"<td>([^<]*)</td>", row)
        if len(cells) == 6 and cells[2].strip() == "c":  # characteristic, group, returns, rates
            assert all(c.strip() == "c" for c in cells[3:]), cells


# --- differencing across the report's tables (issue 16's disclosure gap) --------------------


class _Reader:
    """The published counts of a report as a reader holds them, and what they know binds them."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.known: list[float | None] = []
        self.eqs: list[dict[int, float]] = []  # sum(coef * cell) == 0
        self.les: list[dict[int, float]] = []  # sum(coef * cell) <= 0

    def cell(self, name: str, text: object) -> int:
        self.names.append(name)
        t = str(text).replace(",", "").strip()
        self.known.append(None if t == "c" else float(t))
        return len(self.names) - 1

    def never_grows(self, ids: list[int]) -> None:
        self.les += [{b: 1.0, a: -1.0} for a, b in itertools.pairwise(ids)]

    def narrowed(self, threshold: float) -> list[str]:
        """Hidden cells a linear programme narrows to less than ``threshold``."""
        from scipy.optimize import linprog

        n = len(self.names)
        mats = []
        for rows in (self.eqs, self.les):
            a = np.zeros((max(len(rows), 1), n))
            for i, r in enumerate(rows):
                for j, c in r.items():
                    a[i, j] = c
            mats.append(a)
        big = 1e7  # a hidden cell has no upper bound; a finite one keeps HiGHS from "infeasible"
        bounds = [(0, big) if v is None else (v, v) for v in self.known]
        found = []
        for j in [j for j, v in enumerate(self.known) if v is None]:
            ends = []
            for sign in (1.0, -1.0):
                cost = np.zeros(n)
                cost[j] = sign
                z = [np.zeros(len(m)) for m in mats]
                res = linprog(cost, A_eq=mats[0], b_eq=z[0], A_ub=mats[1], b_ub=z[1], bounds=bounds)
                assert res.status == 0, res.message
                ends.append(sign * res.fun)
            if ends[1] - ends[0] < threshold - 1e-9 and not self.names[j].endswith("(missing)"):
                found.append(f"{self.names[j]} in [{ends[0]:g}, {ends[1]:g}]")
        return found


_FACTOR_COLS = {
    "Age at return": "age_band",
    "Section 20 accommodation at return": "section20_label",
    "Previous periods of care": "prior_periods_band",
    "Placement moves in the period": "placement_moves_band",
    "Return type": "return_type",
    "Last placement": "last_placement_type",
    "Disability": "disability_label",
    "Ethnic group": "ethnic_group",
}


def _attack(book: Path, spells: pd.DataFrame, threshold: int = 10) -> list[str]:
    """What a reader recovers of the report's hidden counts from all its published counts.

    Reads every count the workbook publishes (the overview, returns home by year and by
    characteristic, the numbers still followed under the curves when shown) and, with
    the relations a reader knows (parts add up to returns home, a planned/unplanned
    group's size is its number followed at 0, numbers followed never grow), bounds each
    hidden count by linear programming. Returns the hidden cells narrowed to less than
    ``threshold``. Written independently of the package's registry and audit.
    """
    from reunistat.report.release_plan import curve_labels

    sheets = pd.read_excel(book, sheet_name=None, header=3, dtype=str, keep_default_na=False)
    r = _Reader()
    ov = sheets["overview"].set_index("item")["number"]
    total = r.cell("returns home", ov["returns home"])
    parts = [r.cell(k, ov[k]) for k in ("re-entered care", "not re-entered (so far)")]
    r.eqs.append({total: -1.0, **dict.fromkeys(parts, 1.0)})
    r.les.append({r.cell("children", ov["children"]): 1.0, total: -1.0})
    sp = curve_labels(spells).assign(year=spells["return_year"])

    def split(label: str, col: str, groups: pd.DataFrame, gcol: str) -> dict[str, int]:
        pairs = zip(groups[gcol], groups["returns home"], strict=True)
        idx = {str(g): r.cell(f"{label}={g}", n) for g, n in pairs}
        row = {total: -1.0, **dict.fromkeys(idx.values(), 1.0)}
        if sp[col].isna().any():  # a group not shown (missing): unknown to the reader
            row[r.cell(f"{label}=(missing)", "c")] = 1.0
        r.eqs.append(row)
        return idx

    split("year", "year", sheets["by_year"], "year of return")
    sizes = {
        label: split(label, _FACTOR_COLS[label], g, "group")
        for label, g in sheets["by_factor"].groupby("characteristic", sort=False)
    }
    if "at_risk" in sheets:  # the numbers still followed under the figures
        _at_risk_relations(r, sheets["at_risk"], total, sizes, sp["return_type"].isna().any())
    return r.narrowed(threshold)


def _at_risk_relations(
    r: _Reader, ar: pd.DataFrame, total: int, sizes: dict[str, dict[str, int]], missing: bool
) -> None:
    tcols = [c for c in ar.columns if c not in ("curve", "group")]
    curves = {
        curve: {
            str(x["group"]): [r.cell(f"{curve}:{x['group']}@{t}", x[t]) for t in tcols]
            for x in g.to_dict("records")
        }
        for curve, g in ar.groupby("curve", sort=False)
    }
    overall = curves["all returns home"]["all"]
    r.eqs.append({total: -1.0, overall[0]: 1.0})
    for rows in curves.values():
        for ids in rows.values():
            r.never_grows(ids)
    by_type = curves["return type"]
    for j in range(len(tcols)):  # the groups (and any not shown) add up to all
        row = {overall[j]: -1.0, **{ids[j]: 1.0 for ids in by_type.values()}}
        if missing:
            row[r.cell("return type=(missing)", "c")] = 1.0
        r.eqs.append(row)
    type_sizes = sizes["Return type"]
    for k, ids in by_type.items():  # a group followed at 0 is its size
        r.eqs.append({ids[0]: 1.0, type_sizes[k]: -1.0})


def _spells_of(folder: Path) -> pd.DataFrame:
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.tables import read_extract

    cfg = CohortConfig.from_mapping({"validation": "lenient"})
    return build_cohort(read_extract(folder), cfg).spells


@pytest.fixture(scope="module")
def small_la_returns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small authority (about 40 returns home) of a synthetic England, as it holds them."""
    from reunistat.cohort import derive_cohort
    from reunistat.synthetic import default_config, generate

    data = generate(default_config(), seed=7, scale=0.02)
    n = derive_cohort(data.tables).groupby("LA").size()
    la = str(n[(n >= 35) & (n <= 45)].index[0])
    out = tmp_path_factory.mktemp("small_la")
    write_annual_returns(data.tables, la, out)
    return out


def test_no_hidden_count_of_the_sector_return_comes_back_by_differencing(tmp_path: Path):
    """The overview hid returns home (81) while the year table and 'previous periods: 0'
    showed it; with it, 'children' and 'not re-entered' gave re-entered = 0 back."""
    src, out = _report_on_sector_return(tmp_path)
    found = _attack(out / "la_report.xlsx", _spells_of(src))
    assert found == []
    html = (out / "la_report.html").read_text("utf-8")
    assert "<td>c</td>" in html


def test_no_hidden_count_of_a_small_authority_comes_back_by_differencing(
    small_la_returns: Path, tmp_path: Path
):
    out = tmp_path / "report"
    r = runner.invoke(app, ["la-report", str(small_la_returns), "--out", str(out)])
    assert r.exit_code == 0, r.output
    book = out / "la_report.xlsx"
    assert _attack(book, _spells_of(small_la_returns)) == []
    # the HTML shows exactly the workbook's (jointly suppressed) counts
    html = (out / "la_report.html").read_text("utf-8")
    sheets = pd.read_excel(book, sheet_name=None, header=3, dtype=str, keep_default_na=False)
    shown = [unescape(c) for c in re.findall(r"<td>([^<]*)</td>", html)]
    for name in ("overview", "by_year", "by_factor", "at_risk"):
        for v in sheets[name].to_numpy().ravel():
            assert str(v) in shown, (name, v)
