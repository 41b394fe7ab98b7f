"""The CSV files of an extract read together, and the integer paths of stacking.

Read together (:mod:`reunistat.tables.csv_files`), the text columns of one
name share one ``category`` dtype; each file's values must be those it holds
read alone. Stacking numbers rows by integers (:func:`row_codes`, a hash of
the rows where their numbers would overflow, checked) and sorts episodes by
child and date in one key (:func:`child_date_order`): each is held to the
plain path it replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.errors import ReadError
from reunistat.tables import read_extract
from reunistat.tables import stack as stack_module
from reunistat.tables.csv_files import read_csv_files
from reunistat.tables.find import Found
from reunistat.tables.formats import categorical_columns, read_csv
from reunistat.tables.keys import child_date_order
from reunistat.tables.stack import row_codes

HEADER = "LA,CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
EPISODES = (
    "LA,CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN\n"
)


def _write(folder: Path, year: int, children: list[str]) -> None:
    d = folder / str(year)
    d.mkdir(parents=True)
    (d / "header.csv").write_text(
        HEADER + "".join(f"201,{c},1,01/02/2010,WBRI,,,\n" for c in children)
    )
    (d / "episodes.csv").write_text(
        EPISODES
        + "".join(
            f"201, {c} ,01/04/{year - 1},S,C2,N1,U1,PR1,,,,AB1 2,AB3 4,SC0{i}\n"
            for i, c in enumerate(children)
        )
    )


def _found(folder: Path) -> list[Found]:
    out = []
    for year in sorted(p.name for p in folder.iterdir()):
        for table in ("header", "episodes"):
            out.append(Found(folder / year / f"{table}.csv", "csv", table, int(year), "folder"))
    return out


def test_files_read_together_hold_their_own_values(tmp_path):
    _write(tmp_path, 2021, ["C1", "C2", "C3"])
    _write(tmp_path, 2022, ["C3", "C4"])
    found = _found(tmp_path)
    together = read_csv_files(found)
    assert set(together) == {f.path for f in found}
    for f in found:
        df, encoding = together[f.path]
        alone, enc_alone = read_csv(f.path, categorical_columns(str(f.table), text_dates=True))
        assert encoding == enc_alone
        assert list(df.columns) == list(alone.columns)
        for c in df.columns:
            assert df[c].astype(object).tolist() == alone[c].astype(object).tolist(), c
            assert isinstance(df[c].dtype, pd.CategoricalDtype) == isinstance(
                alone[c].dtype, pd.CategoricalDtype
            )
    # one dtype per column of a table; the identifiers one across tables (trimmed " C1 ")
    child = [together[f.path][0]["CHILD"].dtype for f in found]
    assert all(d is child[0] for d in child)
    assert list(child[0].categories) == ["C1", "C2", "C3", "C4"]
    decom = [together[f.path][0]["DECOM"].dtype for f in found if f.table == "episodes"]
    assert decom[0] is decom[1]
    assert together[found[0].path][0]["DOB"].dtype is not decom[0]


def test_a_broken_file_is_reported_as_read_alone(tmp_path):
    _write(tmp_path, 2021, ["C1"])
    _write(tmp_path, 2022, ["C1"])
    (tmp_path / "2021" / "episodes.csv").write_text(EPISODES + "201,C1\n")  # ragged
    assert read_csv_files(_found(tmp_path)) == {}
    with pytest.raises(ReadError, match=r"2021/episodes.csv: line 2 has 2 fields"):
        read_extract(tmp_path)


def test_one_file_is_not_read_together(tmp_path):
    _write(tmp_path, 2021, ["C1"])
    assert read_csv_files(_found(tmp_path)[:1]) == {}


def _plain_row_codes(columns: list[np.ndarray]) -> np.ndarray:
    """Rows numbered in order of first appearance, by their tuples of values."""
    seen: dict[tuple, int] = {}
    return np.array([seen.setdefault(t, len(seen)) for t in zip(*columns, strict=True)])


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_row_codes_as_the_tuples_of_values(data):
    n = data.draw(st.integers(1, 40))
    # ranges of 3 * 2**29 each: three or more overflow 64 bits (hashed, then checked)
    columns = [
        np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))) * w
        for w in data.draw(st.lists(st.sampled_from([1, 2**29]), min_size=1, max_size=5))
    ]
    dates = data.draw(st.lists(st.sampled_from([0, 1, 400, None]), min_size=n, max_size=n))
    columns.append(
        np.array(
            [np.datetime64("NaT") if d is None else np.datetime64(d, "D") for d in dates]
        ).astype("datetime64[ns]")
    )
    expected = _plain_row_codes([c.astype(object) for c in columns[:-1]] + [np.array(dates)])
    assert row_codes(columns).tolist() == expected.tolist()


def test_row_codes_hashed_and_exact_when_the_hash_collides(monkeypatch):
    wide = [np.array([3, 3, 3, 1]) * 2**29, np.array([0, 0, 0, 0]), np.array([2, 2, 2, 2]) * 2**29]
    columns = [np.array([5, 7, 5, 7]) * 2**29, np.array([1, 1, 1, 2]) * 2**29, *wide]
    assert row_codes(columns).tolist() == [0, 1, 0, 2]  # hashed
    calls = []
    real = stack_module._hashed_rows
    monkeypatch.setattr(stack_module, "_hashed_rows", lambda *a: calls.append(real(*a)))
    monkeypatch.setattr(stack_module, "_MIX", np.uint64(0))  # every row hashes alike
    assert row_codes(columns).tolist() == [0, 1, 0, 2]  # renumbered as combined
    assert calls == [None]


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_child_date_order_as_lexsort(data):
    n = data.draw(st.integers(0, 30))
    group = np.array(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=np.int64)
    days = data.draw(st.lists(st.sampled_from([-400, 0, 3, 3, 9000, None]), min_size=n, max_size=n))
    day = 86_400 * 10**9
    start = np.array(
        [np.iinfo(np.int64).max if d is None else d * day for d in days], dtype=np.int64
    )
    if n and data.draw(st.booleans()):
        start[0] = 1  # not a midnight: the two-key sort
    assert child_date_order(group, start).tolist() == np.lexsort((start, group)).tolist()
