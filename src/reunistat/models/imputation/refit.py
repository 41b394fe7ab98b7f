"""Refit a model to further imputed datasets from the first one's design (same bits, less work).

The ``m`` completed datasets of an imputation differ only in the imputed
cells, so fitting the model function to each rebuilds, checks and hashes what
is the same every time: the formula's design matrix, the outcome, the rows
used, the cluster codes. Here the model function (:func:`~reunistat.models.survival.cox`
or :func:`~reunistat.models.logistic.logistic`) fits the first dataset with all
its checks; for each further dataset the columns of the design that read an
imputed column are looked up from the first design by level (a simple term's
design row is a function of that column's value alone), and the fit is the
one the model function makes of that matrix:

* Cox: :func:`~reunistat.models.survival.cox_arrays` (the engine's Newton fit
  and its cluster-robust variance, with the cluster codes ``cox`` uses);
* logistic: :func:`~reunistat.models.logistic.irls`, its column checks and
  the sandwich variance, as :func:`~reunistat.models.logistic.logistic` does.

The estimates and covariances are the model function's to the bit
(``tests/test_imputation_refit.py``). Anything else (other options, rows
dropped for missing values, a changed outcome or cluster column, a term that
reads an imputed column together with another, a level the first dataset
lacks, an imputed 0/1 column with no events at one value, a fit that does not
converge) goes through the model function, so its checks and errors are the
same as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import ConvergenceError
from reunistat.results import ModelResult, Provenance, data_hash

Fit = Callable[[pd.DataFrame], ModelResult]
_COX_OPTIONS = {"cluster", "concordance", "ties"}
_LOGIT_OPTIONS = {"cluster", "horizon_days", "potential_followup_col", "vcov"}


def refit_all(
    model: str,
    formula: str,
    imputed: Sequence[pd.DataFrame],
    fit: Fit,
    duration_col: str,
    event_col: str,
    options: dict[str, Any],
) -> list[ModelResult]:
    """``[fit(d) for d in imputed]``, the datasets after the first refitted from its design."""
    first = fit(imputed[0])
    if model == "cox" and set(options) <= _COX_OPTIONS:
        again: _Refit | None = _CoxRefit.make(formula, imputed[0], first, duration_col, event_col)
    elif model == "logistic" and set(options) <= _LOGIT_OPTIONS:
        again = _LogitRefit.make(formula, imputed[0], first, duration_col, event_col, options)
    else:
        again = None
    fits = [first]
    for d in imputed[1:]:
        res = None if again is None else again.refit(d)
        fits.append(fit(d) if res is None else res)
    return fits


class _Refit:
    """A first dataset's design and what its fit read; :meth:`refit` a further dataset."""

    def __init__(
        self, first_data: pd.DataFrame, x0: np.ndarray, terms: dict[str, list[int]], read: list[str]
    ) -> None:
        self.d0, self.x0, self.read = first_data, x0, read
        # each term's one data column (None when it reads several or none)
        words = {t: set(re.findall(r"[A-Za-z_]\w*", t)) & set(read) for t in terms}
        self.term_of = {t: next(iter(w)) if len(w) == 1 else None for t, w in words.items()}
        self.terms = terms

    def refit(self, d: pd.DataFrame) -> ModelResult | None:
        """The model's fit of ``d``, or None (then fit it with the model function)."""
        raise NotImplementedError

    def design(self, d: pd.DataFrame, changed: list[str]) -> np.ndarray | None:
        """The first design with the columns of terms reading a ``changed`` column redone.

        ``d`` holds the changed columns in the first design's rows (same index).
        None when that cannot be done (the model function then fits it).
        """
        x = self.x0.copy(order="K")
        for c in changed:
            terms = [t for t, col in self.term_of.items() if col == c]
            if any(col is None and c in t for t, col in self.term_of.items()):
                return None  # a term reads the column with another one (an interaction)
            for t in terms:
                cols = self.terms[t]
                block = _block(self.d0[c], d[c], self.x0[:, cols], t == c)
                if block is None:
                    return None
                x[:, cols] = block
        return x


def _changed(d: pd.DataFrame, d0: pd.DataFrame, read: list[str]) -> list[str] | None:
    """The columns of ``read`` whose values differ in ``d`` from ``d0`` (None: other rows)."""
    if not d.index.equals(d0.index):
        return None
    return [c for c in read if not d[c].equals(d0[c])]


def _block(s0: pd.Series, s: pd.Series, x0: np.ndarray, bare: bool) -> np.ndarray | None:
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
        return None  # a missing value, or a level the first dataset's rows lack
    return np.asarray(x0[row[c]], dtype=float)


class _CoxRefit(_Refit):
    @classmethod
    def make(
        cls, formula: str, d0: pd.DataFrame, first: ModelResult, duration_col: str, event_col: str
    ) -> _CoxRefit | None:
        """The refit of :func:`cox` ``(formula, d0, ...)`` as fitted in ``first``, or None."""
        from reunistat.models.survival import _data

        state = first.extras.get("state")
        cluster = first.provenance.options.get("cluster")
        if (
            state is None
            or first.fit_stats.get("n_dropped_missing", 1) != 0
            or first.vcov_type not in ("model", f"cluster({cluster})")
            or not (cluster is None or isinstance(cluster, str))
        ):
            return None
        des = _data.design(formula, d0)
        read = [str(c) for c in d0.columns if c in set(re.findall(r"[A-Za-z_]\w*", formula))]
        new = cls(d0, des.x, des.term_columns, [*read, duration_col, event_col])
        new.first, new.state, new.columns = first, state, list(des.columns)
        new.codes = (
            None if cluster is None else pd.factorize(d0[cluster], sort=True)[0].astype(np.int64)
        )
        new.fixed = [duration_col, event_col, *([] if cluster is None else [cluster])]
        return new

    first: ModelResult
    state: Any
    columns: list[str]
    codes: np.ndarray | None
    fixed: list[str]

    def refit(self, d: pd.DataFrame) -> ModelResult | None:
        """The Cox fit of ``d``, or None (then fit it with :func:`cox`)."""
        from reunistat.models.survival import cox_arrays

        changed = _changed(d, self.d0, [*dict.fromkeys([*self.read, *self.fixed])])
        if changed is None or set(changed) & set(self.fixed):
            return None
        x = self.design(d, changed)
        if x is None:
            return None
        if not _events_at_both_values(x, self.state.event, self._columns_of(changed)):
            return None
        try:
            beta, var = cox_arrays(
                x, self.state.stop, self.state.event, cluster=self.codes, ties=self.state.ties
            )
        except ConvergenceError:
            return None
        span = x.max(axis=0) - x.min(axis=0)
        if np.any(np.abs(beta) * span > 30):
            return None  # heading to infinity: cox() says why
        n_events = int(self.state.event.sum())
        return _result(self.first, d, self.read, self.columns, beta, var, n_events, {})

    def _columns_of(self, changed: list[str]) -> list[int]:
        return [j for t, c in self.term_of.items() if c in changed for j in self.terms[t]]


def _events_at_both_values(x: np.ndarray, event: np.ndarray, cols: list[int]) -> bool:
    """No 0/1 column among ``cols`` is constant or without events at one of its values."""
    for j in cols:
        v = x[:, j]
        if not np.isin(v, (0.0, 1.0)).all():
            continue
        ones = v == 1.0
        n1, e1 = int(ones.sum()), int(event[ones].sum())
        n0, e0 = len(v) - n1, int(event.sum()) - e1
        if n1 == 0 or n0 == 0 or e1 == 0 or e0 == 0:
            return False
    return True


class _LogitRefit(_Refit):
    @classmethod
    def make(
        cls,
        formula: str,
        d0: pd.DataFrame,
        first: ModelResult,
        duration_col: str,
        event_col: str,
        options: dict[str, Any],
    ) -> _LogitRefit | None:
        """The refit of :func:`logistic` ``(formula, d0, **options)`` as fitted in ``first``."""
        from reunistat.models import _formula
        from reunistat.models.logistic._errors import LogisticInputError
        from reunistat.models.logistic.vcov import cluster_codes

        cluster, vcov = options.get("cluster"), options.get("vcov")
        kind = "cluster" if cluster is not None and vcov in (None, "CR1") else None
        if cluster is None and vcov in (None, "model"):
            kind = "model"
        frame = first.extras.get("data")
        if (
            kind is None
            or not (cluster is None or isinstance(cluster, str))
            or frame is None
            or not d0.index.is_unique
            or first.fit_stats.get("n_dropped_missing", 0) != 0
        ):
            return None
        rhs = _formula.split_formula(formula, LogisticInputError)[1]
        des = _formula.design(rhs, frame, intercept=True, error=LogisticInputError)
        if list(des.columns) != list(first.params.index) or len(des.rows) != len(frame):
            return None
        read = [str(c) for c in d0.columns if c in set(re.findall(r"[A-Za-z_]\w*", rhs))]
        new = cls(frame, des.x, des.term_columns, read)
        new.first, new.full, new.kind, new.terms_list = first, d0, kind, list(des.columns)
        new.pos = d0.index.get_indexer(frame.index)
        ycol = str(first.extras["outcome_col"])
        new.y = pd.to_numeric(frame[ycol], errors="coerce").to_numpy(dtype=float)
        new.codes = () if cluster is None else cluster_codes(frame[cluster])
        selection = options.get("potential_followup_col")
        new.fixed = [
            c
            for c in (duration_col, event_col, selection, cluster)
            if c is not None and c in d0.columns
        ]
        return new

    first: ModelResult
    full: pd.DataFrame
    kind: str
    terms_list: list[str]
    pos: np.ndarray
    y: np.ndarray
    codes: tuple[np.ndarray, int] | tuple[()]
    fixed: list[str]

    def refit(self, d: pd.DataFrame) -> ModelResult | None:
        """The logistic fit of ``d``, or None (then fit it with :func:`logistic`)."""
        from reunistat.models.logistic import irls
        from reunistat.models.logistic.design import check_columns
        from reunistat.models.logistic.vcov import sandwich

        changed = _changed(d, self.full, [*self.read, *self.fixed])
        if changed is None or set(changed) & set(self.fixed):
            return None
        rows = d[changed].iloc[self.pos].set_axis(self.d0.index)
        x = self.design(rows, changed)
        if x is None:
            return None
        check_columns(x, self.y, self.terms_list)
        fit = irls(x, self.y, self.terms_list)
        bread = np.linalg.inv(fit.information)
        bread = (bread + bread.T) / 2
        cov = sandwich(x, self.y - fit.p, bread, self.kind, *self.codes)  # type: ignore[arg-type]
        frame = self.d0.assign(**{c: rows[c] for c in changed})
        extras = {"data": frame, "outcome_col": self.first.extras["outcome_col"]}
        read = [*self.read, *self.fixed]
        return _result(
            self.first, d, read, self.terms_list, fit.params, cov, int(self.y.sum()), extras
        )


def _result(
    first: ModelResult,
    d: pd.DataFrame,
    read: list[str],
    columns: list[str],
    params: np.ndarray,
    cov: np.ndarray,
    n_events: int,
    extras: dict[str, Any],
) -> ModelResult:
    """A refit's result: estimates, covariance, n and events (no fit statistics).

    Its provenance hashes the columns of ``d`` the model read (``read``).
    """
    prov = first.provenance
    return ModelResult(
        model=first.model,
        params=pd.Series(params, index=columns),
        cov=pd.DataFrame(cov, index=columns, columns=columns),
        vcov_type=first.vcov_type,
        n_obs=first.n_obs,
        n_events=n_events,
        fit_stats={},
        provenance=Provenance(prov.function, data_hash(d, read), prov.formula, prov.options),
        exp_label=first.exp_label,
        extras=extras,
    )
