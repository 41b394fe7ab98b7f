"""Periods of care → returns home with their outcome (DOMAIN.md §3).

A return home is a period of care ending with REC E4A or E4B (and E13 when
configured). Time zero is its DEC. The event is re-entry: the DECOM of the
child's next period of care (short-break-only periods do not count). Follow-up
ends at the earliest of re-entry, a known death or other permanent exit, the
18th birthday and the data end.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes, spells
from reunistat.dates import NS_PER_DAY
from reunistat.tables.keys import CID
from reunistat.tables.rules.coded import Coded

#: When two ends fall on the same day, the first listed wins.
REASON_PRIORITY: Final = ("reentry", "death", "other_exit", "age18", "data_end")
_EVENT_TYPE: Final = {
    "reentry": spells.EVENT_REENTRY,
    "death": spells.EVENT_COMPETING,
    "other_exit": spells.EVENT_COMPETING,
    "age18": spells.EVENT_COMPETING,
    "data_end": spells.EVENT_CENSORED,
}
assert set(REASON_PRIORITY) == set(spells.CENSOR_REASONS)


def return_recs(include_e13: bool) -> frozenset[str]:
    """Return the REC codes that count as a return home."""
    return codes.REC_RETURN_HOME if include_e13 else codes.REC_RETURN_WITH_PR


def index_returns(periods: pd.DataFrame, include_e13: bool) -> pd.DataFrame:
    """Return one row per return home, with its place in the child's care history.

    Parameters
    ----------
    periods : DataFrame
        From :func:`reunistat.cohort.periods.build_periods`, in child and date order.
    include_e13 : bool
        Whether E13 counts as a return home.

    Returns
    -------
    DataFrame
        The returning periods, with ``prior_periods`` (earlier periods of care of
        the child), ``reentry_date`` (start of the next period of care, NaT if
        none) and ``spell_number``.
    """
    # worked out on the periods of care's columns; only the returns' rows taken from the table
    at = np.flatnonzero(~periods["short_break"].to_numpy())  # the periods of care
    cid = periods[CID].to_numpy()[at]
    prior = _number_within(cid, pd.Series(cid))
    start = periods["period_start"].take(at).reset_index(drop=True)
    same = pd.Series(np.r_[cid[1:] == cid[:-1], False][: len(cid)])  # next period: same child
    reentry = start.shift(-1).where(same).to_numpy()
    is_ret = np.flatnonzero(Coded(periods["end_rec"].take(at)).isin(return_recs(include_e13)))
    ret = periods.take(at[is_ret])
    ret["prior_periods"] = prior[is_ret]
    ret["reentry_date"] = reentry[is_ret]
    ret["spell_number"] = _number_within(ret[CID].to_numpy(), ret[CID]) + 1
    return ret


def _number_within(cid: np.ndarray, key: pd.Series) -> np.ndarray:
    """Each row's place among its child's rows, 0, 1, ... (``groupby(key).cumcount()``).

    Rows in child order (each child's together, as periods are) are numbered
    in one pass; other orders by ``groupby``.

    >>> _number_within(np.array([3, 3, 5, 5, 5, 9]), pd.Series([3, 3, 5, 5, 5, 9])).tolist()
    [0, 1, 0, 1, 2, 0]
    """
    if len(cid) == 0 or not (cid[1:] >= cid[:-1]).all():
        return key.groupby(key, sort=False).cumcount().to_numpy()
    pos = np.arange(len(cid))
    starts = np.r_[True, cid[1:] != cid[:-1]]
    return pos - np.maximum.accumulate(np.where(starts, pos, 0))


def dates_of(s: pd.Series) -> pd.Series:
    """``pd.to_datetime``, skipped for dates already (it would search them for repeats)."""
    return s if s.dtype == "datetime64[ns]" else pd.to_datetime(s)


def follow_up(
    returns: pd.DataFrame,
    data_end: pd.Timestamp,
    birthday18: pd.Series,
    exit_date: pd.Series,
    exit_reason: pd.Series,
) -> pd.DataFrame:
    """Compute the outcome of each return home.

    Parameters
    ----------
    returns : DataFrame
        With ``period_end`` (the return date) and ``reentry_date``.
    data_end : Timestamp
        The last day of the data.
    birthday18 : Series of datetime
        Each return's child's 18th birthday (aligned with ``returns``).
    exit_date, exit_reason : Series
        A known death or other permanent exit of the child (NaT/None if none),
        aligned with ``returns``. Exits before the return date are ignored.

    Returns
    -------
    DataFrame
        ``return_date, reentry_date, reentered, days_followed, censor_date,
        days_potential_followup, censor_reason, event_type``, indexed like ``returns``.
    """
    ret_date = returns["period_end"]
    dates = (ret_date, returns["reentry_date"], birthday18, exit_date)
    if all(d.dtype == "datetime64[ns]" for d in dates) and not ret_date.isna().any():
        return _follow_up_ns(returns, data_end, (birthday18, exit_date, exit_reason))
    exit_ok = exit_date.where(exit_date >= ret_date)
    candidates = {
        "reentry": returns["reentry_date"],
        "death": exit_ok.where(exit_reason == "death"),
        "other_exit": exit_ok.where(exit_reason == "other_exit"),
        "age18": birthday18,
        "data_end": pd.Series(data_end, index=returns.index),
    }
    ends = pd.DataFrame({k: dates_of(v) for k, v in candidates.items()}, copy=False)
    earliest = ends.min(axis=1)
    reason = pd.Series("data_end", index=returns.index, dtype=object)
    for name in reversed(REASON_PRIORITY):
        reason = reason.mask(ends[name] == earliest, name)
    censor_date = earliest.where(earliest > ret_date, ret_date)
    reentered = (reason == "reentry").astype(np.int64)
    out = pd.DataFrame(
        {
            "return_date": ret_date,
            "reentry_date": returns["reentry_date"].where(reentered == 1),
            "reentered": reentered,
            "days_followed": (censor_date - ret_date).dt.days.astype(np.int64),
            "censor_date": censor_date,
            # administrative follow-up, known whatever happened (for fixed horizons)
            "days_potential_followup": (
                (ends[["age18", "data_end"]].min(axis=1) - ret_date).dt.days.clip(lower=0)
            ).astype(np.int64),
            "censor_reason": reason,
            "event_type": reason.map(_EVENT_TYPE).astype(np.int64),
        },
        index=returns.index,
        copy=False,
    )
    return out


_NONE: Final = np.iinfo(np.int64).max  # a missing date: later than any


def _ns(s: pd.Series) -> np.ndarray:
    """Dates as integer nanoseconds, NaT as :data:`_NONE`."""
    a = s.to_numpy()
    return np.where(np.isnat(a), _NONE, a.view(np.int64))


def _follow_up_ns(
    returns: pd.DataFrame, data_end: pd.Timestamp, child: tuple[pd.Series, pd.Series, pd.Series]
) -> pd.DataFrame:
    """:func:`follow_up` of ``datetime64[ns]`` dates (no return date missing), on integers.

    ``child``: the 18th birthday, exit date and exit reason of each return's child.

    The same columns, values and dtypes: each end as nanoseconds (a missing one
    later than any), the earliest, and the first reason of
    :data:`REASON_PRIORITY` that ends then.
    """
    birthday18, exit_date, exit_reason = child
    ret_date = returns["period_end"]
    ret = ret_date.to_numpy().view(np.int64)
    exit_ok = _ns(exit_date)
    exit_ok[exit_ok < ret] = _NONE  # exits before the return are ignored
    end = np.full(len(ret), np.datetime64(data_end, "ns").view(np.int64))
    age18 = _ns(birthday18)
    ends = np.stack(
        [
            _ns(returns["reentry_date"]),
            np.where((exit_reason == "death").to_numpy(dtype=bool), exit_ok, _NONE),
            np.where((exit_reason == "other_exit").to_numpy(dtype=bool), exit_ok, _NONE),
            age18,
            end,
        ]
    )  # in the order of REASON_PRIORITY
    earliest = ends.min(axis=0)
    first = np.argmax(ends == earliest, axis=0)  # the first reason ending then
    reason = np.array(REASON_PRIORITY, dtype=object)[first]
    reentered = (first == 0).astype(np.int64)
    censor = np.where(earliest > ret, earliest, ret)
    potential = np.maximum((np.minimum(age18, end) - ret) // NS_PER_DAY, 0)
    return pd.DataFrame(
        {
            "return_date": ret_date,
            "reentry_date": returns["reentry_date"].where(reentered == 1),
            "reentered": reentered,
            "days_followed": (censor - ret) // NS_PER_DAY,
            "censor_date": censor.view("datetime64[ns]"),
            # administrative follow-up, known whatever happened (for fixed horizons)
            "days_potential_followup": potential,
            "censor_reason": reason,
            "event_type": np.array([_EVENT_TYPE[r] for r in REASON_PRIORITY], np.int64)[first],
        },
        index=returns.index,
        copy=False,
    )
