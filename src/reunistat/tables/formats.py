"""Readers for each file format an extract comes in, giving raw tables.

- **CSV** (also ``.txt``/``.tsv``): UTF-8, UTF-8 with BOM, cp1252 or UTF-16
  (detected: a byte-order mark, else strict UTF-8, else cp1252, else
  ``charset-normalizer``), comma, semicolon, tab or pipe delimited (detected
  from the header line), LF or CRLF; parsed by pyarrow's CSV reader, every
  column as text.
- **XLSX**: one sheet per table in one workbook (sheets named as tables), or
  one workbook per table (:mod:`openpyxl`); Excel dates and serial numbers.
- **XML**: the DfE 903 return (:mod:`reunistat.tables.xml903`).
- **Stata** ``.dta`` and **SPSS** ``.sav`` as a secure environment exports
  them (pandas, pyreadstat); **Parquet**.

Column names are trimmed and upper-cased as DfE's validator does (the linked
tables' declared spellings, such as ``LAchildID``, are restored later). Every
fault is a :class:`~reunistat.errors.ReadError` naming the file and what to do.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from reunistat.codes import distinct_categorical
from reunistat.errors import ReadError
from reunistat.tables import xml903
from reunistat.tables.dates import NumericAs
from reunistat.tables.digits import by_digits
from reunistat.tables.find import Found, table_of_name
from reunistat.tables.keys import YEAR_COL
from reunistat.tables.parse import date_columns
from reunistat.tables.schema import TABLES

_DELIMITERS: Final = (",", ";", "\t", "|")


@dataclass
class Raw:
    """One table as read from one file (or sheet), before parsing.

    Attributes
    ----------
    table : str
    frame : DataFrame
        Column names trimmed and upper-cased; values as the format gave them.
    found : Found
        The file it came from.
    sheet : str
        The workbook sheet (blank for other formats).
    encoding : str
        For text formats: the encoding detected (``utf-8``, ``utf-8-sig``,
        ``cp1252``, ``utf_16``...).
    numeric_as : {"excel", "stata", "none"}
        How numbers in a date column are to be read.
    clean_text : bool
        Whether every object column is already text, trimmed, blanks as None
        (CSV, XML, Parquet's string columns).
    """

    table: str
    frame: pd.DataFrame
    found: Found
    sheet: str = ""
    encoding: str = ""
    numeric_as: NumericAs = "none"
    clean_text: bool = False


def clean_names(df: pd.DataFrame, file: Path | str) -> pd.DataFrame:
    """Trim and upper-case column names (internal ``_`` columns kept); refuse repeated names."""
    names = [
        str(c).strip() if str(c).startswith("_") else str(c).strip().upper() for c in df.columns
    ]
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ReadError(f"{file}: column(s) {sorted(seen)} appear more than once; keep one of each")
    df.columns = pd.Index(names)
    return df


# ---------------------------------------------------------------------------
# CSV


def detect_encoding(data: bytes, path: Path) -> str:
    """Return the encoding of a text file's bytes (see the module docstring)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = data[:4096]
    if b"\x00" not in head:
        if data.isascii():
            return "utf-8"
        for enc in ("utf-8", "cp1252"):
            try:
                data.decode(enc)
            except UnicodeDecodeError:
                continue
            return enc
    import charset_normalizer

    best = charset_normalizer.from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None:
        raise ReadError(
            f"{path}: the text encoding cannot be recognised; save the file as UTF-8 CSV"
        )
    return str(best.encoding)


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _ragged_line(text: str, delimiter: str, path: Path) -> ReadError:
    """Find the first row whose number of fields differs from the header's (slow path)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    width = None
    for row in reader:
        if not row:
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            return ReadError(
                f"{path}: line {reader.line_num} has {len(row)} fields where the header has "
                f"{width}; fix that row (a missing or extra {delimiter!r}) and read again"
            )
    return ReadError(f"{path}: not a well-formed CSV file; open it and save it as CSV again")


def read_csv(path: Path, categorical: Collection[str] = ()) -> tuple[pd.DataFrame, str]:
    """Read a CSV file with every column as text; return it and the encoding detected.

    Columns named in ``categorical`` (upper-cased names) come as ``category``
    columns of their trimmed text (:func:`as_categorical`), the others as objects.
    """
    table, encoding = csv_table(path)
    return text_frame(table, categorical), encoding


def csv_table(path: Path) -> tuple[object, str]:
    """Parse a CSV file into an Arrow table of strings; return it and the encoding detected."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = path.read_bytes()
    encoding = detect_encoding(data, path)
    # UTF-8 already checked: decoded by detect_encoding, or made from text decoded here
    checked = encoding not in ("utf-8", "utf-8-sig") or b"\x00" not in data[:4096]
    if encoding == "utf-8-sig":
        data = data[3:]
    elif encoding != "utf-8":
        data = data.decode(encoding).encode("utf-8")
        data = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not data or data.isspace():  # isspace stops at the first character that is not
        raise ReadError(
            f"{path}: the file is empty; export the table again (a header line at least)"
        )
    first = data[: data.find(b"\n") if b"\n" in data else len(data)].decode("utf-8").rstrip("\r")
    delimiter = _delimiter(first)
    names = next(csv.reader([first], delimiter=delimiter))
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            # one thread: a quarter less CPU than Arrow's pool, which on two shared cores
            # gains no time (an extract's files are read one after the other)
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                check_utf8=not checked,
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as err:
        if "columns" in str(err):
            raise _ragged_line(data.decode("utf-8"), delimiter, path) from err
        raise ReadError(f"{path}: not a well-formed CSV file ({err})") from err
    return table, encoding


def text_frame(
    table: object,
    categorical: Collection[str] = (),
    done: Mapping[str, pd.Categorical] | None = None,
) -> pd.DataFrame:
    """Arrow string columns as trimmed text, blanks as None (via a dictionary: fast).

    Columns named in ``categorical`` (upper-cased names) become pandas
    ``category`` columns straight from Arrow's dictionary (:func:`as_categorical`):
    no Python object per row. The other string columns become Python strings;
    other columns (numbers, dates) are converted as pyarrow converts them.
    Columns in ``done`` (by name) are taken from it as they are.
    """
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    out: dict[str, object] = dict(done or {})
    for name, col in zip(table.column_names, table.columns, strict=True):
        if name in out:
            continue
        kind = col.type.value_type if pa.types.is_dictionary(col.type) else col.type
        coded = is_coded(name, categorical)
        if coded and pa.types.is_null(kind):  # every value blank (a Parquet null column)
            blank = np.full(len(col), -1, dtype=np.int8)
            out[name] = pd.Categorical.from_codes(blank, dtype=pd.CategoricalDtype([]))  # type: ignore[arg-type]
            continue
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            out[name] = col.to_pandas()
            continue
        if coded:
            out[name] = as_categorical(col)
            continue
        idx, words, _ = _dictionary(col)
        out[name] = np.concatenate([words, np.array([None])])[idx]  # -1 (null): None
    # one block per column, not consolidated: a copy of every column saved
    return pd.DataFrame(out, columns=table.column_names, copy=False)


def _dictionary(col: object) -> tuple[np.ndarray, np.ndarray, bool]:
    """Indices (-1: null) into the trimmed distinct values (objects, blank as None).

    Also whether the values may repeat or hold a blank (trimming changed a
    value, or a value is blank): else they are distinct and none is blank.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    assert isinstance(col, pa.ChunkedArray)
    if pa.types.is_dictionary(col.type):  # as stored: no hashing of every row
        enc = col.unify_dictionaries().combine_chunks()
    else:
        plain = col.combine_chunks()
        enc = by_digits(plain) or plain.dictionary_encode()
    idx = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
    # the distinct values are trimmed (once each), not every row
    trimmed = pc.utf8_trim_whitespace(enc.dictionary)
    words = np.asarray(trimmed.to_numpy(zero_copy_only=False), dtype=object)
    blank = pc.equal(trimmed, "")
    has_blank = bool(pc.any(blank).as_py()) or trimmed.null_count > 0
    if has_blank:
        words[pc.fill_null(blank, True).to_numpy(zero_copy_only=False)] = None
    return idx, words, has_blank or not trimmed.equals(enc.dictionary)


def as_categorical(col: object) -> pd.Categorical:
    """An Arrow string column as a ``Categorical`` of its trimmed values (blanks missing).

    The categories are the distinct trimmed values, in the order of Arrow's
    dictionary (first appearance for a CSV column; as stored for Parquet): the
    text of each distinct value is made once, not once per row, and not
    hashed again when distinct as read.

    Examples
    --------
    >>> import pyarrow as pa
    >>> c = as_categorical(pa.chunked_array([[" b", "a", None, "", "b", "b "]]))
    >>> list(c.categories), c.codes.tolist()
    (['b', 'a'], [0, 1, -1, -1, 0, 0])
    """
    return distinct_categorical(*coded_words(col))


def coded_words(col: object) -> tuple[np.ndarray, np.ndarray]:
    """The codes (-1: blank) and categories (distinct trimmed text) :func:`as_categorical` takes."""
    idx, words, repeat = _dictionary(col)
    if repeat:
        # a blank, or values equal once trimmed: number the distinct values again
        remap, words = pd.factorize(words, use_na_sentinel=True)
        idx = np.append(remap, -1)[idx]
    return idx.astype(np.int8 if len(words) < 127 else np.int32), words


# ---------------------------------------------------------------------------
# other formats


def _sheet_table(found: Found, sheets: list[str]) -> list[tuple[str, str]]:
    """Return (sheet, table) pairs to read from a workbook."""
    if found.table is not None:
        named = [s for s in sheets if table_of_name(s) == found.table]
        if len(sheets) == 1 or named:
            return [((named or sheets)[0], found.table)]
        raise ReadError(
            f"{found.path}: the workbook is named as table {found.table!r} but has several "
            f"sheets ({sheets}) and none is named {found.table!r}; keep the table's sheet only"
        )
    return [(s, t) for s in sheets if (t := table_of_name(s)) is not None]


def read_xlsx(found: Found) -> tuple[list[Raw], list[str]]:
    """Read the table sheets of a workbook; return them and the sheets not used."""
    try:
        book = pd.ExcelFile(found.path, engine="openpyxl")
    except Exception as err:  # openpyxl raises several types for a broken workbook
        raise ReadError(f"{found.path}: not a readable XLSX workbook ({err})") from err
    sheets = [str(s) for s in book.sheet_names]
    pairs = _sheet_table(found, sheets)
    out = []
    for sheet, table in pairs:
        df = book.parse(sheet, dtype=object, keep_default_na=False, na_values=[""])
        df = df.dropna(how="all")
        out.append(Raw(table, clean_names(df, found.path), found, sheet, "", "excel"))
    used = {s for s, _ in pairs}
    return out, [s for s in sheets if s not in used]


def read_stata(path: Path) -> pd.DataFrame:
    """Read a Stata ``.dta`` file: dates as dates, labelled values as their codes."""
    try:
        return pd.read_stata(path, convert_dates=True, convert_categoricals=False)
    except Exception as err:  # pandas raises ValueError or struct errors for a broken file
        raise ReadError(f"{path}: not a readable Stata file ({err})") from err


def read_spss(path: Path) -> pd.DataFrame:
    """Read an SPSS ``.sav`` file (needs pyreadstat): dates as dates, values as codes."""
    try:
        import pyreadstat
    except ImportError as err:
        raise ReadError(
            f"{path}: reading SPSS files needs pyreadstat: pip install pyreadstat"
        ) from err
    try:
        df, _ = pyreadstat.read_sav(str(path), dates_as_pandas_datetime=True)
    except Exception as err:  # pyreadstat raises its own ReadstatError
        raise ReadError(f"{path}: not a readable SPSS file ({err})") from err
    return df


#: Columns of few distinct values (903 codes, LA): read from Parquet as stored, as a
#: dictionary (no hashing of every row); other text columns are hashed once read.
_CODED: Final = frozenset(
    {c.name.upper() for cols in TABLES.values() for c in cols if c.kind == "code"} | {"LA"}
)


#: In :func:`categorical_columns`: every text column, except a collection year's.
EVERY_TEXT: Final = "*"
#: Columns that may hold the collection year (read as text, then as whole numbers).
_YEARS: Final = frozenset({YEAR_COL.upper(), "YEAR", "COLLECTION_YEAR"})

#: Identifier columns: nearly one distinct value per child (``CHILD``, ``UPN``...).
IDENTIFIERS: Final = frozenset(
    {c.name.upper() for cols in TABLES.values() for c in cols if c.kind == "id"} - {"LA"}
)


def is_coded(name: str, categorical: Collection[str]) -> bool:
    """Whether column ``name`` is read as a ``category`` (by :func:`categorical_columns`)."""
    upper = name.strip().upper()
    return upper in categorical or (EVERY_TEXT in categorical and upper not in _YEARS)


def is_arrow_text(kind: object) -> bool:
    """Whether an Arrow type is text (``string`` or ``large_string``)."""
    import pyarrow as pa

    assert isinstance(kind, pa.DataType)
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def read_parquet(path: Path, categorical: Collection[str] = ()) -> pd.DataFrame:
    """Read a Parquet file (text columns trimmed, blanks as None; see :func:`read_csv`)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path)
        # identifiers (about one value per child) are read plain and hashed once: as a
        # dictionary, each of their chunks would carry its own, costly to unify
        wanted = _CODED | (frozenset(categorical) - IDENTIFIERS)
        coded = [
            f.name for f in names if is_arrow_text(f.type) and f.name.strip().upper() in wanted
        ]
        # one chunk per row group (``read_table`` gives one per batch of 128k rows: each
        # chunk of a dictionary column carries its row group's dictionary, unified again)
        with pq.ParquetFile(path, read_dictionary=coded) as file:
            table = file.read()
    except Exception as err:  # pyarrow raises ArrowInvalid and OSError
        raise ReadError(f"{path}: not a readable Parquet file ({err})") from err
    return text_frame(table, categorical)


def categorical_columns(table: str, text_dates: bool = False) -> frozenset[str]:
    """The columns of ``table`` read as ``category`` columns (upper-cased names).

    Every declared text column of a declared table
    (:data:`~reunistat.tables.schema.TABLES`: kinds ``code``, ``id`` and
    ``text``) and ``LA``: each distinct value is made into text once, not once
    per row, and the reader numbers (child key), compares (stacking) and
    checks (duplicates) them by code. The code columns stay categories, which
    validation looks up by distinct value; the others are turned into text
    once the table is stacked (:func:`reunistat.tables.io.assemble`). For the
    other 903 tables (uasc, reviews...), every text column but a year
    (:data:`EVERY_TEXT`). With ``text_dates``, the date columns too, parsed
    by distinct value.
    """
    out = {c.name.upper() for c in TABLES.get(table, ()) if c.kind in ("code", "id", "text")}
    out |= {"LA"} if table in TABLES else {EVERY_TEXT}
    if text_dates:
        out |= {c.upper() for c in date_columns(table)}
    return frozenset(out)


def read_found(
    found: Found, read: tuple[pd.DataFrame, str] | None = None
) -> tuple[list[Raw], list[tuple[str, str]]]:
    """Read one file into its raw tables; return them and the parts not used (with reasons).

    ``read``: a CSV file's frame and encoding already read
    (:func:`~reunistat.tables.csv_files.read_csv_files`).

    Raises
    ------
    ReadError
        For an empty, unreadable or malformed file.
    """
    path = found.path
    if found.format == "xlsx":
        raws, unused = read_xlsx(found)
        return raws, [(f"{path} sheet {s!r}", "its name is not a table name") for s in unused]
    if found.format == "xml":
        tables = xml903.read_xml(path)
        return [
            Raw(t, clean_names(df, path), found, "", "utf-8", clean_text=True)
            for t, df in tables.items()
        ], []
    assert found.table is not None
    if found.format == "csv":
        df, enc = read or read_csv(path, categorical_columns(found.table, text_dates=True))
        return [Raw(found.table, clean_names(df, path), found, "", enc, clean_text=True)], []
    if path.stat().st_size == 0:
        raise ReadError(f"{path}: the file is empty; export the table again")
    if found.format == "stata":
        return [Raw(found.table, clean_names(read_stata(path), path), found, "", "", "stata")], []
    if found.format == "spss":
        return [Raw(found.table, clean_names(read_spss(path), path), found)], []
    df = clean_names(read_parquet(path, categorical_columns(found.table)), path)
    return [Raw(found.table, df, found, clean_text=True)], []
