"""The proof that a release's suppression holds: what a reader can infer of each hidden cell.

A release publishes cells of frequency tables bound by linear relations (a
row adds to its total, a flow step to the one before, a group's size in one
table equals its size in another, a number at risk never grows with time).
For every suppressed cell, :func:`audit_intervals` solves two linear
programmes (:func:`scipy.optimize.linprog`, HiGHS): the smallest and the
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

import numpy as np
from scipy import sparse
from scipy.optimize import linprog


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


def _bounds_lp(
    idx: np.ndarray,
    targets: Sequence[int],
    relations: Sequence[Relation],
    lo: np.ndarray,
    hi: np.ndarray,
    shortcut: tuple[np.ndarray, float] | None = None,
) -> dict[int, tuple[float, float]]:
    """Min and max of each target over one component's cells.

    With ``shortcut = (true values, protection)`` the maximum is solved first
    and, when it already lies the protection width above the cell's true
    value (which is feasible, so the minimum is at most it), the minimum is
    not solved and is returned as NaN.
    """
    pos = {int(c): k for k, c in enumerate(idx)}
    eq_rows: list[int] = []
    eq_cols: list[int] = []
    eq_vals: list[float] = []
    b_eq: list[float] = []
    ub_rows: list[int] = []
    ub_cols: list[int] = []
    ub_vals: list[float] = []
    b_ub: list[float] = []
    for rel in relations:
        if not any(c in pos for c in rel.cells):
            continue
        const = 0.0
        rows, cols, vals = (
            (eq_rows, eq_cols, eq_vals) if rel.kind == "eq" else (ub_rows, ub_cols, ub_vals)
        )
        r = len(b_eq) if rel.kind == "eq" else len(b_ub)
        for c, a in zip(rel.cells, rel.coefs, strict=True):
            if c in pos:
                rows.append(r)
                cols.append(pos[c])
                vals.append(a)
            else:  # an exact published cell: a constant
                const += a * lo[c]
        (b_eq if rel.kind == "eq" else b_ub).append(-const)
    m = len(idx)
    a_eq = sparse.csr_matrix((eq_vals, (eq_rows, eq_cols)), shape=(len(b_eq), m)) if b_eq else None
    a_ub = sparse.csr_matrix((ub_vals, (ub_rows, ub_cols)), shape=(len(b_ub), m)) if b_ub else None
    bounds = [(float(lo[c]), None if np.isinf(hi[c]) else float(hi[c])) for c in idx]
    out = {}
    for t in targets:
        res: list[float] = []
        for sign in (-1.0, 1.0):
            if shortcut is not None and sign > 0 and res[0] - shortcut[0][t] >= shortcut[1]:
                res.append(np.nan)
                break
            cost = np.zeros(m)
            cost[pos[t]] = sign
            sol = linprog(
                cost,
                A_ub=a_ub,
                b_ub=b_ub or None,
                A_eq=a_eq,
                b_eq=b_eq or None,
                bounds=bounds,
                method="highs",
            )
            if sol.status == 3:  # unbounded
                res.append(-np.inf if sign > 0 else np.inf)
            elif sol.status != 0:
                raise RuntimeError(f"disclosure audit: linear programme failed ({sol.message})")
            else:
                res.append(sign * float(sol.fun))
        out[int(t)] = (res[1], res[0])
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
    for c, ts in sorted(by_comp.items()):
        idx = np.nonzero((comp == c) & free)[0]
        key = (*(int(i) for i in idx), -1, *ts)
        if cache is not None and key in cache:
            out.update(cache[key])
            continue
        res = _bounds_lp(idx, ts, rels_of.get(c, []), lo, hi, shortcut)
        if cache is not None:
            cache[key] = res
        out.update(res)
    return dict(sorted(out.items()))


def failing_cells(intervals: dict[int, tuple[float, float]], protection: float) -> list[int]:
    """Return the hidden cells whose inferable interval is narrower than ``protection``.

    A NaN lower bound (see ``audit_intervals(protection=...)``) passes.

    >>> failing_cells({0: (3.0, 3.0), 1: (0.0, 40.0)}, 10)
    [0]
    """
    return [c for c, (a, b) in intervals.items() if not np.isnan(a) and b - a < protection - 1e-9]
