"""Checks and conversions at the boundary of the survival models.

Every function here turns a DataFrame and column names into arrays, or raises a
:class:`~reunistat.errors.InputError` (a :class:`~reunistat.errors.ModelError`
when the data cannot give the model) that names the column, the number of
offending rows and the first of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import InputError, ModelError
from reunistat.models import _formula, _options
from reunistat.models._simple_design import SimpleParts


def check_choice(name: str, value: Any, allowed: Sequence[Any]) -> None:
    """Raise a clear error when an option is not one of the allowed values."""
    if value not in allowed:
        raise InputError(f"{name} must be one of {list(allowed)}, got {value!r}")


def check_columns(data: pd.DataFrame, cols: Sequence[str | None], what: str) -> None:
    """Raise if any named column is missing from ``data``."""
    missing = [c for c in cols if c is not None and c not in data.columns]
    if missing:
        raise InputError(f"{what}: column(s) {missing} not in the data")


def _first_rows(data: pd.DataFrame, mask: np.ndarray) -> str:
    idx = list(data.index[mask][:3])
    return f"{int(mask.sum())} row(s), first at index {idx}"


def durations(data: pd.DataFrame, col: str, *, allow_zero: bool = True) -> np.ndarray:
    """Return a duration column as floats; missing or negative values are errors."""
    check_columns(data, [col], "duration")
    t = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(t)
    if bad.any():
        raise InputError(
            f"duration column '{col}' is missing or not finite in {_first_rows(data, bad)}"
        )
    neg = t < 0 if allow_zero else t <= 0
    if neg.any():
        kind = "negative" if allow_zero else "zero or negative"
        raise InputError(f"duration column '{col}' is {kind} in {_first_rows(data, neg)}")
    return t


def events(data: pd.DataFrame, col: str, allowed: Sequence[int] = (0, 1)) -> np.ndarray:
    """Return an event (status) column as integers, checking its codes."""
    check_columns(data, [col], "event")
    e = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(e, np.asarray(allowed, dtype=float))
    if bad.any():
        raise InputError(
            f"event column '{col}' must take values in {list(allowed)}; "
            f"other or missing values in {_first_rows(data, bad)}"
        )
    return e.astype(np.int64)


def case_weights(data: pd.DataFrame, col: str | None) -> np.ndarray | None:
    """Return case weights (positive, finite) or None."""
    if col is None:
        return None
    check_columns(data, [col], "weights")
    w = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise InputError(
            f"weights column '{col}' must be positive and finite; {_first_rows(data, bad)}"
        )
    return w


def codes(data: pd.DataFrame, cols: str | Sequence[str] | None, what: str) -> np.ndarray | None:
    """Return integer codes 0..K-1 of one or several grouping columns (None if no columns)."""
    if cols is None:
        return None
    names = [cols] if isinstance(cols, str) else list(cols)
    check_columns(data, names, what)
    sub = data[names]
    if sub.isna().to_numpy().any():
        raise InputError(f"{what} column(s) {names} have missing values")
    if len(names) == 1:
        return _options.sorted_codes(sub.iloc[:, 0])[0]
    return sub.groupby(names, sort=True).ngroup().to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class Design:
    """A covariate matrix built from a formula, and the rows it used."""

    x: np.ndarray
    columns: list[str]
    term_columns: dict[str, list[int]]
    rows: pd.Index
    lhs: str | None
    spec: Any = None
    n_dropped_missing: int = 0
    coded: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ranges: tuple[np.ndarray, np.ndarray] | None = None  # columns' minima and maxima, if known
    #: the columns as blocks, not written (``x`` then has no rows): ``design(lazy=True)``
    covariates: BlockCovariates | None = None

    def column_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Each column's minimum and maximum: the build's when it found them, else computed."""
        if self.ranges is not None:
            return self.ranges
        return column_range(self.matrix())

    def matrix(self) -> np.ndarray | BlockCovariates:
        """The covariates as the checks and the engine take them: ``x``, or its blocks."""
        return self.x if self.covariates is None else self.covariates


@dataclass(frozen=True)
class BlockCovariates:
    """A simple design's ``(n, k)`` columns from its blocks, never written in the data's order.

    The engine takes them in its sorted order, transposed
    (:meth:`sorted_transposed`); the checks read each column's range and 0/1
    counts from each level's table row and count. The values are those of the
    matrix :func:`reunistat.models._simple_design.simple_design` writes.
    """

    parts: SimpleParts

    @property
    def shape(self) -> tuple[int, int]:
        return self.parts.n, len(self.parts.columns)

    def column_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Each column's minimum and maximum (every level of a lookup occurs in the rows)."""
        k = len(self.parts.columns)
        lo, hi = np.empty(k), np.empty(k)
        for b in self.parts.blocks:
            values = b.table if b.codes is not None else np.asarray(b.table, dtype=float)
            if b.codes is None:
                values = values[:, None]  # a number (or the intercept's one)
            lo[b.positions], hi[b.positions] = values.min(axis=0), values.max(axis=0)
        return lo, hi

    def zero_one_counts(
        self, cols: np.ndarray, ev: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per column in ``cols``: rows equal to 1, rows equal to 0, events among the 1s."""
        where = {j: (b, i) for b in self.parts.blocks for i, j in enumerate(b.positions)}
        counted: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        out = np.zeros((3, cols.shape[0]), dtype=np.int64)
        for m, j in enumerate(cols):
            b, i = where[int(j)]
            if b.codes is None:
                if b.table.shape[0] != self.parts.n:  # the intercept: every row is 1
                    out[:, m] = self.parts.n, 0, int(np.count_nonzero(ev))
                    continue
                ones = b.table == 1
                out[:, m] = (
                    np.count_nonzero(ones),
                    np.count_nonzero(b.table == 0),
                    np.count_nonzero(ones & ev),
                )
                continue
            if id(b) not in counted:  # rows and events per level
                k = b.table.shape[0]
                counted[id(b)] = (
                    np.bincount(b.codes, minlength=k),
                    np.bincount(b.codes[ev], minlength=k),
                )
            per_level, events_per_level = counted[id(b)]
            col = b.table[:, i]
            out[:, m] = (
                per_level[col == 1].sum(),
                per_level[col == 0].sum(),
                events_per_level[col == 1].sum(),
            )
        return out[0], out[1], out[2]

    def sorted_transposed(self, order: np.ndarray) -> np.ndarray:
        """The matrix's rows ``order``, transposed: ``x[order].T``, C-contiguous, same values."""
        n, k = self.shape
        out = np.empty((k, n))
        for b in self.parts.blocks:
            if b.codes is None:
                if b.table.shape[0] != n:
                    out[b.positions] = b.table[0]  # the intercept
                else:
                    out[b.positions[0]] = b.table.take(order)  # cast as the matrix's writer casts
                continue
            codes = b.codes.take(order)
            for i, j in enumerate(b.positions):
                np.take(np.ascontiguousarray(b.table[:, i]), codes, out=out[j])
        return out


def design(formula: str, data: pd.DataFrame, lazy: bool = False) -> Design:
    """Build the covariate matrix (no intercept) for a formula such as ``"~ a + b"``.

    The models' one formula layer (:mod:`reunistat.models._formula`) does the
    work: rows with missing covariates are dropped and counted. Plain numeric
    columns come column-major (``order="F"``): each covariate contiguous for the
    checks and for the engine, which sorts covariate by covariate. A left side is
    returned in ``lhs`` (the caller decides what it means). ``lazy``: a design of
    simple terms is returned as its blocks (``covariates``; ``x`` has no rows),
    which the engine takes in its own order without the ``(n, k)`` matrix.
    """
    lhs, rhs = _formula.split_formula(formula)
    d = _formula.design(rhs, data, intercept=False, order="F", lazy=lazy)
    cov = None if d.parts is None else BlockCovariates(d.parts)
    return Design(
        d.x, d.columns, d.term_columns, d.rows, lhs, d.spec, d.n_dropped_missing, d.coded,
        d.ranges, cov,
    )  # fmt: skip


def column_range(x: np.ndarray | BlockCovariates) -> tuple[np.ndarray, np.ndarray]:
    """Return each column's minimum and maximum (both empty when ``x`` has no rows).

    One pass for :func:`check_constant` and the 0/1 check of the Cox models; a
    design's blocks give theirs from their tables (:meth:`BlockCovariates.column_range`).
    """
    if isinstance(x, BlockCovariates):
        return x.column_range()
    if x.shape[0] == 0:
        return np.zeros(0), np.zeros(0)
    if x.ndim == 2 and x.flags.c_contiguous and x.shape[1] > 1:  # rows contiguous: by halves
        return by_halves(x, np.minimum), by_halves(x, np.maximum)
    return x.min(axis=0), x.max(axis=0)


def by_halves(x: np.ndarray, op: np.ufunc, step: int = 8192) -> np.ndarray:
    """``op.reduce(x, axis=0)`` for row-major ``x`` and ``op`` minimum or maximum.

    Along the rows of a row-major array numpy's reduction works one short row
    at a time; here each block of ``step`` rows is folded in two (first half
    ``op`` second half) until one row is left, in whole-block operations (about
    three times faster). The minimum or maximum does not depend on the order.
    """
    out: np.ndarray | None = None
    for a in range(0, x.shape[0], step):
        b = x[a : a + step]
        while b.shape[0] > 1:
            h = b.shape[0] // 2
            r = op(b[:h], b[h : 2 * h])
            if b.shape[0] % 2:  # the odd row left over goes into the first
                op(r[0], b[-1], out=r[0])
            b = r
        out = b[0].copy() if out is None else op(out, b[0], out=out)
    assert out is not None
    return out


def check_constant(
    x: np.ndarray | BlockCovariates,
    columns: list[str],
    lo_hi: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Raise on a constant covariate (or when no rows are left); return each column's range.

    ``lo_hi``: the columns' minima and maxima (:func:`column_range`), if already known.
    """
    n = x.shape[0]
    if n == 0:
        raise ModelError("no rows left to fit (all rows had missing values?)")
    lo, hi = column_range(x) if lo_hi is None else lo_hi
    span = hi - lo
    const = [c for c, s in zip(columns, span, strict=True) if s == 0]
    if const:
        raise ModelError(
            f"covariate(s) {const} are constant in the {n} rows used: they carry no "
            "information for a Cox model (the baseline hazard absorbs them); drop them"
        )
    return np.asarray(span)


def check_collinear(info: np.ndarray, columns: list[str]) -> None:
    """Raise when the information matrix at zero is singular: collinear covariates.

    The information at beta = 0 is a weighted sum of within-risk-set covariance
    matrices, so this also catches a covariate that is constant within strata.
    The check is the models' one rank check, :func:`reunistat.models._formula.check_rank`.
    """
    _formula.check_rank(info, columns, context=" (within the risk sets)")


def read_columns(des: Design, *named: str | Sequence[str] | None) -> set[str]:
    """Return the data columns a survival model reads: the formula's and those named.

    The formula's variables come from formulaic's spec (``variables_by_source``),
    or are the design's columns themselves when it was built without one (plain
    numeric columns). ``named`` are column names or lists of them (duration,
    event, entry, weights, strata, cluster); None is skipped. The models'
    provenance hash covers these columns (as the logistic models' does).
    """
    if des.spec is not None:
        out = {str(v) for v in des.spec.variables_by_source.get("data", ())}
    else:
        out = set(des.columns)
    for cols in named:
        if isinstance(cols, str):
            out.add(cols)
        elif cols is not None:
            out.update(cols)
    return out
