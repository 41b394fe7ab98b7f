"""Formula to design matrix (formulaic), with checks that name what is wrong.

A formula's right-hand side uses formulaic syntax, close to R's: ``a + b``,
``a * b`` and ``a:b`` for interactions, ``C(x)`` to treat a number as a
category, ``bs(x, df=4)`` for a B-spline of a continuous term (age, length of
care), ``np.log(x)`` for transforms. String columns are categories with the
alphabetically first level as reference, as in R.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models import _formula, _options
from reunistat.models._simple_design import Block, simple_design
from reunistat.models.logistic._coded import (
    Coded,
    as_category,
    code_text_columns,
    first_appearance_codes,
    simple_term_columns,
)
from reunistat.models.logistic._errors import LogisticInputError, SeparationError
from reunistat.models.logistic.outcome import (
    Competing,
    HorizonOutcome,
    horizon_rows,
    outcome_name,
)
from reunistat.models.logistic.vcov import cluster_codes
from reunistat.results import data_hash


@dataclass(frozen=True)
class Design:
    """The model's outcome, design matrix and what made them."""

    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    formula: str
    model_spec: Any
    index: pd.Index
    outcome: HorizonOutcome | None
    n_dropped_missing: int
    frame: pd.DataFrame
    outcome_col: str
    inputs: tuple[str, ...] = ()
    #: Text columns of the caller's data factorised once (:mod:`._coded`).
    coded: dict[str, Coded] = field(default_factory=dict)
    #: Positions in the caller's data of ``frame``'s rows (None: all, in order).
    positions: np.ndarray | None = None
    #: False when the rows of ``frame`` are not known by position (no ``coded`` use).
    positions_known: bool = True
    #: The frame given to :func:`build_design` (``coded`` is of its rows).
    source: pd.DataFrame | None = None
    #: How the simple-terms design wrote ``X`` (empty: built by formulaic).
    blocks: tuple[Block, ...] = ()
    #: False when :func:`build_design` left the rank check to :meth:`check_rank`.
    rank_checked: bool = True

    def check_rank(self, cross: np.ndarray) -> None:
        """The rank check :func:`check_columns` makes, on ``X' W X`` for a constant ``W``.

        The test is on the correlation scale, so any constant weight gives the
        decision of ``X'X``: the fit's first information matrix serves (an
        unweighted fit starts with every probability equal), without another
        pass over ``X``. A matrix that is not finite (a value of ``X`` is
        infinite) is not used: ``X'X`` is then summed as :func:`check_columns` sums it.
        """
        if not np.isfinite(cross).all():
            cross = _cross(self.X)
        _formula.check_rank(cross, self.terms, error=LogisticInputError)

    def first_ones_column(self) -> int | None:
        """0 if the blocks wrote a 1 in every row of the first column (the intercept), else None.

        None means not known (search ``X``): no other column can come before the first.
        """
        first = self.blocks[0] if self.blocks else None
        if first is None or first.codes is not None or first.positions != [0]:
            return None
        return 0 if len(self.y) > 1 and first.table.tolist() == [1.0] else None

    def data_sha256(self, data: pd.DataFrame, *more: str | None) -> str:
        """Return the provenance hash of the columns of ``data`` the model read.

        :func:`~reunistat.results.data_hash` of ``data``'s columns among
        ``inputs`` (the formula's variables, the outcome or the duration and
        event, potential follow-up, censor reason, cluster) and ``more``
        (e.g. weights), in ``data``'s column order, with its index.
        ``data`` is the frame given to :func:`build_design`.
        """
        coded = self.coded if data is self.source else None
        return data_hash(data, {*self.inputs, *(c for c in more if c)}, coded=coded)

    def cluster_codes(self, column: str) -> tuple[np.ndarray, int]:
        """Codes 0..G-1 of ``frame[column]`` by first appearance, and G (as ``cluster_codes``)."""
        coded = self.coded.get(column)
        if coded is None or not self.positions_known:
            return cluster_codes(self.frame[column])
        if self.positions is None and coded[0].min(initial=0) >= 0:
            # every row, none missing: code_text_columns numbered them by first appearance
            return coded[0].astype(np.int64, copy=False), len(coded[1])
        return first_appearance_codes(coded, self.positions)


def split_formula(formula: str) -> tuple[str | None, str]:
    """Split ``"y ~ x"`` into ``("y", "x")`` and ``"~ x"`` or ``"x"`` into ``(None, "x")``."""
    return _formula.split_formula(formula, LogisticInputError)


def build_design(
    formula: str,
    data: pd.DataFrame,
    *,
    outcome_col: str | None = None,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    competing: Competing = "exclude",
    extra_cols: tuple[str, ...] = (),
    potential_followup_col: str | None = None,
    function: str = "logistic",
    rank: bool = True,
) -> Design:
    """Derive the outcome (unless ``outcome_col`` names one) and the design matrix.

    Parameters
    ----------
    formula : str
        The covariates, ``"~ x1 + x2"``. Without ``outcome_col`` the outcome
        is re-entry within ``horizon_days`` from ``duration_col`` and
        ``event_col`` (:func:`~reunistat.models.logistic.outcome.horizon_outcome`).
        A left side (``"y ~ x1"``) still names an existing 0/1 outcome, with a
        :class:`DeprecationWarning`: use ``outcome_col="y"``.
    data : pandas.DataFrame
        The spells table (or any DataFrame holding the columns named).
    outcome_col : str, optional
        An existing 0/1 outcome column (instead of the horizon outcome).
    duration_col, event_col, horizon_days, competing, potential_followup_col
        See :func:`~reunistat.models.logistic.outcome.horizon_outcome`.
    extra_cols : tuple of str
        Columns (such as cluster identifiers) that must be present; rows with
        a missing value there are dropped and counted, as are rows with a
        missing outcome or covariate (``n_dropped_missing``).
    function : str
        The calling function's name, for warnings.
    rank : bool
        Check the design's rank here (``X'X``). False leaves it to the caller,
        who must call :meth:`Design.check_rank` with ``X' W X`` for a constant
        ``W`` (the first information matrix of an unweighted fit) before
        using the fit: the same decision without a pass over ``X``.
    """
    if not isinstance(data, pd.DataFrame):
        raise LogisticInputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    source = data
    if len(data) == 0:
        raise LogisticInputError("data has no rows")
    for c in extra_cols:
        if c not in data.columns:
            raise LogisticInputError(f"data has no column {c!r}")
    lhs, rhs = split_formula(formula)
    _options.formula_rhs_only(function, lhs, "outcome_col")
    outcome_col = outcome_col or lhs
    counts: HorizonOutcome | None = None
    inputs = [*extra_cols, outcome_col or duration_col]
    coded = code_text_columns(data, {*_names_in(rhs), *extra_cols})
    rows: np.ndarray | None = None
    if outcome_col is None:
        inputs += [event_col, potential_followup_col or event_col]
        if competing == "negative":
            inputs.append("censor_reason")
        known, positive, counts = horizon_rows(
            data,
            horizon_days,
            duration_col=duration_col,
            event_col=event_col,
            competing=competing,
            potential_followup_col=potential_followup_col,
        )
        outcome_col = outcome_name(horizon_days)
        data, rows = _with_outcome(data, known, positive, outcome_col)
    elif outcome_col not in data.columns:
        raise LogisticInputError(
            f"outcome column {outcome_col!r} is not in data; leave outcome_col unset to "
            "derive re-entry within horizon_days from the spells table"
        )
    n_in = len(data)
    keep = _known(data, [outcome_col, *extra_cols], coded, rows)
    if not keep.all():
        data = data.loc[keep]
        rows = np.flatnonzero(keep) if rows is None else rows[keep]
    view, complete = _design_view(data, rhs, coded, rows)
    des, blocks = _matrix(rhs, view, complete)
    frame = data if len(des.rows) == len(data) else data.loc[des.rows]
    y = pd.to_numeric(frame[outcome_col], errors="coerce").to_numpy(dtype=float)
    X = des.x
    terms = des.columns
    _check_outcome(y, outcome_col)
    empty_cells(des.spec, frame)
    check_columns(X, y, terms, blocks=blocks, rank=rank)
    return Design(
        y=y,
        X=X,
        terms=terms,
        formula=f"{outcome_col} ~ {rhs}",
        model_spec=des.spec,
        index=des.rows,
        outcome=counts,
        n_dropped_missing=n_in - len(y),
        frame=frame,
        outcome_col=outcome_col,
        inputs=(*inputs, *_formula_variables(des.spec, rhs, data)),
        coded=coded,
        positions=rows,
        positions_known=frame is data,
        source=source,
        blocks=blocks,
        rank_checked=rank,
    )


def _known(
    data: pd.DataFrame, columns: list[str], coded: dict[str, Coded], rows: np.ndarray | None
) -> np.ndarray:
    """Rows of ``data`` with no missing value in ``columns`` (``notna``).

    A text column factorised with no missing value (every code >= 0) is
    known on every row without looking at its strings again.
    """
    keep = np.ones(len(data), dtype=bool)
    for c in dict.fromkeys(columns):
        if c in coded and coded[c][0].min(initial=0) >= 0:
            continue
        keep &= data[c].notna().to_numpy()
    return keep


def _matrix(
    rhs: str, view: pd.DataFrame, complete: set[str]
) -> tuple[_formula.Design, tuple[Block, ...]]:
    """The design of ``~ rhs`` (``_formula.design``), with the simple-terms design's blocks.

    ``complete``: the categoricals :func:`_design_view` made (every category present).

    The simple-terms design is tried first, as ``_formula.design`` does, so
    its blocks (the codes and tables the matrix was written from) are kept
    for :func:`check_columns`; anything else goes through formulaic.
    """
    try:
        simple = simple_design(rhs, view, intercept=True, complete=complete) if len(view) else None
    except Exception:  # formulaic's path restates any problem
        simple = None
    if simple is not None:
        des = _formula.Design(
            simple.x, simple.columns, simple.term_columns, view.index, simple.spec, 0
        )
        return des, simple.blocks
    return _formula.design(rhs, view, intercept=True, error=LogisticInputError), ()


def _names_in(rhs: str) -> set[str]:
    """Every name in a formula's right side (a superset of the columns it reads)."""
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", rhs))


def _with_outcome(
    data: pd.DataFrame, known: np.ndarray, positive: np.ndarray, name: str
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The rows with a known outcome, with it as column ``name``; their positions.

    :func:`~reunistat.models.logistic.outcome.horizon_outcome`'s frame; when
    every row is kept, a shallow copy (the columns shared, not copied) with the
    new column, and positions None.
    """
    if known.all():
        out = data.copy(deep=False)
        rows = None
    else:
        rows = np.flatnonzero(known)
        out = data.take(rows)
    out[name] = positive[known].astype(np.int64)
    return out, rows


def _design_view(
    data: pd.DataFrame, rhs: str, coded: dict[str, Coded], rows: np.ndarray | None
) -> tuple[pd.DataFrame, set[str]]:
    """``data`` with the text columns of simple terms as categoricals of their present levels.

    The same design (levels sorted, as formulaic orders a text column's), built
    from codes instead of factorising the strings again. Also the names of
    those columns (every category of each occurs, none is missing).
    """
    cats = {}
    for col in simple_term_columns(rhs) & coded.keys():
        cat = as_category(coded[col], rows)
        if cat is not None:
            cats[col] = cat
    if not cats:
        return data, set()
    view = data.copy(deep=False)
    for col, cat in cats.items():
        view[col] = cat
    return view, set(cats)


def _formula_variables(spec: Any, rhs: str, data: pd.DataFrame) -> tuple[str, ...]:
    """The data columns the formula reads (every column named in it, without a spec)."""
    if spec is not None:
        return tuple(str(v) for v in spec.variables_by_source.get("data", ()))
    return tuple(str(c) for c in data.columns if str(c) in rhs)


def _check_outcome(y: np.ndarray, name: str) -> None:
    if len(y) == 0:
        raise LogisticInputError(f"no rows left after dropping missing values of {name!r}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise LogisticInputError(f"outcome {name!r} must be 0/1")
    n1 = int(y.sum())
    if n1 == 0 or n1 == len(y):
        what = "re-entered" if n1 else "did not re-enter"
        raise LogisticInputError(
            f"all {len(y):,} spells {what} ({name!r} is constant): there is nothing to model"
        )


def check_columns(
    X: np.ndarray,
    y: np.ndarray,
    terms: list[str],
    *,
    blocks: tuple[Block, ...] = (),
    rank: bool = True,
) -> None:
    """Raise a clear error for a constant covariate, an empty cell or separation.

    Checks, in order: an all-zero column (an empty cell, e.g. a category level
    or interaction with no spells); a constant column besides the intercept
    (a constant covariate); a 0/1 column within which every spell has the
    same outcome (quasi-complete separation); and linear dependence (unless
    ``rank`` is False: the caller checks it, :meth:`Design.check_rank`).

    ``blocks`` (how the simple-terms design wrote ``X``) give the column
    summaries from counts per level (:func:`_block_summaries`), the same
    values as a pass over ``X``.
    """
    n = len(y)
    cross = None
    if blocks:
        lo, hi, only01, ones, ones_y = _block_summaries(blocks, X.shape[1], y)
    else:
        lo, hi, only01, ones, ones_y, cross = _column_summaries(X, y, with_cross=rank)
    zero = (lo == 0) & (hi == 0)
    binary = (lo == 0) & (hi == 1) & only01
    n1, k1 = ones[binary], ones_y[binary]
    k_all = y.sum()
    for j, t in enumerate(terms):
        if t == "Intercept":
            continue
        if zero[j]:
            raise LogisticInputError(
                f"empty cell: no spells have {t!r} (the column is all zero); drop or merge "
                "that level or interaction"
            )
        if lo[j] == hi[j]:
            raise LogisticInputError(
                f"covariate {t!r} is constant (= {lo[j]:g} in all {n:,} spells): it cannot "
                "be estimated; drop it from the formula"
            )
    bin_terms = [t for t, b in zip(terms, binary, strict=True) if b]
    for t, m, k in zip(bin_terms, n1, k1, strict=True):
        for inside, events, side in ((m, k, "with"), (n - m, k_all - k, "without")):
            if inside and (events == 0 or events == inside):
                what = "re-entered" if events else "did not re-enter"
                raise SeparationError(
                    f"separation: all {int(inside):,} spells {side} {t!r} {what}, so its odds "
                    "ratio is infinite; merge levels, drop the term, or use a penalised model "
                    "(prediction checks with penalty='l2')"
                )
    if rank:
        if cross is None:
            cross = _cross(X)
        _formula.check_rank(cross, terms, error=LogisticInputError)


def _cross(X: np.ndarray, step: int = 8192) -> np.ndarray:
    """``X'X`` summed over small row blocks, as :func:`_column_summaries` sums it."""
    k = X.shape[1]
    cross = np.zeros((k, k))
    sub = max(64, 262_144 // max(k * k, 1))  # as linalg.xtwx
    for i in range(0, X.shape[0], step):
        xc = X[i : i + step]
        for j in range(0, len(xc), sub):  # small products: OpenBLAS stays on one thread
            xs = xc[j : j + sub]
            cross += xs.T @ xs
    return cross


def _block_summaries(
    blocks: tuple[Block, ...], k: int, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_column_summaries` (without ``X'X``) from the blocks the design was written from.

    A looked-up block's columns take the values of its table's rows, row ``l``
    on the rows with code ``l``: min and max over the levels present, 0/1 if
    every present level's value is, and the 1s counted as the rows (and the
    rows with ``y = 1``) of the levels whose value is 1. The counts are whole
    numbers, exact in floating point, so they equal the pass over ``X``. A
    numeric column is summarised directly; its 1s are counted only when its
    values lie in [0, 1] (elsewhere the counts are 0 and it is not 0/1: the
    counts are used for the 0/1 columns only).
    """
    n = len(y)
    lo, hi = np.full(k, np.inf), np.full(k, -np.inf)
    only01 = np.ones(k, dtype=bool)
    ones, ones_y = np.zeros(k), np.zeros(k)
    for b in blocks:
        pos = b.positions
        if b.codes is None and (len(b.table) != 1 or n == 1):  # a numeric column
            j, v = pos[0], b.table
            lo[j], hi[j] = v.min(), v.max()
            if 0.0 <= lo[j] and hi[j] <= 1.0:
                is1v = v == 1.0
                only01[j] = bool((is1v | (v == 0.0)).all())
                ones[j] = np.count_nonzero(is1v)
                ones_y[j] = y @ is1v
            else:
                only01[j] = False
            continue
        if b.codes is None:  # a constant (the intercept) on every row
            table = b.table.reshape(-1, 1)
            count, count_y = np.array([float(n)]), np.array([float(y.sum())])
        else:
            m = len(b.table)
            count = np.bincount(b.codes, minlength=m).astype(float)
            count_y = np.bincount(b.codes, weights=y, minlength=m)
            present = count > 0
            table, count, count_y = b.table[present], count[present], count_y[present]
        if len(table) == 0:
            continue
        is1 = table == 1.0
        lo[pos] = table.min(axis=0)
        hi[pos] = table.max(axis=0)
        only01[pos] = (is1 | (table == 0.0)).all(axis=0)
        ones[pos] = count @ is1
        ones_y[pos] = count_y @ is1
    return lo, hi, only01, ones, ones_y


def _column_summaries(
    X: np.ndarray, y: np.ndarray, step: int = 8192, with_cross: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column, in one pass over row blocks: min, max, only 0/1?, 1s, 1s with y = 1; X'X.

    The counts are exact (sums of 0/1 values); they are used for the 0/1 columns.
    ``X'X`` (for the rank check) is summed over the same blocks while each is in cache
    (zeros if ``with_cross`` is False).
    """
    k = X.shape[1]
    lo, hi = np.full(k, np.inf), np.full(k, -np.inf)
    only01 = np.ones(k, dtype=bool)
    ones, ones_y = np.zeros(k), np.zeros(k)
    cross = np.zeros((k, k))
    sub = max(64, 262_144 // max(k * k, 1))  # as linalg.xtwx
    for i in range(0, X.shape[0], step):
        xc, yc = X[i : i + step], y[i : i + step]
        np.minimum(lo, xc.min(axis=0), out=lo)
        np.maximum(hi, xc.max(axis=0), out=hi)
        is1 = xc == 1.0
        only01 &= (is1 | (xc == 0.0)).all(axis=0)
        ones += is1.sum(axis=0)
        ones_y += yc @ is1
        if not with_cross:
            continue
        for j in range(0, len(xc), sub):  # small products: OpenBLAS stays on one thread
            xs = xc[j : j + sub]
            cross += xs.T @ xs
    return lo, hi, only01, ones, ones_y, cross


def empty_cells(model_spec: Any, data: pd.DataFrame) -> None:
    """Raise if an interaction of categorical columns has a combination with no spells."""
    for term in model_spec.formula:
        cols = [str(f.expr) for f in term.factors if str(f.expr) in data.columns]
        if len(cols) < 2 or len(cols) < len(term.factors):
            continue
        if any(pd.api.types.is_numeric_dtype(data[c]) for c in cols):
            continue
        counts = data.groupby(cols, observed=False).size()
        full = pd.MultiIndex.from_product(
            [sorted(data[c].dropna().unique(), key=str) for c in cols], names=cols
        )
        missing = [ix for ix in full if counts.get(ix, 0) == 0]
        if missing:
            shown = "; ".join(
                ", ".join(f"{c}={v}" for c, v in zip(cols, ix, strict=True)) for ix in missing[:5]
            )
            raise LogisticInputError(
                f"empty cells in the interaction {':'.join(cols)}: no spells have {shown}"
                + (f" (and {len(missing) - 5} more)" if len(missing) > 5 else "")
                + "; merge levels or drop the interaction"
            )
