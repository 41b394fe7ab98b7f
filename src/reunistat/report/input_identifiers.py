"""The input's identifier values the checker searches the outputs for, collected from the columns.

A national extract holds about a million distinct identifiers (CHILD,
LAchildID, UPN), four million values in its columns. A column whose values
are one prefix and a fixed number of digits (``C00000659``,
``A000005323350``) is read by Arrow as the numbers those digits make
(:func:`numbered_column`); its values are kept as one sorted array of
numbers per prefix and width (:class:`IdentifierSet`), not as a million
Python strings in a set. Other columns give their values as text
(:func:`searched_texts`).

An :class:`IdentifierSet` is a set of texts as any other: ``tokens & values``
gives the tokens that are values, ``text in values`` whether a text is one,
and iterating it gives every value as text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
import pandas as pd

#: The characters ``str.strip()`` removes (``str.isspace``), for Arrow's trim.
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
#: A prefix, then 1 to 18 digits (an int64 holds them) to the end: how a value is numbered.
_NUMBERED = re.compile(r"([^0-9]*)([0-9]{1,18})")
#: A prefix :meth:`IdentifierSet.in_runs` searches: ASCII letters only.
_LETTERS = re.compile(r"[A-Za-z]+")
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
#: A prefix and a number of digits: the values of :class:`IdentifierSet` numbered alike.
Key = tuple[str, int]


def searched_identifier(value: str) -> bool:
    """Return whether an identifier value is searched for in the outputs.

    Values of six or more characters, numeric or not, and values of four or
    more that mix letters and digits. Shorter values (the MOTHER flag, a
    one-digit code) cannot be told apart from counts and codes in an output.

    >>> [searched_identifier(v) for v in ("123456", "C00000029", "AB12", "1", "12345")]
    [True, True, True, False, False]
    """
    v = value.strip()
    if len(v) >= 6:
        return True
    return len(v) >= 4 and any(c.isalpha() for c in v) and any(c.isdigit() for c in v)


def numbered(text: str) -> tuple[Key, int] | None:
    """The prefix and number of digits of an ASCII text that ends in digits, and their number.

    The prefix is what comes before the first digit; the text is the prefix
    then the number written with that many digits (zeros in front).

    >>> numbered("C00000659"), numbered("123456"), numbered("AB1C2"), numbered("AB")
    ((('C', 8), 659), (('', 6), 123456), None, None)
    """
    if not text.isascii():
        return None
    m = _NUMBERED.fullmatch(text)
    if m is None:
        return None
    prefix, digits = m.groups()
    return (prefix, len(digits)), int(digits)


class IdentifierSet(AbstractSet[str]):
    """Identifier values: texts, and per prefix and width the sorted numbers of numbered values.

    A value is in the set when it is one of ``texts``, or when it is a prefix
    then ``width`` digits (:func:`numbered`) whose number is among those of
    ``numbers[(prefix, width)]``. A value may be in both (counted once).

    >>> ids = IdentifierSet({"AB12", "C00000007"}, {("C", 8): [659, 7]})
    >>> sorted({"C00000659", "C659", "AB12", "x"} & ids), "C00000007" in ids, len(ids)
    (['AB12', 'C00000659'], True, 3)
    """

    def __init__(
        self, texts: Iterable[str] = (), numbers: Mapping[Key, Iterable[int]] | None = None
    ) -> None:
        self._texts = frozenset(texts)
        self._numbers: dict[Key, np.ndarray] = {}
        for key, ns in (numbers or {}).items():
            arr = ns if isinstance(ns, np.ndarray) else np.fromiter(ns, dtype=np.int64)
            if len(arr):
                self._numbers[key] = sorted_distinct(arr.astype(np.int64, copy=False))
        self._searches: dict[int, list[tuple[re.Pattern[str], Key]]] = {}

    def found(self, tokens: Iterable[Any]) -> set[str]:
        """The texts among ``tokens`` that are values of the set."""
        tokens = tokens if isinstance(tokens, set | frozenset) else set(tokens)
        out = set(self._texts.intersection(tokens))
        for (prefix, width), numbers in self._numbers.items():
            k, size = len(prefix), len(prefix) + width
            near = [t for t in tokens if isinstance(t, str) and len(t) == size]
            alike = [t for t in near if t.startswith(prefix) and t.isascii() and t[k:].isdigit()]
            out.update(_numbered_hits(numbers, k, alike))
        return out

    def in_runs(self, text: str, shortest: int) -> set[str] | None:
        """The values that are whole runs of ASCII letters and digits in ``text`` (not all digits).

        ``self & runs``, for ``runs`` the runs of ``[A-Za-z0-9]`` of
        ``shortest`` characters or more that are not all digits, found by one
        search for the values' prefixes then digits, without listing the runs:
        when every value is numbered with a prefix of ASCII letters (None
        otherwise: then a value may be a run of digits, or no run at all).

        >>> ids = IdentifierSet((), {("C", 4): [659, 7]})
        >>> sorted(ids.in_runs("C0659 xC0007 C0007, C00070 C0008 0C0007", 4))
        ['C0007', 'C0659']
        >>> IdentifierSet({"AB12"}).in_runs("AB12", 4) is None
        True
        """
        searches = self._run_searches(shortest)
        if searches is None:
            return None
        out: set[str] = set()
        for pattern, key in searches:
            alike = set()
            for m in pattern.finditer(text):
                start = m.start()
                if not start or text[start - 1] not in _ASCII_ALNUM:  # a run, not inside one
                    alike.add(m.group())
            out.update(_numbered_hits(self._numbers[key], len(key[0]), sorted(alike)))
        return out

    def _run_searches(self, shortest: int) -> list[tuple[re.Pattern[str], Key]] | None:
        """:meth:`in_runs`'s searches: a key's prefix then digits, ending a run; for each kept key.

        One search per key, starting with its prefix (a fixed text: found
        fast, where a look-behind, or a choice of prefixes, is tried at
        every character); the run's start is checked after.
        """
        if self._texts or not all(_LETTERS.fullmatch(prefix) for prefix, _ in self._numbers):
            return None
        found = self._searches.get(shortest)
        if found is None:
            keys = sorted(k for k in self._numbers if len(k[0]) + k[1] >= shortest)
            runs = "{}[0-9]{{{}}}(?![A-Za-z0-9])"
            found = [(re.compile(runs.format(re.escape(p), w)), (p, w)) for p, w in keys]
            self._searches[shortest] = found
        return found

    def __and__(self, other: Iterable[Any]) -> frozenset[str]:
        return frozenset(self.found(other))

    __rand__ = __and__

    def _numbered_in(self, text: str) -> bool:
        parts = numbered(text)
        numbers = None if parts is None else self._numbers.get(parts[0])
        if parts is None or numbers is None:
            return False
        at = int(np.searchsorted(numbers, parts[1]))
        return at < len(numbers) and int(numbers[at]) == parts[1]

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and (value in self._texts or self._numbered_in(value))

    def __iter__(self) -> Iterator[str]:
        yield from self._texts
        for (prefix, width), numbers in self._numbers.items():
            texts = (f"{prefix}{n:0{width}d}" for n in numbers.tolist())
            yield from (t for t in texts if t not in self._texts)

    def __len__(self) -> int:
        both = sum(1 for t in self._texts if self._numbered_in(t))
        return len(self._texts) + sum(len(a) for a in self._numbers.values()) - both

    def __hash__(self) -> int:
        return self._hash()

    def __repr__(self) -> str:
        return f"IdentifierSet({len(self._texts)} texts, numbered as {sorted(self._numbers)})"


def _numbered_hits(numbers: np.ndarray, k: int, alike: list[str]) -> list[str]:
    """The texts of ``alike`` (``k`` characters, then digits) whose number is one of ``numbers``."""
    if not alike:
        return []
    asked = np.fromiter((int(t[k:]) for t in alike), dtype=np.int64, count=len(alike))
    at = np.minimum(np.searchsorted(numbers, asked), len(numbers) - 1)
    return [t for t, hit in zip(alike, numbers[at] == asked, strict=True) if hit]


def sorted_distinct(numbers: np.ndarray) -> np.ndarray:
    """The distinct numbers, sorted: marked in a table of their span when it is short, else sorted.

    >>> sorted_distinct(np.array([7, 3, 7, 5])).tolist()
    [3, 5, 7]
    """
    lo, hi = int(numbers.min()), int(numbers.max())
    if hi - lo < 4 * len(numbers):
        seen = np.zeros(hi - lo + 1, dtype=bool)
        seen[numbers - lo] = True
        return np.flatnonzero(seen) + lo
    ordered = np.sort(numbers)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def identifier_set(columns: Iterable[pd.Series]) -> IdentifierSet:
    """The searched identifiers among columns' values (:func:`searched_texts`), as a set.

    Each column of text that :func:`numbered_column` reads gives its numbers;
    the others give their texts (:func:`searched_texts`).

    >>> cols = [pd.Series(["C00001", None, "C00002"]), pd.Series(["C00001 ", "AB12", "x1"])]
    >>> ids = identifier_set(cols)
    >>> sorted(ids), ids._numbers
    (['AB12', 'C00001', 'C00002'], {('C', 5): array([1, 2])})
    """
    numbers: dict[Key, list[np.ndarray]] = {}
    texts: list[Any] = []
    arrays, others = _as_arrow(columns)
    for arr in arrays:
        found = numbered_column(arr)
        if found is None:
            texts.append(arr)
        elif _searched_key(found[0]):
            numbers.setdefault(found[0], []).append(found[1])
    ids = _searched(texts, others)
    return IdentifierSet(ids, {key: np.concatenate(parts) for key, parts in numbers.items()})


def _searched_key(key: Key) -> bool:
    """Whether the values of a prefix and a number of digits are searched (all or none are)."""
    prefix, width = key
    return searched_identifier(prefix + "0" * width)


def numbered_column(arr: Any) -> tuple[Key, np.ndarray] | None:
    """The prefix and width of an Arrow text array's values and their numbers, if all share them.

    The values not missing are the same prefix (an ASCII text not starting
    with white space) then digits, as many in each (up to 18), so that each
    value is its own text stripped and :func:`numbered` alike. Else None.

    >>> import pyarrow as pa
    >>> numbered_column(pa.array(["C0659", None, "C0007"]))
    (('C', 4), array([659,   7]))
    >>> numbered_column(pa.array(["C0659", "C007"])), numbered_column(pa.array([" C065"]))
    (None, None)
    """
    import pyarrow as pa

    from reunistat.tables.digits import prefixed_numbers

    found = prefixed_numbers(arr) if isinstance(arr, pa.Array) else None
    if found is None or found[0][:1].isspace():
        return None
    prefix, width, numbers = found
    return (prefix, width), numbers[numbers >= 0]


def distinct_values(col: pd.Series) -> list[Any]:
    """The distinct non-missing values of a column (before any conversion: columns are long).

    The same values, in the same order, as ``pd.unique(col.dropna())``: the
    missing ones are dropped from the distinct values, not from the column.

    >>> distinct_values(pd.Series(["b", None, "a", "b", float("nan")]))
    ['b', 'a']
    """
    values = pd.unique(col)
    return [v for v, na in zip(values, pd.isna(values), strict=True) if not na]


def _texts(values: Iterable[Any]) -> list[str]:
    return [v.strip() if isinstance(v, str) else str(v).strip() for v in values]


def searched_texts(columns: Iterable[pd.Series]) -> set[str]:
    """The searched identifiers among columns' values: ``searched_identifier(text)``.

    The same set as ``{t for t in _texts(distinct_values(col)) if searched_identifier(t)}``
    over every column. Columns of Python strings (identifiers as read) are
    taken by Arrow: the distinct values of all of them together (the same
    child's CHILD is in several tables), stripped and measured there; only
    texts of four or five characters are looked at one by one. Other columns
    (numbers, mixed) are converted value by value.

    >>> cols = [pd.Series(["C00001 ", "AB12", None, "x1"]), pd.Series(["C00001", 1234567])]
    >>> sorted(searched_texts(cols))
    ['1234567', 'AB12', 'C00001']
    """
    return _searched(*_as_arrow(columns))


def _as_arrow(columns: Iterable[pd.Series]) -> tuple[list[Any], list[pd.Series]]:
    """The text columns as Arrow arrays (:func:`_arrow_strings`), and the other columns."""
    parts: list[Any] = []
    others: list[pd.Series] = []
    for col in columns:
        part = _arrow_strings(col)
        if part is None:
            others.append(col)
        else:
            parts.append(part)
    return parts, others


def _searched(parts: list[Any], others: list[pd.Series]) -> set[str]:
    """:func:`searched_texts` of columns as Arrow text arrays (``parts``) and of ``others``."""
    out: set[str] = set()
    for col in others:
        out.update(t for t in _texts(distinct_values(col)) if searched_identifier(t))
    if parts:
        import pyarrow as pa
        import pyarrow.compute as pc

        out |= _searched_strings(pc.unique(pa.chunked_array(parts, type=pa.string())).drop_null())
    return out


def _arrow_strings(col: pd.Series) -> Any:
    """A text column as an Arrow array, missing values null (None if not all text)."""
    if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
        return None
    import pyarrow as pa

    try:
        return pa.array(col, type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError, TypeError, ValueError):  # numbers, surrogates
        return None


def dates_of(col: pd.Series) -> list[dt.date]:
    """The distinct dates of a column's values, read day first (missing or unreadable: none).

    A column of dates (``datetime64``) gives the days of its distinct values;
    another the dates ``pd.to_datetime`` reads in its distinct values.

    >>> dates_of(pd.Series(pd.to_datetime(["2009-07-14 12:00", None, "2009-07-14 00:00"])))
    [datetime.date(2009, 7, 14)]
    >>> dates_of(pd.Series(["14/07/2009", "x", None]))
    [datetime.date(2009, 7, 14)]
    """
    values = col.to_numpy()
    if values.dtype.kind == "M":  # no time zone: the day each value falls on
        days = pd.unique(values[~np.isnat(values)].astype("datetime64[D]"))
        return list(days.tolist())
    parsed = pd.to_datetime(pd.Series(distinct_values(col)), errors="coerce", dayfirst=True)
    return [d.date() for d in parsed.dropna()]


def distinct_texts(col: pd.Series) -> list[str]:
    """The distinct texts of a column's values, stripped (postcodes: few values, many rows).

    Hashed by pandas, not converted by Arrow: a column as read holds one
    Python string per distinct value, whose hash is kept, so this is about
    twice as fast as Arrow's conversion of every row.
    """
    return _texts(distinct_values(col))


def _searched_strings(values: Any) -> set[str]:
    """The searched texts of distinct strings (an Arrow array), stripped and measured by Arrow."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(values, characters=PY_WHITESPACE)
    length = pc.utf8_length(trimmed)
    out = set(trimmed.filter(pc.greater_equal(length, 6)).to_pylist())
    middle = pc.and_(pc.greater_equal(length, 4), pc.less(length, 6))
    out.update(t for t in trimmed.filter(middle).to_pylist() if searched_identifier(t))
    return out
