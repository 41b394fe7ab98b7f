"""Date definitions shared by every stage: birthdays, financial years, day counts.

These are definitions, not derivation logic: the generator and the cohort
derivation both use them so that "the 18th birthday" means the same day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.horizons import DAYS_PER_YEAR

#: Nanoseconds in a day: ``datetime64[ns]`` midnights as integers divide by it exactly.
NS_PER_DAY: int = 86_400 * 10**9


def add_years(dates: pd.Series | pd.DatetimeIndex, years: int) -> pd.Series:
    """Return the anniversary ``years`` after each date.

    A birthday on 29 February falls on 1 March in years that are not leap
    years, as English law treats attaining an age (Family Law Reform Act 1969,
    s. 9, reads the anniversary; the 1 March convention is the common one).

    >>> s = pd.Series(pd.to_datetime(["2000-02-29", "2001-06-15", "2004-02-29"]))
    >>> add_years(s, 18).dt.strftime("%Y-%m-%d").tolist()
    ['2018-03-01', '2019-06-15', '2022-03-01']
    """
    d = pd.Series(pd.to_datetime(dates))
    year = d.dt.year + years
    leapday = (d.dt.month == 2) & (d.dt.day == 29)
    target_is_leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month = np.where(leapday & ~target_is_leap, 3, d.dt.month)
    day = np.where(leapday & ~target_is_leap, 1, d.dt.day)
    out = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day}), errors="coerce")
    return pd.Series(out.to_numpy(), index=d.index, name=d.name)


def eighteenth_birthday(dob: pd.Series) -> pd.Series:
    """Return the 18th birthday of each date of birth.

    >>> eighteenth_birthday(pd.Series(pd.to_datetime(["2006-03-31"]))).iloc[0].date()
    datetime.date(2024, 3, 31)
    """
    return add_years(dob, 18)


def financial_year(dates: pd.Series) -> pd.Series:
    """Return the financial year (April start) of each date, as its first calendar year.

    >>> financial_year(pd.Series(pd.to_datetime(["2020-03-31", "2020-04-01"]))).tolist()
    [2019, 2020]
    """
    d = pd.Series(pd.to_datetime(dates))
    return (d.dt.year - (d.dt.month < 4).astype(int)).astype("Int64")


def age_years(dob: pd.Series, on: pd.Series) -> pd.Series:
    """Return exact age in years (days / 365.25) on each date.

    >>> age_years(pd.Series(pd.to_datetime(["2000-01-01"])),
    ...           pd.Series(pd.to_datetime(["2010-01-01"]))).round(2).tolist()
    [10.0]
    """
    days = (_as_dates(on) - _as_dates(dob)).dt.days
    return days / DAYS_PER_YEAR


def _as_dates(s: pd.Series) -> pd.Series:
    """``pd.Series(pd.to_datetime(s))``; a Series of dates already as it is (not searched again)."""
    if isinstance(s, pd.Series) and s.dtype == "datetime64[ns]":
        return s
    return pd.Series(pd.to_datetime(s))
