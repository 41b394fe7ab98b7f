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
from reunistat.models import _options
from reunistat.models._formula import split_formula
from reunistat.models.survival import _data
from reunistat.models.survival._coxkernels import _run_lengths
from reunistat.models.survival.cox import cox
from reunistat.results import ModelResult, restamp


def recurrent_episodes(
    spells: pd.DataFrame,
    *,
    id_col: str = "CHILD",
    order_col: str = "spell_number",
    date_col: str = "return_date",
    duration_col: str = "days_followed",
    id_codes: bool = False,
) -> pd.DataFrame:
    """Add ``start_days`` and ``stop_days`` since each child's first return home.

    With ``id_codes`` the ``id_col`` column of the result holds the child's
    integer codes in the identifiers' sorted order (the codes
    :func:`child_codes` gives, found here anyway: a model clustered on them is
    the model clustered on the identifiers), unless an identifier is missing
    (the identifiers are then kept).

    Returns
    -------
    pandas.DataFrame
        A copy of ``spells`` sorted by child and return order, with the two
        columns added; a spell runs over ``(start_days, stop_days]``.
    """
    _data.check_columns(spells, [id_col, order_col, date_col, duration_col], "recurrent")
    child, n_ids = _ranks(spells[id_col])
    order = np.lexsort((_order_key(spells[order_col]), child))
    d = spells.take(order)  # = sort_values([id_col, order_col]): both sorts are stable
    child = child[order]
    missing = child == n_ids  # a missing identifier: ranked last
    if id_codes and not missing.any():
        d[id_col] = child
    dates = d[date_col] if d[date_col].dtype.kind == "M" else pd.to_datetime(d[date_col])
    # the child as sorted integer codes (missing: NaN, dropped by groupby as the id would be)
    key = np.where(missing, np.nan, child)
    runs = not missing.any() and not dates.isna().any()
    if runs:  # each child's rows together: the first return is the smallest date of the run
        first = pd.Series(_run_min(dates.to_numpy(), child), index=d.index)
    else:
        first = dates.groupby(key).transform("min")
    d["start_days"] = (dates - first).dt.days.astype(float)
    d["stop_days"] = d["start_days"] + _data.durations(d, duration_col)
    zero = d["stop_days"] <= d["start_days"]
    if zero.any():
        # a spell of zero days cannot hold an event in (start, stop]; nudge as R users do
        d.loc[zero, "stop_days"] = d.loc[zero, "start_days"] + 0.5
    if runs:  # the next row's start when it is the same child's (the shift within the child)
        start, stop = d["start_days"].to_numpy(), d["stop_days"].to_numpy()
        next_start = np.append((child[1:] == child[:-1]) & (start[1:] < stop[:-1]), False)
        overlap = pd.Series(next_start, index=d.index)
    else:
        overlap = d["start_days"].groupby(key).shift(-1) < d["stop_days"]
    if overlap.any():
        raise InputError(
            f"{int(overlap.sum())} spell(s) overlap the same child's next return, first at "
            f"index {list(d.index[overlap.to_numpy()][:3])}"
        )
    return d


def _run_min(values: np.ndarray, runs: np.ndarray) -> np.ndarray:
    """Each row's minimum of ``values`` over its run of equal ``runs`` (a run's rows together).

    >>> _run_min(np.array([3, 1, 2, 5]), np.array([0, 0, 1, 1])).tolist()
    [1, 1, 2, 2]
    """
    if len(values) == 0:
        return values.copy()
    starts = np.flatnonzero(np.append(True, runs[1:] != runs[:-1]))
    return np.repeat(np.minimum.reduceat(values, starts), _run_lengths(starts, len(runs)))


def _order_key(values: pd.Series) -> np.ndarray:
    """Integers that order the rows as ``values`` sort: the values themselves if integers."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        return values.to_numpy()
    return sort_codes(values)


def _ranks(values: pd.Series) -> tuple[np.ndarray, int]:
    """:func:`sort_codes` of ``values``, and the code of a missing value (the distinct values)."""
    by_number = _digit_ranks(values)
    if by_number is not None:
        return by_number
    codes, uniques = pd.factorize(values)
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        text = np.asarray(uniques, dtype=str)
        rank = np.empty(len(text), dtype=np.int64)
        rank[np.argsort(text, kind="stable")] = np.arange(len(text))
        ranked = rank[codes]
    else:
        ranked, _ = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), ranked).astype(np.int64), len(uniques)


def _digit_ranks(values: pd.Series) -> tuple[np.ndarray, int] | None:
    """:func:`_ranks` of identifiers of one length, one prefix, then digits (``C00000716``).

    Such text sorts by code point as the numbers its digits make sort
    (:func:`reunistat.tables.digits.prefixed_numbers`), so the ranks are those
    of the numbers: no hashing nor sorting of text. None for other values.
    """
    if values.dtype != object or len(values) == 0:
        return None
    import pyarrow as pa

    from reunistat.tables.digits import prefixed_numbers

    try:
        found = prefixed_numbers(pa.array(values.to_numpy(), from_pandas=True))
    except (pa.ArrowException, TypeError, ValueError):  # not all text
        return None
    if found is None:
        return None
    numbers = found[2]  # -1 where missing
    known = numbers >= 0
    distinct, rank = np.unique(numbers[known], return_inverse=True)
    out = np.full(len(numbers), len(distinct), dtype=np.int64)  # missing: ranked last
    out[known] = rank
    return out, len(distinct)


def sort_codes(values: pd.Series) -> np.ndarray:
    """Return integer codes that order rows as ``sort_values`` orders ``values`` (missing last).

    Text is ranked by code point, as Python compares ``str``, through a
    fixed-width NumPy sort of the distinct values (far faster than sorting
    Python strings); other values through :func:`pandas.factorize`.

    Examples
    --------
    >>> sort_codes(pd.Series(["b", None, "a10", "a9", "b"])).tolist()
    [2, 3, 0, 1, 2]
    """
    return _ranks(values)[0]


def child_codes(episodes: pd.DataFrame, id_col: str = "CHILD") -> pd.Series:
    """Return the child's text identifiers as integer codes in their sorted order.

    The codes are those :func:`pandas.factorize` gives with ``sort=True`` (the
    cluster codes of a robust fit), so a model clustered on them is, to the
    bit, the model clustered on the text, without hashing and sorting the
    text again. Episodes sorted by child (:func:`recurrent_episodes`) take one
    pass over neighbouring identifiers; other text goes through
    :func:`sort_codes`. A column that is not all text (or has missing values)
    is returned as it is.

    Examples
    --------
    >>> child_codes(pd.DataFrame({"CHILD": ["a1", "a1", "b", "a10"]})).tolist()
    [0, 0, 2, 1]
    """
    values = episodes[id_col]
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=False) != "string":
        return values
    text = values.to_numpy()
    fixed = np.asarray(text, dtype=str)  # code-point order, as Python compares str
    if len(fixed) > 1 and "\x00" not in "".join(text):  # (a NUL would be cut from fixed)
        new = np.empty(len(fixed), dtype=bool)
        new[0] = True
        np.not_equal(fixed[1:], fixed[:-1], out=new[1:])
        if (fixed[1:][new[1:]] > fixed[:-1][new[1:]]).all():  # sorted: each run a new child
            return pd.Series(np.cumsum(new) - 1, index=values.index, name=id_col)
    return pd.Series(sort_codes(values), index=values.index, name=id_col)


def _legacy_columns(
    function: str,
    duration_col: str | None,
    event_col: str | None,
    legacy: tuple[str, ...],
    entry_col: str | None,
    cluster: str | tuple[str, ...] | None,
    old: dict[str, Any],
) -> tuple[str, str, str | None, str | tuple[str, ...] | None]:
    """Map the older ``(start_col, stop_col, event_col, id_col=)`` spelling to the new one."""
    if legacy:
        if len(legacy) != 1 or entry_col is not None:
            raise TypeError(f"{function}() takes (formula, data, duration_col, event_col)")
        _options.warn_renamed(
            function,
            "(formula, data, start_col, stop_col, event_col)",
            "(formula, data, duration_col, event_col, entry_col=...)",
        )
        entry_col, duration_col, event_col = duration_col, event_col, legacy[0]
    if "id_col" in old:
        cluster = old["id_col"] if cluster is None else cluster
    if duration_col is None or event_col is None:
        raise InputError(f"{function}: name duration_col and event_col")
    if cluster is None:
        raise InputError(f"{function}: name the child's column, cluster= (e.g. 'CHILD')")
    return duration_col, event_col, entry_col, cluster


def andersen_gill(
    formula: str,
    data: pd.DataFrame,
    duration_col: str | None = None,
    event_col: str | None = None,
    *legacy: str,
    entry_col: str | None = None,
    cluster: str | tuple[str, ...] | None = None,
    **kwargs: Any,
) -> ModelResult:
    """Andersen-Gill model: every re-entry an event, errors clustered by child.

    Parameters
    ----------
    formula : str
        Covariates (``"~ x + ..."``).
    data : pandas.DataFrame
        One row per at-risk episode (e.g. from :func:`recurrent_episodes`).
    duration_col, event_col : str
        The episode's end (``stop_days``) and its 0/1 event.
    entry_col : str
        The episode's start (``start_days``): the data are ``(start, stop]``.
    cluster : str or tuple of str
        The child (cluster of the robust variance).
    *legacy : str
        The event column in the older positional spelling (see below).
    **kwargs
        Other options of :func:`reunistat.models.survival.cox` (``ties``,
        ``weights``, ``strata``, ``vcov``). The older spelling
        ``andersen_gill(formula, data, start_col, stop_col, event_col,
        id_col=...)`` still works, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        ``model="andersen_gill"``.
    """
    old = _options.take_deprecated(
        "andersen_gill",
        {k: kwargs.pop(k) for k in ("id_col",) if k in kwargs},
        {"id_col": "cluster="},
    )
    duration_col, event_col, entry_col, cluster = _legacy_columns(
        "andersen_gill", duration_col, event_col, legacy, entry_col, cluster, old
    )
    _, rhs = split_formula(formula)
    res = cox(
        f"~ {rhs}", data, duration_col, event_col, entry_col=entry_col, cluster=cluster, **kwargs
    )
    return restamp(res, "reunistat.models.survival.andersen_gill", "andersen_gill")


def pwp(
    formula: str,
    data: pd.DataFrame,
    duration_col: str | None = None,
    event_col: str | None = None,
    *legacy: str,
    entry_col: str | None = None,
    cluster: str | tuple[str, ...] | None = None,
    order_col: str | None = None,
    timescale: Literal["gap", "total"] = "gap",
    **kwargs: Any,
) -> ModelResult:
    """Prentice-Williams-Peterson model: strata by event order, robust errors by child.

    Parameters
    ----------
    formula : str
        Covariates (``"~ x + ..."``).
    data : pandas.DataFrame
        One row per at-risk episode.
    duration_col, event_col : str
        The episode's end and its 0/1 event.
    entry_col : str
        The episode's start: the episode is ``(start, stop]``.
    cluster : str or tuple of str
        The child (cluster of the robust variance).
    order_col : str
        The episode's order (1 for the first return home, ...): the strata.
    timescale : {"gap", "total"}
        Gap time (``stop - start``, clock reset at each return) or total time.
    *legacy : str
        The event column in the older positional spelling (see below).
    **kwargs
        Passed to :func:`reunistat.models.survival.cox`. The older spelling
        ``pwp(formula, data, start_col, stop_col, event_col, id_col=...,
        order_col=...)`` still works, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        The stratified Cox fit, ``model="pwp"``.
    """
    _data.check_choice("timescale", timescale, ("gap", "total"))
    old = _options.take_deprecated(
        "pwp", {k: kwargs.pop(k) for k in ("id_col",) if k in kwargs}, {"id_col": "cluster="}
    )
    duration_col, event_col, entry_col, cluster = _legacy_columns(
        "pwp", duration_col, event_col, legacy, entry_col, cluster, old
    )
    if order_col is None or entry_col is None:
        raise InputError("pwp: name entry_col= (the episode start) and order_col= (its order)")
    _, rhs = split_formula(formula)
    f = f"~ {rhs}"
    if timescale == "gap":
        gap_col = "_gap_time"
        _data.check_columns(data, [duration_col, entry_col], "pwp")
        d = data.assign(
            **{gap_col: np.asarray(data[duration_col], float) - np.asarray(data[entry_col], float)}
        )
        res = cox(f, d, gap_col, event_col, strata=order_col, cluster=cluster, **kwargs)
    else:
        res = cox(
            f,
            data,
            duration_col,
            event_col,
            entry_col=entry_col,
            strata=order_col,
            cluster=cluster,
            **kwargs,
        )
    return restamp(res, "reunistat.models.survival.pwp", "pwp", timescale=timescale)
