"""Proportional-hazards diagnostics (R's ``cox.zph``) and time splitting for time-varying effects.

:func:`cox_zph` is the score test, at the fitted coefficients, for adding
``x * g(t)`` terms, with ``g`` the Kaplan-Meier transform of time by default,
per term (all columns of a factor together) and globally: the test R's
``survival::cox.zph`` (version 3) computes. When a term fails, model its
effect as varying by period: :func:`split_episodes` cuts each spell at chosen
times into ``(start, stop]`` pieces; fit :func:`cox` with ``entry_col`` and an
interaction such as ``section20:C(period)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.errors import InputError
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import _data
from reunistat.models.survival.cox import CoxState
from reunistat.models.survival.km import km_steps
from reunistat.results import ModelResult

Transform = Literal["km", "identity", "rank", "log"]


def _km_left(stop: np.ndarray, event: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Return ``1 - KM(t-)`` at each row's stop time (unweighted, unstratified)."""
    steps = km_steps(stop, event.astype(np.int64), entry=start)
    idx = np.searchsorted(steps.time, stop)
    left = np.concatenate([[1.0], steps.surv[:-1]])
    return np.asarray(1 - left[idx])


def _transform(st: CoxState, transform: Transform) -> np.ndarray:
    t = st.stop
    if transform == "km":
        return _km_left(t, st.event, st.start)
    if transform == "identity":
        return t.astype(float)
    if transform == "rank":
        return np.asarray(stats.rankdata(t), dtype=float)
    return np.log(t)


def cox_zph(result: ModelResult, transform: Transform = "km") -> pd.DataFrame:
    """Test proportional hazards: per term and global, as R's ``cox.zph``.

    Parameters
    ----------
    result : ModelResult
        A fit from :func:`reunistat.models.survival.cox`.
    transform : {"km", "identity", "rank", "log"}
        The function of time the effects are tested against.

    Returns
    -------
    pandas.DataFrame
        ``term, chisq, df, p_value``; the last row is ``GLOBAL``.
    """
    _data.check_choice("transform", transform, ("km", "identity", "rank", "log"))
    st = result.extras.get("state")
    if not isinstance(st, CoxState):
        raise InputError("cox_zph needs a result of reunistat.models.survival.cox")
    prob, ev = st.problem, st.fit.last
    tt = _transform(st, transform)
    gtime = tt - tt[st.event].mean()
    g_sorted = gtime[prob.order]
    g_group = g_sorted[prob.death_rows[prob.death_starts]]  # one time per event group
    # score for gamma: sum over events of w g (x - xbar), Efron-weighted
    x = prob.x
    dr = prob.death_rows
    wdx = np.stack(
        [
            np.bincount(prob.death_group, prob.death_w * x[dr, j], prob.n_groups)
            for j in range(x.shape[1])
        ],
        axis=1,
    )
    inv = prob.death_mw / ev.den
    hz = np.bincount(prob.death_group, inv, prob.n_groups)
    dc = np.bincount(prob.death_group, inv * prob.death_frac, prob.n_groups)
    per_group = wdx - hz[:, None] * ev.s1 + dc[:, None] * ev.s1d
    u_gamma = g_group @ per_group
    p = x.shape[1]
    i_bb = st.fit.info
    i_bg = engine.group_info(prob, ev, g_group)
    i_gg = engine.group_info(prob, ev, g_group**2)
    imat = np.block([[i_bb, i_bg], [i_bg.T, i_gg]])
    rows = []
    for term, cols in st.term_columns.items():
        kk = list(range(p)) + [p + j for j in cols]
        u = np.concatenate([np.zeros(p), u_gamma[cols]])
        chisq = float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u))
        rows.append((term, chisq, len(cols)))
    u = np.concatenate([np.zeros(p), u_gamma])
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    out = pd.DataFrame(rows, columns=["term", "chisq", "df"])
    out["p_value"] = stats.chi2.sf(out["chisq"], out["df"])
    return out


def split_episodes(
    data: pd.DataFrame,
    duration_col: str,
    event_col: str,
    cuts: Sequence[float],
    *,
    entry_col: str | None = None,
    start_name: str = "start",
    stop_name: str = "stop",
    period_name: str = "period",
) -> pd.DataFrame:
    """Cut each spell at ``cuts`` into ``(start, stop]`` episodes (R's ``survSplit``).

    The event stays on the last piece; ``period`` numbers the pieces 0, 1, ...
    by the interval of follow-up they cover. Other columns are copied.

    Returns
    -------
    pandas.DataFrame
        The episodes, with ``start_name``, ``stop_name``, ``period_name`` columns
        and ``event_col`` set to 0 on all but the last piece of each spell.
    """
    cut = np.unique(np.asarray(cuts, dtype=float))
    if cut.size == 0 or (cut <= 0).any():
        raise InputError("cuts must be positive times")
    stop = _data.durations(data, duration_col)
    start = np.zeros(len(stop)) if entry_col is None else _data.durations(data, entry_col)
    ev = _data.events(data, event_col)
    edges = np.concatenate([[-np.inf], cut, [np.inf]])
    first = np.searchsorted(cut, start, "right")  # period containing (start, ...
    last = np.searchsorted(cut, stop, "left")  # period containing ... stop]
    n_pieces = np.maximum(last - first + 1, 1)
    rep = np.repeat(np.arange(len(stop)), n_pieces)
    offs = np.arange(rep.shape[0]) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    period = first[rep] + offs
    out = data.take(rep)  # data.iloc[rep].reset_index(drop=True) without copying it again
    out.index = pd.RangeIndex(len(rep))
    out[start_name] = np.maximum(start[rep], edges[period])
    out[stop_name] = np.minimum(stop[rep], edges[period + 1])
    is_last = offs == n_pieces[rep] - 1
    out[event_col] = np.where(is_last, ev[rep], 0)
    out[period_name] = period
    return out
