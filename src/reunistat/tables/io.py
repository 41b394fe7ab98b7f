"""Read an SSDA903 extract as the sector ships it, and stack its annual returns.

:func:`read_extract` is the public entry. A folder holds one file per table
(``header.csv``, ``episodes.parquet``), one per table and annual return
(``episodes_2019.csv``, ``2020/episodes.csv``, ``SSDA903_2020_episodes.csv``),
workbooks with a sheet per table, or DfE XML returns, in the formats of
:mod:`reunistat.tables.formats`. Which file is which table and year:
:mod:`reunistat.tables.find`; dates: :mod:`reunistat.tables.dates`; stacking
and cleaning the returns: :mod:`reunistat.tables.stack`. The CSV files of an
extract are read together, their text columns sharing categories
(:mod:`reunistat.tables.csv_files`).

Every row read is accounted for in :attr:`Extract.stacking` (one row per file
read), every file not read is listed in :attr:`Extract.not_used` with the
reason, and every problem met (a bad date, a clash inside one return, a header
changed between returns) is in :attr:`Extract.problems`. What cannot be read
at all is a :class:`~reunistat.errors.ReadError` naming the file and what to do.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from reunistat.errors import ReadError
from reunistat.tables import schema
from reunistat.tables.as_read import (
    as_objects,
    as_stacked,
    columns_of,
    concat_frames,
    one_clean_return,
    text_columns,
)
from reunistat.tables.csv_files import read_csv_files
from reunistat.tables.find import Found, choose_form, list_files
from reunistat.tables.formats import Raw, read_found
from reunistat.tables.keys import CID, YEAR_COL, child_codes, has_la
from reunistat.tables.parse import (
    as_int,
    declared_names,
    parse_dates,
    parse_table,
    require_columns,
    with_codes,
)
from reunistat.tables.problems import empty_problems, problems_frame
from reunistat.tables.stack import (
    CLOSED_BY_NEXT,
    FILE_COL,
    IN_ONE_FILE,
    ORDER_COL,
    REASONS,
    rows_between_returns,
    stack_table,
)

__all__ = [
    "FILE_COLUMNS",
    "NOT_USED_COLUMNS",
    "STACKING_COLUMNS",
    "Extract",
    "empty_problems",
    "parse_table",
    "prepare_tables",
    "problems_frame",
    "read_extract",
]

#: Columns of :attr:`Extract.stacking`: one row per table (the files summed).
STACKING_COLUMNS: Final = (
    "table",
    "files",
    "years",
    "rows_read",
    *REASONS,
    "rows_kept",
    IN_ONE_FILE,
    CLOSED_BY_NEXT,
)
#: Columns of :attr:`Extract.files`: one row per file (or sheet) read.
FILE_COLUMNS: Final = (
    "table",
    "file",
    "sheet",
    "year",
    "year_from",
    "format",
    "encoding",
    "rows_read",
    *REASONS,
    "rows_kept",
    IN_ONE_FILE,
)
#: Columns of :attr:`Extract.not_used`.
NOT_USED_COLUMNS: Final = ("file", "reason")
#: Column names that give the collection year of each row.
_YEAR_NAMES: Final = (YEAR_COL, "YEAR", "COLLECTION_YEAR")


@dataclass
class Extract:
    """Linked tables read and stacked, with what happened on the way.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The declared tables (:data:`~reunistat.tables.schema.TABLES`: header,
        episodes, cin, npd, postcodes, la, exits), parsed (dates as
        datetime64, codes as text), one row per key, each row with its
        collection year in :data:`~reunistat.tables.keys.YEAR_COL`.
    problems : DataFrame
        Problems met while reading, in :data:`~reunistat.tables.schema.PROBLEM_COLUMNS`.
    stacking : DataFrame
        One row per table (:data:`STACKING_COLUMNS`): the number of ``files``,
        the collection ``years`` read (text, e.g. ``2019-2023``; blank when not
        known) and the row counts of :attr:`files` summed.
    files : DataFrame
        The stacking report per file (or workbook sheet) read,
        :data:`FILE_COLUMNS`: its table, file, sheet, collection ``year`` and
        where it came from (``year_from``: ``name``, ``folder``, ``column``),
        ``format``, ``encoding``, ``rows_read``, the rows dropped for each
        reason of :data:`reunistat.tables.stack.REASONS`
        (``identical_dropped``, ``superseded``, ``decom_corrected``,
        ``deleted_in_next_return``) and ``rows_kept``: ``rows_read`` is their
        sum. ``identical_in_one_file`` is the part of ``identical_dropped``
        repeated within one file (a fault of the file). ``closed_by_next_episode``
        (per table) counts kept episodes repaired: open at the end of their last
        return, absent from the next, closed on the next episode's DECOM (X1).
    other : dict of str to DataFrame
        The 903 tables not declared in the schema (uasc, missing, reviews, oc2,
        oc3, ad1, placed_for_adoption, previous_permanence, sw_episodes,
        dolo), column names upper-cased, dates parsed, identical rows dropped.
    not_used : DataFrame
        Files, subfolders and sheets not read, with the reason (:data:`NOT_USED_COLUMNS`).
    returns : dict of str to DataFrame
        When header or episodes come from two collection years or more: the
        rows of every return before stacking that the rules between returns
        (DfE 502, 503, 202-204, 208) compare, parsed, with ``YEAR_COL`` and
        the integer child key ``_cid`` shared with :attr:`tables`
        (:func:`~reunistat.tables.stack.rows_between_returns`: each child's
        header row, first, last and open episodes, only in the pairs of
        returns where they differ as read, so where a rule between returns
        may find a problem, and only the columns those rules use); else
        empty.
    """

    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame = field(default_factory=lambda: empty_problems())
    stacking: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STACKING_COLUMNS))
    files: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FILE_COLUMNS))
    other: dict[str, pd.DataFrame] = field(default_factory=dict)
    not_used: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=NOT_USED_COLUMNS))
    returns: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class _Part:
    """One raw table of one file, parsed, with the year of each row."""

    raw: Raw
    frame: pd.DataFrame
    years: pd.Series
    year_from: str
    order: pd.Series
    rows: int = 0  # rows read (the frame is let go once stacked)

    @functools.cached_property
    def row_years(self) -> set[int]:
        """The collection years of the part's rows."""
        return {int(y) for y in self.years.dropna().unique()}


def _row_years(raw: Raw, df: pd.DataFrame) -> tuple[pd.Series, str, pd.DataFrame]:
    """Collection year of each row: a YEAR column, else the file's name or folder."""
    found = raw.found
    cols = [c for c in _YEAR_NAMES if c in df.columns]
    if cols:
        years, bad = as_int(df[cols[0]])
        if bad.any():
            example = df.loc[bad, cols[0]].iloc[0]
            raise ReadError(f"{found.path}: column {cols[0]} holds {example!r}, not a year")
        if found.year is not None and (years.dropna() != found.year).any():
            raise ReadError(
                f"{found.path}: its {found.year_from} says {found.year} but column {cols[0]} "
                f"holds {sorted({int(y) for y in years.dropna()} - {found.year})}; make them agree"
            )
        if years.notna().any():
            if found.year is not None:
                years = years.fillna(found.year)
            return years.astype("Int64"), "column", df.drop(columns=cols)
        df = df.drop(columns=cols)
    return pd.Series(found.year, index=df.index, dtype="Int64"), found.year_from, df


def _parse_part(raw: Raw, defer_dates: bool = False) -> tuple[_Part, pd.DataFrame]:
    file = str(raw.found.path) + (f" sheet {raw.sheet!r}" if raw.sheet else "")
    df = raw.frame.copy(deep=False)  # renamed as declared without copying every column
    df.columns = declared_names(raw.frame.iloc[:0], raw.table).columns
    require_columns(df, raw.table, file)
    years, year_from, df = _row_years(raw, df)
    defer = defer_dates and raw.clean_text and raw.numeric_as == "none"
    parsed, problems = parse_table(
        df, raw.table, file, raw.numeric_as, raw.clean_text, defer_dates=defer
    )
    order = years.astype("float64").fillna(-1.0)
    return _Part(raw, parsed, years, year_from, order), problems


def _file_years(p: _Part) -> set[int]:
    """The collection years of a part: of its rows, or of its file when it has none."""
    years = p.row_years
    return years or ({p.raw.found.year} if p.raw.found.year is not None else set())


def _sort_key(p: _Part) -> float:
    return float(min(_file_years(p), default=-1))


def _name(p: _Part) -> str:
    return str(p.raw.found.path) + (f" sheet {p.raw.sheet!r}" if p.raw.sheet else "")


def _check_order(table: str, parts: list[_Part]) -> None:
    """Refuse several files of a table whose order is unknown, or two claiming one year."""
    if len(parts) < 2:
        return
    no_year = [_name(p) for p in parts if p.years.isna().any() or not _file_years(p)]
    if no_year:
        raise ReadError(
            f"{len(parts)} files hold table {table} and the collection year of "
            f"{', '.join(no_year)} cannot be known, so neither can their order; put the year in "
            f"each file name ({table}_2019.csv) or folder (2019/{table}.csv), or add a YEAR column "
            "(if they are one return in two forms, such as XML and CSV, keep one)"
        )
    seen: dict[int, str] = {}
    for p in parts:
        for y in _file_years(p):
            if int(y) in seen:
                raise ReadError(
                    f"{seen[int(y)]} and {_name(p)} both hold table {table} for collection "
                    f"year {int(y)}; keep one of them in the folder"
                )
            seen[int(y)] = _name(p)


def _check_la(parts: Iterable[_Part]) -> None:
    """Refuse a blank LA in an extract that otherwise has LA (it would merge children)."""
    parts = [p for p in parts if p.raw.table in ("header", "episodes")]
    with_la = [p for p in parts if "LA" in p.frame.columns and p.frame["LA"].notna().any()]
    if not with_la:
        return
    for p in parts:
        blank = p.frame["LA"].isna() if "LA" in p.frame.columns else None
        if blank is None or blank.any():
            rows = [] if blank is None else (blank[blank].index[:5] + 2).tolist()
            where = "has no LA column" if blank is None else f"has a blank LA on line(s) {rows}"
            raise ReadError(
                f"{_name(p)} {where} while the extract otherwise has LA: children of different "
                "authorities would be merged; fill in the LA (or remove the column everywhere)"
            )


def _add_child_keys(header: pd.DataFrame, episodes: pd.DataFrame) -> None:
    """Add the integer child key ``_cid`` (shared, :func:`~reunistat.tables.keys.child_codes`)."""
    header[CID], episodes[CID] = child_codes(header, episodes, use_la=has_la(header, episodes))


def _concat(parts: list[_Part], first: int) -> pd.DataFrame:
    cols = list(parts[0].frame.columns)
    if len(parts) > 1 and all(list(p.frame.columns) == cols for p in parts):
        # stacked first, then the file, year and order of each row added once
        df = concat_frames([p.frame for p in parts])
        sizes = [len(p.frame) for p in parts]
        df[FILE_COL] = np.repeat(np.arange(first, first + len(parts), dtype=np.int64), sizes)
        df[YEAR_COL] = np.concatenate([p.years.to_numpy() for p in parts])
        df[ORDER_COL] = np.concatenate([p.order.to_numpy() for p in parts])
    else:
        for i, p in enumerate(parts):
            f = p.frame  # owned by the reader: columns are added in place
            f[FILE_COL] = first + i
            f[YEAR_COL] = p.years.to_numpy()
            f[ORDER_COL] = p.order.to_numpy()
        df = concat_frames([p.frame for p in parts])
    for p in parts:  # held once, in the stacked frame
        p.rows, p.frame, p.raw.frame = len(p.frame), p.frame.iloc[:0], p.raw.frame.iloc[:0]
    if not df.index.equals(pd.RangeIndex(len(df))):
        df.index = pd.RangeIndex(len(df))  # not reset_index: it would copy every column
    return df


def _stacking_row(p: _Part, dropped: pd.DataFrame, i: int) -> dict[str, object]:
    drops = {r: int(dropped[r].get(i, 0)) if r in dropped else 0 for r in REASONS}
    f = p.raw.found
    years = sorted(p.row_years)
    return {
        "table": p.raw.table,
        "file": str(f.path),
        "sheet": p.raw.sheet,
        "year": int(years[0]) if len(years) == 1 else ("" if not len(years) else "several"),
        "year_from": p.year_from,
        "format": f.format,
        "encoding": p.raw.encoding,
        "rows_read": p.rows,
        **drops,
        "rows_kept": p.rows - sum(drops.values()),
        IN_ONE_FILE: int(dropped[IN_ONE_FILE].get(i, 0)) if IN_ONE_FILE in dropped else 0,
    }


def assemble(by_table: Mapping[str, list[_Part]], not_used: list[tuple[str, str]]) -> Extract:
    """Check order and keys, stack every table and account for every row."""
    for name in schema.REQUIRED_TABLES:
        if not by_table.get(name):
            raise ReadError(f"no {name} table found{_unused_hint(not_used)}")
    _check_la(p for parts in by_table.values() for p in parts)
    stacked: dict[str, pd.DataFrame] = {}
    first = 0
    rows, probs = [], []
    concat = {}
    closed: dict[str, int] = {}
    for name, parts in by_table.items():
        concat[name] = _concat(parts, first)
        first += len(parts)
    _add_child_keys(concat["header"], concat["episodes"])
    for name in ("header", "episodes"):  # numbered: LA as text again
        concat[name] = as_objects(concat[name], ("LA",))
    returns = {
        name: rows_between_returns(concat[name], name)
        for name in ("header", "episodes")
        if concat[name][YEAR_COL].nunique() > 1
    }
    first = 0
    for name, parts in by_table.items():
        if one_clean_return(concat[name], name, len(parts)):
            df, dropped, p = as_stacked(concat[name])
        else:
            df, dropped, p = stack_table(concat[name], name)
        internal = [c for c in (YEAR_COL, CID) if c in df.columns]
        df = columns_of(df, [c for c in df.columns if c not in internal] + internal)
        df = with_codes(df, name)  # code columns as categories, however read
        df = as_objects(df, text_columns(df, name))  # the other text columns as text again
        stacked[name] = df
        probs.append(p)
        rows += [_stacking_row(part, dropped, first + i) for i, part in enumerate(parts)]
        closed[name] = int(dropped.attrs.get(CLOSED_BY_NEXT, 0))
        first += len(parts)
    nonempty = [p for p in probs if not p.empty]
    files = pd.DataFrame(rows, columns=list(FILE_COLUMNS))
    return Extract(
        tables={k: v for k, v in stacked.items() if k in schema.TABLES},
        problems=pd.concat(nonempty, ignore_index=True) if nonempty else empty_problems(),
        stacking=_by_table(files, by_table, closed),
        files=files,
        other={k: v for k, v in stacked.items() if k not in schema.TABLES},
        not_used=pd.DataFrame(not_used, columns=list(NOT_USED_COLUMNS)),
        returns=returns,
    )


def _by_table(
    files: pd.DataFrame, by_table: Mapping[str, list[_Part]], closed: Mapping[str, int]
) -> pd.DataFrame:
    """The per-file counts summed per table, with the number of files and the years."""
    counts = ["rows_read", *REASONS, "rows_kept", IN_ONE_FILE]
    out = files.groupby("table", sort=False)[counts].sum().reset_index()
    out.insert(1, "files", out["table"].map(files["table"].value_counts()).astype(int))

    def years(table: str) -> str:
        ys = sorted({y for p in by_table[table] for y in p.row_years})
        if not ys:
            return ""
        return str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"

    out.insert(2, "years", out["table"].map(years))
    out[CLOSED_BY_NEXT] = out["table"].map(closed).fillna(0).astype(int)
    return out[list(STACKING_COLUMNS)]


def _unused_hint(not_used: list[tuple[str, str]]) -> str:
    if not not_used:
        return "; name the files header.csv and episodes.csv (or with the year: episodes_2019.csv)"
    listed = "; ".join(f"{f} ({r})" for f, r in not_used[:5])
    return f"; files not used: {listed}"


def _prefer_parquet(found: list[Found], not_used: list[tuple[str, str]]) -> list[Found]:
    """Where a table has Parquet files, its files in other formats are copies (the generator)."""
    with_pq = {f.table for f in found if f.format == "parquet"}
    out = []
    for f in found:
        if f.table in with_pq and f.format != "parquet":
            not_used.append((str(f.path), "a Parquet file of the same table is read"))
        else:
            out.append(f)
    return out


_Read = tuple[list[Raw], list[tuple[str, str]], list[tuple[_Part, pd.DataFrame]]]


def _read_file(one: Found, read: tuple[pd.DataFrame, str] | None) -> _Read:
    """One file's raw tables, the parts not used, and each raw table parsed."""
    raws, unused = read_found(one, read)
    return raws, unused, [_parse_part(raw, defer_dates=True) for raw in raws]


def _read_files(
    found: list[Found], together: dict[Path, tuple[pd.DataFrame, str]]
) -> Iterable[_Read]:
    """:func:`_read_file` of each file, in order; Parquet files two at a time, in threads.

    Arrow reads, decodes and hashes a Parquet file's columns without holding
    the interpreter, so a file read beside another takes a core otherwise idle
    meanwhile (the largest files are started first). The answers come in the
    files' order, and of the files that fail the first in that order raises
    its error, as when they are read one by one (which they are, lazily, when
    fewer than two are Parquet or there is one core).
    """
    import os

    pairs = [(one, together.pop(one.path, None)) for one in found]
    if sum(one.format == "parquet" for one in found) < 2 or (os.cpu_count() or 1) < 2:
        return (_read_file(*pair) for pair in pairs)
    from concurrent.futures import ThreadPoolExecutor

    def size(i: int) -> int:
        try:
            return found[i].path.stat().st_size
        except OSError:
            return 0

    with ThreadPoolExecutor(2) as pool:
        futures = {
            i: pool.submit(_read_file, *pairs[i])
            for i in sorted(range(len(pairs)), key=size, reverse=True)
        }
        return [futures[i].result() for i in range(len(pairs))]


def read_extract(path: str | Path, recursive: bool = False, prefer: str = "auto") -> Extract:
    """Read every table of an extract; stack and clean its annual returns.

    Parameters
    ----------
    path : str or Path
        The extract's folder (or one workbook or XML return). It holds the
        ``header`` and ``episodes`` tables (required) and any other 903 table
        (uasc, missing, reviews, oc2, oc3, ad1, placed_for_adoption,
        previous_permanence, sw_episodes) and linked table (cin, npd,
        postcodes, la, exits), as CSV, XLSX, XML, Stata, SPSS or Parquet, one
        file per table or one per table and annual return. The collection
        year comes from the file name, its folder or a YEAR column.
    recursive : bool
        Read the files of every subfolder; folders named as a collection year
        (``2019/``, ``2019-20/``) are read either way.
    prefer : {"auto", "tables", "xml"}
        Which form to read when one return is held twice, as DfE's XML return
        and as per-table files beside it: ``"auto"`` reads the per-table
        files when they hold header and episodes, else the XML (see
        :func:`~reunistat.tables.find.choose_form`). The form not read is
        listed in :attr:`Extract.not_used` with the reason.

    Returns
    -------
    Extract

    Raises
    ------
    ReadError
        For a missing path, a folder without header or episodes, an empty or
        malformed file, a column missing, a date column in two formats, a
        blank LA, two files of one table and year, or files of one table
        whose order cannot be known.
    """
    listing = list_files(path, recursive)
    found, twice = choose_form(listing.found, prefer)
    not_used = [(str(p), why) for p, why in [*listing.not_used, *twice]]
    by_table: dict[str, list[_Part]] = {}
    problems = []
    found = _prefer_parquet(found, not_used)
    together = read_csv_files(found)  # text columns of one name share their categories
    for one, (raws, unused, parsed) in zip(found, _read_files(found, together), strict=True):
        not_used += unused
        if not raws:
            not_used.append((str(one.path), "no sheet or element is a table"))
        for raw, (part, p) in zip(raws, parsed, strict=True):
            by_table.setdefault(raw.table, []).append(part)
            problems.append(p)
    for name, parts in by_table.items():
        # text dates: each column's distinct values parsed once for all the returns
        frames, date_problems = parse_dates([p.frame for p in parts], map(_name, parts), name)
        for part, frame in zip(parts, frames, strict=True):
            part.frame = frame
        problems += date_problems
        parts.sort(key=_sort_key)
        _check_order(name, parts)
    extract = assemble(by_table, not_used)
    nonempty = [p for p in [*problems, extract.problems] if not p.empty]
    if nonempty:
        extract.problems = pd.concat(nonempty, ignore_index=True)
    return extract


def prepare_tables(
    raw: Mapping[str, pd.DataFrame | Iterable[pd.DataFrame]],
    files: Mapping[str, int] | None = None,
) -> Extract:
    """Parse, stack and clean tables already in memory.

    Parameters
    ----------
    raw : mapping of str to DataFrame or list of DataFrames
        A table name to its frame, or to one frame per annual return, earliest
        first (a :data:`~reunistat.tables.keys.YEAR_COL` or ``YEAR`` column,
        where present, gives the year). Names that are no table are ignored.
    files : mapping of str to int, optional
        Unused; kept for callers of the earlier interface.
    """
    from reunistat.tables.find import RETURN_TABLES

    by_table: dict[str, list[_Part]] = {}
    problems = []
    for name, value in raw.items():
        if value is None or (name not in schema.TABLES and name not in RETURN_TABLES):
            continue
        frames = [value] if isinstance(value, pd.DataFrame) else list(value)
        for i, f in enumerate(frames):
            found = Found(Path(f"<{name} frame {i}>"), "frame", name, None, "")
            df = f.copy()
            df.columns = pd.Index([str(c).strip() for c in df.columns])
            part, p = _parse_part(Raw(name, df, found))
            if part.years.isna().all():
                part.order = pd.Series(float(i), index=part.order.index)
            by_table.setdefault(name, []).append(part)
            problems.append(p)
    extract = assemble(by_table, [])
    nonempty = [p for p in [*problems, extract.problems] if not p.empty]
    if nonempty:
        extract.problems = pd.concat(nonempty, ignore_index=True)
    return extract
