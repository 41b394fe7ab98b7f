"""One return held twice, as DfE's XML return and as per-table files: one form is read.

The sector's validator fixtures (``qlacv``, ``cscv``) hold the same return as
CSV files and as ``fake_903.xml`` (with different children). Reading both
would stack each child twice; reunistat reads one form by a stated rule
(:func:`reunistat.tables.find.choose_form`) and lists the other as not used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reunistat.cli import main
from reunistat.tables import read_extract
from reunistat.tables.find import Found, choose_form

SECTOR = Path(__file__).parent / "fixtures" / "sector903"
XML_TABLES = ("header", "episodes", "reviews", "uasc", "oc2", "oc3", "ad1", "missing")


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    out = capsys.readouterr()
    return int(exit_.value.code or 0), out.out, out.err


def test_validate_on_the_sector_folder_reads_the_csvs_and_says_why_not_the_xml(capsys):
    code, out, err = _run(["validate", str(SECTOR / "qlacv")], capsys)
    assert code == 1 and err == ""  # problems found (1), not a refused read (2)
    lines = out.splitlines()
    note = lines[lines.index("not used:") + 1]
    assert note.strip().startswith("fake_903.xml:")  # named relative to the folder read
    assert "the same return is read from the per-table files" in note
    assert "they hold header and episodes" in note and "use --prefer xml" in note
    assert "episodes.csv" in out and "5050" in out  # the CSV's 5,050 episodes, once


def test_cohort_prefer_xml_reads_the_xml_and_lists_every_csv_it_replaces(tmp_path, capsys):
    args = ["cohort", str(SECTOR / "cscv"), "--prefer", "xml", "--mode", "lenient"]
    code, out, err = _run([*args, "--out", str(tmp_path / "s.parquet")], capsys)
    assert code == 0, err
    assert (tmp_path / "s.parquet").exists()
    x = read_extract(SECTOR / "cscv", prefer="xml")
    assert len(x.tables["header"]) == 253  # the XML's CHILD elements, not the CSV's 2,675
    unused = dict(zip(x.not_used["file"], x.not_used["reason"], strict=True))
    replaced = {Path(f).name for f, r in unused.items() if "from the XML return" in r}
    assert replaced == {
        "ad1.csv",
        "episodes.csv",
        "header.csv",
        "missing.csv",
        "oc2.csv",
        "oc3.csv",
        "placed_for_adoption.csv",
        "previous_permanence.csv",
        "reviews.csv",
        "uasc.csv",
    }
    # tables the XML has no place for are still read from their files
    assert set(x.files.loc[x.files["format"] == "csv", "table"]) == {"sw_episodes", "dolo"}
    for name in replaced:
        assert f"{name}: the same return is read from the XML" in out


def test_prefer_tables_and_auto_read_the_same(tmp_path):
    a = read_extract(SECTOR / "qlacv")
    b = read_extract(SECTOR / "qlacv", prefer="tables")
    assert len(a.tables["episodes"]) == len(b.tables["episodes"]) == 5050
    assert a.not_used["file"].tolist() == b.not_used["file"].tolist()
    assert "--prefer tables" in b.not_used["reason"].iloc[0]


def test_auto_reads_the_xml_when_the_files_beside_it_are_not_a_whole_return(tmp_path):
    shutil.copy(SECTOR / "qlacv" / "fake_903.xml", tmp_path)
    shutil.copy(SECTOR / "qlacv" / "uasc.csv", tmp_path)
    x = read_extract(tmp_path)
    assert len(x.tables["header"]) == 253
    (reason,) = x.not_used["reason"]
    assert reason.startswith("the same return is read from the XML return fake_903.xml")
    assert "these files hold no header and episodes" in reason


def test_unknown_prefer_is_one_line_exit_2(capsys):
    code, _, err = _run(["validate", str(SECTOR / "qlacv"), "--prefer", "json"], capsys)
    assert code == 2
    assert err == "error: prefer must be one of auto, tables, xml, not 'json'\n"


def _f(name: str, table: str | None, year: int | None) -> Found:
    fmt = "xml" if name.endswith(".xml") else "csv"
    return Found(Path(name), fmt, table, year, "name" if year else "")


def test_returns_of_different_years_are_never_a_choice():
    files = [
        _f("return_2019.xml", None, 2019),
        _f("header_2020.csv", "header", 2020),
        _f("episodes_2020.csv", "episodes", 2020),
    ]
    kept, unused = choose_form(files, "auto", XML_TABLES)
    assert kept == files and unused == []
    both = [*files, _f("episodes_2019.csv", "episodes", 2019)]
    kept, unused = choose_form(both, "auto", XML_TABLES)  # 2019: episodes only -> the XML
    assert [p.name for p, _ in unused] == ["episodes_2019.csv"]
    assert "of collection year 2019" in unused[0][1]


def test_the_cohort_flow_names_the_file_not_read_and_why():
    """Nothing lost without a word: the XML left aside is a note in the cohort's flow."""
    from reunistat.cohort import CohortConfig, build_cohort

    extract = read_extract(SECTOR / "qlacv")
    flow = build_cohort(extract, CohortConfig(validation="lenient")).flow
    notes = flow.loc[flow["reason"] == "file_not_read", "step"].tolist()
    assert len(notes) == 1
    assert notes[0].startswith("file not read: fake_903.xml (the same return is read from")
    assert flow.loc[flow["reason"] == "file_not_read", "children"].isna().all()
