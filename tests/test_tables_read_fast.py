"""The reader's fast paths give exactly what the slow, exact ones give.

Text dates of every annual return are parsed once, each return keeping its
own format; the rules between returns find the same on the rows kept for them.
(Stacking is held to its earlier, slower form in ``test_tables_read_stack_exact``.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.tables import read_extract, stack
from reunistat.tables.dates import parse_date_column, parse_text_dates_across
from reunistat.tables.keys import CID

HEADER = "CHILD,SEX,DOB,ETHNIC\nA,1,01/01/2005,WBRI\nB,2,15/03/2010,BAFR\n"
EPIS = "CHILD,DECOM,RNE,LS,CIN,PLACE,DEC,REC\n"


def test_dates_of_all_returns_parsed_at_once_as_each_alone():
    a = pd.Series(["13/04/2019", None, "01/05/2019 00:00:00"])
    b = pd.Series(["31/03/2020", "13/04/2019"], index=[5, 6])
    together = parse_text_dates_across([a, b])
    assert together is not None
    for col, got in zip([a, b], together, strict=True):
        alone, bad = parse_date_column(col, "f", "episodes", "DECOM")
        pd.testing.assert_series_equal(got, alone)
        assert not bad.any()


@pytest.mark.parametrize(
    "columns",
    [
        [["01/02/2019"], ["2019-03-04"]],  # one return in ISO: each keeps its own format
        [["01/02/2019"], ["02/13/2019"]],  # a US return read alone names its file
        [["01/02/2019"], ["31/02/2019", "01/03/2019"]],  # a bad single value is reported
        [["01/02/2019"], ["05/06/2019"]],  # both formats would fit: DfE's, once
    ],
)
def test_returns_that_differ_are_parsed_return_by_return(columns):
    cols = [pd.Series(c, dtype=object) for c in columns]
    together = parse_text_dates_across(cols)
    if columns[1] == ["05/06/2019"]:
        assert together is not None and together[1].iloc[0] == pd.Timestamp("2019-06-05")
    else:
        assert together is None


def _returns(root: Path, rows: dict[int, str]) -> None:
    for year, row_text in rows.items():
        (root / str(year)).mkdir(parents=True)
        (root / str(year) / "header.csv").write_text(HEADER)
        (root / str(year) / "episodes.csv").write_text(EPIS + row_text)


def test_a_bad_date_in_one_return_is_reported_with_that_file(tmp_path: Path):
    _returns(
        tmp_path,
        {
            2019: "A,01/02/2019,S,C2,N1,U4,,\nB,01/03/2019,S,C2,N1,U4,01/04/2019,E4A\n",
            2020: "A,01/02/2019,S,C2,N1,U4,31/02/2020,E4A\n"
            "B,01/04/2019,S,C2,N1,U4,01/05/2019,E4A\n",
        },
    )
    x = read_extract(tmp_path)
    (bad,) = x.problems[x.problems["rule"] == "bad_date"].itertuples()
    assert (bad.table, bad.column, bad.CHILD, bad.value) == ("episodes", "DEC", "A", "31/02/2020")


def test_an_iso_return_beside_dfe_returns(tmp_path: Path):
    _returns(
        tmp_path,
        {
            2019: "A,01/02/2019,S,C2,N1,U4,,\n",
            2020: "A,2019-02-01,S,C2,N1,U4,2019-06-13,E4A\n",
        },
    )
    e = read_extract(tmp_path).tables["episodes"]
    assert e["DECOM"].tolist() == [pd.Timestamp("2019-02-01")]
    assert e["DEC"].tolist() == [pd.Timestamp("2019-06-13")]


def test_a_return_mixing_day_and_month_order_is_an_error_naming_its_file(tmp_path: Path):
    from reunistat.errors import ReadError

    _returns(
        tmp_path,
        {
            2019: "A,01/02/2019,S,C2,N1,U4,,\n",
            2020: "A,02/13/2019,S,C2,N1,U4,,\nB,13/04/2019,S,C2,N1,U4,,\n",
        },
    )
    with pytest.raises(ReadError, match=r"2020/episodes\.csv: table episodes, column DECOM"):
        read_extract(tmp_path)


episode = st.tuples(
    st.integers(0, 1),  # child
    st.integers(2018, 2020),  # collection year
    st.integers(0, 6),  # DECOM (few values: ties)
    st.booleans(),  # open
    st.sampled_from(["S", "P", "B"]),
    st.sampled_from(["K2", "U1"]),
)
head = st.tuples(st.integers(0, 3), st.integers(2018, 2021), st.sampled_from(["1", "2"]))


@settings(max_examples=100, deadline=None)
@given(st.lists(episode, min_size=1, max_size=40), st.lists(head, min_size=1, max_size=15))
def test_rules_between_returns_find_the_same_on_the_rows_kept_for_them(eps, heads):
    """``Extract.returns`` keeps only the rows those rules compare: the same problems."""
    from reunistat.tables.keys import YEAR_COL
    from reunistat.tables.validate import between_returns

    e = pd.DataFrame(eps, columns=[CID, YEAR_COL, "DECOM", "OPEN", "RNE", "PLACE"])
    e["DECOM"] = pd.Timestamp("2018-01-01") + pd.to_timedelta(e["DECOM"] * 30, unit="D")
    e["DEC"] = (e["DECOM"] + pd.Timedelta(days=10)).where(~e.pop("OPEN"))
    e["LS"], e["CIN"], e["URN"] = "C2", "N1", None
    e["REC"] = "X1"  # a column the rules do not use: dropped
    h = pd.DataFrame(heads, columns=[CID, YEAR_COL, "SEX"])
    h["DOB"], h["ETHNIC"], h["UPN"] = pd.Timestamp("2010-01-01"), "WBRI", None
    for df in (e, h):
        df["CHILD"] = df[CID].map("C{}".format)
        df[YEAR_COL] = df[YEAR_COL].astype("Int64")
        df.loc[df.index % 7 == 6, YEAR_COL] = pd.NA  # some rows of unknown year
    full = {"header": h, "episodes": e}
    kept = {name: stack.rows_between_returns(df, name) for name, df in full.items()}
    assert "REC" not in kept["episodes"].columns
    assert len(kept["episodes"]) <= len(e) and len(kept["header"]) <= len(h)
    pd.testing.assert_frame_equal(between_returns(kept, False), between_returns(full, False))
