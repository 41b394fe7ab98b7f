"""Parse one raw table by its declaration: dates, whole numbers, codes as text.

Declared tables (:data:`reunistat.tables.schema.TABLES`) are parsed by their
column kinds; the other 903 tables (uasc, missing, reviews...) have their date
columns (:data:`OTHER_DATES`) parsed and everything else kept as text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

from reunistat.codes.years import first_seen, renumbered
from reunistat.errors import ReadError
from reunistat.tables import schema
from reunistat.tables.dates import NumericAs, parse_date_column, parse_text_dates_across
from reunistat.tables.problems import empty_problems, problems_frame

#: Date columns of the 903 tables that :mod:`~reunistat.tables.schema` does not declare.
OTHER_DATES: Final[dict[str, tuple[str, ...]]] = {
    "uasc": ("DOB", "DUC"),
    "missing": ("DOB", "MIS_START", "MIS_END"),
    "reviews": ("DOB", "REVIEW"),
    "oc2": ("DOB",),
    "oc3": ("DOB",),
    "ad1": ("DOB", "DATE_INT", "DATE_MATCH"),
    "placed_for_adoption": ("DOB", "DATE_PLACED", "DATE_PLACED_CEASED"),
    "previous_permanence": ("DOB",),  # DATE_PERM may be partial (zz/mm/YYYY): text
    "sw_episodes": ("DOB", "SW_DECOM", "SW_DEC"),
    "dolo": ("DOB", "DOLO_START", "DOLO_END"),
}
#: Columns the other 903 tables must have.
OTHER_MUST_HAVE: Final = ("CHILD",)


def as_text(s: pd.Series) -> pd.Series:
    """Return ``s`` as stripped strings in an object column, blanks as None.

    Whole numbers (``566910.0`` from a spreadsheet or Stata) are written
    without decimals. Works on the distinct values only (codes repeat), so it
    is fast on millions of rows.

    Examples
    --------
    >>> as_text(pd.Series([" C2", 566910.0, None, ""])).tolist()
    ['C2', '566910', None, None]
    """
    idx, uniques = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=object)
    if pd.api.types.infer_dtype(uniques, skipna=True) != "string":
        whole = u.map(lambda v: isinstance(v, float | np.floating) and float(v).is_integer())
        if whole.any():
            u[whole] = u[whole].map(lambda v: str(int(v)))
    text = u.astype(str).str.strip().to_numpy(dtype=object)
    text[text == ""] = None
    values = np.empty(len(text) + 1, dtype=object)  # idx -1 (missing) picks the trailing None
    values[:-1] = text
    return pd.Series(values[idx], index=s.index, dtype=object, name=s.name)


def is_text(s: pd.Series) -> bool:
    """Whether a column is text as read: objects, or a ``category`` column of text."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.categories.dtype == object
    return s.dtype == object


def as_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return whole numbers (``Int64``) and a mask of values that are not whole numbers."""
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.astype("Int64"), pd.Series(False, index=s.index)
    # each distinct value converted once (a column of millions holds few)
    idx, uniques = pd.factorize(s, use_na_sentinel=True)
    txt = as_text(pd.Series(uniques, dtype=object))
    num = pd.to_numeric(txt, errors="coerce")
    bad = num.isna() & txt.notna()
    whole = num.notna() & (num == np.floor(num.fillna(0)))
    bad |= num.notna() & ~whole
    values = num.where(whole).astype("Int64").array.take(idx, allow_fill=True)
    bad_rows = np.zeros(len(s), dtype=bool)
    bad_rows[idx >= 0] = bad.to_numpy()[idx[idx >= 0]]
    return (
        pd.Series(values, index=s.index, name=s.name),
        pd.Series(bad_rows, index=s.index, name=s.name),
    )


def declared_names(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``df`` with column names matched (case-insensitively) to the declared spellings."""
    if table not in schema.TABLES:
        return df
    declared = {c.name.upper(): c.name for c in schema.TABLES[table]}
    return df.rename(columns={c: declared.get(str(c).upper(), c) for c in df.columns})


def require_columns(df: pd.DataFrame, table: str, file: str) -> None:
    """Raise :class:`ReadError` naming the columns ``table`` must have and ``df`` lacks."""
    must = schema.MUST_HAVE.get(table, OTHER_MUST_HAVE)
    missing = [c for c in must if c not in df.columns]
    if missing:
        raise ReadError(
            f"{file}: table {table} lacks column(s) {', '.join(missing)} (rule missing_column); "
            f"it has {', '.join(map(str, df.columns))}; add or rename the column"
        )


def _bad_rows(
    out: pd.DataFrame, raw: pd.Series, bad: pd.Series, table: str, col: str, **kw: str
) -> pd.DataFrame:
    p = out.loc[bad].copy()
    p[col] = raw[bad]
    return problems_frame(p, np.ones(len(p), bool), table, col, kw.pop("rule", "bad_date"), **kw)


def parse_table(
    df: pd.DataFrame,
    table: str,
    file: str = "",
    numeric_as: NumericAs = "none",
    clean_text: bool = False,
    defer_dates: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse one raw table by its declaration; return it and its parsing problems.

    Declared columns absent from ``df`` are added blank; undeclared columns
    are kept as text. A date column in two formats is a
    :class:`~reunistat.errors.ReadError`; a single value that is no date is
    problem ``bad_date`` (blank in the table), a non-whole number problem ``code``.
    ``clean_text`` says the object columns are already trimmed text with blanks as None.
    ``defer_dates`` leaves text date columns as they are, for
    :func:`parse_dates` to parse them with the same table's other files.
    """
    out = df.copy(deep=False)  # columns are replaced, never written into
    probs = []
    declared = schema.TABLES.get(table, ())
    kinds = {c.name: c.kind for c in declared}
    kinds |= dict.fromkeys(OTHER_DATES.get(table, ()), "date")
    for c in declared:
        if c.name not in out.columns:
            blank = pd.Series([None] * len(out), index=out.index, dtype=object)
            out[c.name] = blank.astype("datetime64[ns]") if c.kind == "date" else blank
    for name in out.columns:
        if str(name).startswith("_"):
            continue
        kind = kinds.get(name, "text")
        raw = out[name]
        if kind == "date" and defer_dates and is_text(raw):
            continue
        if kind == "date":
            out[name], bad = parse_date_column(raw, file, table, name, numeric_as)
            if bad.any():
                probs.append(_bad_rows(out, raw, bad, table, name))
        elif kind == "int":
            out[name], bad = as_int(raw)
            if bad.any():
                probs.append(
                    _bad_rows(out, raw, bad, table, name, rule="code", detail="not a whole number")
                )
        elif not (clean_text and is_text(raw)):
            out[name] = as_text(raw)
    problems = pd.concat(probs, ignore_index=True) if probs else empty_problems()
    return out, problems


def date_columns(table: str) -> list[str]:
    """The date columns of a table: declared, or of :data:`OTHER_DATES`."""
    declared = [c.name for c in schema.TABLES.get(table, ()) if c.kind == "date"]
    return declared + [c for c in OTHER_DATES.get(table, ()) if c not in declared]


def parse_dates(
    frames: list[pd.DataFrame], files: Iterable[str], table: str
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Parse the text date columns :func:`parse_table` deferred, across a table's files.

    Each column is parsed once for all files
    (:func:`~reunistat.tables.dates.parse_text_dates_across`) when every file
    reads in the same format without a bad value, else file by file as
    :func:`parse_table` does. Returns the frames and, per file, its problems
    (``bad_date``).
    """
    files = list(files)
    problems = [empty_problems() for _ in frames]
    for col in date_columns(table):
        at = [i for i, f in enumerate(frames) if col in f.columns and is_text(f[col])]
        if not at:
            continue
        together = parse_text_dates_across([frames[i][col] for i in at])
        for j, i in enumerate(at):
            raw = frames[i][col]
            if together is not None:
                frames[i][col] = together[j]
                continue
            frames[i][col], bad = parse_date_column(raw, files[i], table, col)
            if bad.any():
                p = _bad_rows(frames[i], raw, bad, table, col)
                problems[i] = pd.concat([problems[i], p], ignore_index=True)
    return frames, problems


def as_codes(s: pd.Series) -> pd.Series:
    """A code column as a ``category`` column: categories the values in order of first appearance.

    The same column whatever it was read as: objects (text, blanks None) or
    a ``category`` column from Arrow's dictionary (any order, unused
    categories), as ``pd.factorize`` numbers the values. Categories of a
    ``category`` column are renumbered by their codes (integers), not hashed
    as text.

    Examples
    --------
    >>> a = as_codes(pd.Series(["P1", None, "U1", "P1"]))
    >>> read = pd.Categorical(["P1", None, "U1", "P1"], categories=["X", "U1", "P1"])
    >>> b = as_codes(pd.Series(read))
    >>> list(a.cat.categories) == list(b.cat.categories) == ["P1", "U1"]
    True
    >>> a.cat.codes.tolist() == b.cat.codes.tolist() == [0, -1, 1, 0]
    True
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        old, k = s.cat.codes.to_numpy(), len(s.cat.categories)
        order = first_seen(old, k)
        if len(order) == k and (order == np.arange(k)).all():
            return s  # in order of first appearance already, every category used
        codes = renumbered(old, order, k)
        cats = s.cat.categories.take(order)
    else:
        codes, cats = pd.factorize(s, use_na_sentinel=True)
    dtype = pd.CategoricalDtype(pd.Index(cats, dtype=object))
    cat = pd.Categorical.from_codes(codes, dtype=dtype)  # type: ignore[arg-type]
    return pd.Series(cat, index=s.index, name=s.name, copy=False)


def with_codes(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """``df`` with each declared code column of ``table`` as :func:`as_codes` gives it."""
    cols = [c.name for c in schema.TABLES.get(table, ()) if c.kind == "code"]
    cols = [c for c in cols if c in df.columns and is_text(df[c])]
    if not cols:
        return df
    out = df.copy(deep=False)  # columns replaced, none copied
    for c in cols:
        out[c] = as_codes(df[c])
    return out
