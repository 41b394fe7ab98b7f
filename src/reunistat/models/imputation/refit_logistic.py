"""Refit the logistic model to further imputed datasets from the first one's design (same bits).

As :mod:`reunistat.models.imputation.refit` does for Cox: the ``m`` completed
datasets differ only in the imputed cells, so
:func:`~reunistat.models.logistic.logistic` on each rebuilds the outcome, the
formula's design (formulaic's model spec each time), the column checks and
the data hash of what is the same every time. Here ``logistic`` fits the first
dataset with all its checks; for each further dataset the design columns of
terms that read an imputed column are looked up from the first design by
level, the changed columns get the checks ``logistic`` makes of them (not
constant, no 0/1 column within which every row has the same outcome), and the
fit is the one ``logistic`` makes of that matrix: the engine's
:func:`~reunistat.models.logistic.irls` (with the rank check on its first
information) and its :func:`~reunistat.models.logistic.sandwich` with the
cluster codes ``logistic`` uses.

The estimates and covariances are ``logistic``'s to the bit
(``tests/test_imputation_refit.py``). Anything else (options other than
``horizon_days``, ``cluster`` with one column, ``potential_followup_col`` and
``competing``; a changed follow-up, event, potential follow-up or cluster
column; a term reading an imputed column together with another; text or a
level the first dataset lacks; a check that fails; separation) goes through
``logistic``, so its checks and errors are the same as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat.models.imputation.refit import DesignRefit, read_columns
from reunistat.models.logistic import (
    LogisticInputError,
    SeparationError,
    cluster_codes,
    irls,
    sandwich,
)
from reunistat.results import ModelResult

OPTIONS = {"horizon_days", "cluster", "potential_followup_col", "competing"}


class LogisticRefit(DesignRefit):
    """The first dataset's design and what ``logistic`` read of it; :meth:`refit` another one."""

    def __init__(
        self,
        d0: pd.DataFrame,
        design: Any,
        read: list[str],
        fixed: list[str],
        first: ModelResult,
        codes: tuple[np.ndarray, int] | None,
    ) -> None:
        super().__init__(d0, design, read, fixed, first)
        frame: pd.DataFrame = first.extras["data"]
        self.frame, self.codes = frame, codes
        self.y = pd.to_numeric(frame[first.extras["outcome_col"]]).to_numpy(dtype=float)
        self.positions = d0.index.get_indexer(frame.index)
        # the intercept's column of ones, which irls would search the design for (no
        # refit writes a column the data do not give)
        self.ones = 0 if self.x0.shape[1] and bool(np.all(self.x0[:, 0] == 1.0)) else None

    def _checks_pass(self, x: np.ndarray, cols: list[int]) -> bool:
        """The changed columns pass ``check_columns``: not constant, no separation at a 0/1 one."""
        n, k_all = len(self.y), float(self.y.sum())
        for j in cols:
            lo, hi, binary, m, k = self.facts(x, j, self.y)
            if lo == hi or not np.isfinite([lo, hi]).all():
                return False
            if lo == 0.0 and hi == 1.0 and binary:
                for inside, events in ((m, k), (n - m, k_all - k)):
                    if inside and (events == 0 or events == inside):
                        return False
        return True

    @classmethod
    def make(
        cls, formula: str, d0: pd.DataFrame, first: ModelResult, outcome: list[str]
    ) -> LogisticRefit | None:
        """The refit of ``logistic(formula, d0, ...)`` as fitted in ``first``, or None."""
        from reunistat.models import _formula

        opts = first.provenance.options
        cluster = opts.get("cluster")
        frame = first.extras.get("data")
        if (
            not isinstance(frame, pd.DataFrame)
            or first.extras.get("outcome_col") not in frame.columns
            or "weights" in opts
            or not (cluster is None or isinstance(cluster, str))
            or first.vcov_type not in ("model", f"cluster({cluster})")
            or not d0.index.is_unique
            or not frame.index.isin(d0.index).all()
        ):
            return None
        rhs = _formula.split_formula(formula)[1]
        try:
            des = _formula.design(rhs, frame, intercept=True)
        except Exception:  # logistic() read it another way: fit every dataset with it
            return None
        if des.columns != list(first.params.index) or len(des.rows) != len(frame):
            return None
        read = read_columns(formula, d0)
        pf = opts.get("potential_followup_col")
        fixed = [*outcome, *(c for c in (pf, cluster) if isinstance(c, str))]
        if not set(fixed) <= set(d0.columns):
            return None
        codes = None if cluster is None else cluster_codes(frame[cluster])
        return cls(d0, des, read, fixed, first, codes)

    def refit(self, d: pd.DataFrame) -> ModelResult | None:
        """The logistic fit of ``d``, or None (then fit it with ``logistic``)."""
        if not d.index.equals(self.d0.index):
            return None
        changed = self.changed(d)
        if set(changed) & set(self.fixed):
            return None
        taken = {c: d[c].take(self.positions) for c in changed}
        x = self.redone(self.frame, taken)
        if x is None or not self._checks_pass(x, self.columns_of(changed)):
            return None
        names = self.columns
        ones = self.ones if 0 not in self.columns_of(changed) else None
        try:
            fit = irls(x, self.y, names, check=lambda info: _check_rank(info, names), ones=ones)
        except (SeparationError, LogisticInputError, np.linalg.LinAlgError):
            return None
        bread = np.linalg.inv(fit.information)
        bread = (bread + bread.T) / 2
        if self.codes is None:
            cov = bread
        else:
            cov = sandwich(x, self.y - fit.p, bread, "cluster", *self.codes)
        frame = self.frame.copy(deep=False)
        for c, s in taken.items():
            frame[c] = s.to_numpy() if not isinstance(s.dtype, pd.CategoricalDtype) else s.array
        idx = pd.Index(names)
        return ModelResult(
            model="logistic",
            params=pd.Series(fit.params, index=idx),
            cov=pd.DataFrame(cov, index=idx, columns=idx),
            vcov_type=self.first.vcov_type,
            n_obs=len(self.y),
            n_events=int(self.y.sum()),
            fit_stats={},
            provenance=self.provenance(d),
            exp_label=self.first.exp_label,
            extras={
                "data": frame,
                "outcome_col": self.first.extras["outcome_col"],
                "fitted": fit.p,
            },
        )


def _check_rank(info: np.ndarray, terms: list[str]) -> None:
    """The rank check ``logistic`` makes on its first information matrix."""
    from reunistat.models import _formula

    if not np.isfinite(info).all():
        raise LogisticInputError("not finite")  # logistic() says why
    _formula.check_rank(info, terms, error=LogisticInputError)
