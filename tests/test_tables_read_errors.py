"""Every file-level fault ends in one ReadError naming the file and what to do (CLI exit 2)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from reunistat.cli import app, main
from reunistat.errors import ReadError
from reunistat.tables import read_extract

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPIS = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN\n"
)
H_ROWS = "A,1,01/01/2005,WBRI,,,\nB,2,15/03/2010,BAFR,,,\n"
E_ROWS = "A,01/01/2018,S,C2,N1,U4,PR1,01/06/2018,E4A,,,,\nB,01/03/2019,S,C1,N4,K2,PR4,,,,,,\n"


def write(root: Path, header: str = HEADER + H_ROWS, episodes: str = EPIS + E_ROWS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if header is not None:
        (root / "header.csv").write_text(header)
    if episodes is not None:
        (root / "episodes.csv").write_text(episodes)
    return root


def message(path: Path, **kw: object) -> str:
    with pytest.raises(ReadError) as err:
        read_extract(path, **kw)  # type: ignore[arg-type]
    return str(err.value)


def test_missing_path(tmp_path: Path):
    assert "no such file or directory" in message(tmp_path / "nope")


def test_no_header_and_no_episodes(tmp_path: Path):
    write(tmp_path / "a", header=None)
    assert message(tmp_path / "a").startswith("no header table found")
    write(tmp_path / "b", episodes=None)
    assert message(tmp_path / "b").startswith("no episodes table found")


def test_empty_file(tmp_path: Path):
    write(tmp_path)
    (tmp_path / "episodes.csv").write_text("")
    assert message(tmp_path) == (
        f"{tmp_path / 'episodes.csv'}: the file is empty; export the table again "
        "(a header line at least)"
    )


def test_ragged_row_names_the_line(tmp_path: Path):
    write(tmp_path, episodes=EPIS + E_ROWS + "C,01/03/2019,S,C1\n")
    m = message(tmp_path)
    assert m.startswith(f"{tmp_path / 'episodes.csv'}: line 4 has 4 fields where the header has 13")


def test_unreadable_encoding(tmp_path: Path):
    write(tmp_path)
    junk = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC3, 0x28, 0xA0, 0x01, 0x02, 0x03]) * 30
    (tmp_path / "header.csv").write_bytes(HEADER.encode() + junk)
    assert "the text encoding cannot be recognised; save the file as UTF-8 CSV" in message(tmp_path)


def test_required_column_missing(tmp_path: Path):
    write(tmp_path, episodes=EPIS.replace("DECOM,", "START,") + E_ROWS)
    m = message(tmp_path)
    assert m.startswith(f"{tmp_path / 'episodes.csv'}: table episodes lacks column(s) DECOM")


def test_blank_la_is_an_error_naming_the_rows(tmp_path: Path):
    write(
        tmp_path,
        header="LA," + HEADER + "201,A,1,01/01/2005,WBRI,,,\n,B,2,15/03/2010,BAFR,,,\n",
        episodes="LA," + EPIS + "".join("201," + r + "\n" for r in E_ROWS.splitlines()),
    )
    m = message(tmp_path)
    assert m.startswith(f"{tmp_path / 'header.csv'} has a blank LA on line(s) [3]")
    assert "children of different authorities would be merged" in m


def test_two_files_same_table_and_year(tmp_path: Path):
    write(tmp_path)
    (tmp_path / "episodes_2020.csv").write_text(EPIS + E_ROWS)
    (tmp_path / "2020").mkdir()
    (tmp_path / "2020" / "episodes.csv").write_text(EPIS + E_ROWS)
    (tmp_path / "episodes.csv").unlink()
    m = message(tmp_path)
    assert "both hold table episodes for collection year 2020; keep one of them" in m


def test_order_unknown_is_an_error_never_alphabetical(tmp_path: Path):
    write(tmp_path / "current")
    write(tmp_path / "previous")
    # subfolders that are no year are not read unless asked
    assert message(tmp_path).startswith("no header table found; files not used:")
    m = message(tmp_path, recursive=True)
    assert "files hold table" in m and "cannot be known, so neither can their order" in m


def test_year_in_name_and_column_must_agree(tmp_path: Path):
    write(tmp_path, episodes=None)
    rows = "".join(r + ",2019\n" for r in E_ROWS.splitlines())
    (tmp_path / "episodes_2020.csv").write_text(EPIS.strip() + ",YEAR\n" + rows)
    assert "its name says 2020 but column YEAR holds [2019]" in message(tmp_path)


def test_us_dates_mixed_with_dfe_dates(tmp_path: Path):
    rows = "A,01/13/2018,S,C2,N1,U4,PR1,,,,,,\nB,25/03/2019,S,C1,N4,K2,PR4,,,,,,\n"
    write(tmp_path, episodes=EPIS + rows)
    m = message(tmp_path)
    assert m.startswith(f"{tmp_path / 'episodes.csv'}: table episodes, column DECOM: dates in both")
    assert "'25/03/2019'" in m and "'01/13/2018'" in m


def test_us_dates_alone_are_read_the_us_way(tmp_path: Path):
    rows = "A,01/13/2018,S,C2,N1,U4,PR1,,,,,,\nB,03/02/2019,S,C1,N4,K2,PR4,,,,,,\n"
    write(tmp_path, episodes=EPIS + rows)
    e = read_extract(tmp_path).tables["episodes"].set_index("CHILD")
    assert e.loc["A", "DECOM"] == pd.Timestamp("2018-01-13")
    assert e.loc["B", "DECOM"] == pd.Timestamp("2019-03-02")  # the whole column is US


def test_ambiguous_dates_take_the_dfe_format(tmp_path: Path):
    rows = "A,01/02/2018,S,C2,N1,U4,PR1,,,,,,\nB,03/04/2019,S,C1,N4,K2,PR4,,,,,,\n"
    write(tmp_path, episodes=EPIS + rows)
    e = read_extract(tmp_path).tables["episodes"].set_index("CHILD")
    assert e.loc["A", "DECOM"] == pd.Timestamp("2018-02-01")


def test_two_date_formats_in_one_column(tmp_path: Path):
    rows = "A,2018-01-31,S,C2,N1,U4,PR1,,,,,,\nB,25/03/2019,S,C1,N4,K2,PR4,,,,,,\n"
    write(tmp_path, episodes=EPIS + rows)
    assert "column DECOM: dates in two formats" in message(tmp_path)


def test_a_column_with_no_date(tmp_path: Path):
    rows = "A,soon,S,C2,N1,U4,PR1,,,,,,\nB,later,S,C1,N4,K2,PR4,,,,,,\n"
    write(tmp_path, episodes=EPIS + rows)
    assert "column DECOM: no value is a date (e.g. 'soon', 'later')" in message(tmp_path)


def test_cli_gives_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    write(tmp_path, episodes=EPIS + E_ROWS + "C,01/03/2019\n")
    for cmd in (["validate", str(tmp_path)], ["cohort", str(tmp_path), "--out", "x.csv"]):
        with pytest.raises(SystemExit) as stop:
            main(cmd)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("error: ") and "line 4 has 2 fields" in err


def test_cli_recursive_option(tmp_path: Path):
    write(tmp_path / "extract" / "la1")
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "extract")])
    assert isinstance(r.exception, ReadError) and "use --recursive" in str(r.exception)
    r = CliRunner().invoke(app, ["validate", str(tmp_path / "extract"), "--recursive"])
    assert r.exit_code == 0, r.output
    assert "files read" in r.output and "la1/episodes.csv" in r.output
