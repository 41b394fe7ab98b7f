"""Episodes → periods of care (DOMAIN.md §3).

A period of care is a child's chain of episodes starting with RNE = S and
linked by X1 (the next episode starts on that DEC as a continuation) until an
E-coded REC, or still open (blank DEC). Periods made only of V3/V4
short-break episodes are flagged ``short_break`` and are not periods of care
for these analyses.

A child already in care when the data begin has a first episode that may not
have RNE = S: their first period in the data starts at that episode
(``first_rne`` says which), so its start, length and placement moves are
what the data show, lower bounds of the truth (``period_truncated`` in the
spells). Placement moves are the episodes that change placement (RNE P, T, B
or U): for a period starting with S this is the placement-starting episodes
minus one, and a truncated period counts every change it shows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.codes import category_values_at
from reunistat.tables.keys import CID, sort_by_child
from reunistat.tables.rules.coded import Coded

_RNE_START: Final = "S"  # codes.RNE: started to be looked after
assert _RNE_START in codes.RNE
#: Episodes that start a placement: the start of care or a placement change.
PLACEMENT_EPISODE_RNE: Final = codes.RNE_PLACEMENT_CHANGE | {_RNE_START}
#: Episodes that are a placement move within a period of care.
PLACEMENT_MOVE_RNE: Final = codes.RNE_PLACEMENT_CHANGE

#: Columns of the periods table.
PERIOD_COLUMNS: Final = (
    CID,
    "LA",
    "CHILD",
    "period_start",
    "period_end",
    "end_rec",
    "n_episodes",
    "first_rne",
    "short_break",
    "placement_moves",
    "last_LS",
    "last_CIN",
    "last_PLACE",
    "last_HOME_POST",
)


def sort_episodes(episodes: pd.DataFrame, use_la: bool) -> pd.DataFrame:
    """Return the episodes with the integer child key ``_cid``, each child's in DECOM order."""
    return sort_by_child(episodes, use_la)


def period_starts(e: pd.DataFrame) -> np.ndarray:
    """Return a mask of the episodes that start a period of care.

    An episode starts a period when it is the child's first, when the previous
    episode ended with an E code or was open, or when its RNE is S. On
    validated data the three agree.
    """
    uid = e[CID].to_numpy()  # the integer key: fast
    first = np.r_[True, uid[1:] != uid[:-1]]
    prev_not_x1 = np.r_[True, ~Coded(e["REC"]).eq(codes.REC_CONTINUE)[:-1]]
    return first | prev_not_x1 | Coded(e["RNE"]).eq(_RNE_START)


def values_at(s: pd.Series, at: np.ndarray) -> np.ndarray:
    """``s.to_numpy()[at]``; a ``category`` column's rows as objects with None for a blank.

    Only the rows taken are converted (not every row of the column), and a
    blank is None as in a column of objects read from the same file, so the
    periods are the same whichever way the reader gave the codes.

    >>> s = pd.Series(["A", None, "B"], dtype="category")
    >>> values_at(s, np.array([2, 1])).tolist()
    ['B', None]
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return category_values_at(s, at)
    return s.to_numpy()[at]


def build_periods(e: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Group sorted episodes into periods of care.

    Parameters
    ----------
    e : DataFrame
        Episodes from :func:`sort_episodes`.

    Returns
    -------
    periods : DataFrame
        One row per period, in child and date order, with :data:`PERIOD_COLUMNS`.
    period_of_episode : ndarray of int
        The row of ``periods`` each episode belongs to.
    """
    starts = period_starts(e)
    pid = np.cumsum(starts) - 1
    n = int(starts.sum())
    last = np.r_[starts[1:], True] if len(e) else starts
    first_at, last_at = np.flatnonzero(starts), np.flatnonzero(last)

    def first_of(col: str) -> np.ndarray:  # one column's values, not every column's rows
        return values_at(e[col], first_at)

    def last_of(col: str) -> np.ndarray:
        return values_at(e[col], last_at)

    sb = Coded(e["LS"]).isin(codes.SHORT_BREAK_LS).astype(np.int64)
    moves = Coded(e["RNE"]).isin(PLACEMENT_MOVE_RNE).astype(np.int64)
    n_eps = np.diff(np.append(first_at, len(e)))  # a period's episodes are consecutive rows

    def per_period(x: np.ndarray) -> np.ndarray:  # sums over each period's rows
        return np.add.reduceat(x, first_at) if n else np.zeros(0, dtype=np.int64)

    periods = pd.DataFrame(
        {
            CID: first_of(CID),
            "LA": first_of("LA") if "LA" in e.columns else None,
            "CHILD": first_of("CHILD"),
            "period_start": first_of("DECOM"),
            "period_end": last_of("DEC"),
            "end_rec": last_of("REC"),
            "n_episodes": n_eps,
            "first_rne": first_of("RNE"),
            "short_break": per_period(sb) == n_eps,
            "placement_moves": per_period(moves),
            "last_LS": last_of("LS"),
            "last_CIN": last_of("CIN"),
            "last_PLACE": last_of("PLACE"),
            "last_HOME_POST": last_of("HOME_POST"),
        },
        copy=False,  # one block per column: no stacking of the object columns
    )
    return periods, pid
