"""The proof that a release's suppression holds: what a reader can infer of each hidden cell.

A release publishes cells of frequency tables bound by linear relations (a
row adds to its total, a flow step to the one before, a group's size in one
table equals its size in another, a number at risk never grows with time).
For every suppressed cell, :func:`audit_intervals` solves two linear
programmes (HiGHS, through ``highspy``; the solver behind
:func:`scipy.optimize.linprog`, used directly so that a component's programme is
built once and re-solved per cell): the smallest and the
largest value the cell can take given every published cell (exact, or the
interval its rounding allows), every relation and non-negativity. A
suppression is safe when each interval is at least the protection width wide
(the threshold by default): no hidden count can be recovered by differencing
any combination of published numbers.

The programmes are continuous relaxations of the integer problem, so the
interval found contains the integer one; on additive tables with integer
margins the two agree at the vertices.

Everything here takes plain data (lists and arrays) so a checker can re-run it
on what was written.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Relation:
    """A linear relation between cells: ``sum(coef * x) == 0`` or ``<= 0``.

    Attributes
    ----------
    cells : tuple of int
        Indices of the cells.
    coefs : tuple of float
        One coefficient per cell.
    kind : str
        ``"eq"`` (equality) or ``"le"`` (at most zero).
    """

    cells: tuple[int, ...]
    coefs: tuple[float, ...]
    kind: str = "eq"


def published_bounds(
    values: np.ndarray, hidden: np.ndarray, rounding: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the bounds a reader knows for every cell before using any relation.

    A hidden cell is only known to be at least 0; a published one is exact,
    or, when counts are rounded half up to ``rounding``, an integer in
    ``[ceil(r - b/2), ceil(r + b/2) - 1]`` around the shown ``r``.

    >>> lo, hi = published_bounds(np.array([12.0, 3.0]), np.array([False, True]), 5)
    >>> lo.tolist(), hi.tolist()
    ([8.0, 0.0], [12.0, inf])
    """
    v = np.asarray(values, dtype=float)
    if rounding:
        shown = np.floor(v / rounding + 0.5) * rounding
        lo = np.maximum(np.ceil(shown - rounding / 2), 0.0)
        hi = np.ceil(shown + rounding / 2) - 1
    else:
        lo, hi = v.copy(), v.copy()
    lo = np.where(hidden, 0.0, lo)
    hi = np.where(hidden, np.inf, hi)
    return lo, hi


def _components(n: int, relations: Sequence[Relation], free: np.ndarray) -> np.ndarray:
    """Label the cells connected through relations among non-exact cells."""
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for rel in relations:
        cells = [c for c in rel.cells if free[c]]
        for a, b in itertools.pairwise(cells):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


def _component_model(
    idx: np.ndarray,
    relations: Sequence[Relation],
    lo: np.ndarray,
    hi: np.ndarray,
) -> tuple[Any, dict[int, int]]:
    """One component's linear programme as a HiGHS model (objective set per target later)."""
    import highspy

    pos = {int(c): k for k, c in enumerate(idx)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    row_lo: list[float] = []
    row_hi: list[float] = []
    for rel in relations:
        if not any(c in pos for c in rel.cells):
            continue
        const = 0.0
        for c, a in zip(rel.cells, rel.coefs, strict=True):
            if c in pos:
                rows.append(len(row_lo))
                cols.append(pos[c])
                vals.append(a)
            else:  # an exact published cell: a constant
                const += a * lo[c]
        row_lo.append(-const if rel.kind == "eq" else -highspy.kHighsInf)
        row_hi.append(-const)
    m = len(idx)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", 1)
    col_hi = np.where(np.isinf(hi[idx]), highspy.kHighsInf, hi[idx])
    h.addVars(m, lo[idx].astype(float), col_hi.astype(float))
    if row_lo:
        a = sparse.csr_matrix((vals, (rows, cols)), shape=(len(row_lo), m))
        h.addRows(
            len(row_lo),
            np.array(row_lo, dtype=float),
            np.array(row_hi, dtype=float),
            a.nnz,
            a.indptr[:-1].astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(float),
        )
    return h, pos


def _optimum(h: Any, col: int, sense: float) -> float:
    """Min (``sense`` -1) or max (+1) of one column of the model ``h``."""
    import highspy

    h.changeObjectiveSense(highspy.ObjSense.kMaximize if sense > 0 else highspy.ObjSense.kMinimize)
    h.changeColCost(col, 1.0)
    h.run()
    status = h.getModelStatus()
    if status in (
        highspy.HighsModelStatus.kUnboundedOrInfeasible,  # presolve cannot tell
        highspy.HighsModelStatus.kUnknown,  # the warm start from the last basis went astray
    ):
        h.clearSolver()  # solved afresh from no basis, without presolve
        h.setOptionValue("presolve", "off")
        h.run()
        status = h.getModelStatus()
        h.setOptionValue("presolve", "choose")
    value = float(h.getInfo().objective_function_value)
    h.changeColCost(col, 0.0)  # (changing the model clears its solution: read it first)
    if status == highspy.HighsModelStatus.kOptimal:
        return value
    if status == highspy.HighsModelStatus.kUnbounded:
        return sense * np.inf
    raise RuntimeError(
        f"disclosure audit: linear programme failed ({h.modelStatusToString(status)})"
    )


def _bounds_lp(
    idx: np.ndarray,
    targets: Sequence[int],
    relations: Sequence[Relation],
    lo: np.ndarray,
    hi: np.ndarray,
    shortcut: tuple[np.ndarray, float] | None = None,
    stop: float | None = None,
) -> dict[int, tuple[float, float]]:
    """Min and max of each target over one component's cells (in order; see ``stop``).

    The component's programme is built once (HiGHS, through ``highspy``) and
    re-solved per target with only its objective changed, warm-started from
    the last basis. With ``shortcut = (true values, protection)`` the maximum
    is solved first and, when it already lies the protection width above the
    cell's true value (which is feasible, so the minimum is at most it), the
    minimum is not solved and is returned as NaN. With ``stop``, the targets
    after the first whose interval is narrower than ``stop`` are not solved.
    """
    h, pos = _component_model(idx, relations, lo, hi)
    out = {}
    for t in targets:
        top = _optimum(h, pos[t], 1.0)
        if shortcut is not None and top - shortcut[0][t] >= shortcut[1]:
            out[int(t)] = (np.nan, top)
            continue
        out[int(t)] = (low := _optimum(h, pos[t], -1.0), top)
        if stop is not None and top - low < stop - 1e-9:
            break
    return out


def audit_intervals(
    values: Sequence[float] | np.ndarray,
    hidden: Sequence[bool] | np.ndarray,
    relations: Sequence[Relation],
    *,
    rounding: int | None = None,
    targets: Sequence[int] | None = None,
    protection: float | None = None,
    cache: dict[tuple[int, ...], dict[int, tuple[float, float]]] | None = None,
    first: Sequence[int] = (),
    fail_fast: bool = False,
) -> dict[int, tuple[float, float]]:
    """Return, for each hidden cell, the interval a reader can infer from all published cells.

    Parameters
    ----------
    values : array of float
        The exact value of every cell (only published cells' values are used
        as known; a hidden cell's own value is never a constraint).
    hidden : array of bool
        True where a cell is suppressed.
    relations : sequence of Relation
        Every published linear relation between cells.
    rounding : int, optional
        Base the published counts are rounded to (their values are then intervals).
    targets : sequence of int, optional
        Cells to bound (default: every hidden cell).
    protection : float, optional
        For the suppressing side, which knows every true value: skip the
        minimum of a cell whose maximum already lies this far above its true
        value (its lower bound is then NaN: not needed to pass).
    cache : dict, optional
        Results per component (keyed by its free cells), reused between calls
        while a component is unchanged.
    first : sequence of int
        Cells to bound before the others of their component.
    fail_fast : bool
        With ``protection``: stop at the first cell narrower than it (the
        result then holds the cells bounded so far, that one included).

    Returns
    -------
    dict
        Cell index → ``(lowest, highest)``.

    Examples
    --------
    A row ``3 + 50 = 53`` and a column ``3 + 40 = 43`` with the 3 hidden: the
    reader recovers it exactly from either line.

    >>> rels = [Relation((0, 1, 2), (1, 1, -1)), Relation((0, 3, 4), (1, 1, -1))]
    >>> audit_intervals([3, 50, 53, 40, 43], [True, False, False, False, False], rels)
    {0: (3.0, 3.0)}
    """
    v = np.asarray(values, dtype=float)
    h = np.asarray(hidden, dtype=bool)
    lo, hi = published_bounds(v, h, rounding)
    free = lo != hi
    targets = [int(i) for i in np.nonzero(h)[0]] if targets is None else list(targets)
    comp = _components(len(v), relations, free)
    out: dict[int, tuple[float, float]] = {}
    by_comp: dict[int, list[int]] = {}
    for t in targets:
        if not free[t]:  # published exactly: known
            out[int(t)] = (float(lo[t]), float(hi[t]))
            continue
        by_comp.setdefault(int(comp[t]), []).append(t)
    rels_of: dict[int, list[Relation]] = {}
    for r in relations:
        for c in sorted({int(comp[x]) for x in r.cells if free[x]}):
            rels_of.setdefault(c, []).append(r)
    shortcut = None if protection is None else (v, float(protection))
    stop = float(protection) if fail_fast and protection is not None else None
    rank = {int(c): k for k, c in enumerate(first)}
    for c, ts in sorted(by_comp.items()):
        idx = np.nonzero((comp == c) & free)[0]
        key = (*(int(i) for i in idx), -1, *ts)
        if cache is not None and key in cache:
            out.update(cache[key])
            if stop is not None and failing_cells(cache[key], stop):
                break
            continue
        order = sorted(ts, key=lambda t: (rank.get(int(t), len(rank)), t))
        res = _bounds_lp(idx, order, rels_of.get(c, []), lo, hi, shortcut, stop)
        out.update(res)
        if len(res) < len(ts):  # stopped at a failing cell: not a whole result to keep
            break
        if cache is not None:
            cache[key] = res
    return dict(sorted(out.items()))


def failing_cells(intervals: dict[int, tuple[float, float]], protection: float) -> list[int]:
    """Return the hidden cells whose inferable interval is narrower than ``protection``.

    A NaN lower bound (see ``audit_intervals(protection=...)``) passes.

    >>> failing_cells({0: (3.0, 3.0), 1: (0.0, 40.0)}, 10)
    [0]
    """
    return [c for c, (a, b) in intervals.items() if not np.isnan(a) and b - a < protection - 1e-9]
