"""Refit the Cox model to further imputed datasets from the first one's design (same bits).

The ``m`` completed datasets of an imputation differ only in the imputed
cells, so fitting :func:`~reunistat.models.survival.cox` to each rebuilds,
checks and hashes what is the same every time: the formula's design matrix,
the follow-up and events, the cluster codes, the input checks. Here ``cox``
fits the first dataset with all its checks; for each further dataset the
columns of the design that read an imputed column are looked up from the
first design by level (a simple term's design row is a function of that
column's value alone), and the fit is the one ``cox`` makes of that matrix:
the engine's Newton fit and its cluster-robust variance, with the cluster
codes ``cox`` uses. The design is kept with its rows in the order the first
fit sorted them, so each refit reuses that fit's sorted and grouped times and
events (:func:`~reunistat.models.survival.cox_arrays_like`): only the
covariates' means and centring are made again, as the engine makes them.

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
from collections.abc import Callable, Collection, Sequence
from typing import Any, cast

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
        self.order: np.ndarray | None = None  # see in_order()
        self.terms: dict[str, list[int]] = design.term_columns
        self.read, self.fixed, self.first = read, fixed, first
        # each term's one data column (None when it reads several)
        words = {t: set(re.findall(r"[A-Za-z_]\w*", t)) & set(read) for t in self.terms}
        self.term_of = {t: next(iter(w)) if len(w) == 1 else None for t, w in words.items()}
        self.hashes: dict[str, np.ndarray] = {}  # column_hash of the first dataset's columns
        self.tables: dict[str, LevelTable] = {}  # categorical terms' design rows by level
        self.levels: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # see redone()
        self.counts: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}  # see facts()
        self.same: set[str] = set()  # see changed()

    def in_order(self, order: np.ndarray) -> None:
        """Keep the design's rows in ``order`` (the Cox engine's sorted order) from now on.

        The workspace then holds ``x0[order]``, Fortran-ordered (its transpose
        is the engine's (p, n) layout), and :meth:`redone` writes the rows so.
        """
        self.order = order
        self.work = Workspace(_rows_in_order(self.x0, order))

    def hash_of(
        self, d: pd.DataFrame, columns: set[str] | None = None, known: Collection[str] = ()
    ) -> str:
        """``data_hash(d, columns)``, reusing the first dataset's hash of each column it shares.

        A column whose values have the same bits as the first dataset's has the
        same hash; only the others (the imputed ones) are hashed afresh.
        ``known`` names columns of ``d`` already found to have those bits
        (:meth:`changed`'s ``same``).
        """
        if not (d.columns.equals(self.d0.columns) and d.columns.is_unique):
            return data_hash(d, columns)
        same = {}
        for c in d.columns:
            if (columns is None or c in columns) and (c in known or same_bits(d[c], self.d0[c])):
                if c not in self.hashes:
                    self.hashes[c] = column_hash(self.d0[c])
                same[c] = self.hashes[c]
        return data_hash(d, columns, hashes=same)

    def provenance(self, d: pd.DataFrame) -> Provenance:
        """The first fit's provenance with ``d``'s hash of the columns read, made when first read.

        No output reads a refit's hash (the pooled result has the first fit's):
        :class:`DeferredProvenance` makes it (:meth:`hash_of`, with the columns
        :meth:`changed` just found the same) only if it is asked for.
        """
        columns, known = {*self.read, *self.fixed}, set(self.same)
        return DeferredProvenance(self.first.provenance, lambda: self.hash_of(d, columns, known))

    def changed(self, d: pd.DataFrame) -> list[str]:
        """The columns read or fixed whose values differ in ``d`` from the first dataset.

        Those with the first dataset's very bits are kept in ``same`` (for
        :meth:`hash_of`); the others are compared by ``Series.equals``.
        """
        self.same = set()
        out = []
        for c in dict.fromkeys([*self.read, *self.fixed]):
            a, b = d[c], self.d0[c]
            if same_bits(a, b):
                self.same.add(c)
            elif not a.equals(b):
                out.append(c)
        return out

    def redone(self, base: pd.DataFrame, new: dict[str, pd.Series]) -> np.ndarray | None:
        """The first design with the terms reading a ``new`` column redone from it.

        ``base`` holds the first dataset's values of those columns, row for row
        with the design; None when a term reads a changed column with another
        (an interaction) or a value the first design lacks. A categorical
        term's columns are its :class:`LevelTable`'s rows at the new codes;
        ``levels`` then holds, for each of those columns, the values by level
        and the codes (read by :meth:`facts`). With an ``order``, the design's
        rows (and those codes) are in that order.
        """
        self.work.fresh()
        self.levels, self.counts = {}, {}
        for c, s in new.items():
            if any(col is None and c in t for t, col in self.term_of.items()):
                return None  # a term reads the column with another one (an interaction)
            for t in [t for t, col in self.term_of.items() if col == c]:
                cols = self.terms[t]
                if t == c and isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf":
                    v = s.to_numpy(dtype=float)  # a number: its own column
                    if np.isnan(v).any():
                        return None
                    if self.order is not None:
                        v = v[self.order]
                    self.work.write(cols, v[:, None])
                    continue
                if t not in self.tables:
                    self.tables[t] = LevelTable(base[c], self.x0, cols)
                table = self.tables[t]
                codes = table.codes(s)
                if codes is None:
                    return None
                if self.order is not None:
                    codes = codes[self.order]
                self.work.write(cols, np.take(table.values, codes, axis=0))
                for j, col in enumerate(cols):
                    self.levels[col] = (table.values[:, j], codes)
        return self.work.ready()

    def facts(
        self, x: np.ndarray, j: int, outcome: np.ndarray
    ) -> tuple[float, float, bool, int, float]:
        """Min, max, all 0/1?, rows at 1 and the 0/1 ``outcome`` summed there, of ``x[:, j]``.

        ``x`` is the last :meth:`redone` (``outcome`` in its rows' order); the two
        sums are 0 unless the column is 0/1. A column written from a level table
        is summarised from its values by level and the rows at each level: the
        same minimum and maximum, and the same counts (sums of 0/1, exact in any
        order), without a pass over it.
        """
        if j not in self.levels:
            v = x[:, j]
            lo, hi, binary = float(v.min()), float(v.max()), bool(np.isin(v, (0.0, 1.0)).all())
            ones = v == 1.0 if binary else None
            if ones is None:
                return lo, hi, False, 0, 0.0
            return lo, hi, True, int(ones.sum()), float(outcome[ones].sum())
        values, codes = self.levels[j]
        count, summed = self._by_level(codes, outcome, len(values))
        at = values[count > 0]
        lo, hi, binary = float(at.min()), float(at.max()), bool(np.isin(at, (0.0, 1.0)).all())
        if not binary:
            return lo, hi, False, 0, 0.0
        ones = (count > 0) & (values == 1.0)
        return lo, hi, True, int(count[ones].sum()), float(summed[ones].sum())

    def _by_level(
        self, codes: np.ndarray, outcome: np.ndarray, n_levels: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and ``outcome`` summed at each level of ``codes``: once per term, not per column.

        The columns of a term share their codes (:meth:`redone`), so the two
        ``bincount``s of the last design are kept by codes and outcome.
        """
        key = (id(codes), id(outcome))
        if key not in self.counts:
            self.counts[key] = (
                np.bincount(codes, minlength=n_levels),
                np.bincount(codes, np.asarray(outcome, dtype=float), n_levels),
            )
        return self.counts[key]

    def columns_of(self, changed: list[str]) -> list[int]:
        """The design's columns of the terms that read a ``changed`` column."""
        return [j for t, c in self.term_of.items() if c in changed for j in self.terms[t]]


class DeferredProvenance(Provenance):
    """A :class:`~reunistat.results.Provenance` whose ``data_sha256`` is made when first read.

    ``prov``'s other fields, and ``digest()`` for the hash (called once, then
    kept). The hash is of the data as they are when it is first read: a refit's
    dataset is not changed after the fit. Equal to a ``Provenance`` of the same
    values, and pickled as one (the hash made then).
    """

    _digest: Callable[[], str] | None
    _made: str | None

    def __init__(self, prov: Provenance, digest: Callable[[], str]) -> None:
        for name in ("function", "formula", "options", "versions"):
            object.__setattr__(self, name, getattr(prov, name))
        object.__setattr__(self, "_digest", digest)
        object.__setattr__(self, "_made", None)

    @property
    def data_sha256(self) -> str:
        """The hash of the columns read, made on the first call."""
        if self._made is None:
            assert self._digest is not None
            object.__setattr__(self, "_made", self._digest())
            object.__setattr__(self, "_digest", None)  # what it read is not kept
        return cast(str, self._made)

    def plain(self) -> Provenance:
        """The same values as a plain ``Provenance``."""
        return Provenance(*self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return self.function, self.data_sha256, self.formula, self.options, self.versions

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DeferredProvenance):
            other = other.plain()
        return self.plain() == other

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return Provenance, self._fields()


def _rows_in_order(x: np.ndarray, order: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """``x[order]`` Fortran-ordered: its transpose is the Cox engine's (p, n) layout.

    Gathered in chunks of rows, each transposed into place (one pass, not a
    gather and then a transposing copy).
    """
    out = np.empty((x.shape[1], len(order)))
    for i in range(0, len(order), chunk):
        out[:, i : i + chunk] = np.take(x, order[i : i + chunk], axis=0).T
    return out.T


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
        self.problem = first.extras["state"].problem  # sorted and grouped by cox()
        self.in_order(self.problem.order)
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
            or first.extras["state"].problem.order.shape != (len(d0),)
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
        from reunistat.models.survival import cox_arrays_like

        if not d.index.equals(self.d0.index):
            return None
        changed = self.changed(d)
        if set(changed) & set(self.fixed):
            return None
        x = self.redone(self.d0, {c: d[c] for c in changed})  # rows in the engine's order
        cols = self.columns_of(changed)
        event = self.problem.event  # in that order
        facts = {} if x is None else {j: self.facts(x, j, event) for j in cols}
        if x is None or not _events_at_both_values(facts, len(x), int(event.sum())):
            return None
        try:  # cox_arrays of the design unsorted, without sorting and grouping the rows again
            beta, var = cox_arrays_like(self.problem, x.T, cluster=self.codes)
        except ConvergenceError:
            return None
        ranges = self.work.ranges(x, [])
        for j, (lo, hi, *_) in facts.items():
            ranges[j] = hi - lo  # the changed columns' own ranges
        if np.any(np.abs(beta) * ranges > 30):
            return None  # heading to infinity: cox() says why
        return ModelResult(
            model="cox",
            params=pd.Series(beta, index=self.columns),
            cov=pd.DataFrame(var, index=self.columns, columns=self.columns),
            vcov_type=self.first.vcov_type,
            n_obs=self.first.n_obs,
            n_events=int(self.state.event.sum()),
            fit_stats={},
            provenance=self.provenance(d),
            exp_label=self.first.exp_label,
        )


class Workspace:
    """The first design and one copy of it, into which each refit writes its changed columns.

    A refit's design is the first design with some columns redone; instead of
    a copy of the whole matrix per dataset, one copy is kept: :meth:`fresh`
    starts a design, :meth:`write` puts the refit's columns in and
    :meth:`ready` restores from the first design the columns an earlier refit
    wrote that this one did not (those it wrote again are overwritten whole):
    the same matrix, element for element, without copying back columns that
    are written again at once. (Neither ``cox_arrays`` nor ``irls`` writes into
    the matrix it is given, and no result keeps it.)
    """

    def __init__(self, x0: np.ndarray) -> None:
        self.x0 = x0
        self.x: np.ndarray | None = None
        self.dirty: list[int] = []  # columns this design wrote
        self.stale: list[int] = []  # columns earlier designs wrote, not yet restored
        self._ranges: np.ndarray | None = None

    def fresh(self) -> np.ndarray:
        """Start a design: write its columns (:meth:`write`), then take it (:meth:`ready`)."""
        if self.x is None:
            self.x = self.x0.copy(order="K")
        self.stale = [*dict.fromkeys([*self.stale, *self.dirty])]
        self.dirty = []
        return self.x

    def write(self, cols: list[int], block: np.ndarray) -> None:
        """Put ``block`` (one column per ``cols``) in those columns of the current design."""
        assert self.x is not None
        if cols and cols == list(range(cols[0], cols[0] + len(cols))):
            self.x[:, cols[0] : cols[0] + len(cols)] = block  # a slice: no fancy indexing
        else:
            self.x[:, cols] = block
        self.dirty += cols

    def ready(self) -> np.ndarray:
        """The design: the first one with the columns written since :meth:`fresh`."""
        assert self.x is not None
        written = set(self.dirty)
        back = [j for j in self.stale if j not in written]
        if back:
            self.x[:, back] = self.x0[:, back]
        self.stale = []
        return self.x

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
        if not (a.dtype.ordered == b.dtype.ordered and ca.dtype == cb.dtype and ca.equals(cb)):
            return False
        # the Categoricals' own codes (``.cat.codes`` makes a Series of them each time)
        x, y = cast(pd.Categorical, a.array).codes, cast(pd.Categorical, b.array).codes
        return bool(_same_memory(x, y) or np.array_equal(x, y))
    x, y = a.to_numpy(), b.to_numpy()
    if not (x.dtype == y.dtype and x.dtype.kind in "biufmM" and x.shape == y.shape):
        return False
    if _same_memory(x, y):
        return True  # a shallow copy's column
    bits = f"u{x.dtype.itemsize}"
    return bool(np.array_equal(x.view(bits), y.view(bits)))


def _same_memory(x: np.ndarray, y: np.ndarray) -> bool:
    """True when two arrays are the same memory, shape, strides and type."""
    return bool(x.dtype == y.dtype and x.__array_interface__ == y.__array_interface__)


class LevelTable:
    """A categorical term's design rows by level, taken once from the first dataset.

    A simple term's design row is a function of its column's value alone: the
    first design's row at the first row of each level gives the term's columns
    for any row at that level (``values[codes]``), the same numbers as the rows
    it was taken from.
    """

    def __init__(self, s0: pd.Series, x0: np.ndarray, cols: list[int]) -> None:
        self.dtype = s0.dtype
        n_levels = len(s0.dtype.categories) if isinstance(s0.dtype, pd.CategoricalDtype) else 0
        self.known = np.zeros(n_levels, dtype=bool)
        self.values = np.zeros((n_levels, len(cols)))
        if n_levels:
            c0 = s0.cat.codes.to_numpy()
            levels, first_row = np.unique(c0, return_index=True)
            keep = levels >= 0
            self.known[levels[keep]] = True
            self.values[levels[keep]] = x0[first_row[keep]][:, cols]

    def codes(self, s: pd.Series) -> np.ndarray | None:
        """The codes of ``s`` (the same categories, in order), or None.

        None: not categorical, a missing value or a level the first dataset lacks.
        """
        dtype = s.dtype
        if not (
            isinstance(dtype, pd.CategoricalDtype)
            and isinstance(self.dtype, pd.CategoricalDtype)
            and dtype == self.dtype
            and dtype.categories.equals(self.dtype.categories)
        ):
            return None
        c = s.cat.codes.to_numpy()
        if (c < 0).any() or not self.known[c].all():
            return None
        return c


def _events_at_both_values(
    facts: dict[int, tuple[float, float, bool, int, float]], n: int, n_events: int
) -> bool:
    """No 0/1 column (its :meth:`DesignRefit.facts`) is constant or without events at a value."""
    for _, _, binary, n1, e1 in facts.values():
        if binary and min(n1, n - n1, int(e1), n_events - int(e1)) == 0:
            return False
    return True
