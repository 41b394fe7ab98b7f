"""Rules on one episode and on the chain of a child's episodes.

DfE 142, 148, 199, 355-357, 378, 390, 431-437, 501, 516; reunistat's ``x1_next``.

Every function takes the episodes sorted by child and DECOM with the child
key ``_cid`` (:func:`reunistat.tables.keys.sort_by_child`), checks them with
vectorised operations and returns problem rows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.tables.keys import CID
from reunistat.tables.rules import frame
from reunistat.tables.rules.coded import Coded

_S: Final = "S"  # codes.RNE: started to be looked after
_P1: Final = "P1"  # codes.PLACE: placed with parents
_ADOPTION_PLACES: Final = frozenset({"A3", "A4", "A5", "A6"})
_FOSTER: Final = frozenset({"U1", "U2", "U3", "U4", "U5", "U6"})
_SGO_FORMER_FOSTER: Final = frozenset({"E45", "E46"})
_DIED_OR_ADULT: Final = frozenset({"E2", "E15"})
assert _S in codes.RNE and _P1 in codes.PLACE and _FOSTER <= set(codes.PLACE)


def _b(x: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(x, pd.Series):
        return x.fillna(False).to_numpy(dtype=bool)
    return np.asarray(x, dtype=bool)


def _earlier(m: np.ndarray) -> np.ndarray:
    """Per row, the mask's value on the row before (False on the first)."""
    return np.r_[False, m[:-1]]


def _later(m: np.ndarray) -> np.ndarray:
    """Per row, the mask's value on the row after (False on the last)."""
    return np.r_[m[1:], False]


def neighbours(e: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return masks: the row has an earlier / a later episode of the same child."""
    uid = e[CID].to_numpy()
    same_prev = np.r_[False, uid[1:] == uid[:-1]]
    same_next = np.r_[uid[:-1] == uid[1:], False]
    return same_prev, same_next


def check_episode(e: pd.DataFrame) -> pd.DataFrame:
    """Rules on one episode's own values: 148, 356, 355, 378, 390, 516."""
    rec, place = Coded(e["REC"]), Coded(e["PLACE"])
    checks = {
        "148": e["DEC"].isna().to_numpy() != rec.isna(),
        "356": _b(e["DEC"] < e["DECOM"]),
        "355": _b(e["DEC"] == e["DECOM"]),
        "378": place.eq(_P1) & Coded(e["LS"]).eq(codes.SECTION20_LS),
        "390": rec.isin(codes.REC_ADOPTION) & ~place.isin(_ADOPTION_PLACES),
        "516": rec.isin(_SGO_FORMER_FOSTER) & ~place.isin(_FOSTER),
    }
    return frame.concat(frame.problems(e, m, rule) for rule, m in checks.items() if m.any())


def check_chain(e: pd.DataFrame, data_start: pd.Series) -> pd.DataFrame:
    """Rules on consecutive episodes of a child: 357, 431-433, 437, 142, 501, x1_next.

    Parameters
    ----------
    e : DataFrame
        Episodes sorted by child and DECOM, with ``_cid``.
    data_start : Series of datetime
        Per row, the start of the first collection year read for the row's
        LA (DfE 357 checks a first episode only if it starts on or after it).
    """
    same_prev, same_next = neighbours(e)
    prev_dec = e["DEC"].shift(1)
    rne, rec, decom = Coded(e["RNE"]), Coded(e["REC"]), e["DECOM"]
    is_start = rne.eq(_S)
    is_cont = rne.isin(codes.RNE_CONTINUATION)
    prev_dec_filled = prev_dec.notna().to_numpy()
    same_day = _b(decom == prev_dec)
    first_in_scope = ~same_prev & _b(decom >= data_start)
    checks = {
        "357": first_in_scope & ~is_start,
        "431": same_prev & is_start & _b(decom <= prev_dec),
        "432": same_prev & _earlier(rec.isin(codes.REC_END)) & ~is_start,
        "433": same_prev & is_cont & (~same_day | ~prev_dec_filled),
        "437": same_next & rec.isin(_DIED_OR_ADULT),
        "142": same_next & (e["DEC"].isna().to_numpy() | rec.isna()),
        "501": same_next & _b(e["DEC"] > e["DECOM"].shift(-1)),
        "x1_next": rec.eq(codes.REC_CONTINUE) & (~same_next | _later(is_start)),
    }
    # 501 names the earlier episode's DEC (DfE names the later episode: same child)
    return frame.concat(frame.problems(e, m, rule) for rule, m in checks.items() if m.any())


def check_adopted_before(e: pd.DataFrame) -> pd.DataFrame:
    """DfE 199: an episode after the child's adoption (or a second adoption).

    ``e`` holds every episode the returns read hold (sorted by child and DECOM),
    so an adoption in an earlier return counts, as DfE counts last year's.
    """
    is_ad = Coded(e["REC"]).isin(codes.REC_ADOPTION).astype(np.int64)
    child = e[CID].to_numpy()
    if len(child) and (child[1:] >= child[:-1]).all():  # each child's rows together: one pass
        total = np.cumsum(is_ad)
        first = np.r_[True, child[1:] != child[:-1]]
        before = np.maximum.accumulate(np.where(first, np.arange(len(child)), 0))
        so_far = total - total[before] + is_ad[before]  # adoptions from the child's first row
    else:
        so_far = pd.Series(is_ad).groupby(child).cumsum().to_numpy()
    m = (so_far > 0) & (so_far != is_ad)
    return frame.problems(e, m, "199") if m.any() else frame.empty()


def data_start_of(e: pd.DataFrame, years: pd.Series | None) -> tuple[pd.Series, str]:
    """Return, per row, the start of the first collection year read for its LA, and how known.

    From the collection years of the rows (the earliest year of the row's LA,
    or of the whole extract without LA); when no year is known, the collection
    year holding the LA's earliest DEC (an episode that ended before the data
    began is not in the data, so the earliest end falls in the first year).
    """
    groups, n_groups = _la_groups(e)
    if years is not None and years.notna().any():
        value = years.astype("float").to_numpy(dtype="float64", na_value=np.nan)
        how = "the first collection year read (YEAR_COL)"
        # the earliest per LA (a few hundred), each made a date once, then one take per row
        first = _min_per_group(value, groups, n_groups)
    else:
        dec = e["DEC"].where(e["DEC"].notna(), e["DECOM"])
        how = "collection year unknown: taken as the year holding the earliest DEC"
        # the year holding a date never falls as the date rises: the year of the
        # earliest date per LA is the earliest year (a few hundred dates, not every row)
        dates = dec.to_numpy()
        if dates.dtype == "datetime64[ns]":
            when = pd.Series(_min_per_group(dates, groups, n_groups))
        else:
            when = pd.Series(dates).groupby(groups).min().reindex(range(n_groups))
        first = (when.dt.year + (when.dt.month >= 4).astype("float")).to_numpy(dtype="float64")
    return pd.Series(_april_first(first)[groups], index=e.index), how


def _min_per_group(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """``Series(values).groupby(groups).min().reindex(range(n_groups))`` of floats or dates.

    NaN and NaT are skipped (a group of none: NaN, NaT). The minimum of each run
    of rows of one group first (rows of an LA come together), then of the runs.

    >>> _min_per_group(np.array([3.0, np.nan, 1.0, 5.0]), np.array([0, 0, 2, 0]), 4).tolist()
    [3.0, nan, 1.0, nan]
    """
    reduce: np.ufunc
    if values.dtype.kind == "M":  # as integers (exact), NaT as the largest
        none = np.iinfo(np.int64).max
        v = np.where(np.isnat(values), none, values.view(np.int64))
        least, reduce = np.full(n_groups, none), np.minimum
    else:
        v, least, reduce = values.astype(np.float64), np.full(n_groups, np.nan), np.fmin
    if len(v):
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        reduce.at(least, groups[starts], reduce.reduceat(v, starts))
    if values.dtype.kind != "M":
        return least
    return np.where(least == none, np.datetime64("NaT"), least.view(values.dtype))


def _la_groups(e: pd.DataFrame) -> tuple[np.ndarray, int]:
    """Each row's LA as a number 0, 1, ... (a blank LA is the LA ``""``), and how many.

    >>> _la_groups(pd.DataFrame({"LA": ["b", None, "", "b"]}))[0].tolist()
    [0, 1, 1, 0]
    """
    if "LA" not in e.columns:
        return np.zeros(len(e), dtype=np.int64), 1
    la = e["LA"]
    if isinstance(la.dtype, pd.CategoricalDtype):  # numbered already: no text hashed
        groups = np.asarray(la.cat.codes, dtype=np.int64)
        uniques = la.cat.categories.to_numpy(dtype=object)
    else:  # an LA's rows come together: each run's LA hashed once
        groups, uniques = frame.factorize_runs(la.to_numpy())
    blank = groups < 0
    if blank.any():  # a blank joins the LA "" (as filling blanks with "" did)
        is_empty = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
        groups = np.where(blank, is_empty[0] if len(is_empty) else len(uniques), groups)
    return groups, len(uniques) + 1


def _april_first(year_end: np.ndarray) -> np.ndarray:
    """1 April of the year before each collection year end (NaT where unknown).

    Converts each distinct year once (a few per extract), not each row.
    """
    years, idx = np.unique(year_end, return_inverse=True)  # NaN sorts last, once
    dates = pd.to_datetime(
        pd.Series(years - 1).astype("Int64").astype(str) + "-04-01", errors="coerce"
    ).to_numpy(dtype="datetime64[ns]")
    return dates[idx.reshape(-1)]
