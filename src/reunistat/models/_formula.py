"""The one formula layer of the models: formula text to design matrix, missing values, rank.

Every model reads its covariates through :func:`design`:

* the formula's right side uses formulaic syntax, close to R's (``a + b``,
  ``a * b``, ``C(x)``, ``bs(x, df=4)``, ``np.log(x)``); string columns are
  categories with the alphabetically first level as reference;
* **missing values**: a row with a missing value in any covariate of the
  formula is dropped; the number dropped is returned (``n_dropped_missing``)
  and every model reports it in ``glance()``. Columns named by keyword
  (duration, event, weights, strata, cluster) are checked by the model and a
  missing value there is an :class:`~reunistat.errors.InputError`, because a
  spells table never legitimately lacks them;
* **rank**: :func:`check_rank` is the one check that the columns (with the
  intercept) are linearly independent; it names the collinear terms.

:func:`split_formula` is the one place a formula's text is split into its
outcome (left) and covariate (right) sides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from reunistat.errors import InputError, ModelError

if TYPE_CHECKING:
    from reunistat.models._simple_design import SimpleParts


@dataclass(frozen=True)
class Design:
    """A covariate matrix built from a formula's right side, and the rows it used.

    Attributes
    ----------
    x : numpy.ndarray
        The design matrix (rows used x columns).
    columns : list of str
        Column names (``"Intercept"`` first when the design has one).
    term_columns : dict
        Each formula term's columns (positions in ``columns``).
    rows : pandas.Index
        The index labels of the rows used.
    spec : Any
        formulaic's model spec (to build the matrix of new data), or None for
        the plain-numeric fast path.
    n_dropped_missing : int
        Rows dropped for a missing covariate.
    coded : dict
        Text columns factorised on the way (all the data's rows): their codes
        and distinct values, ``pd.factorize(column, sort=False)``, which
        :func:`reunistat.results.data_hash` can take instead of factorising again.
    ranges : tuple of numpy.ndarray, optional
        Each column's minimum and maximum, when the build found them on the way
        (the column-major fast path, whose finiteness check they are).
    parts : SimpleParts, optional
        The blocks the simple path writes ``x`` from, when :func:`design` was asked
        for them (``lazy``): ``x`` then has no rows
        (:class:`reunistat.models._simple_design.SimpleParts`).
    """

    x: np.ndarray
    columns: list[str]
    term_columns: dict[str, list[int]]
    rows: pd.Index
    spec: Any
    n_dropped_missing: int
    coded: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    ranges: tuple[np.ndarray, np.ndarray] | None = None
    parts: SimpleParts | None = None


def split_formula(formula: str, error: type[Exception] = InputError) -> tuple[str | None, str]:
    """Split ``"y ~ x"`` into ``("y", "x")``; ``"~ x"`` or ``"x"`` give ``(None, "x")``.

    Examples
    --------
    >>> split_formula("reentered ~ age + C(la)")
    ('reentered', 'age + C(la)')
    >>> split_formula("~ age")
    (None, 'age')
    """
    if not isinstance(formula, str) or not formula.strip():
        raise error(f"formula must be a non-empty string, got {formula!r}")
    if formula.count("~") > 1:
        raise error(f"formula has more than one '~': {formula!r}")
    lhs, sep, rhs = formula.partition("~")
    if not sep:
        return None, formula.strip()
    return (lhs.strip() or None), rhs.strip() or "1"


def design(
    rhs: str,
    data: pd.DataFrame,
    *,
    intercept: bool,
    error: type[Exception] = InputError,
    order: Literal["C", "F"] = "C",
    lazy: bool = False,
) -> Design:
    """Build the design matrix of a formula's right side, dropping rows with missing covariates.

    Parameters
    ----------
    rhs : str
        The right side (``"a + b"``; a leading ``~`` is allowed).
    data : pandas.DataFrame
        The data.
    intercept : bool
        Keep the intercept column (logistic models) or drop it (Cox models:
        the baseline hazard absorbs it). Either way the matrix is built full
        rank with an intercept, so categories drop their reference level.
    error : type
        The exception raised when formulaic cannot build the matrix.
    order : {"C", "F"}
        The memory layout of a right side of plain numeric columns without
        intercept (``a + b + ...``, built directly from the columns):
        row-major, or column-major (each covariate contiguous: the survival
        models' layout). Other designs are row-major.
    lazy : bool
        A design of simple terms comes as its blocks (``parts``; ``x`` has no
        rows), for a caller that takes the columns in its own order without the
        ``(n, k)`` matrix. Other designs are built as without it.
    """
    rhs = split_formula(rhs, error)[1]
    fast = None if intercept else _plain_numeric(rhs, data)
    if fast is not None:
        return _fast_design(fast, data, order)
    simple = _simple(rhs, data, intercept, lazy)
    if simple is not None:
        return simple
    from formulaic import model_matrix

    try:
        mm = model_matrix("~ " + rhs, data, na_action="drop", ensure_full_rank=True)
    except Exception as exc:  # formulaic raises many types; restate plainly
        raise error(f"cannot build the model from formula {'~ ' + rhs!r}: {exc}") from exc
    all_cols = [str(c) for c in mm.columns]
    cols = all_cols if intercept else [c for c in all_cols if c != "Intercept"]
    if not [c for c in cols if c != "Intercept"] and not intercept:
        raise error(f"formula {'~ ' + rhs!r} has no covariates")
    spec = mm.model_spec
    term_columns: dict[str, list[int]] = {}
    for term, idx in spec.term_indices.items():
        names = [all_cols[i] for i in idx if all_cols[i] in cols]
        if names:
            term_columns[str(term)] = [cols.index(n) for n in names]
    frame = mm if intercept else mm[cols]
    x = row_major(frame)
    return Design(x, cols, term_columns, mm.index, spec, len(data) - len(mm.index))


def _simple(rhs: str, data: pd.DataFrame, intercept: bool, lazy: bool = False) -> Design | None:
    """The same design without materialising it through formulaic, when the terms are simple.

    See :mod:`reunistat.models._simple_design`; None (use formulaic) otherwise,
    or if anything there fails: formulaic then gives the matrix or the error.
    ``lazy``: the blocks (``parts``) instead of the matrix.
    """
    from reunistat.models._simple_design import simple_design, simple_parts

    try:
        if lazy:
            p = simple_parts(rhs, data, intercept=intercept)
            if p is None:
                return None
            x = np.empty((0, len(p.columns)))
            return Design(x, p.columns, p.term_columns, data.index, p.spec, 0, p.coded, parts=p)
        d = simple_design(rhs, data, intercept=intercept)
    except Exception:  # formulaic's path below restates any problem
        return None
    if d is None:
        return None
    return Design(d.x, d.columns, d.term_columns, data.index, d.spec, 0, d.coded)


def row_major(frame: pd.DataFrame, step: int = 2048) -> np.ndarray:
    """Return a DataFrame's values as a C-ordered float matrix, in one copy.

    ``np.ascontiguousarray(frame.to_numpy(dtype=float))`` copies twice (the
    columns into a transposed block, then that into row order); this writes
    each block of rows once, from the columns.

    Examples
    --------
    >>> f = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
    >>> np.array_equal(row_major(f, step=2), np.ascontiguousarray(f.to_numpy(dtype=float)))
    True
    """
    cols = [frame.iloc[:, j].to_numpy(dtype=float) for j in range(frame.shape[1])]
    return _rows_from_columns(cols, len(frame), step)


def _rows_from_columns(cols: list[np.ndarray], n: int, step: int = 2048) -> np.ndarray:
    """Write columns into an ``(n, len(cols))`` row-major matrix, a block of rows at a time."""
    x = np.empty((n, len(cols)))
    for i in range(0, n, step):
        block = x[i : i + step]
        for j, c in enumerate(cols):
            block[:, j] = c[i : i + step]
    return x


def _plain_numeric(rhs: str, data: pd.DataFrame) -> list[str] | None:
    """Return the column names when the right side is ``a + b + ...`` over numeric columns."""
    names = [t.strip() for t in rhs.split("+")]
    for name in names:
        if name not in data.columns or not name.isidentifier():
            return None
        dt = data[name].dtype
        if not (pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)):
            return None
    return names if len(set(names)) == len(names) else None


def _fast_design(cols: list[str], data: pd.DataFrame, order: Literal["C", "F"] = "C") -> Design:
    """Build the design directly from numeric columns (formulaic gives the same matrix).

    One copy of each column: into row order (``order="C"``), or into a ``(p, n)``
    array whose transpose is the design (``"F"``, each covariate contiguous; its
    columns' minima and maxima, taken as each is copied, are kept in ``ranges``
    and show that every value is finite). Rows with a missing or infinite value
    are dropped.
    """
    terms = {c: [j] for j, c in enumerate(cols)}
    if order == "C":
        x = _rows_from_columns([data[c].to_numpy(dtype=float) for c in cols], len(data))
        ok: np.ndarray = np.asarray(np.isfinite(x).all(axis=1))
        if ok.all():
            return Design(x, cols, terms, data.index, None, 0)
        return Design(x[ok], cols, terms, data.index[ok], None, int((~ok).sum()))
    xt = np.empty((len(cols), len(data)))
    lo, hi = np.empty(len(cols)), np.empty(len(cols))
    for j, name in enumerate(cols):
        row = xt[j]
        row[:] = data[name].to_numpy(dtype=float)
        if len(data):  # each column's range, read while it is in cache
            lo[j], hi[j] = row.min(), row.max()
    if len(data) and np.isfinite(lo).all() and np.isfinite(hi).all():
        # a missing value makes its column's minimum nan, an infinite one its range infinite
        return Design(xt.T, cols, terms, data.index, None, 0, ranges=(lo, hi))
    ok = np.asarray(np.isfinite(xt).all(axis=0))
    if ok.all():
        return Design(xt.T, cols, terms, data.index, None, 0)
    kept = np.ascontiguousarray(xt[:, ok])
    return Design(kept.T, cols, terms, data.index[ok], None, int((~ok).sum()))


def check_rank(
    cross: np.ndarray,
    columns: Sequence[str],
    *,
    error: type[Exception] = ModelError,
    context: str = "",
) -> None:
    """Raise when a cross-product matrix is singular, naming the collinear terms.

    ``cross`` is ``X'X`` of a design (logistic models, with the intercept) or
    the information matrix at zero (Cox models: a weighted sum of within-risk-set
    covariances, so a covariate constant within strata is caught too). The test
    is on the correlation scale: the smallest eigenvalue below ``1e-10`` times
    the largest.

    Examples
    --------
    >>> x = np.array([[1.0, 1, 2], [1, 2, 4], [1, 3, 6.0]])
    >>> check_rank(x.T @ x, ["Intercept", "a", "b"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    reunistat.errors.ModelError: ... these terms are collinear: a, b; drop one of them
    """
    names = list(columns)
    d = np.sqrt(np.abs(np.diag(cross)))
    zero = [n for n, v in zip(names, d, strict=True) if v == 0]
    if zero:
        raise error(f"covariate(s) {zero} do not vary{context}; drop them")
    eig, vec = np.linalg.eigh(cross / np.outer(d, d))
    if eig[0] < 1e-10 * max(eig[-1], 1.0):
        involved = [names[i] for i in np.flatnonzero(np.abs(vec[:, 0]) > 1e-4)]
        raise error(
            "the design matrix is rank deficient: these terms are collinear"
            f"{context}: {', '.join(involved)}; drop one of them"
        )
