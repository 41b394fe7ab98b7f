"""Stacking annual returns: each cleaning rule with its reason, and every row accounted for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.tables import prepare_tables, read_extract
from reunistat.tables.stack import REASONS

HEADER = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPIS = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN\n"
)
H = {"A": "A,1,01/01/2005,WBRI,,,\n", "B": "B,2,15/03/2010,BAFR,,,\n"}


def ep(child: str, decom: str, rne: str = "S", dec: str = "", rec: str = "", place: str = "U4"):
    return f"{child},{decom},{rne},C2,N1,{place},PR1,{dec},{rec},,,,\n"


def write_returns(root: Path, returns: dict[int, list[str]], header: dict[int, str] | None = None):
    for year, rows in returns.items():
        d = root / str(year)
        d.mkdir(parents=True)
        (d / "episodes.csv").write_text(EPIS + "".join(rows))
        children = {r.split(",")[0] for r in rows}
        h = header[year] if header else "".join(H[c] for c in sorted(children))
        (d / "header.csv").write_text(HEADER + h)


def counts(x, table: str = "episodes") -> dict[str, int]:
    return x.stacking.set_index("table").loc[table].to_dict()


def test_decom_corrected_leaves_no_stale_copy(tmp_path: Path):
    write_returns(
        tmp_path,
        {2019: [ep("A", "01/02/2019")], 2020: [ep("A", "03/02/2019", dec="01/06/2019", rec="E4A")]},
    )
    x = read_extract(tmp_path)
    e = x.tables["episodes"]
    assert e["DECOM"].tolist() == [pd.Timestamp("2019-02-03")]
    f = x.files.set_index(["table", "year"])
    assert f.loc[("episodes", 2019), "decom_corrected"] == 1
    assert f.loc[("episodes", 2019), "rows_kept"] == 0
    assert x.problems.empty


def test_open_episode_closed_by_the_next_one(tmp_path: Path):
    # the 2020 return forgot the episode open on 31 March 2019; the child's next
    # episode continues it (RNE P): closed on that day with X1 (liia-tools' rule 1)
    write_returns(
        tmp_path,
        {2019: [ep("A", "01/02/2019")], 2020: [ep("A", "01/06/2019", rne="P", place="K2")]},
    )
    x = read_extract(tmp_path)
    e = x.tables["episodes"].sort_values("DECOM")
    assert e["DEC"].iloc[0] == pd.Timestamp("2019-06-01") and e["REC"].iloc[0] == "X1"
    assert counts(x)["closed_by_next_episode"] == 1 and counts(x)["rows_kept"] == 2


def test_episode_a_later_return_rewrote_is_deleted(tmp_path: Path):
    write_returns(
        tmp_path,
        {
            2019: [
                ep("A", "01/06/2018", dec="01/01/2019", rec="X1"),
                ep("A", "01/01/2019", rne="L"),
            ],
            2020: [
                ep("A", "01/06/2018", dec="01/03/2019", rec="X1"),
                ep("A", "01/03/2019", rne="P", place="K2"),
            ],
        },
    )
    x = read_extract(tmp_path)
    e = x.tables["episodes"]
    assert e["DECOM"].tolist() == [pd.Timestamp("2018-06-01"), pd.Timestamp("2019-03-01")]
    c = counts(x)
    assert (c["superseded"], c["deleted_in_next_return"], c["rows_kept"]) == (1, 1, 2)


def test_open_episode_of_a_child_absent_from_the_next_return(tmp_path: Path):
    write_returns(
        tmp_path,
        {2019: [ep("A", "01/02/2019"), ep("B", "01/03/2019")], 2020: [ep("B", "01/03/2019")]},
    )
    x = read_extract(tmp_path)
    p = x.problems
    assert p[["table", "column", "CHILD", "rule"]].values.tolist() == [
        ["episodes", "DEC", "A", "open_not_carried"]
    ]
    assert "absent from the LA's next return" in p["detail"].iloc[0]
    assert counts(x)["rows_kept"] == 2  # kept as it was, the problem decides


def test_duplicate_rows_in_one_file(tmp_path: Path):
    write_returns(tmp_path, {2019: [ep("A", "01/02/2019")] * 3})
    c = counts(read_extract(tmp_path))
    assert (c["rows_read"], c["identical_in_one_file"], c["identical_dropped"]) == (3, 2, 2)


def test_header_changes_keep_the_latest_and_the_returns_that_differ_are_kept_for_validation(
    tmp_path,
):
    write_returns(
        tmp_path,
        {2019: [ep("A", "01/02/2019")], 2020: [ep("A", "01/02/2019")]},
        header={2019: "A,1,01/01/2005,WBRI,,,\n", 2020: "A,2,02/01/2005,WBRI,,,\n"},
    )
    x = read_extract(tmp_path)
    h = x.tables["header"]
    assert h[["SEX", "DOB", "_COLLECTION_YEAR"]].values.tolist() == [
        ["2", pd.Timestamp("2005-01-02"), 2020]
    ]
    # DfE 202-204 are validation's: it gets every return's rows before stacking
    r = x.returns["header"]
    assert r[["SEX", "_COLLECTION_YEAR"]].values.tolist() == [["1", 2019], ["2", 2020]]
    assert r["DOB"].tolist() == [pd.Timestamp("2005-01-01"), pd.Timestamp("2005-01-02")]
    # the episode is the same in both returns: nothing for 502/503 to find, no row kept
    assert len(x.returns["episodes"]) == 0


def test_no_returns_kept_for_a_single_return(tmp_path: Path):
    write_returns(tmp_path, {2019: [ep("A", "01/02/2019")]})
    assert read_extract(tmp_path).returns == {}


def test_flow_shows_the_stacking_reasons(tmp_path: Path):
    write_returns(
        tmp_path,
        {
            2019: [ep("A", "01/06/2018", dec="01/01/2019", rec="E4A"), ep("A", "01/02/2019")],
            2020: [ep("A", "03/02/2019", dec="01/06/2019", rec="E4B")],
        },
    )
    c = build_cohort(read_extract(tmp_path), CohortConfig(data_end="2020-03-31"))
    check_flow(c.flow)
    fl = c.flow.set_index("reason")
    assert fl.loc["decom_corrected", "episodes"] == 1
    assert fl.loc["identical_duplicate", "episodes"] == 0
    assert c.spells["reentered"].tolist() == [1, 0]


DATES = ["01/01/2018", "01/06/2018", "01/02/2019", "01/06/2019", "01/02/2020"]
row = st.tuples(
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(DATES),
    st.sampled_from(["S", "P", "L"]),
    st.sampled_from([None, *DATES]),
    st.sampled_from(["U4", "K2"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(row, max_size=8), min_size=1, max_size=3))
def test_every_row_read_is_accounted_for(returns):
    frames = []
    for i, rows in enumerate(returns):
        df = pd.DataFrame(rows, columns=["CHILD", "DECOM", "RNE", "DEC", "PLACE"])
        df = df.assign(LS="C2", CIN="N1", REC=df["DEC"].map(lambda d: None if d is None else "X1"))
        frames.append(df.assign(YEAR=2019 + i))
    header = pd.DataFrame(
        {"CHILD": ["A", "B", "C"], "SEX": "1", "DOB": "01/01/2005", "ETHNIC": "WBRI"}
    )
    x = prepare_tables({"header": header, "episodes": frames})
    files = x.files[x.files["table"] == "episodes"]
    parts = files[[*REASONS, "rows_kept"]].sum(axis=1)
    assert (files["rows_read"] == parts).all()
    assert files["rows_read"].tolist() == [len(f) for f in frames]
    assert int(files["rows_kept"].sum()) == len(x.tables["episodes"])
    assert (files["identical_in_one_file"] <= files["identical_dropped"]).all()
    e = x.tables["episodes"]
    assert not e.duplicated(["_cid", "DECOM"]).any()
    # every kept row is a row read (a repair only fills DEC and REC of an open one)
    read = pd.concat(frames)
    assert set(zip(e["CHILD"], e["DECOM"].dt.strftime("%d/%m/%Y"), strict=True)) <= set(
        zip(read["CHILD"], read["DECOM"], strict=True)
    )
