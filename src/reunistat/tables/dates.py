"""Dates parsed column by column: one format detected for the whole column.

A 903 date column is written one way throughout (``dd/mm/YYYY`` as DfE ships
it, ISO from a database, with a midnight time from a spreadsheet, Excel serial
numbers or real dates from a workbook, Stata dates from a secure environment).
The format is detected from every distinct value of the column, never row by
row: a US file whose dates happen to parse as ``dd/mm`` on some rows is not
read with day and month swapped.

- values that parse as ``dd/mm/YYYY`` and ``mm/dd/YYYY`` alike (day <= 12
  everywhere) take the DfE format;
- a column where some values parse only as ``mm/dd`` and others only as
  ``dd/mm``, or that mixes two formats, is a :class:`~reunistat.errors.ReadError`
  naming the file, table, column and example values;
- a column where no value is a date is a ``ReadError`` too;
- single values that are no date in the column's format (``31/02/2020``, a
  typo) are returned as bad, for the reader to report them by child (rule
  ``bad_date``), so one typo does not stop a national extract.

Blank cells stay missing.

Examples
--------
>>> import pandas as pd
>>> d, bad = parse_date_column(pd.Series(["13/04/2019", "01/05/2019", None]), "f.csv", "t", "D")
>>> d.dt.strftime("%Y-%m-%d").tolist()[:2], bad.tolist()
(['2019-04-13', '2019-05-01'], [False, False, False])
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Final, Literal

import numpy as np
import pandas as pd

from reunistat.dates import NS_PER_DAY
from reunistat.errors import ReadError

#: Text formats tried on every column, the DfE one first (ties go to it).
TEXT_FORMATS: Final = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%m/%d/%Y")
_US: Final = "%m/%d/%Y"
_DFE: Final = "%d/%m/%Y"
#: Day 0 of numeric dates: Excel serials (1900 system) and Stata ``%td`` days.
ORIGINS: Final = {"excel": pd.Timestamp("1899-12-30"), "stata": pd.Timestamp("1960-01-01")}
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$"

NumericAs = Literal["excel", "stata", "none"]


def _examples(values: pd.Index | np.ndarray | list[str], n: int = 3) -> str:
    return ", ".join(repr(str(v)) for v in list(values)[:n])


def _fits(uniq: pd.Index) -> dict[str, np.ndarray]:
    """Per format, which distinct values it parses."""
    return {
        fmt: pd.to_datetime(pd.Series(uniq), format=fmt, errors="coerce").notna().to_numpy()
        for fmt in TEXT_FORMATS
    }


def choose_format(uniq: pd.Index, where: str) -> str:
    """Return the one text format of a column from its distinct values (time parts removed).

    Raises
    ------
    ReadError
        When two formats are mixed (day/month order included) or nothing parses.
    """
    series = pd.Series(uniq)
    for fmt in TEXT_FORMATS:  # the usual case: one format reads every value (DfE's first)
        if pd.to_datetime(series, format=fmt, errors="coerce").notna().all():
            return fmt
    fits = _fits(uniq)
    best = max(TEXT_FORMATS, key=lambda f: (int(fits[f].sum()), -TEXT_FORMATS.index(f)))
    if not fits[best].any():
        raise ReadError(f"{where}: no value is a date (e.g. {_examples(uniq)}); fix the column")
    miss = ~fits[best]
    for fmt in TEXT_FORMATS:
        elsewhere = miss & fits[fmt]
        if fmt == best or not elsewhere.any():
            continue
        if {best, fmt} == {_DFE, _US}:
            raise ReadError(
                f"{where}: dates in both dd/mm/YYYY ({_examples(uniq[fits[_DFE] & ~fits[_US]])}) "
                f"and mm/dd/YYYY ({_examples(uniq[fits[_US] & ~fits[_DFE]])}) order; "
                "export the column in one format (DfE: dd/mm/YYYY)"
            )
        raise ReadError(
            f"{where}: dates in two formats, {best} (e.g. {_examples(uniq[fits[best]])}) "
            f"and {fmt} (e.g. {_examples(uniq[elsewhere])}); export the column in one "
            "format (DfE: dd/mm/YYYY)"
        )
    return best


def _from_numbers(num: pd.Series, numeric_as: NumericAs, where: str) -> pd.Series:
    if numeric_as == "none":
        raise ReadError(
            f"{where}: numbers where dates are expected (e.g. {_examples(num.dropna().unique())}); "
            "export the column as dd/mm/YYYY text"
        )
    days = pd.to_timedelta(num, unit="D")
    return (ORIGINS[numeric_as] + days).astype("datetime64[ns]")


def _is_date(v: object) -> bool:
    return isinstance(v, dt.date | pd.Timestamp | np.datetime64)


def _parse_uniques(u: pd.Index, numeric_as: NumericAs, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse the distinct values of a column: typed dates, numbers, then text in one format."""
    values = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(len(u), dtype=bool)
    typed = np.fromiter((_is_date(v) for v in u), dtype=bool, count=len(u))
    if typed.any():
        values[typed] = pd.to_datetime(pd.Series(u[typed], dtype=object)).to_numpy(
            dtype="datetime64[ns]"
        )
    rest = pd.Series(u[~typed], dtype=object)
    numeric = pd.to_numeric(rest.where(rest.map(lambda v: not isinstance(v, str))), errors="coerce")
    if numeric_as != "none":
        numeric = numeric.fillna(pd.to_numeric(rest, errors="coerce"))
    is_num = numeric.notna().to_numpy()
    idx = np.flatnonzero(~typed)
    if is_num.any():
        values[idx[is_num]] = _from_numbers(numeric[is_num], numeric_as, where).to_numpy()
    text = rest.astype(str).str.strip().str.replace(_TIME, "", regex=True)
    txt = ~is_num & (text != "").to_numpy()
    if txt.any():
        fmt = choose_format(pd.Index(text[txt]), where)
        parsed = pd.to_datetime(text[txt], format=fmt, errors="coerce").to_numpy()
        values[idx[txt]] = parsed
        bad[idx[txt]] = np.isnat(parsed)
    return values, bad


def _midnights(values: np.ndarray) -> bool:
    """Whether every datetime64[ns] value is a midnight or NaT (``dt.normalize`` would keep it).

    >>> _midnights(np.array(["2020-01-02", "NaT", "1960-05-06"], dtype="datetime64[ns]"))
    True
    >>> _midnights(np.array(["2020-01-02T00:00:01"], dtype="datetime64[ns]"))
    False
    """
    return bool(((values.view(np.int64) % NS_PER_DAY == 0) | np.isnat(values)).all())


def parse_date_column(
    s: pd.Series, file: str, table: str, column: str, numeric_as: NumericAs = "none"
) -> tuple[pd.Series, pd.Series]:
    """Parse one date column with one format; return the dates and a mask of bad single values.

    Parameters
    ----------
    s : Series
        The column as read: text, datetimes, or numbers (see ``numeric_as``).
    file, table, column : str
        Named in any error.
    numeric_as : {"excel", "stata", "none"}
        How numbers are read: Excel serial days (an XLSX workbook), Stata
        days since 1960 (a ``.dta`` file), or an error (text formats).

    Returns
    -------
    dates : Series of datetime64[ns], normalised to midnight
    bad : Series of bool
        Values that are not a date in the column's format (blank in ``dates``).

    Raises
    ------
    ReadError
        When the column mixes formats or holds no date at all.
    """
    where = f"{file}: table {table}, column {column}"
    if pd.api.types.is_datetime64_any_dtype(s):
        # already dates: to_datetime would first look for repeated values to cache
        naive = s.to_numpy() if s.dtype == "datetime64[ns]" else pd.to_datetime(s).to_numpy()
        naive = naive.astype("datetime64[ns]", copy=False)
        if _midnights(naive):  # normalised already (a Parquet file of dates): a copy
            return pd.Series(naive.copy(), index=s.index), pd.Series(False, index=s.index)
        d = pd.Series(naive, index=s.index)
        return d.dt.normalize(), pd.Series(False, index=s.index)
    if s.isna().all():
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), s.isna() & False
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return _from_numbers(s, numeric_as, where).dt.normalize(), pd.Series(False, index=s.index)
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(len(s), dtype=bool)
    if len(uniq):
        values, bad_u = _parse_uniques(pd.Index(uniq, dtype=object), numeric_as, where)
        valid = codes >= 0
        out[valid] = values[codes[valid]]
        bad[valid] = bad_u[codes[valid]]
    d = pd.Series(out, index=s.index)
    return d.dt.normalize(), pd.Series(bad, index=s.index)


def parse_text_dates_across(columns: list[pd.Series]) -> list[pd.Series] | None:
    """Parse one date column of several files at once, when that changes nothing.

    The columns (one per file or annual return, all text) are factorised
    together and their distinct values parsed once. Each file's format is
    still its own: the first of :data:`TEXT_FORMATS` that reads every value of
    that file, as :func:`parse_date_column` chooses it. When every file
    chooses the same format and every value parses, the dates are returned;
    otherwise None, and each file is parsed alone by :func:`parse_date_column`
    (which names the file in any error and reports single bad values).

    Examples
    --------
    >>> a = pd.Series(["13/04/2019", None]); b = pd.Series(["01/05/2019"])
    >>> [d.dt.strftime("%Y-%m-%d").tolist() for d in parse_text_dates_across([a, b])]
    [['2019-04-13', nan], ['2019-05-01']]
    >>> parse_text_dates_across([a, pd.Series(["2019-05-01"])]) is None  # two formats
    True
    """
    codes, uniq = joint_codes(columns)
    if not len(uniq) or pd.api.types.infer_dtype(uniq, skipna=True) != "string":
        return None
    text = _untimed(uniq)
    if (text == "").any():
        return None
    bounds = np.cumsum([0, *(len(c) for c in columns)])
    present = [
        np.flatnonzero(np.bincount(k[k >= 0], minlength=len(uniq)))
        for k in (codes[a:b] for a, b in itertools.pairwise(bounds))
    ]
    fits: list[np.ndarray] = []
    for fmt in TEXT_FORMATS:
        days = dfe_dates(text.to_numpy()) if fmt == _DFE else None  # plain dd/mm/YYYY
        if days is None:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
            ok = parsed.notna().to_numpy()
            if not ok.all():
                fits.append(ok)
                continue
            days = parsed.dt.normalize().to_numpy(dtype="datetime64[ns]")  # each value once
        # a file that an earlier format reads whole would have chosen that format
        if any(f[p].all() and len(p) for f in fits for p in present):
            return None
        days = np.append(days, np.datetime64("NaT", "ns"))  # code -1 (blank): NaT
        return [
            pd.Series(days[codes[a:b]], index=c.index, dtype="datetime64[ns]")
            for c, (a, b) in zip(columns, itertools.pairwise(bounds), strict=True)
        ]
    return None


def dfe_dates(text: np.ndarray) -> np.ndarray | None:
    """Text values all written ``dd/mm/YYYY`` as dates (``datetime64[ns]``); else None.

    As ``pd.to_datetime(text, format="%d/%m/%Y")`` reads them, without parsing
    each string: None unless every value is ten characters (two digits, a
    ``/``, two digits, a ``/``, four digits) and a real day of a year from
    1800 to 2199; anything else is left to ``to_datetime``.

    >>> dfe_dates(np.array(["13/04/2019", "29/02/2020"], dtype=object)).astype(str).tolist()
    ['2019-04-13T00:00:00.000000000', '2020-02-29T00:00:00.000000000']
    >>> [dfe_dates(np.array([v], dtype=object)) for v in ("29/02/2019", "1/04/2019", "")]
    [None, None, None]
    """
    try:
        if not len(text) or (np.fromiter(map(len, text), np.int64, len(text)) != 10).any():
            return None
        chars = np.asarray(text, dtype="U10")
    except (TypeError, ValueError):
        return None
    c = chars.view(np.uint32).reshape(len(chars), 10).astype(np.int64)
    digits = c[:, [0, 1, 3, 4, 6, 7, 8, 9]] - ord("0")
    if ((digits < 0) | (digits > 9)).any() or (c[:, [2, 5]] != ord("/")).any():
        return None
    day = digits[:, 0] * 10 + digits[:, 1]
    month = digits[:, 2] * 10 + digits[:, 3]
    year = digits[:, 4:] @ np.array([1000, 100, 10, 1])
    if ((month < 1) | (month > 12) | (day < 1) | (year < 1800) | (year > 2199)).any():
        return None
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    dates = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
    if (dates.astype("datetime64[M]") != months).any():  # a day past the month's end
        return None
    return dates.astype("datetime64[ns]")


def _untimed(uniq: pd.Index) -> pd.Series:
    """Text values trimmed and without a time part, as ``str.strip`` and ``_TIME`` give them.

    The regular expression runs only on the values with a ``:`` (it needs one).

    >>> _untimed(pd.Index([" 01/02/2020 ", "2020-01-02 00:00:00"])).tolist()
    ['01/02/2020', '2020-01-02']
    """
    text = np.array([v.strip() for v in uniq], dtype=object)
    timed = np.fromiter((":" in v for v in text), dtype=bool, count=len(text))
    if timed.any():
        text[timed] = (
            pd.Series(text[timed], dtype=object).str.replace(_TIME, "", regex=True).to_numpy()
        )
    return pd.Series(text, dtype=object)


def joint_codes(columns: list[pd.Series]) -> tuple[np.ndarray, pd.Index]:
    """Number the values of several columns together: codes (-1: blank) and distinct values.

    As ``pd.factorize`` of the columns end to end; when every column is a
    ``category`` column, from their categories alone (no hashing of every
    row): the distinct values are then their categories (unused ones too), in
    the order of the columns' categories.

    Examples
    --------
    >>> a = pd.Series(["x", None, "y"], dtype="category")
    >>> b = pd.Series(["z", "x"], dtype="category")
    >>> codes, uniq = joint_codes([a, b])
    >>> codes.tolist(), list(uniq)
    ([0, -1, 1, 2, 0], ['x', 'y', 'z'])
    """
    if not all(isinstance(c.dtype, pd.CategoricalDtype) for c in columns):
        whole = pd.concat(columns, ignore_index=True) if len(columns) > 1 else columns[0]
        codes, uniq = pd.factorize(whole, use_na_sentinel=True)
        return np.asarray(codes), pd.Index(uniq, dtype=object)
    cats = [c.cat.categories for c in columns]
    if len(cats) == 1:
        return columns[0].cat.codes.to_numpy().astype(np.int64), pd.Index(cats[0], dtype=object)
    if all(len(c) == len(cats[0]) and c.equals(cats[0]) for c in cats[1:]):
        # the same categories (header and episodes of one extract): their codes as they are
        codes = np.concatenate([c.cat.codes.to_numpy() for c in columns])
        return codes.astype(np.int64, copy=False), pd.Index(cats[0], dtype=object)
    # every column's categories numbered together: one hashing of the distinct values
    together = np.concatenate([np.asarray(c, dtype=object) for c in cats])
    numbers, distinct = pd.factorize(together, use_na_sentinel=True)
    bounds = np.cumsum([0, *(len(c) for c in cats)])
    parts = []
    for c, a, b in zip(columns, bounds[:-1], bounds[1:], strict=True):
        recode = np.append(numbers[a:b], -1)  # index -1 (blank) stays -1
        parts.append(recode[c.cat.codes.to_numpy()])
    return np.concatenate(parts).astype(np.int64, copy=False), pd.Index(distinct, dtype=object)
