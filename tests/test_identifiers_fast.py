"""The identifiers of an extract, collected through Arrow and kept as numbers, are the ones
Python's loop finds, and the checker finds them in an output as it finds the texts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import checker
from reunistat.report.checker import Identifiers, check_folder
from reunistat.report.disclosure import DisclosureRules
from reunistat.report.input_identifiers import (
    PY_WHITESPACE,
    IdentifierSet,
    identifier_set,
    numbered,
    searched_identifier,
    searched_texts,
)

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
    assert isinstance(ids.values, IdentifierSet) and ids.values._numbers  # numbered, as read
    assert set(ids.values) == _old(columns) and len(set(ids.values)) == len(ids.values)
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


# --- identifiers kept as numbers ------------------------------------------------------
_PREFIX = st.sampled_from(["", "C", "A", "AB", "x-", "C ", " C", "\u00e9", "1"])
_ID_COLUMN = st.builds(
    lambda prefix, width, numbers, blanks: [
        None if i in blanks else f"{prefix}{n:0{width}d}" for i, n in enumerate(numbers)
    ],
    _PREFIX,
    st.integers(1, 19),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.sets(st.integers(0, 11), max_size=3),
)
#: Columns that are nearly numbered: another width, white space, other digits, a sign.
_SPOILER = st.sampled_from(
    ["C0001", "C001 ", " C0001", "C\u0663001", "C-001", "", "C0001x", 123456]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ID_COLUMN, max_size=4), st.lists(st.lists(_SPOILER, max_size=3), max_size=2))
def test_numbered_identifiers_equal_the_loop(numbered_cols: list[list[Any]], spoiled: list) -> None:
    columns = [pd.Series(c, dtype=object) for c in numbered_cols]
    columns += [
        pd.Series(c + s, dtype=object) for c, s in zip(numbered_cols, spoiled, strict=False)
    ]
    ids = identifier_set(columns)
    old = _old(columns)
    assert ids == old and old == ids and len(ids) == len(old) and set(ids) == old
    assert all(v in ids for v in old)


_TOKEN = st.one_of(
    st.builds(lambda p, n, w: f"{p}{n:0{w}d}", _PREFIX, st.integers(0, 40), st.integers(1, 6)),
    st.text(alphabet="AC09x\u0663", max_size=7),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(lambda p, n: f"{p}{n:05d}", st.sampled_from(["", "C", "AB"]), st.integers(0, 40))
    ),
    st.sets(st.text(alphabet="AC09x", min_size=4, max_size=7)),
    st.sets(_TOKEN),
)
def test_tokens_found_in_numbered_identifiers_are_those_found_in_the_texts(
    values: list[str], texts: set[str], tokens: set[str]
) -> None:
    numbers: dict[tuple[str, int], list[int]] = {}
    for v in values:
        parts = numbered(v)
        assert parts is not None and f"{parts[0][0]}{parts[1]:0{parts[0][1]}d}" == v
        numbers.setdefault(parts[0], []).append(parts[1])
    ids = IdentifierSet(texts, numbers)
    every = frozenset(values) | texts
    assert tokens & ids == tokens & every == ids & tokens
    assert {t for t in tokens if t in ids} == tokens & every
    assert ids == every and len(ids) == len(every)


DOB = dt.date(2009, 7, 14)


def test_an_output_holding_a_child_identifier_or_a_date_of_birth_is_caught(tmp_path: Path) -> None:
    header = pd.DataFrame(
        {
            "CHILD": ["C00000659", "C00000716", None],
            "UPN": ["A000005323350", None, "A000010201454"],
            "DOB": pd.to_datetime([DOB, "2010-01-02", "2011-05-06"]),
        }
    )
    ids = Identifiers.from_tables(
        {"header": header, "cin": header[["UPN"]].rename(columns={"UPN": "LAchildID"})}
    )
    assert isinstance(ids.values, IdentifierSet) and len(ids.values._numbers) == 2
    forms = [
        f"{DOB:%d/%m/%Y}",
        f"{DOB:%Y-%m-%d}",
        f"{DOB:%d.%m.%Y}",
        f"{DOB:%Y%m%d}",
        f"{DOB.day} {DOB:%B %Y}",
        f"{DOB.day} {DOB:%b %Y}",
        f"{DOB:%B} {DOB.day}, {DOB.year}",
        f"{DOB:%m/%d/%Y}",
        f"{DOB.isoformat()}T00:00:00",
    ]
    for i, form in enumerate(forms):
        (tmp_path / f"d{i}.md").write_text(f"| a |\n|---|\n| born {form} |\n")
    (tmp_path / "ids.csv").write_text("x,y\nC00000716,1\nA000010201454,2\nC00000717,3\n")
    (tmp_path / "ok.txt").write_text("C0000065 C000006590 A00000532335 xC00000659 C00000659x")
    (tmp_path / "in.txt").write_text("0.C00000659 A000005323350.5, A000005323351")
    found = check_folder(tmp_path, {}, DisclosureRules(apply=False), ids)
    for i in range(len(forms)):
        assert f"d{i}.md: holds 1 date(s) that are dates of birth in the input" in found
    assert "ids.csv: holds 2 child identifier value(s) of the input" in found
    assert "in.txt: holds 2 child identifier value(s) of the input" in found
    assert not [b for b in found if b.startswith("ok.txt") and "registered" not in b]
    as_texts = dataclasses.replace(ids, values=frozenset(ids.values))
    assert found == check_folder(tmp_path, {}, DisclosureRules(apply=False), as_texts)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 1, 1)), st.just(pd.NaT)),
        max_size=10,
    )
)
def test_dates_of_birth_are_the_days_pandas_reads(values: list[Any]) -> None:
    col = pd.Series(pd.to_datetime(pd.Series(values, dtype=object)), dtype="datetime64[ns]")
    old = pd.to_datetime(pd.Series(pd.unique(col.dropna())), errors="coerce", dayfirst=True)
    assert sorted(checker.dates_of(col)) == sorted({d.date() for d in old.dropna()})
    assert len(checker.dates_of(col)) == len(set(checker.dates_of(col)))
