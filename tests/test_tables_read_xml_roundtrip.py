"""The DfE XML return reads to the same tables, row for row, as the same return in CSV.

DfE's own XML fixture holds other children than the CSV files beside it, so
the XML reader is checked here by writing returns as XML (a small writer of
the 903 XML layout, below) and reading both forms: the sector's CSV return
with every table, and the committed synthetic sample as annual returns.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from reunistat.codes.lists import RETURN_TABLE_COLUMNS
from reunistat.tables import read_extract

SECTOR = Path(__file__).parent / "fixtures" / "sector903" / "qlacv"
SAMPLE = Path(__file__).parents[1] / "data" / "synthetic" / "sample"

_HEADER = ("CHILD", "UPN", "SEX", "DOB", "ETHNIC")


def _fields(table: str) -> tuple[str, ...]:
    """A table's own fields (the child's CHILD, SEX and DOB are the header's in the XML)."""
    return tuple(c for c in RETURN_TABLE_COLUMNS[table] if c not in ("CHILD", "SEX", "DOB"))


#: Per-child fields written into HEADER (tables with one row per child).
_FIELDS = {t: _fields(t) for t in ("uasc", "oc3", "ad1")}
#: Repeated groups inside HEADER, by element.
_GROUPS = {
    "reviews": ("AREVIEW", _fields("reviews")),
    "missing": ("AMISSING", _fields("missing")),
    "previous_permanence": ("PERMANENCE", _fields("previous_permanence")),
    "oc2": ("OC2", _fields("oc2")),
    "placed_for_adoption": ("AD_PLACED", _fields("placed_for_adoption")),
}
_EPISODE = _fields("episodes")
_TAG = {"CHILD": "CHILDID", "PLACE": "PL"}


def _leaf(parent: ET.Element, name: str, value: object) -> None:
    el = ET.SubElement(parent, _TAG.get(name, name))
    el.text = None if pd.isna(value) else str(value)


def _rows(by_child: dict, table: str, child: str) -> pd.DataFrame:
    rows = by_child.get(table, {}).get(child)
    return rows if rows is not None else pd.DataFrame()


def write_xml(tables: dict[str, pd.DataFrame], path: Path) -> None:
    """Write one return's tables (text, as in DfE's CSV files) as a DfE 903 XML return."""
    by_child = {t: dict(tuple(df.groupby("CHILD", sort=False))) for t, df in tables.items()}
    root = ET.Element("EXPSSDA903")
    for _, h in tables["header"].iterrows():
        child = ET.SubElement(root, "CHILD")
        _header(ET.SubElement(child, "HEADER"), h, by_child)
        for _, e in _rows(by_child, "episodes", h["CHILD"]).iterrows():
            ep = ET.SubElement(child, "EPISODE")
            for c in _EPISODE:
                _leaf(ep, c, e.get(c))
    ET.ElementTree(root).write(path, encoding="us-ascii", xml_declaration=True)


def _header(head: ET.Element, h: pd.Series, by_child: dict) -> None:
    """The HEADER element: the child's fields, per-child tables' fields and groups."""
    for c in _HEADER:
        _leaf(head, c, h.get(c))
    for table, fields in _FIELDS.items():
        rows = by_child.get(table, {}).get(h["CHILD"])
        if rows is not None:
            if table == "uasc":
                _leaf(head, "UASC", "1")
            for c in fields:
                _leaf(head, c, rows.iloc[0][c])
    for c in ("MOTHER", "MC_DOB"):
        _leaf(head, c, h.get(c))
    for table, (tag, fields) in _GROUPS.items():
        for _, r in _rows(by_child, table, h["CHILD"]).iterrows():
            group = ET.SubElement(head, tag)
            for c in fields:
                _leaf(group, c, r.get(c))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    cols = sorted(c for c in df.columns if not c.startswith("_"))
    out = df[cols].astype(str).sort_values(cols, kind="stable").reset_index(drop=True)
    return out


def _same(csv: pd.DataFrame, xml: pd.DataFrame, table: str) -> None:
    assert len(csv) == len(xml), table
    pd.testing.assert_frame_equal(_sorted(csv), _sorted(xml), obj=table)


def test_the_sector_return_as_xml_reads_to_the_same_tables(tmp_path: Path):
    tables = {p.stem: pd.read_csv(p, dtype=str) for p in SECTOR.glob("*.csv")}
    assert set(tables) == {"header", "episodes", *_FIELDS, *_GROUPS}
    write_xml(tables, tmp_path / "return.xml")
    csv, xml = read_extract(SECTOR), read_extract(tmp_path / "return.xml")
    for name in ("header", "episodes"):
        _same(csv.tables[name], xml.tables[name], name)
    assert set(csv.other) == set(xml.other) == {*_FIELDS, *_GROUPS}
    for name in csv.other:
        _same(csv.other[name], xml.other[name], name)
    csv_rows = csv.files.set_index("table")["rows_read"]
    xml_rows = xml.files.set_index("table")["rows_read"]
    pd.testing.assert_series_equal(csv_rows.sort_index(), xml_rows.sort_index())


def _annual_returns(years: range) -> dict[int, dict[str, pd.DataFrame]]:
    """One LA of the committed sample as its annual returns (open at 31 March written open)."""
    ep = pd.read_csv(SAMPLE / "episodes.csv", dtype=str)
    header = pd.read_csv(SAMPLE / "header.csv", dtype=str)
    la = ep["LA"].value_counts().index[0]
    ep, header = (
        ep[ep["LA"] == la].drop(columns="LA"),
        header[header["LA"] == la].drop(columns="LA"),
    )
    decom = pd.to_datetime(ep["DECOM"], format="%d/%m/%Y")
    dec = pd.to_datetime(ep["DEC"], format="%d/%m/%Y")
    out = {}
    for y in years:
        start, end = pd.Timestamp(f"{y - 1}-04-01"), pd.Timestamp(f"{y}-03-31")
        rows = ep[(decom <= end) & (dec.isna() | (dec >= start))].copy()
        rows.loc[dec.reindex(rows.index) > end, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = None
        out[y] = {"episodes": rows, "header": header[header["CHILD"].isin(rows["CHILD"])]}
    return out


@pytest.mark.parametrize("years", [range(2021, 2025)])
def test_the_samples_annual_returns_as_xml_read_as_their_csv(tmp_path: Path, years: range):
    returns = _annual_returns(years)
    for y, tables in returns.items():
        for form in ("csv", "xml"):
            (tmp_path / form / str(y)).mkdir(parents=True)
        for name, df in tables.items():
            df.to_csv(tmp_path / "csv" / str(y) / f"{name}.csv", index=False)
        write_xml(tables, tmp_path / "xml" / str(y) / f"SSDA903_{y}.xml")
    csv, xml = read_extract(tmp_path / "csv"), read_extract(tmp_path / "xml")
    assert len(xml.files[xml.files["table"] == "episodes"]) == len(years)
    for name in ("header", "episodes"):
        assert len(csv.tables[name]) > 50
        _same(csv.tables[name], xml.tables[name], name)
        pd.testing.assert_frame_equal(
            csv.returns[name].pipe(_sorted), xml.returns[name].pipe(_sorted), obj=name
        )
    counts = ["table", "year", "rows_read", "identical_dropped", "superseded", "rows_kept"]

    def per_return(x: object) -> pd.DataFrame:
        f = x.files  # type: ignore[attr-defined]
        f = f.loc[f["table"].isin(["header", "episodes"]), counts]
        return f.sort_values(["table", "year"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(per_return(csv), per_return(xml), check_dtype=False)
    assert (xml.files.loc[~xml.files["table"].isin(["header", "episodes"]), "rows_read"] == 0).all()
