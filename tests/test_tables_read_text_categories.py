"""Every text column read as a category, then given back as text: the same values.

The reader reads identifiers (CHILD, UPN, LAchildID), other text columns
(HOME_POST, URN) and the text of the other 903 tables as ``category`` columns
(one Python string per distinct value), numbers and stacks them by code, and
turns them into text once stacked. Each fast path is held here to the plain
path it replaced: ``pd.Categorical.from_codes``, ``pd.factorize`` of the values
end to end, and the trimmed text of every cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.codes import category_values, distinct_categorical
from reunistat.tables import read_extract
from reunistat.tables.dates import joint_codes
from reunistat.tables.formats import EVERY_TEXT, categorical_columns

ident = st.one_of(st.none(), st.sampled_from(["", " ", "C1", " C1", "C2 ", "c2", "U9", "007"]))


def _text(values: list[str | None]) -> list[str | None]:
    """The plain text path: trimmed, blanks as None."""
    return [(None if v is None else v.strip()) or None for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=3), unique=True, max_size=12), st.data())
def test_distinct_categorical_equals_from_codes(cats, data):
    codes = np.array(
        data.draw(st.lists(st.integers(-1, len(cats) - 1), max_size=30)), dtype=np.int64
    )
    fast = distinct_categorical(codes, np.array(cats, dtype=object))
    plain = pd.Categorical.from_codes(
        codes, dtype=pd.CategoricalDtype(pd.Index(cats, dtype=object))
    )
    pd.testing.assert_extension_array_equal(fast, plain)
    assert fast.codes.dtype == plain.codes.dtype
    assert pd.Series(fast).astype(object).tolist() == pd.Series(plain).astype(object).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=2), unique=True, min_size=1, max_size=8), st.data())
def test_joint_codes_of_equal_categories_as_factorize(cats, data):
    columns = []
    for _ in range(data.draw(st.integers(1, 3))):
        codes = data.draw(st.lists(st.integers(-1, len(cats) - 1), max_size=20))
        cat = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(list(cats)))
        columns.append(pd.Series(cat))
    codes, uniq = joint_codes(columns)
    values = pd.concat([c.astype(object) for c in columns], ignore_index=True)
    # every category numbered in the categories' order; the values as factorize finds them
    assert list(uniq) == list(cats)
    got = [None if k < 0 else uniq[k] for k in codes]
    assert got == [None if pd.isna(v) else v for v in values]
    plain, _ = pd.factorize(values)
    # equal values share a code, different values do not (the numbering may differ)
    pairs = set(zip(codes.tolist(), plain.tolist(), strict=True))
    assert len({a for a, _ in pairs}) == len(pairs) == len({b for _, b in pairs})


def test_every_declared_text_column_and_the_other_tables_text_read_as_categories():
    assert {"CHILD", "LA", "UPN", "SEX", "ETHNIC"} <= categorical_columns("header")
    assert {"HOME_POST", "PL_POST", "URN", "CHILD"} <= categorical_columns("episodes")
    assert {"LACHILDID", "UPN", "DISABILITY"} <= categorical_columns("cin")
    assert EVERY_TEXT in categorical_columns("uasc")
    assert EVERY_TEXT not in categorical_columns("episodes")


def _frames(child: list[str | None], post: list[str | None]) -> dict[str, pd.DataFrame]:
    n = len(child)
    header = pd.DataFrame(
        {
            "LA": ["201"] * n,
            "CHILD": child,
            "SEX": ["1"] * n,
            "DOB": ["01/01/2010"] * n,
            "ETHNIC": ["WBRI"] * n,
            "UPN": [None if c is None else f" U{c} " for c in child],
        }
    )
    episodes = pd.DataFrame(
        {
            "LA": ["201"] * n,
            "CHILD": child,
            "DECOM": ["01/05/2020"] * n,
            "RNE": ["S"] * n,
            "LS": ["C2"] * n,
            "CIN": ["N1"] * n,
            "PLACE": ["U1"] * n,
            "PLACE_PROVIDER": ["PR1"] * n,
            "DEC": [None] * n,
            "REC": [None] * n,
            "REASON_PLACE_CHANGE": [None] * n,
            "HOME_POST": post,
            "PL_POST": post[::-1],
            "URN": ["SC1"] * n,
        }
    )
    uasc = pd.DataFrame({"CHILD": child, "SEX": ["1"] * n, "DOB": ["01/01/2010"] * n})
    return {"header": header, "episodes": episodes, "uasc": uasc}


@settings(max_examples=8, deadline=None)
@given(
    st.lists(st.sampled_from(["1", " 2", "3 ", "10", "2"]), min_size=1, max_size=6, unique=True),
    st.data(),
    st.sampled_from(["csv", "parquet"]),
)
def test_text_columns_come_back_as_trimmed_text(tmp_path_factory, child, data, fmt):
    # children distinct once trimmed, so that each has one header row
    if len({c.strip() for c in child}) < len(child):
        return
    post = data.draw(st.lists(ident, min_size=len(child), max_size=len(child)))
    folder: Path = tmp_path_factory.mktemp("x")
    frames = _frames(child, post)
    for name, df in frames.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            pq.write_table(
                pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet"
            )
    x = read_extract(folder)
    for name, df in [*x.tables.items(), *x.other.items()]:
        for col in ("CHILD", "UPN", "HOME_POST", "PL_POST", "URN", "LA"):
            if col in df.columns:
                assert df[col].dtype == object, (name, col)
    ep = x.tables["episodes"]
    assert ep["CHILD"].tolist() == _text(child)
    assert ep["HOME_POST"].tolist() == _text(post)
    assert ep["PL_POST"].tolist() == _text(post[::-1])
    assert x.tables["header"]["UPN"].tolist() == [f"U{c}".strip() for c in child]
    assert x.other["uasc"]["CHILD"].tolist() == _text(child)
    assert x.other["uasc"]["SEX"].tolist() == ["1"] * len(child)
    # the code columns stay categories
    assert isinstance(ep["PLACE"].dtype, pd.CategoricalDtype)
    assert category_values(ep["PLACE"]).tolist() == ["U1"] * len(child)
