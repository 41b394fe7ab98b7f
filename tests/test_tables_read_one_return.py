"""One return read as it is: the fast path without stacking gives what stacking gives.

A table held in one file of one collection year, no key repeated, is left as
read (:func:`reunistat.tables.as_read.one_clean_return`); these tests read the same
folders with the fast path switched off and compare every part of the extract.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.tables import as_read, io, read_extract
from reunistat.tables.keys import CID, YEAR_COL

ROOT = Path(__file__).resolve().parents[1]
HEADER = "CHILD,SEX,DOB,ETHNIC\nA,1,01/01/2005,WBRI\nB,2,15/03/2010,BAFR\n"
EPIS = (
    "CHILD,DECOM,RNE,LS,CIN,PLACE,DEC,REC\n"
    "A,01/04/2019,S,C2,N1,U1,01/05/2019,E11\n"
    "B,01/04/2019,S,C2,N1,U1,,\n"
)


def _both(folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[io.Extract, io.Extract]:
    fast = read_extract(folder)
    with monkeypatch.context() as m:
        m.setattr(io, "one_clean_return", lambda *a: False)
        slow = read_extract(folder)
    return fast, slow


def _assert_same(fast: io.Extract, slow: io.Extract) -> None:
    for part in ("tables", "other", "returns"):
        a, b = getattr(fast, part), getattr(slow, part)
        assert list(a) == list(b)
        for name in a:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
    for part in ("problems", "stacking", "files", "not_used"):
        pd.testing.assert_frame_equal(getattr(fast, part), getattr(slow, part), check_exact=True)


@pytest.mark.parametrize(
    "folder",
    [
        ROOT / "data/synthetic/sample-messy",
        ROOT / "tests/fixtures/sector903/qlacv",
        ROOT / "tests/fixtures/sector903/cscv",
    ],
)
def test_fast_path_equals_stacking(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(folder, monkeypatch)
    _assert_same(fast, slow)
    assert len(fast.tables["episodes"]) > 0


@pytest.mark.parametrize(
    "extra",
    [
        "A,01/04/2019,S,C2,N1,U1,01/05/2019,E11\n",  # identical row in one file
        "A,01/04/2019,S,C2,N1,U2,01/05/2019,E11\n",  # one key, two rows: problem duplicate
    ],
)
def test_repeated_key_is_stacked(
    tmp_path: Path, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text(EPIS + extra)
    eps = pd.read_csv(tmp_path / "episodes.csv", dtype=str)
    assert not as_read.one_clean_return(eps.assign(_COLLECTION_YEAR=None), "episodes", 1)
    fast, slow = _both(tmp_path, monkeypatch)
    _assert_same(fast, slow)
    row = fast.stacking.set_index("table").loc["episodes"]
    assert row["rows_read"] == 3 and row["rows_kept"] == 2


def test_one_file_of_two_years_is_stacked(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text(HEADER)
    (tmp_path / "episodes.csv").write_text(EPIS)
    eps = pd.read_csv(tmp_path / "episodes.csv", dtype=str)
    eps["_COLLECTION_YEAR"] = [2019, 2020]
    assert not as_read.one_clean_return(eps, "episodes", 1)
    assert not as_read.one_clean_return(eps.iloc[:1], "episodes", 2)
    assert as_read.one_clean_return(eps.iloc[:1], "episodes", 1)


@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([None, "2019-01-01", "2019-01-02"])),
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_episode_key_check_agrees_with_pandas(rows: list[tuple[int, str | None]]) -> None:
    """The sorted (child, DECOM) check repeats pandas' ``duplicated`` (blank DECOMs equal)."""
    df = pd.DataFrame(rows, columns=[CID, "DECOM"]).astype({CID: "int64"})
    df["DECOM"] = pd.to_datetime(df["DECOM"])
    df[YEAR_COL] = pd.array([None] * len(df), dtype="Int64")
    expect = not df.duplicated(subset=[CID, "DECOM"]).any()
    assert as_read.one_clean_return(df, "episodes", 1) == expect
