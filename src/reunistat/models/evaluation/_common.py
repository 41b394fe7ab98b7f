"""Shared pieces of the evaluation designs: adoption dates, the analysis sample, errors."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reunistat import errors as _errors
from reunistat.horizons import DAYS_PER_YEAR

if TYPE_CHECKING:
    from reunistat.models.logistic import HorizonOutcome

#: Covariates that adjust the comparison designs by default (spells-table names).
DEFAULT_ADJUST = (
    "age_band + ethnic_group + disability + section20 + prior_periods + placement_moves"
    " + np.log(period_length_days) + last_placement_type + return_type + idaci_decile"
    " + return_year"
)


# The evaluation designs' error is the tree's (kept importable from here).
EvaluationError = _errors.EvaluationError


Adoption = pd.DataFrame | Mapping[Any, Any] | pd.Series


def adoption_dates(
    adoption: Adoption,
    *,
    la_col: str = "LA",
    pilot_col: str = "PILOT",
    start_col: str = "PILOT_START",
) -> pd.Series:
    """Return the adoption date of each pilot authority, indexed by LA code (as str).

    Parameters
    ----------
    adoption : DataFrame, Series or mapping
        The LA table (``LA, PILOT, PILOT_START``, as the generator writes it),
        or a mapping / Series from LA code to adoption date. Authorities absent
        or with a missing date are comparison authorities.
    la_col, pilot_col, start_col : str
        Column names in the LA table.

    Examples
    --------
    >>> adoption_dates({"A": "2018-04-01", "B": None}).to_dict()
    {'A': Timestamp('2018-04-01 00:00:00')}
    """
    if isinstance(adoption, pd.DataFrame):
        missing = [c for c in (la_col, start_col) if c not in adoption.columns]
        if missing:
            raise EvaluationError(f"the LA table has no column(s) {missing}")
        t = adoption
        if pilot_col in t.columns:
            t = t.loc[pd.to_numeric(t[pilot_col], errors="coerce").fillna(0) == 1]
        s = pd.Series(pd.to_datetime(t[start_col]).to_numpy(), index=t[la_col].astype(str))
    else:
        s = pd.Series(dict(adoption)) if not isinstance(adoption, pd.Series) else adoption
        s = pd.Series(pd.to_datetime(s).to_numpy(), index=s.index.astype(str))
    s = s.dropna()
    if s.empty:
        raise EvaluationError("no pilot authority has an adoption date: nothing to evaluate")
    return s.rename("adoption_date")


def mark_adoption(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    la_col: str = "LA",
    date_col: str = "return_date",
) -> pd.DataFrame:
    """Add ``pilot_la`` (ever a pilot), ``adoption_date``, ``post`` and ``years_from_adoption``.

    ``post`` is 1 for returns on or after the authority's adoption date;
    ``treated`` is ``pilot_la * post``. ``years_from_adoption`` is the whole
    number of years (floor) from adoption to the return; missing for
    comparison authorities.
    """
    return marked_view(spells, adoption, la_col=la_col, date_col=date_col, copy=True)


def marked_view(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    la_col: str = "LA",
    date_col: str = "return_date",
    copy: bool = False,
) -> pd.DataFrame:
    """:func:`mark_adoption`, by default without copying the spells' own columns.

    With ``copy=False`` the frame shares the spells' columns (only the added
    ones are new), for the designs that read it and take their sample from it
    (a new frame): nothing may write into its existing columns.
    """
    for c in (la_col, date_col):
        if c not in spells.columns:
            raise EvaluationError(f"the spells table has no column {c!r}")
    dates = adoption_dates(adoption)
    la = spells[la_col].astype(str)
    unknown = sorted(set(dates.index) - set(la.unique()))
    if len(unknown) == len(dates):
        raise EvaluationError(
            f"none of the {len(dates)} pilot authorities ({list(dates.index[:5])}...) appear "
            f"in the spells table's {la_col!r} column"
        )
    out = spells.copy(deep=copy)
    out["adoption_date"] = la.map(dates)
    rd = as_datetimes(out[date_col])
    out["pilot_la"] = out["adoption_date"].notna().astype(np.int64)
    out["post"] = (rd >= out["adoption_date"]).astype(np.int64)
    out["treated"] = out["pilot_la"] * out["post"]
    days = (rd - out["adoption_date"]).dt.days
    out["years_from_adoption"] = np.floor(days / DAYS_PER_YEAR)
    return out


def as_datetimes(s: pd.Series) -> pd.Series:
    """``pd.to_datetime(s)``, without its work when ``s`` already holds datetimes.

    >>> as_datetimes(pd.Series(["2020-01-02"])).dt.year.tolist()
    [2020]
    """
    return s if s.dtype.kind == "M" else pd.to_datetime(s)


def check_post_adoption(marked: pd.DataFrame, la_col: str = "LA") -> None:
    """Raise if no pilot return follows adoption; warn naming pilots with none."""
    pilots = marked.loc[marked["pilot_la"] == 1]
    if pilots.empty:
        raise EvaluationError("no returns in any pilot authority: nothing to evaluate")
    n_post = pilots.groupby(pilots[la_col].astype(str))["post"].sum()
    if n_post.sum() == 0:
        raise EvaluationError(
            f"none of the {len(n_post)} pilot authorities has a return home on or after its "
            "adoption date: the pilot cannot be evaluated yet (extend the data or move the "
            "adoption date)"
        )
    none = n_post.index[n_post == 0].tolist()
    if none:
        warnings.warn(
            f"{len(none)} pilot authorit{'y has' if len(none) == 1 else 'ies have'} no return "
            f"home on or after adoption and contribute(s) nothing to the pilot effect: {none}",
            UserWarning,
            stacklevel=3,
        )


def potential_followup_days(
    spells: pd.DataFrame,
    data_end: str | pd.Timestamp,
    *,
    date_col: str = "return_date",
    age_col: str = "age_at_return_years",
) -> pd.Series:
    """Return each spell's potential follow-up: min(data end, 18th birthday) - return date.

    Known whether or not the child re-entered, so conditioning on it (unlike
    on observed follow-up) does not bias a fixed-horizon risk. The age-based
    18th birthday here can be a day out; spells from
    :func:`reunistat.cohort.derive_cohort` carry the exact value in
    ``days_potential_followup``; use this only for tables without it.
    """
    rd = as_datetimes(spells[date_col])
    to_end = (pd.Timestamp(data_end) - rd).dt.days.astype(float)
    to_18 = (18.0 - spells[age_col].astype(float)) * DAYS_PER_YEAR
    return pd.Series(np.floor(np.minimum(to_end, to_18)), index=spells.index, name="potential_days")


def horizon_frame(
    data: pd.DataFrame,
    horizon_days: int,
    *,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
) -> tuple[pd.DataFrame, HorizonOutcome]:
    """Return the designs' sample: :func:`~reunistat.models.logistic.horizon_outcome` with ``y``.

    The one fixed-horizon rule of the package, with its counts
    (:class:`~reunistat.models.logistic.HorizonOutcome`) and its messages, unchanged;
    only the outcome column is named ``y`` and an input error is an
    :class:`EvaluationError` (same message).
    """
    from reunistat.models.logistic import LogisticInputError, horizon_outcome, outcome_name

    try:
        out, counts = horizon_outcome(
            data,
            horizon_days,
            duration_col=duration_col,
            event_col=event_col,
            potential_followup_col=potential_followup_col,
        )
    except LogisticInputError as exc:
        raise EvaluationError(str(exc)) from exc
    # horizon_outcome's frame is new (a take of the rows): rename its column in place
    name = outcome_name(counts.horizon_days)
    out.columns = pd.Index(["y" if c == name else c for c in out.columns], dtype=out.columns.dtype)
    return out, counts


def horizon_sample(
    data: pd.DataFrame,
    horizon_days: int,
    *,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Deprecated: :func:`reunistat.models.logistic.horizon_outcome` (outcome named ``y``).

    Kept for one release with a :class:`DeprecationWarning`. The sample, the
    counts (``HorizonOutcome.as_dict()``: the same keys as before plus
    ``horizon_days`` and ``n_competing_negative``) and the messages are
    ``horizon_outcome``'s.
    """
    from reunistat.models import _options

    _options.warn_renamed(
        "reunistat.models.evaluation",
        "horizon_sample()",
        "reunistat.models.logistic.horizon_outcome()",
        stacklevel=2,
    )
    out, counts = horizon_frame(
        data,
        horizon_days,
        duration_col=duration_col,
        event_col=event_col,
        potential_followup_col=potential_followup_col,
    )
    return out, counts.as_dict()
