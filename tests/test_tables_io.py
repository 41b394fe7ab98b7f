"""Reading CSV as DfE ships it, stacking annual returns, Parquet, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from reunistat.cli import app
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.tables import read_extract, validate_tables

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPIS = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN\n"
)


def write_two_returns(root: Path, bad_date: bool = False) -> None:
    y1, y2 = root / "2019", root / "2020"
    y1.mkdir(parents=True)
    y2.mkdir(parents=True)
    (y1 / "header.csv").write_text(HEADER + "A,1,01/01/2005,WBRI,,,\nB,2,15/03/2010,BAFR,UPN9,,\n")
    (y1 / "episodes.csv").write_text(
        EPIS
        # A: closed before 31/3/2019, appears identically in both years
        + "A,01/01/2018,S,C2,N1,U4,PR1,01/06/2018,E4A,,AB1,,\n"
        # A re-enters, open at the end of the first return
        + "A,01/02/2019,S,V2,N1,U4,PR1,,,,AB1,,\n"
        + "B,01/03/2019,S,C1,N4,K2,PR4,,,,AB2,,\n"
    )
    (y2 / "header.csv").write_text(HEADER + "A,1,01/01/2005,WBRI,,,\nB,2,15/03/2010,BAFR,UPN9,,\n")
    b_dec = "31/02/2020" if bad_date else "01/02/2020"
    # A's first period ended before 2019-20, so the 2020 return does not hold it
    # (DfE 502 checks this year's first episode against last year's open one)
    (y2 / "episodes.csv").write_text(
        EPIS
        + "A,01/02/2019,S,V2,N1,U4,PR1,01/10/2019,E4B,,AB1,,\n"
        + f"B,01/03/2019,S,C1,N4,K2,PR4,{b_dec},E4A,,AB2,,\n"
    )


def test_stacked_csv_returns(tmp_path: Path):
    write_two_returns(tmp_path)
    x = read_extract(tmp_path)
    e = x.tables["episodes"]
    assert len(e) == 3
    assert e.DEC.notna().all()
    assert e.DECOM.dtype.kind == "M"
    st = x.files.set_index(["table", "year"])
    cols = ["rows_read", "identical_in_one_file", "identical_dropped", "superseded", "rows_kept"]
    assert st.loc[("episodes", 2019), cols].tolist() == [3, 0, 0, 2, 1]
    assert st.loc[("episodes", 2020), cols].tolist() == [2, 0, 0, 0, 2]
    assert st.loc[("header", 2019), cols].tolist() == [2, 0, 2, 0, 0]
    assert st.loc[("header", 2020), cols].tolist() == [2, 0, 0, 0, 2]
    assert set(st["year_from"]) == {"folder"} and set(st["format"]) == {"csv"}
    assert e["_COLLECTION_YEAR"].tolist() == [2019, 2020, 2020]
    tot = x.stacking.set_index("table")
    assert tot.loc["episodes", ["files", "years", "rows_read", "rows_kept"]].tolist() == [
        2,
        "2019-2020",
        5,
        3,
    ]
    c = build_cohort(x, CohortConfig(data_end="2020-03-31"))
    check_flow(c.flow)
    sp = c.spells
    assert sp[["CHILD", "spell_number", "reentered", "days_followed"]].values.tolist() == [
        ["A", 1, 1, (pd.Timestamp("2019-02-01") - pd.Timestamp("2018-06-01")).days],
        ["A", 2, 0, (pd.Timestamp("2020-03-31") - pd.Timestamp("2019-10-01")).days],
        ["B", 1, 0, (pd.Timestamp("2020-03-31") - pd.Timestamp("2020-02-01")).days],
    ]
    assert sp.sex.tolist() == ["male", "male", "female"]
    fl = c.flow.set_index("reason")
    assert fl.loc["superseded", "episodes"] == 2 and fl.loc["identical_duplicate", "episodes"] == 0


def test_bad_csv_date_is_reported(tmp_path: Path):
    write_two_returns(tmp_path, bad_date=True)
    v = validate_tables(read_extract(tmp_path), mode="lenient")
    p = v.problems
    bad = p[p.rule == "bad_date"]
    assert bad[["table", "column", "CHILD", "value"]].values.tolist() == [
        ["episodes", "DEC", "B", "31/02/2020"]
    ]
    assert "B" in set(v.excluded_children.CHILD)


def test_parquet_preferred_over_csv(tmp_path: Path):
    write_two_returns(tmp_path / "csv")
    x = read_extract(tmp_path / "csv")
    out = tmp_path / "pq"
    out.mkdir()
    for name, df in x.tables.items():
        df.to_parquet(out / f"{name}.parquet")
        df.head(1).to_csv(out / f"{name}.csv", index=False)
    y = read_extract(out)
    pd.testing.assert_frame_equal(y.tables["episodes"], x.tables["episodes"], check_dtype=False)


def test_cli_validate_and_cohort(tmp_path: Path):
    write_two_returns(tmp_path / "x")
    runner = CliRunner()
    r = runner.invoke(app, ["validate", str(tmp_path / "x"), "--data-end", "2020-03-31"])
    assert r.exit_code == 0, r.output
    assert "no problems found" in r.output
    out = tmp_path / "spells.parquet"
    r = runner.invoke(
        app, ["cohort", str(tmp_path / "x"), "--out", str(out), "--data-end", "2020-03-31"]
    )
    assert r.exit_code == 0, r.output
    assert "returns home (spells): 3" in r.output and "1 year" in r.output
    assert len(pd.read_parquet(out)) == 3
    from reunistat.cohort.output import read_provenance

    prov = read_provenance(out)
    assert prov["data_end"] == "2020-03-31" and prov["n_spells"] == 3
    assert prov["flow"][0]["stage"] == "start" and len(prov["spells_sha256"]) == 64


def test_cli_strict_failure_and_lenient(tmp_path: Path):
    write_two_returns(tmp_path / "x", bad_date=True)
    runner = CliRunner()
    r = runner.invoke(app, ["validate", str(tmp_path / "x")])
    assert r.exit_code == 1 and "bad_date" in r.output
    out = tmp_path / "s.csv"
    r = runner.invoke(app, ["cohort", str(tmp_path / "x"), "--out", str(out)])
    assert r.exit_code == 1
    r = runner.invoke(app, ["cohort", str(tmp_path / "x"), "--out", str(out), "--mode", "lenient"])
    assert r.exit_code == 0, r.output
    assert "failed validation: bad_date" in r.output


def test_lowercase_headers_and_path_input(tmp_path: Path):
    write_two_returns(tmp_path)
    for f in tmp_path.rglob("*.csv"):
        lines = f.read_text().splitlines(keepends=True)
        f.write_text(lines[0].lower().replace(",", " ,") + "".join(lines[1:]))
    from reunistat.cohort import derive_cohort

    sp = derive_cohort(tmp_path, CohortConfig(data_end="2020-03-31"))
    assert len(sp) == 3


def test_cli_cohort_reads_a_config_table(tmp_path: Path):
    write_two_returns(tmp_path / "x")
    cfg = tmp_path / "c.toml"
    cfg.write_text("[cohort]\ndata_end = 2020-03-31\ninclude_e13 = false\n")
    out = tmp_path / "s.parquet"
    flow = tmp_path / "flow.csv"
    r = CliRunner().invoke(
        app,
        [
            "cohort",
            str(tmp_path / "x"),
            "--out",
            str(out),
            "--config",
            str(cfg),
            "--flow-out",
            str(flow),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "data end 2020-03-31, E13 excluded" in r.output
    assert pd.read_csv(flow).stage.iloc[0] == "start"


def test_cli_ignore_rule(tmp_path: Path):
    write_two_returns(tmp_path / "x", bad_date=True)
    args = ["validate", str(tmp_path / "x"), "--ignore-rule", "bad_date"]
    r = CliRunner().invoke(app, args)
    # the blanked DEC still shows, under its DfE number (the old name still works below)
    assert r.exit_code == 1 and "rule 148" in r.output
    r = CliRunner().invoke(app, [*args, "--ignore-rule", "dec_rec_pair"])
    assert r.exit_code == 0, r.output


def test_date_formats():
    from reunistat.tables.dates import parse_date_column

    raw = pd.Series(["01/04/2019", "01/04/2019 00:00:00", "01/04/2019 00:00", None, "31/02/2019"])
    d, bad = parse_date_column(raw, "f.csv", "episodes", "DEC")
    assert d.iloc[:3].tolist() == [pd.Timestamp("2019-04-01")] * 3
    assert pd.isna(d.iloc[3]) and bad.tolist() == [False] * 4 + [True]
    iso = pd.Series(["2019-04-01", "2019-04-01 00:00:00", None])
    d, bad = parse_date_column(iso, "f.csv", "episodes", "DEC")
    assert d.iloc[:2].tolist() == [pd.Timestamp("2019-04-01")] * 2 and not bad.any()
