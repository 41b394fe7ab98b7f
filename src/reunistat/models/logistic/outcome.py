"""The fixed-horizon outcome: re-entry within H days of a return home.

This is the one definition of the fixed-horizon outcome in reunistat: the
logistic models (:func:`~reunistat.models.logistic.logistic`, ``gee``,
``multilevel``, ``prediction_checks``) and the evaluation designs
(``pilot_vs_comparison(model="logistic")``, ``did``, ``event_study``,
``before_after``) all call :func:`horizon_outcome`, so the same spells and
options give the same sample, and every one reports its counts
(``horizon_days``, ``n_excluded_censored``, ``n_excluded_potential``) in
``glance()``.

**The rule** (DOMAIN.md §3): a spell is a positive if re-entry was observed on
or before day H; a negative if the child was followed for at least H days
without re-entry (including a re-entry after day H); and it is **excluded** if
follow-up ended before day H without re-entry, because such a spell is not a
known negative. The number excluded is always reported. With a potential
follow-up column, spells whose potential follow-up falls short of H are
excluded first, whatever happened to them (``n_excluded_potential``); the rule
above then applies to the rest unchanged, so a spell that could have been
followed for H days but was ended early by a death or another permanent exit
is excluded (``n_excluded_censored``), not counted as a negative, unless
``competing="negative"`` says so.

Spells ended before H by a competing exit (reaching 18, another permanent
exit: ``censor_reason`` in ``age18``, ``death``, ``other_exit``) cannot
re-enter; by default they are excluded like any other censored spell
(``competing="exclude"``); ``competing="negative"`` counts them as negatives.

Caveat (bias): a spell censored before H is kept if it re-entered before
censoring and dropped if it did not, so when many spells are censored early
(returns in the last year of data; children within a year of 18) the kept
spells over-represent re-entry. For unbiased odds ratios, restrict the spells
to returns that could be followed for H days (returned at least H days before
the data end, and young enough not to reach 18 within H) before fitting; then
no spell is excluded. ``n_excluded_censored`` says how much this matters.
``potential_followup_col="days_potential_followup"`` does exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models.logistic._errors import LogisticInputError

Competing = Literal["exclude", "negative"]
COMPETING_REASONS = ("age18", "death", "other_exit")


@dataclass(frozen=True)
class HorizonOutcome:
    """Counts behind a fixed-horizon outcome.

    Attributes
    ----------
    horizon_days : int
        The horizon H.
    n_spells : int
        Spells offered.
    n_used : int
        Spells with a known outcome at H (positives plus negatives).
    n_events : int
        Spells that re-entered within H days.
    n_excluded_censored : int
        Spells censored before H without re-entry, excluded.
    n_competing_negative : int
        Spells ended before H by a competing exit and counted as negatives
        (0 unless ``competing="negative"``).
    n_excluded_potential : int
        Spells whose potential follow-up falls short of H, excluded whatever
        their outcome (0 unless a potential follow-up column is given).
    """

    horizon_days: int
    n_spells: int
    n_used: int
    n_events: int
    n_excluded_censored: int
    n_competing_negative: int = 0
    n_excluded_potential: int = 0

    @property
    def n_excluded(self) -> int:
        """Spells excluded for any reason (``n_spells - n_used``)."""
        return self.n_spells - self.n_used

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a dictionary (``n_excluded`` included)."""
        return {
            "horizon_days": self.horizon_days,
            "n_spells": self.n_spells,
            "n_used": self.n_used,
            "n_excluded": self.n_excluded,
            "n_events": self.n_events,
            "n_excluded_censored": self.n_excluded_censored,
            "n_competing_negative": self.n_competing_negative,
            "n_excluded_potential": self.n_excluded_potential,
        }

    def fit_stats(self) -> dict[str, float]:
        """Return the horizon and the exclusions, as a fitted model's statistics."""
        out = {
            "horizon_days": float(self.horizon_days),
            "n_excluded_censored": float(self.n_excluded_censored),
            "n_excluded_potential": float(self.n_excluded_potential),
        }
        if self.n_competing_negative:
            out["n_competing_negative"] = float(self.n_competing_negative)
        return out


def outcome_name(horizon_days: int) -> str:
    """Return the column name of the outcome at a horizon, e.g. ``reentry_365d``."""
    return f"reentry_{horizon_days}d"


def _eligible(spells: pd.DataFrame, col: str | None, h: int) -> np.ndarray:
    """Spells whose potential follow-up reaches ``h`` (all of them when ``col`` is None)."""
    if col is None:
        return np.ones(len(spells), dtype=bool)
    if col not in spells.columns:
        raise LogisticInputError(f"the spells table has no column {col!r}")
    eligible = pd.to_numeric(spells[col], errors="coerce").to_numpy(float) >= h
    if not eligible.any():
        raise LogisticInputError(
            f"horizon_days={h} is beyond follow-up: no spell has a potential follow-up of "
            f"{h} days ({col!r}); choose a shorter horizon"
        )
    return eligible


def horizon_outcome(
    spells: pd.DataFrame,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    *,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    competing: Competing = "exclude",
    censor_reason_col: str = "censor_reason",
    potential_followup_col: str | None = None,
) -> tuple[pd.DataFrame, HorizonOutcome]:
    """Add the outcome "re-entered within ``horizon_days``" and drop unknowns.

    Parameters
    ----------
    spells : pandas.DataFrame
        One row per return home, with ``duration_col`` (days from return to
        re-entry or censoring) and ``event_col`` (1 re-entered, 0 censored).
    horizon_days : int
        The horizon H in days (365 by default). Re-entry on day H counts.
    duration_col, event_col : str
        Column names of follow-up time and the re-entry indicator.
    competing : {"exclude", "negative"}
        What to do with spells ended before H by a competing exit.
    censor_reason_col : str
        Column naming why follow-up ended; needed only with
        ``competing="negative"``.
    potential_followup_col : str, optional
        A column of potential follow-up (days to the earlier of the 18th
        birthday and the data end, known whatever happened: the spells
        column ``days_potential_followup``). When given, only spells whose
        potential follow-up reaches H are used, whatever their outcome, which
        removes the upward bias of excluding by observed follow-up; the rest
        are counted in ``n_excluded_potential``.

    Returns
    -------
    (pandas.DataFrame, HorizonOutcome)
        The spells with a known outcome, with a new 0/1 column named
        :func:`outcome_name` ``(horizon_days)``, and the counts.

    Raises
    ------
    LogisticInputError
        If a column is missing or malformed, or no spell is followed to H.

    Examples
    --------
    >>> s = pd.DataFrame({"days_followed": [10, 400, 100, 500], "reentered": [1, 0, 0, 1]})
    >>> out, counts = horizon_outcome(s, 365)
    >>> out["reentry_365d"].tolist(), counts.n_excluded_censored
    ([1, 0, 0], 1)
    """
    known, positive, counts = horizon_rows(
        spells,
        horizon_days,
        duration_col=duration_col,
        event_col=event_col,
        competing=competing,
        censor_reason_col=censor_reason_col,
        potential_followup_col=potential_followup_col,
    )
    out = spells.take(np.flatnonzero(known))  # a new frame (one copy), as .loc[known]
    out[outcome_name(counts.horizon_days)] = positive[known].astype(np.int64)
    return out, counts


def horizon_rows(
    spells: pd.DataFrame,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    *,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    competing: Competing = "exclude",
    censor_reason_col: str = "censor_reason",
    potential_followup_col: str | None = None,
) -> tuple[np.ndarray, np.ndarray, HorizonOutcome]:
    """Return which spells have a known outcome at H, which are positives, and the counts.

    The rule and the checks of :func:`horizon_outcome`, without making its
    frame: ``known`` and ``positive`` are boolean arrays over ``spells``' rows.

    >>> s = pd.DataFrame({"days_followed": [10, 400, 100], "reentered": [1, 0, 0]})
    >>> known, positive, _ = horizon_rows(s, 365)
    >>> known.tolist(), positive.tolist()
    ([True, True, False], [True, False, False])
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)):
        raise LogisticInputError(
            f"horizon_days must be a whole number of days, got {horizon_days!r}"
        )
    if horizon_days <= 0:
        raise LogisticInputError(f"horizon_days must be positive, got {horizon_days}")
    if competing not in ("exclude", "negative"):
        raise LogisticInputError(f"competing must be 'exclude' or 'negative', got {competing!r}")
    for col in (duration_col, event_col):
        if col not in spells.columns:
            raise LogisticInputError(f"the spells table has no column {col!r}")
    t = pd.to_numeric(spells[duration_col], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(spells[event_col], errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(t) | np.isnan(e) | ~np.isin(e, (0.0, 1.0)) | (t < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LogisticInputError(
            f"{bad.sum()} spells have a missing or invalid {duration_col!r} (>= 0) or "
            f"{event_col!r} (0/1); first at row {spells.index[i]!r}"
        )
    h = int(horizon_days)
    eligible = _eligible(spells, potential_followup_col, h)
    positive = (e == 1) & (t <= h) & eligible
    known = positive | ((t >= h) & eligible)
    n_comp = 0
    if competing == "negative":
        if censor_reason_col not in spells.columns:
            raise LogisticInputError(f"competing='negative' needs the column {censor_reason_col!r}")
        comp = (~known) & eligible & spells[censor_reason_col].isin(COMPETING_REASONS).to_numpy()
        n_comp = int(comp.sum())
        known = known | comp
    if not (t >= h).any():
        raise LogisticInputError(
            f"horizon_days={h} is beyond follow-up (longer than any follow-up): the longest "
            "spell was followed "
            f"{np.nanmax(t):.0f} days, so no spell is known not to have re-entered within "
            f"{h} days; choose a horizon of at most {np.nanmax(t):.0f} days"
        )
    counts = HorizonOutcome(
        horizon_days=h,
        n_spells=len(spells),
        n_used=int(known.sum()),
        n_events=int(positive.sum()),
        n_excluded_censored=int((~known & eligible).sum()),
        n_competing_negative=n_comp,
        n_excluded_potential=int((~eligible).sum()),
    )
    return known, positive, counts
