"""The output checker: every file of a release folder against the disclosure rules and identifiers.

It re-reads what was written (not what was meant to be written), so it can run
at the end of ``reunistat reproduce``, after one script re-run on its own, and
again from ``reunistat reproduce --verify``. It takes plain data: the folder,
the disclosure spec of each registered output (``{path: spec}``, as the
manifest records them), the :class:`~reunistat.report.disclosure.DisclosureRules`
and the :class:`Identifiers` read from the input. Every file in the folder is
checked, however it was registered (``type: "none"`` included) and whether or
not it was registered at all:

* **identifiers**, in every mode and every file (text, and the text inside
  binary files: SVG, HTML with its embedded resources, the XML of DOCX and
  XLSX, PNG text chunks, printable strings of anything else): CHILD, UPN,
  LAchildID and MOTHER values of the input (:func:`.searched_identifier`), the
  children's dates of birth in any common written form, their postcodes
  (HOME_POST, PL_POST), and a column named like an identifier or a date of
  birth in any table;
* **counts**, when disclosure control applies: tables of counts (cells and
  lines), curves, the counts a model rests on, every entry of ``values.json``
  that is a count (:func:`is_count_value`), and in every other table the
  columns named as counts (:func:`is_count_name`).

Breach messages never quote a count from the data: they say "a count below
the threshold", never its size, so ``disclosure_report.md`` and
``manifest.json`` (the files sent with a release request) can be released.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import functools
import io
import itertools
import json
import re
import string
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.report.disclosure import DisclosureRules, check_curve, check_table
from reunistat.report.input_identifiers import (
    IdentifierSet,
    dates_of,
    distinct_texts,
    identifier_set,
)
from reunistat.report.pdf_content import page_text

IDENTIFIER_COLUMNS = ("CHILD", "UPN", "LAchildID", "MOTHER")
DOB_COLUMNS = ("DOB", "MC_DOB")
POSTCODE_COLUMNS = ("HOME_POST", "PL_POST")
#: Files of the release written by the checker and the pipeline about the others.
RELEASE_FILES = ("manifest.json", "disclosure_report.md")
_FORBIDDEN_COLUMN_KEYS = {"child", "childid", "upn", "lachildid", "mother", "dob", "mcdob"}
_FORBIDDEN_COLUMN_KEYS |= {"dateofbirth", "birthdate", "birthday", "postcode", "homepost"}
_FORBIDDEN_COLUMN_KEYS |= {"plpost"}
_COUNT_WORDS = {
    "n",
    "count",
    "counts",
    "number",
    "events",
    "event",
    "children",
    "child",
    "spells",
    "returns",
    "reentries",
    "cases",
    "frequency",
    "freq",
}
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_MON = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|" + (
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_PATTERNS = (
    # 20/02/1998, 20-02-1998, 20.02.1998 (day first, and month first as in the US)
    (re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)"), "dmy"),
    # 1998-02-20, 1998/02/20, 1998-02-20T00:00:00
    (re.compile(r"(?<!\d)(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)"), "ymd"),
    # 19980220
    (re.compile(r"(?<![\d.])(\d{4})(\d{2})(\d{2})(?![\d]|\.\d)"), "ymd"),
    # 20 February 1998, 20th Feb. 1998
    (re.compile(r"(?<!\d)(\d{1,2})(?:st|nd|rd|th)?\s+" + _MON + r"\.?,?\s+(\d{4})", re.I), "dMy"),
    # February 20, 1998
    (re.compile(_MON + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.I), "Mdy"),
)
#: The patterns of dates with a month's name, case-sensitive, for text in lower case: the
#: same matches there as ``re.I`` in the text (see :func:`_lower_alike`), found much faster.
_NAMED_DATES_LOWER = tuple(
    (re.compile(p.pattern), order) for p, order in _DATE_PATTERNS if p.flags & re.I
)
#: For each of :data:`_DATE_PATTERNS`, what every match of it holds, searched first (no
#: match: the pattern has none either); the last two in the text in lower case.
_NEEDED = (
    re.compile(r"[/.-]\d{1,2}[/.-]"),
    re.compile(r"[/.-]\d{1,2}[/.-]"),
    re.compile(r"\d{8}"),
    re.compile(r"\s" + _MON),
    None,
)
#: The numeric patterns (the first three): none of their matches, nor what they look at
#: beside one, holds a line end, so they find the same in the lines holding what they need.
_LINE_WISE = 3
#: The numeric patterns, their order and what they need; and the same with ``\d`` read as
#: ``[0-9]`` (``re.ASCII``: they hold no ``\s`` or ``\w``), for a text whose digits are 0-9.
_NUMERIC = tuple(
    (p, order, need) for (p, order), need in zip(_DATE_PATTERNS[:_LINE_WISE], _NEEDED, strict=False)
)
_NUMERIC_ASCII = tuple(
    (re.compile(p.pattern, re.A), order, None if need is None else re.compile(need.pattern, re.A))
    for p, order, need in _NUMERIC
)
#: What every match of a date with a month's name holds, in lower case: the month's name,
#: then (a full stop, a comma,) white space and a digit.
_NAMED_NEED = re.compile(_MON + r"\.?,?\s+\d")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
#: The characters other than A-Z that ``re.I`` matches to a letter a-z, or that
#: ``str.lower`` turns into one (İ, ı, ſ and the Kelvin sign: Python 3.11's tables).
_FOLDS_TO_ASCII = frozenset("\u0130\u0131\u017f\u212a")
_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{0,2})(?![A-Za-z0-9])"
)
#: Path and point data of SVG (and SVG in HTML): coordinates, never text.
_PATH_DATA = re.compile(r'\s(?:d|points|transform|viewBox|style)="[^"]*"')
_MD_RULE = re.compile(r"\|?(?:\s*:?-{3,}:?\s*\|)+\s*:?-*:?\s*")
_URL = re.compile(r"(?:https?|ftp)://[^\s\"'<>)]+")
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_NUMBER = re.compile(r"(?<![\w.])(\d+)(?:\.(\d+))?")
#: Tokens and numbers as :data:`_ALNUM` and :data:`_NUMBER`, of four characters or more.
_ALNUM4 = re.compile(r"[A-Za-z0-9]{4,}")
_NUMBER4 = re.compile(r"(?<![\w.])(\d{4,})(?:\.(\d+))?")
_DATA_URI = re.compile(r"data:([\w.+/-]+)(?:;[\w=.-]+)*;base64,([A-Za-z0-9+/=\s]+)")
_ZIP_TEXT = (".xml", ".rels", ".txt", ".html", ".svg", ".json", ".csv")


# --- identifiers in the input ---------------------------------------------------
def normal_postcode(value: str) -> str:
    """Return a postcode upper-cased with one space before its last part (``AA7 7``)."""
    m = _POSTCODE.fullmatch(value.strip())
    return f"{m.group(1)} {m.group(2)}".upper() if m else ""


@dataclass(frozen=True)
class Identifiers:
    """What identifies a child of the input and may not appear in any output.

    Attributes
    ----------
    values : set of str
        CHILD, UPN, LAchildID and MOTHER values that are searched
        (:func:`~reunistat.report.input_identifiers.searched_identifier`): a
        frozenset, or the :class:`~reunistat.report.input_identifiers.IdentifierSet`
        :meth:`from_tables` collects.
    dates_of_birth : frozenset of date
        Every DOB (and MC_DOB) of the input.
    postcodes : frozenset of str
        HOME_POST and PL_POST values, normalised (:func:`normal_postcode`).
    public_dates : frozenset of date
        Dates an output may show although a child was born on them: dates
        of the run (the data end, collection-year ends, the fixed document
        date of reproducible files, pilot start dates of authorities).
    """

    values: AbstractSet[str] = frozenset()
    dates_of_birth: frozenset[dt.date] = frozenset()
    postcodes: frozenset[str] = frozenset()
    public_dates: frozenset[dt.date] = frozenset()
    #: A length no value is shorter than, when known (:meth:`from_tables`: only searched
    #: values, four characters or more); None: measured when first needed.
    known_shortest: int | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def shortest(self) -> int:
        """A length no value of :attr:`values` is shorter than (the shortest's, if measured)."""
        if self.known_shortest is not None:
            return self.known_shortest
        return min(map(len, self.values), default=0)

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, pd.DataFrame], public_dates: Iterable[dt.date] = ()
    ) -> Identifiers:
        """Collect the identifiers from the tables of an extract (as read)."""
        values: list[pd.Series] = []
        dobs: set[dt.date] = set()
        posts: set[str] = set()
        for table in tables.values():
            for col in IDENTIFIER_COLUMNS:
                if col in table.columns:
                    values.append(table[col])
            for col in DOB_COLUMNS:
                if col in table.columns:
                    dobs.update(dates_of(table[col]))
            for col in POSTCODE_COLUMNS:
                if col in table.columns:
                    posts.update(p for p in map(normal_postcode, distinct_texts(table[col])) if p)
        ids = identifier_set(values)
        return cls(ids, frozenset(dobs), frozenset(posts), frozenset(public_dates), 4)


# --- text of any output ------------------------------------------------------------
def _zip_text(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "\n".join(
            z.read(n).decode("utf-8", "replace")
            for n in sorted(z.namelist())
            if n.lower().endswith(_ZIP_TEXT)
        )


def _png_text(raw: bytes) -> str:
    """Return the text chunks (tEXt, zTXt, iTXt) of a PNG."""
    import zlib

    out, i = [], 8
    while i + 8 <= len(raw):
        n = int.from_bytes(raw[i : i + 4], "big")
        kind, body = raw[i + 4 : i + 8], raw[i + 8 : i + 8 + n]
        if kind == b"tEXt":
            out.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            out.append(body.decode("utf-8", "replace"))
        i += 12 + n
    return "\n".join(out)


def _strings(raw: bytes) -> str:
    """Printable ASCII runs of four or more characters (as ``strings`` prints them)."""
    return "\n".join(m.decode("ascii") for m in re.findall(rb"[\x20-\x7e]{4,}", raw))


def _expand_data_uris(text: str) -> str:
    """Replace embedded resources by their text (images by nothing: they are not text)."""

    def one(m: re.Match[str]) -> str:
        mime = m.group(1).lower()
        if not any(k in mime for k in ("svg", "xml", "html", "text", "json", "css", "javascript")):
            return ""
        try:
            return base64.b64decode(re.sub(r"\s", "", m.group(2))).decode("utf-8", "replace")
        except ValueError:
            return m.group(0)

    return _DATA_URI.sub(one, text)


def _pdf_text(path: Path) -> str:
    """Return the text of a PDF's pages and metadata (its compressed streams are not text)."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    return pdf_text(path, [page_text(page) for page in reader.pages], reader)


def pdf_text(path: Path, pages: Sequence[str], reader: Any = None) -> str:
    """The text :func:`file_text` reads in a PDF, from the text of each of its pages.

    For a caller that extracted the pages' text elsewhere (a page's text
    depends on that page alone: :func:`pdf_page_texts`).
    """
    if reader is None:
        from pypdf import PdfReader

        reader = PdfReader(path)
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    return meta + "\n" + "\n".join(pages)


def pdf_page_texts(path: Path, pages: Iterable[int] | None = None) -> list[str]:
    """The text of some pages of a PDF (all by default), as :func:`file_text` reads them."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    chosen = range(len(reader.pages)) if pages is None else pages
    return [page_text(reader.pages[i]) for i in chosen]


def file_text(path: Path) -> str:
    """Return all the text an output file holds (see the module's description)."""
    raw = path.read_bytes()
    if raw[:4] == b"PK\x03\x04":
        return _zip_text(path)
    if raw[:5] == b"%PDF-":
        return _pdf_text(path)
    if raw[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_text(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _strings(raw)
    return _expand_data_uris(text) if "base64," in text else text


# --- identifier checks ----------------------------------------------------------
def _date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _lower_alike(text: str) -> bool:
    """Whether a pattern with ``re.I`` finds in ``text`` what it finds without in ``text.lower()``.

    True unless the text holds a character :data:`_FOLDS_TO_ASCII` names:
    ``str.lower`` then changes only letters, one for one, and a letter other
    than A-Z is never matched to one a-z.

    >>> _lower_alike("20 FEB 1998"), _lower_alike("20 Auguſt 1998")
    (True, False)
    """
    return text.isascii() or _FOLDS_TO_ASCII.isdisjoint(text)


def _date_searches(
    text: str, ascii_digits: bool
) -> list[tuple[re.Pattern[str], str, str, re.Pattern[str] | None]]:
    r"""Each pattern of :data:`_DATE_PATTERNS` searched: as searched, its order, where, its need.

    The numeric ones with ``\d`` read as ``[0-9]`` when every digit of the
    text is (:func:`_ascii_digits`): the same matches, found faster. Dates
    with a month's name are searched in the text in lower case without
    ``re.I`` when that finds the same (:func:`_lower_alike`), and not at all
    when no month's name there is followed by a number (:data:`_NAMED_NEED`);
    otherwise as written, with nothing searched first.
    """
    numeric = _NUMERIC_ASCII if ascii_digits else _NUMERIC
    out = [(pattern, order, text, needed) for pattern, order, needed in numeric]
    if not _lower_alike(text):
        named_as_written = _DATE_PATTERNS[_LINE_WISE:]
        return out + [(pattern, order, text, None) for pattern, order in named_as_written]
    low = text.lower()
    if _NAMED_NEED.search(low) is None:
        return out
    named = zip(_NAMED_DATES_LOWER, _NEEDED[_LINE_WISE:], strict=True)
    return out + [(pattern, order, low, needed) for (pattern, order), needed in named]


def _ascii_digits(text: str) -> bool:
    r"""Whether every character of ``text`` that ``\d`` matches is one of 0-9.

    >>> _ascii_digits("12 é 3"), _ascii_digits("12 \u0663")
    (True, False)
    """
    return text.isascii() or not any(c.isdecimal() for c in set("".join(_NON_ASCII.findall(text))))


def dates_in_text(text: str) -> set[dt.date]:
    """Return every calendar date written in the text, in any common form.

    Day-first and month-first readings of ``01/02/2003`` are both returned;
    URLs are not read (XML namespaces hold dates).

    >>> sorted(str(d) for d in dates_in_text("born 20/02/1998 or 1998-02-21, 22 Feb 1998"))
    ['1998-02-20', '1998-02-21', '1998-02-22']
    """
    found: set[dt.date] = set()
    if "://" in text:  # namespaces such as www.w3.org/1999/02/22-rdf-syntax-ns
        text = _URL.sub(" ", text)
    ascii_digits = _ascii_digits(text)
    lines = _numeric_lines(text) if ascii_digits else {}
    for i, (pattern, order, where, needed) in enumerate(_date_searches(text, ascii_digits)):
        if needed is not None and i < _LINE_WISE:
            if needed not in lines:
                lines[needed] = _lines_holding(needed, where)
            where = lines[needed]
        elif needed is not None and not needed.search(where):
            continue
        for m in pattern.finditer(where):
            found.update(d for d in _match_dates(order, m.groups()) if d is not None)
    return found


def _numeric_lines(text: str) -> dict[re.Pattern[str], str]:
    r"""What :func:`_lines_holding` gives for the needs of the numeric patterns, found fast.

    For a text whose digits are all 0-9 (:func:`_ascii_digits`): in its
    shapes (:func:`_shapes`: each digit ``0``, each of ``/.-`` a ``/``), a
    line holds ``[/.-]\d{1,2}[/.-]`` where it holds ``/0/`` or ``/00/``, and
    ``\d{8}`` where it holds ``00000000``: fixed texts, found by ``bytes.find``.

    >>> lines = _numeric_lines("a 1.2.3\nb 12345678\nc 1.234-5")
    >>> [lines[need] for _, _, need in _NUMERIC_ASCII]
    ['a 1.2.3', 'a 1.2.3', 'b 12345678']
    """
    shapes = _shapes(text)
    dated, eight = _NUMERIC_ASCII[0][2], _NUMERIC_ASCII[2][2]
    assert dated is not None and eight is not None and _NUMERIC_ASCII[1][2] is dated
    return {
        dated: _lines_at(
            text, sorted([*_found_lines(shapes, b"/0/"), *_found_lines(shapes, b"/00/")])
        ),
        eight: _lines_at(text, _found_lines(shapes, b"00000000")),
    }


def _shapes(text: str) -> bytes:
    r"""The text's shapes: a byte a character, digits as ``0``, ``/.-`` as ``/``, letters as ``a``.

    Line ends are kept, any other character is a space (other than ASCII:
    ``?`` first, then a space). Character ``i`` of the text is byte ``i``.

    >>> _shapes("Ab 1.2-3/4\né5")
    b'aa 0/0/0/0\n 0'
    """
    return text.encode("ascii", "replace").translate(_SHAPES)


def _shape_table() -> bytes:
    """The table ``bytes.translate`` makes a text's shapes with (:func:`_shapes`)."""
    table = bytearray(b" " * 256)
    for shape, members in ((b"0", b"0123456789"), (b"/", b"/.-"), (b"\n", b"\n")):
        for b in members:
            table[b] = shape[0]
    for b in string.ascii_letters.encode():
        table[b] = ord("a")
    return bytes(table)


_SHAPES = _shape_table()


def _found_all(shapes: bytes, what: bytes) -> list[int]:
    """Where ``what`` is found in ``shapes``, each time after the last (no overlap)."""
    out = []
    at = shapes.find(what)
    while at >= 0:
        out.append(at)
        at = shapes.find(what, at + len(what))
    return out


def _found_lines(shapes: bytes, what: bytes) -> list[int]:
    """Where ``what`` is first found in each line of ``shapes`` that holds it."""
    out = []
    at = shapes.find(what)
    while at >= 0:
        out.append(at)
        end = shapes.find(b"\n", at)
        if end < 0:
            break
        at = shapes.find(what, end)
    return out


def _lines_at(text: str, starts: Iterable[int]) -> str:
    r"""The lines of ``text`` (between ``\n``) holding the places ``starts`` (ascending), joined."""
    out, taken = [], -1
    for start in starts:
        if start <= taken:  # on the line taken last
            continue
        end = text.find("\n", start)
        taken = len(text) if end < 0 else end
        out.append(text[text.rfind("\n", 0, start) + 1 : taken])
    return "\n".join(out)


def _lines_holding(pattern: re.Pattern[str], text: str) -> str:
    r"""The lines of ``text`` (between ``\n``) that hold a match of ``pattern``, joined by ``\n``.

    For a pattern whose matches hold no line end.

    >>> _lines_holding(re.compile(r"\d/"), "a 1/2\nb\nc 3/4 5/6\n")
    'a 1/2\nc 3/4 5/6'
    """
    return _lines_at(text, (m.start() for m in pattern.finditer(text)))


def _match_dates(order: str, groups: Sequence[str]) -> list[dt.date | None]:
    """The dates one match of a pattern of :data:`_DATE_PATTERNS` may mean (None: no date)."""
    a, b, c = groups
    if order == "dmy":
        return [_date(int(c), int(b), int(a)), _date(int(c), int(a), int(b))]
    if order == "ymd":
        return [_date(int(a), int(b), int(c))]
    if order == "dMy":
        return [_date(int(c), _MONTHS[b.lower()[:3]], int(a))]
    return [_date(int(c), _MONTHS[a.lower()[:3]], int(b))]


def _tokens(text: str) -> set[str]:
    """Alphanumeric tokens, and whole numbers that are not part of a decimal fraction."""
    tokens = set(_ALNUM.findall(text))
    numbers = {m.group(1) for m in _NUMBER.finditer(text) if not (m.group(2) or "0").strip("0")}
    return {t for t in tokens if not t.isdigit()} | numbers


def _long_tokens(text: str) -> set[str]:
    """The tokens of :func:`_tokens` of four characters or more (those searched, as a rule).

    >>> sorted(_long_tokens("C0001 x12 123456 12345.0 0.123456 2.50"))
    ['12345', '123456', 'C0001']
    """
    tokens = {t for t in _ALNUM4.findall(text) if not t.isdigit()}
    tokens.update(whole for whole, fraction in _NUMBER4.findall(text) if not fraction.strip("0"))
    return tokens


def table_headers(path: Path, text: str) -> list[str]:
    """Return the column names of the tables an output holds (CSV, Markdown, HTML, XLSX)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        first = next(csv.reader(io.StringIO(text)), [])
        return [c.strip() for c in first]
    if suffix == ".md":  # the row above each |---| line
        lines = text.splitlines()
        return [
            c.strip()
            for above, line in itertools.pairwise(lines)
            if _MD_RULE.fullmatch(line.strip())
            for c in above.split("|")
        ]
    if suffix in (".html", ".htm"):
        return [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<th[^>]*>(.*?)</th>", text, re.S)
        ]
    if suffix == ".xlsx":
        return [c.strip() for c in re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", text)]
    return []


def _column_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def identifier_breaches(
    path: Path, rel: str, identifiers: Identifiers, text: str | None = None
) -> list[str]:
    """Return the breaches of the no-identifier rules in one file (never the values found).

    ``text``: the file's :func:`file_text`, when the caller has it already.
    """
    text = file_text(path) if text is None else text
    if not text:
        return []
    if "<svg" in text:
        text = _PATH_DATA.sub(" ", text)
    out = []
    bad = sorted({h for h in table_headers(path, text) if _column_key(h) in _FORBIDDEN_COLUMN_KEYS})
    if bad:
        out.append(
            f"{rel}: has a column named as an identifier or a date of birth ({', '.join(bad)})"
        )
    n_ids = len(identifier_values_in(text, identifiers))
    if n_ids:
        out.append(f"{rel}: holds {n_ids} child identifier value(s) of the input")
    n_dob = len((dates_in_text(text) & identifiers.dates_of_birth) - identifiers.public_dates)
    if n_dob:
        out.append(f"{rel}: holds {n_dob} date(s) that are dates of birth in the input")
    posts = postcodes_in(text)
    n_post = len(posts & identifiers.postcodes)
    if n_post:
        out.append(f"{rel}: holds {n_post} postcode(s) of children in the input")
    return out


def identifier_values_in(text: str, identifiers: Identifiers) -> AbstractSet[str]:
    """The values of ``identifiers`` that are tokens of ``text`` (:func:`_tokens`).

    Only tokens of four characters or more when no value is shorter
    (:func:`_long_tokens`); an :class:`IdentifierSet` whose values are all
    letters then digits finds those among the text's runs of letters and
    digits without listing the tokens (:meth:`IdentifierSet.in_runs`).
    """
    long = identifiers.shortest >= 4
    values = identifiers.values
    found = values.in_runs(text, 4 if long else 1) if isinstance(values, IdentifierSet) else None
    if found is not None:
        return found
    return (_long_tokens(text) if long else _tokens(text)) & values


#: A letter then a digit: what every match of :data:`_POSTCODE` holds where its outward
#: code's letters end (found fast: the pattern itself starts with a look-behind, tried at
#: every character).
_LETTER_DIGIT = re.compile(r"[A-Za-z]\d")


def postcodes_in(text: str) -> set[str]:
    """The postcodes written in ``text``, normalised: ``A[A]9[9] 9AA``.

    The same set as ``{f"{a} {b}".upper() for a, b in _POSTCODE.findall(text)}``: a
    match starts at the letter before a letter and digit, or at that letter; they are
    tried in order, each from the end of the last match found, as ``findall`` does.

    >>> sorted(postcodes_in("at aa7 7ab, not xAA7 7AB; B1 2CD"))
    ['AA7 7AB', 'B1 2CD']
    """
    out: set[str] = set()
    end = 0
    if _ascii_digits(text):  # the pairs are "a0" in the text's shapes
        pairs: Iterable[int] = _found_all(_shapes(text), b"a0")
    else:
        pairs = (m.start() for m in _LETTER_DIGIT.finditer(text))
    for pair in pairs:
        for start in (pair - 1, pair):
            m = _POSTCODE.match(text, start) if start >= end else None
            if m is not None:
                out.add(f"{m.group(1)} {m.group(2)}".upper())
                end = m.end()
    return out


# --- count checks -----------------------------------------------------------------
def is_count_name(name: str) -> bool:
    """Return whether a column or value name says it holds a count.

    Any of its words (split at ``_``, spaces and case) is one of ``n``,
    ``count``, ``number``, ``events``, ``children``, ``spells``, ``returns``,
    ``reentries``, ``cases``, ``frequency`` (and their variants).

    >>> [is_count_name(n) for n in ("n_black", "n_events", "Spells", "hr", "power_las")]
    [True, True, True, False, False]
    """
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    return any(w in _COUNT_WORDS for w in words)


def count_breach(raw: Any, rules: DisclosureRules) -> str | None:
    """Return why a published count breaks the rules, never quoting it (``None`` if it does not).

    Symbols (``c``, ``z``, ``k``), blanks and non-numbers are not counts and pass.

    >>> count_breach("7", DisclosureRules()), count_breach("c", DisclosureRules())
    ('a count below the threshold', None)
    """
    if not rules.apply or raw is None or isinstance(raw, bool):
        return None
    try:
        v = float(str(raw).replace(",", "").strip())
    except ValueError:
        return None
    if v != v or v != round(v):  # NaN, or not a whole number: not a count
        return None
    if 0 < v < rules.threshold:
        return "a count below the threshold"
    if v == 0 and rules.zeros_disclosive:
        return "a zero count (zeros are disclosive under these rules)"
    if rules.rounding and v % rules.rounding:
        return f"a count not rounded to {rules.rounding}"
    return None


def is_count_value(key: str, entry: Mapping[str, Any]) -> bool:
    """Return whether an entry of ``values.json`` is a count (checked like a published count).

    Recorded with ``Context.count`` (``type: count``), or named as a count
    (:func:`is_count_name`) with a whole-number value.
    """
    if entry.get("type") == "count":
        return True
    v = entry.get("value")
    whole = isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer()
    return whole and is_count_name(key)


def values_breaches(values: Mapping[str, Mapping[str, Any]], rules: DisclosureRules) -> list[str]:
    """Return the breaches among the numbers recorded for the paper."""
    out = []
    for key, entry in sorted(values.items()):
        if not is_count_value(key, entry):
            continue
        shown = entry.get("text") if entry.get("type") == "count" else entry.get("value")
        msg = count_breach(shown, rules)
        if msg:
            out.append(f"value {key!r}: {msg}")
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _named_count_breaches(
    table: pd.DataFrame, rules: DisclosureRules, skip: Sequence[str] = ()
) -> list[str]:
    out = []
    for col in table.columns:
        if col in skip or not is_count_name(str(col)):
            continue
        rows = [i + 1 for i, raw in enumerate(table[col].tolist()) if count_breach(raw, rules)]
        if rows:
            why = count_breach(table[col].iloc[rows[0] - 1], rules)
            out.append(f"column {col!r} holds {why} (row(s) {', '.join(map(str, rows[:10]))})")
    return out


def model_breaches(spec: Mapping[str, Any], rules: DisclosureRules) -> list[str]:
    """Return the breaches of a model's spec: a count it rests on below the threshold.

    A spec linked to the release (``counts``: its ``n_obs`` and ``n_events``
    are release cells, ``c`` where the joint suppression hides them) breaks
    the rules when ``small_cell`` is set or a count it quotes is below the
    threshold; a ``c`` there is suppression, not a small model. Any other
    spec breaks them when ``n_obs``, ``n_events`` or ``n_min_cell`` is below
    the threshold (or ``c``), or when ``small_cell`` is set.

    >>> r = DisclosureRules()
    >>> model_breaches({"counts": "model:cox", "n_obs": "c", "small_cell": False}, r)
    []
    >>> model_breaches({"n_obs": 1200, "n_min_cell": 3}, r)
    ['the model rests on a count below the threshold (n_min_cell)']
    """
    out = []
    linked = "counts" in spec
    for k in ("n_obs", "n_events", "n_min_cell"):
        v = spec.get(k)
        if v is None:
            continue
        if (v == "c" and not linked) or count_breach(v, rules) == "a count below the threshold":
            out.append(f"the model rests on a count below the threshold ({k})")
    if rules.apply and spec.get("small_cell"):
        out.append("the model rests on a count below the threshold (a category)")
    return out


def rule_breaches(
    path: Path, rel: str, spec: Mapping[str, Any] | None, rules: DisclosureRules
) -> list[str]:
    """Return breaches of the count rules in one output, as its spec describes it.

    A CSV of any type (``none`` and unregistered files included) has its
    columns named as counts checked; ``values.json`` has every count entry
    checked.
    """
    if not rules.apply:
        return []
    spec = spec or {"type": "unregistered"}
    kind = spec.get("type", "none")
    probs: list[str] = []
    if path.suffix.lower() == ".csv":
        table = _read_csv(path)
        if kind == "counts":
            cols = list(spec.get("count_cols", []))
            lines = [[(r, c) for r, c in line] for line in spec.get("lines", [])]
            probs += check_table(table, [], rules, lines, spec.get("row_key"))
            probs += [f"column {c!r} is missing" for c in cols if c not in table.columns]
            probs += _named_count_breaches(table.rename(columns={c: f"n_{c}" for c in cols}), rules)
        elif kind == "curve":
            probs += check_curve(table, rules, estimate_cols=spec.get("estimate_cols", []))
        else:
            probs += _named_count_breaches(table, rules)
    if kind == "model":
        probs += model_breaches(spec, rules)
    if rel == "values.json" or kind == "values":
        probs += values_breaches(json.loads(path.read_text("utf-8")), rules)
    return [f"{rel}: {p}" for p in probs]


def check_folder(
    out_dir: Path,
    specs: Mapping[str, Mapping[str, Any]],
    rules: DisclosureRules,
    identifiers: Identifiers,
    *,
    about: Sequence[str] = RELEASE_FILES,
) -> list[str]:
    """Check every file under ``out_dir``; return the breaches (empty if none).

    Parameters
    ----------
    out_dir : Path
        The release folder.
    specs : mapping of relative path to disclosure spec
        What each registered output is (``{"type": "counts" | "curve" |
        "model" | "values" | "figure" | "same_as" | "paper" | "report" |
        "none", ...}``), as ``manifest.json`` records them.
    rules : DisclosureRules
        The release's rules.
    identifiers : Identifiers
        What identifies a child of the input.
    about : sequence of str
        Files written about the release (the manifest and this report):
        safe by construction for counts, checked for identifiers only.

    Returns
    -------
    list of str
        One message per breach, naming the file; no count of the data and
        no identifier is quoted. A file no script registered is a breach, and
        is checked all the same.
    """
    breaches = []
    for p in sorted(out_dir.rglob("*")):
        if p.is_file():
            rel = p.relative_to(out_dir).as_posix()
            breaches += file_breaches(p, rel, specs.get(rel), rules, identifiers, rel in about)
    return breaches


def file_breaches(
    path: Path,
    rel: str,
    spec: Mapping[str, Any] | None,
    rules: DisclosureRules,
    identifiers: Identifiers,
    about: bool = False,
    text: str | None = None,
) -> list[str]:
    """Return the breaches :func:`check_folder` finds in one file of the folder.

    ``spec`` is the file's registered disclosure spec (``None``: registered
    by no output, itself a breach); ``about``: a file written about the
    release (identifiers only); ``text``: its :func:`file_text`, if known.
    """
    ids = identifier_breaches(path, rel, identifiers, text)
    if about:
        return ids
    out = [] if spec is not None else [f"{rel}: written by no registered output"]
    return out + ids + rule_breaches(path, rel, spec, rules)


# --- what leaves with the release ------------------------------------------------
def release_spec(spec: Mapping[str, Any], rules: DisclosureRules) -> dict[str, Any]:
    """Return a disclosure spec fit for the manifest, which leaves with the release.

    With rules on, a model's spec quotes no count of the data that is not a
    release cell: ``n_obs`` and ``n_events`` stay only when linked to the
    release (``counts``: released values, ``c`` where suppressed); otherwise
    they and ``n_min_cell`` (a category's count, which may equal a cell
    suppressed elsewhere) give way to ``small_cell``, whether the model
    rests on a count below the threshold, which the checker re-reads.

    >>> release_spec({"type": "model", "n_obs": 1200, "n_min_cell": 12}, DisclosureRules())
    {'type': 'model', 'small_cell': False}
    """
    out = dict(spec)
    if rules.apply and out.get("type") == "model":
        small = bool(model_breaches(out, rules))
        drop = ("n_min_cell",) if "counts" in out else ("n_obs", "n_events", "n_min_cell")
        for k in drop:
            out.pop(k, None)
        out["small_cell"] = small
    return out


@dataclass(frozen=True)
class ReportInputs:
    """What the disclosure report states (plain data the pipeline passes)."""

    rules: DisclosureRules
    breaches: Sequence[str]
    n_outputs: int
    suppressed: Mapping[str, tuple[int, int]]
    skipped: Sequence[Mapping[str, str]] = ()
    failed: Sequence[Mapping[str, str]] = ()
    partial: str | None = None
    #: Lines on ACRO's check (or why it was not run), from the pipeline's ACRO step.
    acro: Sequence[str] = ()


def _rules_text(r: DisclosureRules) -> list[str]:
    if not r.apply:
        return [
            "Disclosure control was **not applied**: the input is the committed synthetic sample "
            "(no real children). Identifiers were still checked.",
            "",
        ]
    return [
        f"Rules: counts below {r.threshold} shown as `c`"
        + (", zeros too" if r.zeros_disclosive else "")
        + "; secondary suppression so no total reveals a suppressed cell"
        + (f"; counts rounded to the nearest {r.rounding}" if r.rounding else "")
        + f"; curves cut where fewer than {r.threshold} remain at risk, steps of at least "
        f"{r.threshold} events.",
        "",
    ]


def report_text(inputs: ReportInputs) -> str:
    """Return ``disclosure_report.md``: the rules, what was suppressed, the verdict."""
    lines = ["# Disclosure control report", "", *_rules_text(inputs.rules)]
    if inputs.partial:
        lines += [f"This folder was changed by a partial run: {inputs.partial}.", ""]
    lines += ["## Suppressed cells by table", "", "| table | primary | secondary |"]
    lines.append("|:---|---:|---:|")
    lines += [f"| {n} | {p} | {s} |" for n, (p, s) in sorted(inputs.suppressed.items())]
    lines += ["", "## Check of every output", ""]
    if inputs.breaches:
        lines += [f"**FAILED: {len(inputs.breaches)} breach(es).**", ""]
        lines += [f"- {b}" for b in inputs.breaches]
    else:
        lines.append(
            f"Passed: {inputs.n_outputs} outputs checked (every file in the folder), no breach."
        )
    if inputs.acro:
        lines += ["", "## ACRO, the SACRO output checker", "", *inputs.acro]
    if inputs.skipped or inputs.failed:
        lines += ["", "## Outputs not made in this run", ""]
        lines += [f"- {s['output']} ({s['script']}): {s['reason']}" for s in inputs.skipped]
        lines += [f"- {f['script']} FAILED: {f['error']}" for f in inputs.failed]
    return "\n".join(lines) + "\n"


def write_report(path: Path, inputs: ReportInputs) -> Path:
    """Write the disclosure report to ``path`` (see :func:`report_text`); return the path."""
    path.write_text(report_text(inputs), encoding="utf-8")
    return path
