"""A model result whose terms each have their own t reference (degrees of freedom per term).

Used where the degrees of freedom differ by coefficient: the evaluation designs'
Satterthwaite df (CR2) and the Barnard-Rubin df of pooled multiple imputations.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.results import ModelResult


@dataclass(frozen=True)
class TermDfResult(ModelResult):
    """A :class:`~reunistat.results.ModelResult` with a t reference per term.

    ``tidy()`` refers each term to a t distribution on its own degrees of
    freedom ``df_terms`` (in the order of ``params``); ``df_resid`` holds the
    smallest, for code that reads one number.
    """

    df_terms: tuple[float, ...] = ()

    def tidy(self, exponentiate: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
        """Return one row per term, each tested on its own degrees of freedom.

        Each row is the row of :meth:`ModelResult.tidy` with ``df_resid`` that
        term's df (:meth:`_tidy_by_term`); computed here for all terms at once,
        the t functions taking the vector of df: the same numbers to the bit.
        """
        base = ModelResult.tidy
        if len(self.df_terms) != len(self.params) or self.dist != "t":
            return base(self, exponentiate, conf_level)  # df_resid is not read per term
        if not len(self.params):
            return self._tidy_by_term(exponentiate, conf_level)
        out = base(dataclasses.replace(self, df_resid=self.df_terms[0]), exponentiate, conf_level)
        df = np.asarray(self.df_terms, dtype=float)
        est = self.params.to_numpy(dtype=float)
        se = self.std_errors.to_numpy(dtype=float)
        q = stats.t.ppf(0.5 + conf_level / 2, df)
        lo, hi = est - q * se, est + q * se
        out["p_value"] = 2 * stats.t.sf(np.abs(out["statistic"].to_numpy()), df)
        out["conf_low"], out["conf_high"] = (np.exp(lo), np.exp(hi)) if exponentiate else (lo, hi)
        return out

    def _tidy_by_term(self, exponentiate: bool, conf_level: float) -> pd.DataFrame:
        """:meth:`tidy` a term at a time: ``ModelResult.tidy`` with each term's df."""
        return pd.concat(
            [
                ModelResult.tidy(
                    dataclasses.replace(self, df_resid=d), exponentiate, conf_level
                ).iloc[[i]]
                for i, d in enumerate(self.df_terms)
            ],
            ignore_index=True,
        )


def with_term_df(
    res: ModelResult, cov: np.ndarray, df: np.ndarray, vcov_type: str, old_cov: str
) -> TermDfResult:
    """Return ``res`` with covariance ``cov`` and a t reference on ``df`` per term.

    ``extras[old_cov]`` keeps the previous covariance and ``extras["df_by_term"]`` the
    degrees of freedom; ``df_resid`` is the smallest.
    """
    terms = res.params.index
    return TermDfResult(
        **{
            **{f.name: getattr(res, f.name) for f in dataclasses.fields(res)},
            "cov": pd.DataFrame(cov, index=terms, columns=terms),
            "vcov_type": vcov_type,
            "dist": "t",
            "df_resid": float(np.min(df)),
            "extras": {
                **res.extras,
                old_cov: res.cov,
                "df_by_term": pd.Series(df, index=terms, name="df"),
            },
        },
        df_terms=tuple(float(v) for v in df),
    )
