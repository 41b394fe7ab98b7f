"""Rules on a child's age at an episode's start or end (DfE 302, 352, 386, 387, 389, 407, 460).

Birthdays are :func:`reunistat.dates.add_years` (29 February births reach an
age on 1 March; DfE's validator uses pandas' ``DateOffset``, which gives 28
February: the rules can differ for such children on that one day).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.dates import add_years
from reunistat.tables.rules import frame
from reunistat.tables.rules.coded import Coded
from reunistat.tables.rules.sequence import neighbours

_S: Final = "S"
_SGO: Final = codes.REC_SGO
_INDEPENDENT: Final = frozenset({"E5", "E6"})
_ADULT_CARE: Final = "E7"
_STAYED_WITH_CARERS: Final = "E17"


def _b(s: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(s, np.ndarray):  # numpy compared dates: NaT already False
        return s
    return s.fillna(False).to_numpy(dtype=bool)


def _dates(s: pd.Series) -> pd.Series | np.ndarray:
    """A ``datetime64[ns]`` column as its array; other columns as they are.

    numpy compares NaT as False, as ``_b`` reads pandas' comparisons.
    """
    return s.to_numpy() if s.dtype == "datetime64[ns]" else s


def birthdays(dob: pd.Series, *years: int) -> list[pd.Series]:
    """Return each row's birthday ``years`` on, for each of ``years`` (once per distinct date).

    :func:`reunistat.dates.add_years` (29 February to 1 March in a year that
    is not leap; a time of day dropped; NaT past pandas' dates), for
    ``datetime64[ns]`` dates in calendar arithmetic (:func:`anniversaries`).
    """
    if dob.dtype != "datetime64[ns]":
        return _birthdays_by_date(dob, years)
    idx, uniques = pd.factorize(dob.to_numpy(), use_na_sentinel=True)
    found = []
    for n in years:
        days = np.append(anniversaries(np.asarray(uniques), n), np.datetime64("NaT", "ns"))
        found.append(pd.Series(days[idx], index=dob.index))  # idx -1 (no DOB): NaT
    return found


#: The first and last days pandas holds in ``datetime64[ns]`` (``Timestamp.min``, ``.max``).
_FIRST_DAY: Final = np.datetime64("1677-09-22", "D")
_LAST_DAY: Final = np.datetime64("2262-04-11", "D")
#: Dates outside these go through :func:`add_years` (casts overflow near pandas' limits).
_SAFE: Final = (np.datetime64("1678-01-01", "ns"), np.datetime64("2262-01-01", "ns"))


def anniversaries(dates: np.ndarray, years: int) -> np.ndarray:
    """The day ``years`` after each ``datetime64[ns]`` date, as :func:`add_years` finds it.

    Year, month and day are split by ``datetime64`` casts, the year moved and
    the same month and day added back: a 29 February in a year that is not
    leap lands on 1 March (the day after 28 February), the time of day is
    dropped, and a day pandas cannot hold is NaT (``errors="coerce"``). Dates
    within a few months of pandas' limits go through :func:`add_years` itself.

    >>> d = np.array(["2000-02-29", "2001-06-15T10:00", "NaT"], dtype="datetime64[ns]")
    >>> anniversaries(d, 18).astype("datetime64[D]").astype(str).tolist()
    ['2018-03-01', '2019-06-15', 'NaT']
    """
    day = dates.astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    year = month.astype("datetime64[Y]")
    on = (
        (year + np.timedelta64(years, "Y")).astype("datetime64[M]")
        + (month - year.astype("datetime64[M]"))
    ).astype("datetime64[D]") + (day - month.astype("datetime64[D]"))
    on[(on < _FIRST_DAY) | (on > _LAST_DAY)] = np.datetime64("NaT")
    out = on.astype("datetime64[ns]")
    edge = (dates < _SAFE[0]) | (dates >= _SAFE[1])
    if edge.any():
        out[edge] = add_years(pd.Series(dates[edge]), years).to_numpy(dtype="datetime64[ns]")
    return out


def _birthdays_by_date(dob: pd.Series, years: tuple[int, ...]) -> list[pd.Series]:
    """:func:`birthdays` of dates not held as ``datetime64[ns]``: once per distinct date."""
    idx, uniques = pd.factorize(dob, use_na_sentinel=True)
    dates = pd.Series(pd.DatetimeIndex(uniques))
    found = []
    for n in years:
        days = np.append(add_years(dates, n).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
        found.append(pd.Series(days[idx], index=dob.index))  # idx -1 (no DOB): NaT
    return found


def check_ages(e: pd.DataFrame, child_dob: pd.Series, rows: np.ndarray) -> pd.DataFrame:
    """Check episodes against the child's age.

    ``e`` is sorted by child and DECOM with ``_cid``; ``child_dob`` is the DOB
    of each child (a header row per child) and ``rows`` its row for each
    episode (-1: no header, no DOB). Birthdays are found once per child.
    """
    same_prev, _ = neighbours(e)
    dec, decom, rec = _dates(e["DEC"]), _dates(e["DECOM"]), Coded(e["REC"])
    per_child = pd.Series(np.asarray(child_dob, dtype="datetime64[ns]"))
    dob, b14, b16, b18 = (
        np.append(d.to_numpy(), np.datetime64("NaT", "ns"))[rows]  # row -1: NaT
        for d in (per_child, *birthdays(per_child, 14, 16, 18))
    )
    if not (isinstance(dec, np.ndarray) and isinstance(decom, np.ndarray)):
        dec, decom = e["DEC"], e["DECOM"]  # compared by pandas, as Series of dates
        dob, b14, b16, b18 = (pd.Series(d, index=e.index) for d in (dob, b14, b16, b18))
    checks = {
        "302": ~same_prev & _b(dob > decom),
        "352": Coded(e["RNE"]).eq(_S) & _b(decom >= b18),
        "386": rec.isin(codes.REC_ADOPTION) & _b(dec >= b18),
        "407": rec.isin(_SGO) & _b(dec > b18),
        "460": rec.eq(_STAYED_WITH_CARERS) & _b(dec < b18),
        "387": rec.isin(_INDEPENDENT) & ~np.asarray(pd.isna(dec)) & ~_b(b14 <= dec),
        "389": rec.eq(_ADULT_CARE) & ~_b(b16 <= dec),
    }
    # DOB beside the episodes for the problems, sharing their columns (no copy)
    with_dob = pd.DataFrame(
        {**{c: e[c] for c in e.columns}, "DOB": pd.Series(np.asarray(dob), index=e.index)},
        copy=False,
    )
    return frame.concat(frame.problems(with_dob, m, rule) for rule, m in checks.items() if m.any())
