"""Every format an extract comes in reads to the same tables; the sector's own files too."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from reunistat.codes import EPISODE_COLUMNS, HEADER_COLUMNS
from reunistat.tables import read_extract
from reunistat.tables.find import table_of_name, year_of_name
from reunistat.tables.xml903 import read_xml

#: The sector's own 903 files (see its README), committed with the tests.
SECTOR = Path(__file__).parent / "fixtures" / "sector903"

HEADER = list(HEADER_COLUMNS)
EPIS = list(EPISODE_COLUMNS)
H_ROWS = [
    ["1001", "1", "01/01/2005", "WBRI", None, None, None],
    ["1002", "2", "15/03/2010", "BAFR", None, None, None],
]
E_ROWS = [
    [
        "1001",
        "01/01/2018",
        "S",
        "C2",
        "N1",
        "U4",
        "PR1",
        "01/06/2018",
        "E4A",
        None,
        "Bérénice",
        None,
        None,
    ],
    ["1002", "01/03/2019", "S", "C1", "N4", "K2", "PR4", None, None, None, "O’Neil", None, None],
]


def frames() -> dict[str, pd.DataFrame]:
    return {
        "header": pd.DataFrame(H_ROWS, columns=HEADER),
        "episodes": pd.DataFrame(E_ROWS, columns=EPIS),
    }


def csv_text(df: pd.DataFrame, sep: str = ",", eol: str = "\n") -> str:
    return df.to_csv(index=False, sep=sep, lineterminator=eol)


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("plain")
    for name, df in frames().items():
        (root / f"{name}.csv").write_text(csv_text(df))
    return read_extract(root).tables


def same_tables(x: dict[str, pd.DataFrame], y: dict[str, pd.DataFrame]) -> None:
    for t in ("header", "episodes"):
        cols = [c for c in x[t].columns if not c.startswith("_")]
        pd.testing.assert_frame_equal(x[t][cols], y[t][cols], check_dtype=False)


@pytest.mark.parametrize(
    ("encoding", "sep", "eol", "recorded"),
    [
        ("utf-8", ",", "\n", "utf-8"),
        ("utf-8-sig", ",", "\r\n", "utf-8-sig"),
        ("cp1252", ",", "\r\n", "cp1252"),
        ("utf-16", ",", "\r\n", "utf-16"),
        ("utf-8", ";", "\n", "utf-8"),
        ("utf-8", "\t", "\n", "utf-8"),
    ],
)
def test_csv_encodings_and_delimiters(tmp_path, expected, encoding, sep, eol, recorded):
    for name, df in frames().items():
        (tmp_path / f"{name}.csv").write_bytes(csv_text(df, sep, eol).encode(encoding))
    x = read_extract(tmp_path)
    same_tables(expected, x.tables)
    assert x.tables["episodes"]["HOME_POST"].tolist() == ["Bérénice", "O’Neil"]
    assert x.files.set_index("table").loc["episodes", "encoding"] == recorded


def test_xlsx_one_workbook_with_dfe_sheet_names(tmp_path, expected):
    f = frames()
    for c in ("DECOM", "DEC"):  # real dates in the workbook, as Excel holds them
        f["episodes"][c] = pd.to_datetime(f["episodes"][c], format="%d/%m/%Y")
    f["episodes"]["CHILD"] = f["episodes"]["CHILD"].astype(int)  # numbers, as Excel types them
    with pd.ExcelWriter(tmp_path / "SSDA903_2019.xlsx") as xw:
        f["header"].to_excel(xw, sheet_name="Header", index=False)
        f["episodes"].to_excel(xw, sheet_name="Episodes", index=False)
        pd.DataFrame({"a": [1]}).to_excel(xw, sheet_name="Notes", index=False)
    x = read_extract(tmp_path)
    same_tables(expected, x.tables)
    assert x.files[["table", "sheet", "year", "format"]].values.tolist() == [
        ["header", "Header", 2019, "xlsx"],
        ["episodes", "Episodes", 2019, "xlsx"],
    ]
    assert x.not_used.values.tolist() == [
        [f"{tmp_path / 'SSDA903_2019.xlsx'} sheet 'Notes'", "its name is not a table name"]
    ]


def test_xlsx_one_file_per_table_with_excel_serial_dates(tmp_path, expected):
    f = frames()
    serial = (
        pd.to_datetime(f["header"]["DOB"], format="%d/%m/%Y") - pd.Timestamp("1899-12-30")
    ).dt.days
    f["header"]["DOB"] = serial
    for name, df in f.items():
        df.to_excel(tmp_path / f"{name}.xlsx", index=False)
    same_tables(expected, read_extract(tmp_path).tables)


def test_stata_export_with_lowercase_names(tmp_path, expected):
    for name, df in frames().items():
        df = df.copy()
        dates = [c for c in ("DOB", "DECOM", "DEC") if c in df.columns]
        for c in dates:
            df[c] = pd.to_datetime(df[c], format="%d/%m/%Y")
        df = df.fillna("")  # Stata has no missing text: blanks
        for c in dates:
            df[c] = df[c].replace("", pd.NaT).astype("datetime64[ns]")
        df.columns = [c.lower() for c in df.columns]
        stata_dates = dict.fromkeys([c.lower() for c in dates], "td")
        df.to_stata(
            tmp_path / f"{name}.dta", write_index=False, convert_dates=stata_dates, version=118
        )
    x = read_extract(tmp_path)
    same_tables(expected, x.tables)
    assert set(x.files["format"]) == {"stata"}


def test_spss_export(tmp_path, expected):
    import pyreadstat

    for name, df in frames().items():
        df = df.copy()
        for c in ("DOB", "DECOM", "DEC"):
            if c in df.columns:
                df[c] = pd.to_datetime(df[c], format="%d/%m/%Y")
        pyreadstat.write_sav(df, str(tmp_path / f"{name}.sav"))
    x = read_extract(tmp_path)
    same_tables(expected, x.tables)
    assert set(x.files["format"]) == {"spss"}


def test_names_years_and_dfe_spellings():
    assert table_of_name("SSDA903_2020_episodes.csv") == "episodes"
    assert table_of_name("2019-episodes.csv") == "episodes"
    assert table_of_name("episodes2019.csv") == "episodes"
    assert table_of_name("sw_episodes.csv") == table_of_name("SWEpisodes.csv") == "sw_episodes"
    assert table_of_name("PlacedAdoption.csv") == "placed_for_adoption"
    assert table_of_name("PrevPerm.csv") == "previous_permanence"
    assert table_of_name("OC2.csv") == "oc2" and table_of_name("AD1.xlsx") == "ad1"
    assert table_of_name("episodes_old.csv") is None
    assert table_of_name("copy of episodes.csv") is None
    assert year_of_name("2019_20") == year_of_name("201920") == year_of_name("2020") == 2020


def test_sw_episodes_and_stray_copies_beside_episodes(tmp_path, expected):
    for name, df in frames().items():
        (tmp_path / f"{name}.csv").write_text(csv_text(df))
    (tmp_path / "sw_episodes.csv").write_text(
        "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\n1001,01/01/2005,SW1,01/02/2018,,\n"
    )
    (tmp_path / "episodes_old.csv").write_text(csv_text(frames()["episodes"].head(1)))
    (tmp_path / "Copy of episodes.csv").write_text("garbage")
    x = read_extract(tmp_path)
    same_tables(expected, x.tables)
    assert x.other["sw_episodes"]["SW_DECOM"].tolist() == [pd.Timestamp("2018-02-01")]
    nu = x.not_used.set_index(x.not_used["file"].map(lambda f: Path(f).name))["reason"]
    assert nu["episodes_old.csv"].startswith("its name contains 'episodes' but is not a table name")
    assert nu["Copy of episodes.csv"].startswith("its name contains 'episodes'")


def test_a_year_column_orders_returns_in_one_file(tmp_path):
    (tmp_path / "header.csv").write_text(csv_text(frames()["header"]))
    e = pd.DataFrame([E_ROWS[1], E_ROWS[1]], columns=EPIS)
    e.loc[0, "DEC"], e.loc[0, "REC"] = None, None
    e.loc[1, ["DEC", "REC"]] = ["01/02/2020", "E4A"]
    e["YEAR"] = [2019, 2020]
    (tmp_path / "episodes.csv").write_text(csv_text(e.iloc[::-1]))
    x = read_extract(tmp_path)
    ep = x.tables["episodes"]
    assert len(ep) == 1 and ep["DEC"].iloc[0] == pd.Timestamp("2020-02-01")
    assert ep["_COLLECTION_YEAR"].tolist() == [2020]
    files = x.files[x.files["table"] == "episodes"]
    assert files[["year", "year_from", "superseded"]].values.tolist() == [["several", "column", 1]]


def test_sector_csv_fixtures_read_alike(tmp_path):
    got = {}
    for name in ("qlacv", "cscv"):
        shutil.copytree(SECTOR / name, tmp_path / name, ignore=shutil.ignore_patterns("*.xml"))
        got[name] = read_extract(tmp_path / name)
    q, c = got["qlacv"], got["cscv"]
    assert len(q.tables["header"]) == 2675 and len(q.tables["episodes"]) == 5050
    same_tables(q.tables, c.tables)
    assert sorted(q.other) == [
        "ad1",
        "missing",
        "oc2",
        "oc3",
        "placed_for_adoption",
        "previous_permanence",
        "reviews",
        "uasc",
    ]
    assert sorted(set(c.other) - set(q.other)) == ["dolo", "sw_episodes"]
    assert c.files.set_index("table").loc["sw_episodes", "encoding"] == "utf-8-sig"
    assert c.not_used["file"].str.endswith("placed_for_adoption_errors.csv").tolist() == [True]
    # DfE's return has no LA column: children are keyed by CHILD alone, as DfE does
    assert "LA" not in q.tables["episodes"].columns or q.tables["episodes"]["LA"].isna().all()


def test_dfe_xml_return(tmp_path):
    xml = SECTOR / "qlacv" / "fake_903.xml"
    raw = read_xml(xml)
    n = {t: len(df) for t, df in raw.items()}
    # counts of CHILD, EPISODE, AREVIEW, AMISSING ... elements in the file
    assert n == {
        "header": 253,
        "episodes": 459,
        "reviews": 1206,
        "uasc": 12,
        "oc2": 253,
        "oc3": 6,
        "ad1": 3,
        "placed_for_adoption": 3,
        "previous_permanence": 253,
        "missing": 6,
    }
    x = read_extract(xml)
    e = x.tables["episodes"].set_index(["CHILD", "DECOM"])
    first = e.loc[("907440", pd.Timestamp("2017-01-06"))]
    assert first[["RNE", "LS", "PLACE", "REC", "PL_POST"]].tolist() == [
        "T",
        "J3",
        "R5",
        "X1",
        "E7 5YR",
    ]
    assert x.tables["header"].set_index("CHILD").loc["907440", "DOB"] == pd.Timestamp("2010-07-28")
    # the same return written as DfE's CSV files reads to the same tables
    for t, df in raw.items():
        df.to_csv(tmp_path / f"{t}.csv", index=False)
    y = read_extract(tmp_path)
    same_tables(x.tables, y.tables)
    for t in x.other:
        pd.testing.assert_frame_equal(x.other[t], y.other[t], check_dtype=False)
