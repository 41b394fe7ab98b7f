"""Formula to design matrix (formulaic), with checks that name what is wrong.

A formula's right-hand side uses formulaic syntax, close to R's: ``a + b``,
``a * b`` and ``a:b`` for interactions, ``C(x)`` to treat a number as a
category, ``bs(x, df=4)`` for a B-spline of a continuous term (age, length of
care), ``np.log(x)`` for transforms. String columns are categories with the
alphabetically first level as reference, as in R.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import model_matrix

from reunistat.models.logistic._errors import LogisticInputError, SeparationError
from reunistat.models.logistic.linalg import xtwx
from reunistat.models.logistic.outcome import (
    Competing,
    HorizonOutcome,
    horizon_outcome,
    outcome_name,
)


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


def split_formula(formula: str) -> tuple[str | None, str]:
    """Split ``"y ~ x"`` into ``("y", "x")`` and ``"~ x"`` or ``"x"`` into ``(None, "x")``."""
    if not isinstance(formula, str) or not formula.strip():
        raise LogisticInputError(f"formula must be a non-empty string, got {formula!r}")
    if formula.count("~") > 1:
        raise LogisticInputError(f"formula has more than one '~': {formula!r}")
    if "~" in formula:
        lhs, rhs = (s.strip() for s in formula.split("~"))
        return (lhs or None), rhs or "1"
    return None, formula.strip()


def build_design(
    formula: str,
    data: pd.DataFrame,
    *,
    horizon_days: int = 365,
    competing: Competing = "exclude",
    extra_cols: tuple[str, ...] = (),
    potential_followup_col: str | None = None,
) -> Design:
    """Derive the outcome (if the formula has no left side) and the design matrix.

    Parameters
    ----------
    formula : str
        ``"~ x1 + x2"``: the outcome is re-entry within ``horizon_days`` from
        the spells columns ``days_followed`` and ``reentered``;
        ``"y ~ x1 + x2"``: ``y`` is an existing 0/1 column.
    data : pandas.DataFrame
        The spells table (or any DataFrame holding the columns named).
    horizon_days, competing, potential_followup_col
        See :func:`~reunistat.models.logistic.outcome.horizon_outcome`.
    extra_cols : tuple of str
        Columns (such as cluster identifiers) that must be non-missing too.
    """
    if not isinstance(data, pd.DataFrame):
        raise LogisticInputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise LogisticInputError("data has no rows")
    for c in extra_cols:
        if c not in data.columns:
            raise LogisticInputError(f"data has no column {c!r}")
    lhs, rhs = split_formula(formula)
    counts: HorizonOutcome | None = None
    if lhs is None:
        data, counts = horizon_outcome(
            data, horizon_days, competing=competing, potential_followup_col=potential_followup_col
        )
        lhs = outcome_name(horizon_days)
    elif lhs not in data.columns:
        raise LogisticInputError(
            f"outcome column {lhs!r} is not in data; leave the left side empty ('~ x1 + x2') "
            "to derive re-entry within horizon_days from the spells table"
        )
    full = f"{lhs} ~ {rhs}"
    if extra_cols:
        keep = data[list(extra_cols)].notna().all(axis=1)
        data = data.loc[keep]
    n_in = len(data)
    try:
        mm = model_matrix(full, data, na_action="drop")
    except Exception as exc:  # formulaic raises many types; restate plainly
        raise LogisticInputError(f"cannot build the model from formula {full!r}: {exc}") from exc
    Xdf = mm.rhs
    y = np.asarray(mm.lhs, dtype=float).ravel()
    X = np.ascontiguousarray(np.asarray(Xdf, dtype=float))  # row-major: fast X'WX in blocks
    terms = [str(c) for c in Xdf.columns]
    _check_outcome(y, lhs)
    frame = data if len(Xdf.index) == len(data) else data.loc[Xdf.index]
    empty_cells(mm.rhs.model_spec, frame)
    check_columns(X, y, terms)
    return Design(
        y=y,
        X=X,
        terms=terms,
        formula=full,
        model_spec=mm.rhs.model_spec,
        index=Xdf.index,
        outcome=counts,
        n_dropped_missing=n_in - len(y),
        frame=frame,
        outcome_col=lhs,
    )


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


def check_columns(X: np.ndarray, y: np.ndarray, terms: list[str]) -> None:
    """Raise a clear error for a constant covariate, an empty cell or separation.

    Checks, in order: an all-zero column (an empty cell, e.g. a category level
    or interaction with no spells); a constant column besides the intercept
    (a constant covariate); a 0/1 column within which every spell has the
    same outcome (quasi-complete separation); and linear dependence.
    """
    n = len(y)
    lo, hi = X.min(axis=0), X.max(axis=0)
    zero = (lo == 0) & (hi == 0)
    binary = (lo == 0) & (hi == 1)
    for b in np.flatnonzero(binary):  # confirm the 0/1 columns are only 0 and 1
        binary[b] = bool(np.isin(X[:, b], (0.0, 1.0)).all())
    n1 = X[:, binary].sum(axis=0)
    k1 = y @ X[:, binary]
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
    xtx = xtwx(X, np.ones(n))
    d = np.sqrt(np.diag(xtx))
    eig, vec = np.linalg.eigh(xtx / np.outer(d, d))
    if eig[0] < 1e-10 * eig[-1]:
        involved = [terms[i] for i in np.flatnonzero(np.abs(vec[:, 0]) > 1e-4)]
        raise LogisticInputError(
            "the design matrix is rank deficient: these terms are collinear: "
            f"{', '.join(involved)}; drop one of them"
        )


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


def design_for(model_spec: Any, data: pd.DataFrame) -> np.ndarray:
    """Return the design matrix of new data under a fitted model's spec."""
    mm = model_spec.get_model_matrix(data, na_action="raise")
    return np.asarray(mm, dtype=float)
