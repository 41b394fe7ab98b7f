"""The identifiers of an extract, collected through Arrow, are the ones Python's loop finds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import checker
from reunistat.report.checker import PY_WHITESPACE, Identifiers, searched_identifier, searched_texts

SAMPLE = Path(__file__).parents[1] / "data/synthetic/sample"


def _old(columns: list[pd.Series]) -> set[str]:
    """What ``Identifiers.from_tables`` collected before: strip every value, then filter."""
    texts = {
        v.strip() if isinstance(v, str) else str(v).strip()
        for c in columns
        for v in pd.unique(c.dropna())
        if v is not pd.NA
    }
    return {t for t in texts if searched_identifier(t)}


def test_the_whitespace_is_what_str_strip_removes() -> None:
    every = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert every == PY_WHITESPACE


_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ09 \t\u00a0\u3000\x1c\u00e9\u0663\u00b2x")), max_size=9
)
_MISSING = st.sampled_from([None, float("nan"), pd.NA])
_VALUE = st.one_of(_TEXT, st.integers(-10, 10**8), st.floats(allow_nan=False, width=32))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.one_of(_TEXT, _MISSING), max_size=12), max_size=4),
    st.lists(st.one_of(_VALUE, _MISSING), max_size=8),
)
def test_searched_texts_equal_the_loop(strings: list[list[Any]], mixed: list[Any]) -> None:
    columns = [pd.Series(c, dtype=object) for c in [*strings, mixed]]
    columns.append(pd.Series([c for c in mixed if isinstance(c, int)], dtype="int64"))
    assert searched_texts(columns) == _old(columns)


def test_a_lone_surrogate_is_taken_one_by_one() -> None:
    col = pd.Series(["\ud800abcdef ", "AB12"])
    assert searched_texts([col]) == {"\ud800abcdef", "AB12"} == _old([col])


def test_the_sample_extract_gives_the_same_identifiers() -> None:
    from reunistat.tables import read_extract

    tables = read_extract(SAMPLE).tables
    ids = Identifiers.from_tables(tables)
    columns = [t[c] for t in tables.values() for c in checker.IDENTIFIER_COLUMNS if c in t.columns]
    assert ids.values == _old(columns) and len(ids.values) > 100
    posts = {
        checker.normal_postcode(v.strip())
        for t in tables.values()
        for c in checker.POSTCODE_COLUMNS
        if c in t.columns
        for v in pd.unique(t[c].dropna())
    }
    assert ids.postcodes == posts - {""} and len(ids.postcodes) > 10


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aAbZ0179 \t\n-._\u0663\u00e9\u212a")), max_size=24))
def test_the_postcodes_in_a_text_are_those_findall_finds(text: str) -> None:
    found = {f"{a} {b}".upper() for a, b in checker._POSTCODE.findall(text)}
    assert checker.postcodes_in(text) == found
