"""Refit the Cox model to further imputed datasets from the first one's design (same bits).

The ``m`` completed datasets of an imputation differ only in the imputed
cells, so fitting :func:`~reunistat.models.survival.cox` to each rebuilds,
checks and hashes what is the same every time: the formula's design matrix,
the follow-up and events, the cluster codes, the input checks. Here ``cox``
fits the first dataset with all its checks; for each further dataset the
columns of the design that read an imputed column are looked up from the
first design by level (a simple term's design row is a function of that
column's value alone), and the fit is the one ``cox`` makes of that matrix:
:func:`~reunistat.models.survival.cox_arrays`, the engine's Newton fit and its
cluster-robust variance, with the cluster codes ``cox`` uses.

The estimates and covariances are ``cox``'s to the bit, and so is the
provenance's hash of the columns read (the columns equal to the first
dataset's reuse its hashes: :meth:`DesignRefit.hash_of`;
``tests/test_imputation_refit.py``). Anything else (options other than
``cluster``, ``ties`` and ``concordance``; rows dropped for missing values; a
changed follow-up, event or cluster column; a term that reads an imputed
column together with another; text or a level the first dataset lacks; an
imputed 0/1 column that is constant or has no events at one value; a fit that
does not converge or heads to infinity) goes through ``cox``, so its checks and
errors are the same as before. The logistic model is refitted the same way
(:mod:`reunistat.models.imputation.refit_logistic`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import ConvergenceError
from reunistat.results import ModelResult, Provenance, column_hash, data_hash

_OPTIONS = {"cluster", "concordance", "ties"}


def refit_all(
    model: str,
    formula: str,
    imputed: Sequence[pd.DataFrame],
    fit: Callable[[pd.DataFrame], ModelResult],
    duration_col: str,
    event_col: str,
    options: dict[str, Any],
) -> list[ModelResult]:
    """``[fit(d) for d in imputed]``; Cox and logistic fits after the first refitted."""
    from reunistat.models.imputation.refit_logistic import OPTIONS as LOGISTIC_OPTIONS
    from reunistat.models.imputation.refit_logistic import LogisticRefit

    first = fit(imputed[0])
    again: _CoxRefit | LogisticRefit | None = None
    if model == "cox" and set(options) <= _OPTIONS:
        again = _CoxRefit.make(formula, imputed[0], first, [duration_col, event_col])
    elif model == "logistic" and set(options) <= LOGISTIC_OPTIONS:
        again = LogisticRefit.make(formula, imputed[0], first, [duration_col, event_col])
    fits = [first]
    for d in imputed[1:]:
        res = None if again is None else again.refit(d)
        fits.append(fit(d) if res is None else res)
    return fits


class DesignRefit:
    """The first dataset's design and the data column each of its terms reads.

    What the Cox and logistic refits share: the design of the first dataset
    (``design.x``, its columns and each term's columns), the columns the
    formula reads (``read``) and those a refit may not change (``fixed``), and a
    :class:`Workspace` into which a further dataset's changed terms are written.
    """

    def __init__(
        self, d0: pd.DataFrame, design: Any, read: list[str], fixed: list[str], first: ModelResult
    ) -> None:
        self.d0, self.x0, self.columns = d0, design.x, list(design.columns)
        self.work = Workspace(self.x0)
        self.terms: dict[str, list[int]] = design.term_columns
        self.read, self.fixed, self.first = read, fixed, first
        # each term's one data column (None when it reads several)
        words = {t: set(re.findall(r"[A-Za-z_]\w*", t)) & set(read) for t in self.terms}
        self.term_of = {t: next(iter(w)) if len(w) == 1 else None for t, w in words.items()}
        self.hashes: dict[str, np.ndarray] = {}  # column_hash of the first dataset's columns

    def hash_of(self, d: pd.DataFrame, columns: set[str] | None = None) -> str:
        """``data_hash(d, columns)``, reusing the first dataset's hash of each column it shares.

        A column whose values have the same bits as the first dataset's has the
        same hash; only the others (the imputed ones) are hashed afresh.
        """
        if not (d.columns.equals(self.d0.columns) and d.columns.is_unique):
            return data_hash(d, columns)
        same = {}
        for c in d.columns:
            if (columns is None or c in columns) and same_bits(d[c], self.d0[c]):
                if c not in self.hashes:
                    self.hashes[c] = column_hash(self.d0[c])
                same[c] = self.hashes[c]
        return data_hash(d, columns, hashes=same)

    def changed(self, d: pd.DataFrame) -> list[str]:
        """The columns read or fixed whose values differ in ``d`` from the first dataset."""
        return [c for c in dict.fromkeys([*self.read, *self.fixed]) if not d[c].equals(self.d0[c])]

    def redone(self, base: pd.DataFrame, new: dict[str, pd.Series]) -> np.ndarray | None:
        """The first design with the terms reading a ``new`` column redone from it.

        ``base`` holds the first dataset's values of those columns, row for row
        with the design; None when a term reads a changed column with another
        (an interaction) or a value the first design lacks.
        """
        x = self.work.fresh()
        for c, s in new.items():
            if any(col is None and c in t for t, col in self.term_of.items()):
                return None  # a term reads the column with another one (an interaction)
            for t in [t for t, col in self.term_of.items() if col == c]:
                block = term_block(base[c], s, self.x0[:, self.terms[t]], t == c)
                if block is None:
                    return None
                self.work.write(self.terms[t], block)
        return x

    def columns_of(self, changed: list[str]) -> list[int]:
        """The design's columns of the terms that read a ``changed`` column."""
        return [j for t, c in self.term_of.items() if c in changed for j in self.terms[t]]


def read_columns(formula: str, d0: pd.DataFrame) -> list[str]:
    """The columns of ``d0`` that ``formula`` names."""
    words = set(re.findall(r"[A-Za-z_]\w*", formula))
    return [str(c) for c in d0.columns if c in words]


class _CoxRefit(DesignRefit):
    """The first dataset's design and what ``cox`` read of it; :meth:`refit` another dataset."""

    def __init__(
        self,
        d0: pd.DataFrame,
        design: Any,
        read: list[str],
        fixed: list[str],
        first: ModelResult,
        codes: np.ndarray | None,
    ) -> None:
        super().__init__(d0, design, read, fixed, first)
        self.codes = codes
        self.state = first.extras["state"]

    @classmethod
    def make(
        cls, formula: str, d0: pd.DataFrame, first: ModelResult, outcome: list[str]
    ) -> _CoxRefit | None:
        """The refit of ``cox(formula, d0, ...)`` as fitted in ``first``, or None."""
        from reunistat.models import _formula

        cluster = first.provenance.options.get("cluster")
        if (
            "state" not in first.extras
            or first.fit_stats.get("n_dropped_missing", 1) != 0
            or not (cluster is None or isinstance(cluster, str))
            or first.vcov_type not in ("model", f"cluster({cluster})")
        ):
            return None
        des = _formula.design(_formula.split_formula(formula)[1], d0, intercept=False)
        if des.columns != list(first.params.index) or len(des.rows) != len(d0):
            return None
        read = read_columns(formula, d0)
        fixed = [*outcome, *([] if cluster is None else [cluster])]
        codes = None if cluster is None else pd.factorize(d0[cluster], sort=True)[0]
        return cls(d0, des, read, fixed, first, None if codes is None else codes.astype(np.int64))

    def refit(self, d: pd.DataFrame) -> ModelResult | None:
        """The Cox fit of ``d``, or None (then fit it with :func:`cox`)."""
        from reunistat.models.survival import cox_arrays

        if not d.index.equals(self.d0.index):
            return None
        changed = self.changed(d)
        if set(changed) & set(self.fixed):
            return None
        x = self.redone(self.d0, {c: d[c] for c in changed})
        if x is None or not _events_at_both_values(x, self.state.event, self.columns_of(changed)):
            return None
        try:
            beta, var = cox_arrays(
                x, self.state.stop, self.state.event, cluster=self.codes, ties=self.state.ties
            )
        except ConvergenceError:
            return None
        if np.any(np.abs(beta) * self.work.ranges(x, self.columns_of(changed)) > 30):
            return None  # heading to infinity: cox() says why
        prov = self.first.provenance
        return ModelResult(
            model="cox",
            params=pd.Series(beta, index=self.columns),
            cov=pd.DataFrame(var, index=self.columns, columns=self.columns),
            vcov_type=self.first.vcov_type,
            n_obs=self.first.n_obs,
            n_events=int(self.state.event.sum()),
            fit_stats={},
            provenance=Provenance(
                prov.function,
                self.hash_of(d, {*self.read, *self.fixed}),
                prov.formula,
                prov.options,
            ),
            exp_label=self.first.exp_label,
        )


class Workspace:
    """The first design and one copy of it, into which each refit writes its changed columns.

    A refit's design is the first design with some columns redone; instead of
    a copy of the whole matrix per dataset, one copy is kept and the columns the
    previous refit wrote are restored from the first design before the next
    writes its own: the same matrix, element for element. (Neither
    ``cox_arrays`` nor ``irls`` writes into the matrix it is given, and no
    result keeps it.)
    """

    def __init__(self, x0: np.ndarray) -> None:
        self.x0 = x0
        self.x: np.ndarray | None = None
        self.dirty: list[int] = []
        self._ranges: np.ndarray | None = None

    def fresh(self) -> np.ndarray:
        """The first design, to write a refit's columns into (:meth:`write`)."""
        if self.x is None:
            self.x = self.x0.copy(order="K")
        elif self.dirty:
            self.x[:, self.dirty] = self.x0[:, self.dirty]
        self.dirty = []
        return self.x

    def write(self, cols: list[int], block: np.ndarray) -> None:
        """Put ``block`` in columns ``cols`` of the current design."""
        assert self.x is not None
        self.x[:, cols] = block
        self.dirty += cols

    def ranges(self, x: np.ndarray, cols: list[int]) -> np.ndarray:
        """``x.max(axis=0) - x.min(axis=0)``: the first design's, with ``cols`` taken afresh."""
        if self._ranges is None:
            self._ranges = self.x0.max(axis=0) - self.x0.min(axis=0)
        out = self._ranges.copy()
        if cols:
            out[cols] = x[:, cols].max(axis=0) - x[:, cols].min(axis=0)
        return out


def same_bits(a: pd.Series, b: pd.Series) -> bool:
    """True when two columns hold the same values to the bit (so the same hash); else False.

    Numbers, booleans and dates by their bits (``-0.0`` is not ``0.0``);
    categoricals by their categories (in order, of the same type) and codes.
    Other columns are not compared (False).
    """
    if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
        ca, cb = a.dtype.categories, b.dtype.categories
        return bool(
            a.dtype.ordered == b.dtype.ordered
            and ca.dtype == cb.dtype
            and ca.equals(cb)
            and np.array_equal(a.cat.codes.to_numpy(), b.cat.codes.to_numpy())
        )
    x, y = a.to_numpy(), b.to_numpy()
    if not (x.dtype == y.dtype and x.dtype.kind in "biufmM" and x.shape == y.shape):
        return False
    bits = f"u{x.dtype.itemsize}"
    return bool(np.array_equal(x.view(bits), y.view(bits)))


def term_block(s0: pd.Series, s: pd.Series, x0: np.ndarray, bare: bool) -> np.ndarray | None:
    """A term's columns for column ``s``, from its columns ``x0`` for ``s0`` (None: cannot)."""
    if bare and isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":
        v = s.to_numpy(dtype=float)
        return None if np.isnan(v).any() else v[:, None]
    dtype = s0.dtype
    if not (isinstance(dtype, pd.CategoricalDtype) and dtype == s.dtype):
        return None
    c0, c = s0.cat.codes.to_numpy(), s.cat.codes.to_numpy()
    levels, first_row = np.unique(c0, return_index=True)
    row = np.full(len(dtype.categories), -1)
    row[levels] = first_row
    if (c < 0).any() or (row[c] < 0).any():
        return None  # a missing value, or a level the first dataset lacks
    return np.asarray(x0[row[c]], dtype=float)


def _events_at_both_values(x: np.ndarray, event: np.ndarray, cols: list[int]) -> bool:
    """No 0/1 column among ``cols`` is constant or without events at one of its values."""
    for j in cols:
        v = x[:, j]
        if not np.isin(v, (0.0, 1.0)).all():
            continue
        ones = v == 1.0
        n1, e1 = int(ones.sum()), int(event[ones].sum())
        n0, e0 = len(v) - n1, int(event.sum()) - e1
        if min(n1, n0, e1, e0) == 0:
            return False
    return True
