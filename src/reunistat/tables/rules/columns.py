"""Rules on one column's values: required values, codes by collection year, date ranges.

Codes are checked against the set of the row's collection year
(:func:`reunistat.codes.valid_codes`; a row of unknown year against every code
some year allows), under DfE's rule number for the column (101 SEX, 103 ETHNIC,
143 RNE, 144 LS, 145 CIN, 146 PLACE, 149 REC, 178 PLACE_PROVIDER, 1009
REASON_PLACE_CHANGE); other coded columns under reunistat's rule ``code``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.tables import schema
from reunistat.tables.keys import YEAR_COL
from reunistat.tables.rules import frame
from reunistat.tables.rules.coded import Coded

EARLIEST_DATE: Final = pd.Timestamp("1900-01-01")
#: DfE's code rule for each 903 column, and whether a blank counts as invalid.
DFE_CODE_RULES: Final = {
    ("header", "SEX"): ("101", True),
    ("header", "ETHNIC"): ("103", True),
    ("episodes", "RNE"): ("143", False),
    ("episodes", "LS"): ("144", False),
    ("episodes", "CIN"): ("145", False),
    ("episodes", "PLACE"): ("146", False),
    ("episodes", "PLACE_PROVIDER"): ("178", False),
    ("episodes", "REC"): ("149", False),
    ("episodes", "REASON_PLACE_CHANGE"): ("1009", False),
}
#: Placements that take no provider (rule 178), by the first year of each list.
_NO_PROVIDER: Final = (
    (None, frozenset({"T0", "T1", "T2", "T3", "T4", "Z1"})),
    (2026, frozenset({"T0", "T1", "T2", "T3", "Z11", "Z12", "Z13", "Z14"})),
)


def years_of(df: pd.DataFrame) -> pd.Series | None:
    """Return the rows' collection years (``Int64``), or None when no row has one."""
    if YEAR_COL not in df.columns:
        return None
    col = df[YEAR_COL]
    if col.isna().all():  # before the conversion: slow on a column of objects
        return None
    return col.astype("Int64")


def _no_provider(place: Coded, years: pd.Series | None) -> np.ndarray:
    """Mask of placements that take no provider in their row's year (latest list if unknown)."""
    early, late = _NO_PROVIDER[0][1], _NO_PROVIDER[1][1]
    if years is None:
        return place.isin(early | late)
    new = (years.fillna(9999) >= 2026).to_numpy(dtype=bool)
    return np.where(new, place.isin(late), place.isin(early))


def invalid_codes(values: Coded, column: str, years: pd.Series | None) -> np.ndarray:
    """:func:`reunistat.codes.invalid_codes` on a factorised column (each code looked up once).

    Each row is checked against the code set of its collection year (a row of
    unknown year against every code some year allows); blanks are not flagged.
    """
    if years is None:
        return ~values.isna() & ~values.isin(codes.valid_codes(column))
    y = years.to_numpy(dtype="float64", na_value=np.nan)
    known = ~np.isnan(y)
    ok = np.zeros(len(y), dtype=bool)
    ok[~known] = values.member(codes.valid_codes(column))[values.codes[~known]]
    for s in codes.CODE_SETS[column]:
        lo = -(10**6) if s.first_year is None else s.first_year
        hi = 10**6 if s.last_year is None else s.last_year
        rows = known & (y >= lo) & (y <= hi)
        ok[rows] = values.member(s.codes)[values.codes[rows]]
    return ~values.isna() & ~ok


def check_codes(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check coded columns against their code set of each row's collection year."""
    years = years_of(df)
    out = []
    for c in schema.TABLES[table]:
        if c.name not in df.columns or c.kind != "code":
            continue
        if c.name not in codes.CODE_SETS and c.allowed is None:
            continue
        s = Coded(df[c.name])
        dfe = DFE_CODE_RULES.get((table, c.name))
        if c.name in codes.CODE_SETS:
            bad = invalid_codes(s, c.name, years)
        else:
            bad = ~s.isna() & ~s.isin(c.allowed or ())
        rule_name = dfe[0] if dfe else "code"
        if dfe and dfe[1]:
            bad = bad | s.isna()
        if table == "episodes" and c.name == "PLACE_PROVIDER" and "PLACE" in df.columns:
            bad = bad | (~s.isna() & _no_provider(Coded(df["PLACE"]), years))
        if bad.any():
            out.append(frame.problems(df, bad, rule_name, table=table, column=c.name))
    return frame.concat(out)


def check_required(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Check required values (blank SEX and ETHNIC are DfE 101/103, not ``required``)."""
    out = []
    for c in schema.TABLES[table]:
        if not c.required or c.name not in df.columns:
            continue
        dfe = DFE_CODE_RULES.get((table, c.name))
        if dfe and dfe[1]:
            continue
        m = frame.blank(df[c.name])
        if m.any():
            out.append(frame.problems(df, m, "required", table=table, column=c.name))
    return frame.concat(out)


def check_dates(df: pd.DataFrame, table: str, data_end: pd.Timestamp | None) -> pd.DataFrame:
    """Check dates against 1900 and the data end, and episodes against their collection year.

    DfE 354 and 385: an episode's DECOM and DEC must be on or before 31 March
    of its collection year (rows of unknown year are not checked).
    """
    out = []
    for c in schema.TABLES[table]:
        if c.name not in df.columns or c.kind != "date" or c.name == "PILOT_START":
            continue
        s = df[c.name]
        rng = s < EARLIEST_DATE
        if data_end is not None:
            rng |= s > data_end
        m = rng.fillna(False).to_numpy(dtype=bool)
        if m.any():
            end = "(none given)" if data_end is None else str(data_end.date())
            detail = f"before {EARLIEST_DATE.date()} or after the data end {end}"
            out.append(
                frame.problems(df, m, "date_range", table=table, column=c.name, detail=detail)
            )
    years = years_of(df)
    if table == "episodes" and years is not None:
        ends = pd.Series(_year_ends(years), index=df.index)
        for col, rule in (("DECOM", "354"), ("DEC", "385")):
            m = (df[col] > ends).fillna(False).to_numpy(dtype=bool)
            if m.any():
                out.append(frame.problems(df, m, rule))
    return frame.concat(out)


def _year_ends(years: pd.Series) -> np.ndarray:
    """31 March of each row's collection year (``datetime64[ns]``; NaT when unknown).

    Worked out once per distinct year (a blank one too), in their order of
    first appearance, as ``to_datetime`` would read every row's text, and put
    on every row.

    >>> _year_ends(pd.Series([2021, None, 2021], dtype="Int64")).astype(str).tolist()
    ['2021-03-31T00:00:00.000000000', 'NaT', '2021-03-31T00:00:00.000000000']
    """
    codes, uniques = pd.factorize(years, use_na_sentinel=False)  # a blank too, where it comes
    text = pd.Series(uniques).astype("float").astype("Int64").astype(str) + "-03-31"
    return np.asarray(pd.to_datetime(text, errors="coerce"), dtype="datetime64[ns]")[codes]


def check_columns(df: pd.DataFrame, table: str, data_end: pd.Timestamp | None) -> pd.DataFrame:
    """Check one table's values: required, codes by year, dates."""
    return frame.concat(
        [check_required(df, table), check_codes(df, table), check_dates(df, table, data_end)]
    )
