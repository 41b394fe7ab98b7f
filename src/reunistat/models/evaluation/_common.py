"""Shared pieces of the evaluation designs: adoption dates, the analysis sample, errors."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from reunistat import errors as _errors
from reunistat.results import ModelResult, Provenance

#: Covariates that adjust the comparison designs by default (spells-table names).
DEFAULT_ADJUST = (
    "age_band + ethnic_group + disability + section20 + prior_periods + placement_moves"
    " + np.log(period_length_days) + last_placement_type + return_type + idaci_decile"
    " + return_year"
)
DAYS_PER_YEAR = 365.25


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
    out = spells.copy()
    out["adoption_date"] = la.map(dates)
    rd = pd.to_datetime(out[date_col])
    out["pilot_la"] = out["adoption_date"].notna().astype(np.int64)
    out["post"] = (rd >= out["adoption_date"]).astype(np.int64)
    out["treated"] = out["pilot_la"] * out["post"]
    days = (rd - out["adoption_date"]).dt.days
    out["years_from_adoption"] = np.floor(days / DAYS_PER_YEAR)
    return out


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
    rd = pd.to_datetime(spells[date_col])
    to_end = (pd.Timestamp(data_end) - rd).dt.days.astype(float)
    to_18 = (18.0 - spells[age_col].astype(float)) * DAYS_PER_YEAR
    return pd.Series(np.floor(np.minimum(to_end, to_18)), index=spells.index, name="potential_days")


def horizon_sample(
    data: pd.DataFrame,
    horizon_days: int,
    *,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return the spells whose re-entry within ``horizon_days`` is known, with outcome ``y``.

    With ``potential_followup_col`` the sample is the spells whose potential
    follow-up reaches the horizon (unbiased); without it, spells censored
    before the horizon without re-entry are dropped (as DOMAIN.md §3 says),
    which biases the risk upwards when censoring is administrative.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)):
        raise EvaluationError(f"horizon_days must be a whole number of days, got {horizon_days!r}")
    if horizon_days <= 0:
        raise EvaluationError(f"horizon_days must be positive, got {horizon_days}")
    for c in (duration_col, event_col, potential_followup_col):
        if c is not None and c not in data.columns:
            raise EvaluationError(f"the spells table has no column {c!r}")
    t = data[duration_col].to_numpy(dtype=float)
    e = data[event_col].to_numpy(dtype=float)
    if potential_followup_col is not None:
        keep = data[potential_followup_col].to_numpy(dtype=float) >= horizon_days
    else:
        keep = ((e == 1) & (t <= horizon_days)) | (t >= horizon_days)
    if not keep.any():
        longest = data[potential_followup_col].max() if potential_followup_col else np.nanmax(t)
        raise EvaluationError(
            f"horizon_days={horizon_days} is beyond follow-up: no spell is followed that long "
            f"(longest {longest:.0f} days); choose a shorter horizon"
        )
    out = data.loc[keep].copy()
    out["y"] = ((out[event_col] == 1) & (out[duration_col] <= horizon_days)).astype(np.int64)
    counts = {"n_spells": len(data), "n_used": int(keep.sum()), "n_excluded": int((~keep).sum())}
    return out, counts


def restamp(result: ModelResult, function: str, **options: Any) -> ModelResult:
    """Return ``result`` with provenance naming the evaluation function and its options."""
    p = result.provenance
    prov = Provenance(
        function=function,
        data_sha256=p.data_sha256,
        formula=p.formula,
        options={**p.options, **options},
        versions=p.versions,
    )
    return dataclasses.replace(result, provenance=prov)
