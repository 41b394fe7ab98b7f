"""The checker's fast searches find exactly what its plain searches find, on random texts.

Identifiers numbered with a prefix of letters are found by one search per
prefix (:meth:`IdentifierSet.in_runs`), not by listing the text's tokens;
the numeric dates are searched with ``\\d`` as ``[0-9]`` when every digit of
the text is one, in the lines ``bytes.find`` finds in the text's shapes, and
the dates with a month's name only where a month's name is followed by a
number. Each is compared here with the plain way, on texts with identifiers
and dates planted among near misses (the postcodes:
``test_identifiers_fast.py``; the PDF's content streams:
``test_pdf_content.py``).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import checker
from reunistat.report.checker import Identifiers, dates_in_text, identifier_values_in
from reunistat.report.input_identifiers import IdentifierSet, numbered

#: Values planted: prefixes of letters then digits (and their near misses below).
_VALUES = ["C00000029", "C00000716", "A000005323350", "AB0012", "x1234"]
_NEAR = [
    "C0000002",
    "C000000290",
    "c00000029",
    "XC00000029",
    "C00000029x",
    "0C00000029",
    "C\u06630000029",
    "A00000532335",
    "AB00120",
    "x12345",
    "AB12",
    "123456",
    "123456.0",
    "0.123456",
]
_GLUE = ["", " ", ".", ",", "\n", "-", "_", "é", "\u0663", "<t>", "</t>", "|", "1", "a", "Z"]
_TEXT = st.lists(st.sampled_from(_VALUES + _NEAR + _GLUE), max_size=30).map("".join)


def _numbered_set(values: list[str]) -> IdentifierSet:
    numbers: dict[tuple[str, int], list[int]] = {}
    for v in values:
        parts = numbered(v)
        assert parts is not None
        numbers.setdefault(parts[0], []).append(parts[1])
    return IdentifierSet((), numbers)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sets(st.sampled_from(_VALUES), min_size=1), st.sampled_from([1, 4, 6]))
def test_identifiers_found_in_runs_are_the_tokens_that_are_values(
    text: str, values: set[str], shortest: int
) -> None:
    ids = Identifiers(values=_numbered_set(sorted(values)), known_shortest=shortest)
    tokens = checker._long_tokens(text) if shortest >= 4 else checker._tokens(text)
    plain = tokens & frozenset(values)
    assert ids.values.in_runs(text, 4 if shortest >= 4 else 1) is not None
    assert identifier_values_in(text, ids) == plain
    as_texts = Identifiers(values=frozenset(values), known_shortest=shortest)
    assert identifier_values_in(text, as_texts) == plain


def test_values_that_are_not_letters_then_digits_are_found_among_the_tokens() -> None:
    for ids in (IdentifierSet({"AB12"}), IdentifierSet((), {("", 6): [123456]})):
        assert ids.in_runs("AB12 123456", 4) is None
        found = identifier_values_in("AB12 123456", Identifiers(values=ids, known_shortest=4))
        assert found == {"AB12"} or found == {"123456"}


_DATES = [
    "20/02/1998",
    "2/3/2001",
    "1998-02-20",
    "1998/2/20T00:00:00",
    "19980220",
    "2001.2.3",
    "20 February 1998",
    "3rd FEB. 2001",
    "FEBRUARY 3, 2001",
    "feb 3rd, 2001",
    "Sept 9\n2003",
    "9\nMay\n2010",
    "31/02/2001",
    "0.19980220",
    "\u0663\u0663/02/1998",
    "2\u0663/02/1998",
    "1998-02-2\u0663",
    "http://www.w3.org/1999/02/22-rdf",
]
_DATE_GLUE = [" ", "\n", "x", "1", ".", "-", "/", ",", "é", "İ", "ſ", "K", "march ", "May"]
_DATE_TEXT = st.lists(st.sampled_from(_DATES + _DATE_GLUE), max_size=20).map("".join)


def _plain_dates(text: str) -> set[dt.date]:
    """Every pattern over the whole text, with ``re.I`` (the checker's reading, unhurried)."""
    text = checker._URL.sub(" ", text)
    return {
        d
        for pattern, order in checker._DATE_PATTERNS
        for m in pattern.finditer(text)
        for d in checker._match_dates(order, m.groups())
        if d is not None
    }


@settings(max_examples=400, deadline=None)
@given(_DATE_TEXT)
def test_dates_found_fast_are_the_dates_every_pattern_finds(text: str) -> None:
    assert dates_in_text(text) == _plain_dates(text)


def test_a_text_with_other_digits_is_searched_with_them() -> None:
    assert checker._ascii_digits("12/03/2001 é") and not checker._ascii_digits("\u0663")
    assert dates_in_text("\u0661\u0662/03/2001") == {dt.date(2001, 3, 12), dt.date(2001, 12, 3)}
    assert dates_in_text("born in May (2001) or may 3 2001") == {dt.date(2001, 5, 3)}
