"""Recurrent re-entries: all of a child's returns home in one model.

* Andersen-Gill: a Cox model on ``(start, stop]`` episodes in time since the
  child's first return, every re-entry an event, errors robust to clustering
  by child (R: ``coxph(Surv(start, stop, event) ~ x + cluster(id))``).
* Prentice-Williams-Peterson: stratified by the return's order (first,
  second, ... return home) so each has its own baseline hazard, in gap time
  (time since this return: ``Surv(gap, event) ~ x + strata(enum)``) or total
  time (``Surv(start, stop, event) ~ x + strata(enum)``), clustered by child.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from reunistat.errors import InputError
from reunistat.models.survival import _data
from reunistat.models.survival.cox import cox
from reunistat.results import ModelResult


def recurrent_episodes(
    spells: pd.DataFrame,
    *,
    id_col: str = "CHILD",
    order_col: str = "spell_number",
    date_col: str = "return_date",
    duration_col: str = "days_followed",
) -> pd.DataFrame:
    """Add ``start_days`` and ``stop_days`` since each child's first return home.

    Returns
    -------
    pandas.DataFrame
        A copy of ``spells`` sorted by child and return order, with the two
        columns added; a spell runs over ``(start_days, stop_days]``.
    """
    _data.check_columns(spells, [id_col, order_col, date_col, duration_col], "recurrent")
    d = spells.sort_values([id_col, order_col]).copy()
    dates = pd.to_datetime(d[date_col])
    first = dates.groupby(d[id_col]).transform("min")
    d["start_days"] = (dates - first).dt.days.astype(float)
    d["stop_days"] = d["start_days"] + _data.durations(d, duration_col)
    zero = d["stop_days"] <= d["start_days"]
    if zero.any():
        # a spell of zero days cannot hold an event in (start, stop]; nudge as R users do
        d.loc[zero, "stop_days"] = d.loc[zero, "start_days"] + 0.5
    overlap = d.groupby(id_col)["start_days"].shift(-1) < d["stop_days"]
    if overlap.any():
        raise InputError(
            f"{int(overlap.sum())} spell(s) overlap the same child's next return, first at "
            f"index {list(d.index[overlap.to_numpy()][:3])}"
        )
    return d


def andersen_gill(
    formula: str,
    data: pd.DataFrame,
    start_col: str,
    stop_col: str,
    event_col: str,
    *,
    id_col: str,
    **kwargs: Any,
) -> ModelResult:
    """Andersen-Gill model with cluster-robust errors by ``id_col``.

    Other options (``ties``, ``weights``, ``strata``) are passed to
    :func:`reunistat.models.survival.cox`.
    """
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    return cox(
        f"{event_col} ~ {rhs}", data, stop_col, entry_col=start_col, cluster=id_col, **kwargs
    )


def pwp(
    formula: str,
    data: pd.DataFrame,
    start_col: str,
    stop_col: str,
    event_col: str,
    *,
    id_col: str,
    order_col: str,
    timescale: Literal["gap", "total"] = "gap",
    **kwargs: Any,
) -> ModelResult:
    """Prentice-Williams-Peterson model: strata by event order, robust errors by id.

    Parameters
    ----------
    formula : str
        Covariates (``"~ x + ..."``).
    data : pandas.DataFrame
        One row per at-risk episode.
    start_col, stop_col, event_col : str
        The episode ``(start, stop]`` and its event indicator.
    id_col : str
        The child (cluster).
    order_col : str
        The episode's order (1 for the first return home, ...).
    timescale : {"gap", "total"}
        Gap time (``stop - start``, clock reset at each return) or total time.
    **kwargs
        Passed to :func:`reunistat.models.survival.cox`.

    Returns
    -------
    ModelResult
        The stratified Cox fit.
    """
    _data.check_choice("timescale", timescale, ("gap", "total"))
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    f = f"{event_col} ~ {rhs}"
    if timescale == "gap":
        gap_col = "_gap_time"
        d = data.assign(
            **{gap_col: np.asarray(data[stop_col], float) - np.asarray(data[start_col], float)}
        )
        return cox(f, d, gap_col, strata=order_col, cluster=id_col, **kwargs)
    return cox(f, data, stop_col, entry_col=start_col, strata=order_col, cluster=id_col, **kwargs)
