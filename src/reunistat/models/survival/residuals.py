"""Residuals of a Cox model, as R's ``residuals.coxph`` gives them.

Martingale, deviance, score, Schoenfeld (raw and scaled), dfbeta and dfbetas
residuals of a fit from :func:`reunistat.models.survival.cox`, for Efron and
Breslow ties, strata, case weights and ``(start, stop]`` data, optionally summed
within groups (``collapse``: the fit's cluster, or any labels, one per row), as
R's ``residuals(fit, type=, collapse=)``. Tested against R survival 3.8-11 in
``tests/reference/survival/diagnostics.json``.

Conventions (R's): martingale, deviance, score and Schoenfeld residuals are not
multiplied by the case weights unless ``weighted=True``; dfbeta and dfbetas are.
dfbeta uses the model-based variance even when the fit is robust (R's
``naive.var``); deviance residuals are computed after collapsing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from reunistat.errors import InputError
from reunistat.models.survival import _coxengine as engine
from reunistat.models.survival import _data
from reunistat.models.survival._coxkernels import _run_lengths
from reunistat.models.survival.cox import CoxState
from reunistat.results import ModelResult

ResidualType = Literal[
    "martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas"
]
RESIDUAL_TYPES: tuple[str, ...] = (
    "martingale",
    "deviance",
    "score",
    "schoenfeld",
    "scaledsch",
    "dfbeta",
    "dfbetas",
)


def _state(result: ModelResult) -> CoxState:
    st = result.extras.get("state")
    if not isinstance(st, CoxState) or st.problem.tail is not None:
        raise InputError(
            "residuals: pass a Cox fit (cox, andersen_gill, pwp, cause_specific_cox); "
            f"not available for {result.model!r}"
        )
    return st


def _unsort(st: CoxState, sorted_values: np.ndarray) -> np.ndarray:
    out = np.empty_like(sorted_values)
    out[st.problem.order] = sorted_values
    return out


def expected_events(st: CoxState) -> np.ndarray:
    """Return each row's expected number of events ``r_i * dLambda`` over its time at risk.

    Original row order; with Efron ties a row that has the event at ``t`` gets the
    fractions of the tied terms, as R does (the martingale residual is the event
    indicator minus this).
    """
    prob, ev = st.problem, st.fit.last
    g, f = prob.death_group, prob.death_frac
    h_row = engine._interval_sum(ev.hazard, prob.row_hi, prob.row_lo)
    if f.any():
        inv = prob.death_mw / ev.den
        h_row[prob.death_rows] -= np.bincount(g, inv * f, prob.n_groups)[g]
    return _unsort(st, ev.risk * h_row)


def _schoenfeld(st: CoxState) -> tuple[np.ndarray, np.ndarray]:
    """Return the Schoenfeld residuals (events, p) in R's order and the event rows."""
    prob, ev = st.problem, st.fit.last
    g, f, dr = prob.death_group, prob.death_frac, prob.death_rows
    ng = prob.n_groups
    sizes = _run_lengths(prob.death_starts, dr.shape[0])
    a0 = np.bincount(g, 1 / ev.den, ng)
    a1 = np.bincount(g, f / ev.den, ng)
    amean = (ev.s1 * a0[:, None] - ev.s1d * a1[:, None]) / sizes[:, None]
    return prob.x[dr] - amean[g], prob.order[dr]


def _collapse(values: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum rows of ``values`` within each label (R's ``rowsum``: labels sorted)."""
    codes, uniq = pd.factorize(labels, sort=True)
    sums = np.zeros((len(uniq), *values.shape[1:]))
    np.add.at(sums, codes, values)
    return sums, np.asarray(uniq)


def _labels(st: CoxState, collapse: bool | Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
    if collapse is True:
        if st.cluster is None:
            raise InputError("residuals: collapse=True needs a fit with cluster= one column")
        return st.cluster
    labels = np.asarray(collapse)
    if labels.ndim != 1 or len(labels) != len(st.stop):
        raise InputError(
            f"residuals: collapse needs one label per row used by the fit ({len(st.stop)}), "
            f"got {labels.shape}"
        )
    if pd.isna(labels).any():
        raise InputError("residuals: collapse labels have missing values")
    return labels


def _deviance(mart: np.ndarray, status: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = mart + np.where(status == 0, 0.0, status * np.log(status - mart))
        return np.asarray(np.sign(mart) * np.sqrt(-2 * inner))


def _per_row(st: CoxState, kind: str, var: np.ndarray) -> np.ndarray:
    """Unweighted residuals, one per row used by the fit (1-D or (n, p))."""
    if kind in ("martingale", "deviance"):
        return st.event.astype(float) - expected_events(st)
    u = _unsort(st, engine.score_residuals(st.problem, st.fit.last))
    if kind == "dfbeta":
        return np.asarray(u @ var)
    if kind == "dfbetas":
        return np.asarray((u @ var) / np.sqrt(np.diag(var)))
    return np.asarray(u)


def residuals(
    result: ModelResult,
    type: ResidualType = "martingale",
    *,
    collapse: bool | Sequence[object] | np.ndarray | pd.Series | None = None,
    weighted: bool | None = None,
) -> pd.Series | pd.DataFrame:
    """Residuals of a Cox fit (R's ``residuals.coxph``).

    Parameters
    ----------
    result : ModelResult
        A fit from :func:`reunistat.models.survival.cox` (or :func:`andersen_gill`,
        :func:`pwp`, :func:`cause_specific_cox`, which are Cox fits).
    type : {"martingale", "deviance", "score", "schoenfeld", "scaledsch", "dfbeta", "dfbetas"}
        The kind of residual.
    collapse : True or array-like, optional
        Sum the residuals within groups: ``True`` for the fit's ``cluster``
        column (e.g. a child's several spells), or one label per row used by
        the fit. Not for Schoenfeld residuals (one per event).
    weighted : bool, optional
        Multiply by the case weights; by default only dfbeta and dfbetas are
        (R's default).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Martingale and deviance: a Series; score, dfbeta, dfbetas: one column
        per coefficient. Indexed by the rows of the data the fit used (or by the
        collapse labels, sorted). Schoenfeld and scaled Schoenfeld: one row per
        event, ordered by stratum and time (R's order), with ``time`` and the
        coefficient columns, indexed by the event's row.

    Examples
    --------
    >>> import pandas as pd
    >>> from reunistat.models.survival import cox
    >>> d = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 0, 1, 1, 0],
    ...                   "x": [0, 1, 0, 1, 1, 0]})
    >>> m = residuals(cox("~ x", d, "t", "e"), "martingale")
    >>> abs(float(m.sum())) < 1e-12  # martingale residuals sum to zero
    True
    """
    st = _state(result)
    _data.check_choice("type", type, RESIDUAL_TYPES)
    if weighted is None:
        weighted = type in ("dfbeta", "dfbetas")
    w = np.ones(len(st.stop)) if st.weights is None else st.weights
    var = np.linalg.inv(st.fit.info)
    cols = st.columns
    if type in ("schoenfeld", "scaledsch"):
        if collapse is not None:
            raise InputError("residuals: Schoenfeld residuals (one per event) do not collapse")
        rr, rows = _schoenfeld(st)
        if weighted:
            rr = rr * w[rows][:, None]
        if type == "scaledsch":
            rr = rr @ var * rows.shape[0] + st.fit.beta
        out = pd.DataFrame(rr, columns=cols, index=st.rows[rows])
        out.insert(0, "time", st.stop[rows])
        if st.strata is not None and st.strata_labels:
            out.insert(1, "stratum", [st.strata_labels[k] for k in st.strata[rows]])
        return out
    rr = _per_row(st, type, var)
    if weighted:
        rr = rr * (w if rr.ndim == 1 else w[:, None])
    index: pd.Index = st.rows
    status = st.event.astype(float)
    if collapse is not None:
        labels = _labels(st, collapse)
        rr, uniq = _collapse(rr, labels)
        status, _ = _collapse(status, labels)
        index = pd.Index(uniq)
    if type == "deviance":
        rr = _deviance(rr, status)
    if rr.ndim == 1:
        return pd.Series(rr, index=index, name=type)
    return pd.DataFrame(rr, index=index, columns=cols)
