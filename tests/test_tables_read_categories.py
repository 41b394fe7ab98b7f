"""Code columns read as categories straight from Arrow: the same values as the text path.

The reader gives the code columns of the declared tables as ``category``
columns made from Arrow's dictionary (no Python object per row), joins the
categories of annual returns without hashing every row, and stacks on the
codes. Each fast path is held here to the text path it replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.codes import category_values, normalise_to_categories
from reunistat.tables import read_extract, stack
from reunistat.tables.dates import joint_codes
from reunistat.tables.formats import as_categorical
from reunistat.tables.io import concat_frames
from reunistat.tables.keys import child_codes
from reunistat.tables.parse import as_codes
from reunistat.tables.stack import FILE_COL
from test_tables_read_stack_exact import _returns  # the same returns, as stacking gets them

#: Code-like text: padded, lower case, blank, missing.
word = st.one_of(
    st.none(), st.sampled_from(["", " ", "C2", " C2", "C2 ", "c2", "U1", "E4A", "e4a ", "X1"])
)


def _text(values: list[str | None]) -> list[str | None]:
    """The old text path: trimmed, blanks as None."""
    out = []
    for v in values:
        t = None if v is None else v.strip()
        out.append(t or None)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(word, max_size=40), st.booleans())
def test_as_categorical_holds_the_trimmed_text(values, stored_as_dictionary):
    arr = pa.chunked_array([pa.array(values, type=pa.string())])
    if stored_as_dictionary:  # as Parquet's read_dictionary gives it
        arr = arr.dictionary_encode()
    cat = as_categorical(arr)
    assert category_values(pd.Series(cat)).tolist() == _text(values)
    assert cat.categories.is_unique and "" not in set(cat.categories)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(word, max_size=15), min_size=1, max_size=4))
def test_joint_codes_number_equal_values_alike(columns):
    series = [pd.Series(_text(c), dtype=object).astype("category") for c in columns]
    codes, uniq = joint_codes(series)
    values = [v for c in columns for v in _text(c)]
    assert len(codes) == len(values)
    assert [None if k < 0 else uniq[k] for k in codes] == values
    assert uniq.is_unique
    # as the text path numbers them: equal values, equal codes
    want, _ = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    pairs = set(zip(codes.tolist(), want.tolist(), strict=True))
    assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


@settings(max_examples=100, deadline=None)
@given(st.lists(word, max_size=30), st.permutations(range(6)), st.booleans())
def test_as_codes_is_the_same_from_text_and_from_any_categories(values, order, unused):
    text = pd.Series(_text(values), dtype=object)
    present = [v for v in dict.fromkeys(text.dropna())]
    extra = ["ZZ"] if unused else []
    cats = [c for _, c in sorted(zip(order, present + extra, strict=False))] + present[6:]
    read = pd.Series(pd.Categorical(text, categories=list(dict.fromkeys(cats + present))))
    a, b = as_codes(text), as_codes(read)
    assert list(a.cat.categories) == list(b.cat.categories) == present
    assert a.cat.codes.tolist() == b.cat.codes.tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(word, max_size=30))
def test_normalising_a_category_column_as_its_text(values):
    text = pd.Series(_text(values), dtype=object)
    got, n = normalise_to_categories(text.astype("category"))
    want, n_want = normalise_to_categories(text)
    assert n == n_want
    assert category_values(got).tolist() == category_values(want).tolist()


def test_concat_keeps_categories_and_values():
    a = pd.DataFrame({"RNE": pd.Categorical(["S", None, "P"]), "X": [1, 2, 3]})
    b = pd.DataFrame({"RNE": pd.Categorical(["B", "S"]), "X": [4, 5]})
    both = concat_frames([a, b])
    assert isinstance(both["RNE"].dtype, pd.CategoricalDtype)
    assert category_values(both["RNE"]).tolist() == ["S", None, "P", "B", "S"]
    assert both["X"].tolist() == [1, 2, 3, 4, 5]
    assert both.index.equals(pd.RangeIndex(5))


def test_child_keys_from_categorical_la_as_from_text():
    h = pd.DataFrame({"LA": ["A", "B"], "CHILD": ["1", "1"]})
    e = pd.DataFrame({"LA": ["B", "A", "C"], "CHILD": ["1", "1", "2"]})
    want = child_codes(h, e, use_la=True)
    h2, e2 = h.assign(LA=h["LA"].astype("category")), e.assign(LA=e["LA"].astype("category"))
    got = child_codes(h2, e2, use_la=True)
    assert [g.tolist() for g in got] == [w.tolist() for w in want]


# stacking: code columns as categories (each return its own) as objects
episode = st.tuples(
    st.integers(0, 3),  # child
    st.integers(0, 2),  # return
    st.integers(0, 4),  # DECOM, in steps of 60 days
    st.sampled_from([None, 20, 200]),  # DEC: open, or days after DECOM
    st.sampled_from(["S", "P", "B", None]),  # RNE
    st.sampled_from(["U1", "K2", "u1 "]),  # PLACE
    st.booleans(),  # listed twice in its return
)


def _episodes(rows: list[tuple]) -> pd.DataFrame:
    df = _returns(rows, ["child", "year", "DECOM", "DEC", "RNE", "PLACE", "twice"])
    day = pd.Timestamp("2018-04-01")
    df["DECOM"] = day + pd.to_timedelta(df["DECOM"] * 60, unit="D")
    df["DEC"] = df["DECOM"] + pd.to_timedelta(df["DEC"].astype(float), unit="D")
    df["LS"] = "C2"
    df["REC"] = np.where(df["DEC"].isna(), None, "E4A")
    return df


def _as_read(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The frame as the reader now holds it: each return's code columns its own categories."""
    parts = []
    for _, part in df.groupby(FILE_COL, sort=True):
        part = part.copy()
        for c in cols:
            part[c] = part[c].astype(object).astype("category")
        parts.append(part.reset_index(drop=True))
    return concat_frames(parts) if parts else df


def _objects(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = category_values(out[c])
    return out


@settings(max_examples=100, deadline=None)
@given(st.lists(episode, min_size=1, max_size=30))
def test_stacking_on_codes_as_on_text(rows):
    df = _episodes(rows).sort_values(FILE_COL, kind="stable").reset_index(drop=True)
    cols = ["RNE", "LS", "PLACE", "REC"]
    want, want_dropped, want_problems = stack.stack_table(df.copy(), "episodes")
    got, dropped, problems = stack.stack_table(_as_read(df, cols), "episodes")
    pd.testing.assert_frame_equal(_objects(got), want, check_exact=True)
    pd.testing.assert_frame_equal(problems, want_problems, check_exact=True)
    pd.testing.assert_frame_equal(dropped, want_dropped)
    assert dropped.attrs == want_dropped.attrs
    between = stack.rows_between_returns(_as_read(df, cols), "episodes")
    pd.testing.assert_frame_equal(between, stack.rows_between_returns(df, "episodes"))


def test_annual_csv_returns_give_code_categories_in_order_of_first_appearance(tmp_path: Path):
    head = "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
    eps = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST\n"
    for year, rows in {
        2019: "1,01/02/2019,S,C2,N1,U4,PR1,,,,AB1\n",
        2020: "1,01/02/2019,S,C2,N1,U4,PR1,01/10/2019,e4a ,,AB1\n2,01/03/2020,P,V2,N2,k2,PR4,,,,\n",
    }.items():
        (tmp_path / str(year)).mkdir()
        (tmp_path / str(year) / "header.csv").write_text(
            head + "1,1,01/01/2005,WBRI,,,\n2,2,01/01/2006,WBRI,,,\n"
        )
        (tmp_path / str(year) / "episodes.csv").write_text(eps + rows)
    x = read_extract(tmp_path)
    e = x.tables["episodes"]
    for c in ("RNE", "LS", "PLACE", "REC", "REASON_PLACE_CHANGE"):
        assert isinstance(e[c].dtype, pd.CategoricalDtype), c
        present = list(dict.fromkeys(e[c].dropna().astype(str)))
        assert list(e[c].cat.categories) == present, c  # no unused, first appearance
    assert e["CHILD"].dtype == object and e["HOME_POST"].dtype == object
    assert category_values(e["REC"]).tolist() == ["e4a", None]  # trimmed; upper-cased later
    assert category_values(e["PLACE"]).tolist() == ["U4", "k2"]
