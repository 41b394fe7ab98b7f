"""Rubin's rules: pool estimates from models fitted to each imputed dataset.

For ``m`` fits with estimates ``Q_i`` and covariances ``U_i``: the pooled
estimate ``Qbar = mean(Q_i)``, within variance ``Ubar = mean(U_i)``, between
variance ``B = cov(Q_i)`` (``m - 1`` divisor) and total ``T = Ubar + (1 + 1/m)
B``. Each term is referred to a t distribution on Barnard and Rubin's (1999)
degrees of freedom, with ``dfcom`` the complete-data degrees of freedom
(infinite for Cox and logistic models unless given), exactly as R's
``mice::pool``: ``lambda = (1 + 1/m) B / T`` (floored at 1e-4), ``df_old = (m - 1)
/ lambda^2``, ``df_obs = (dfcom + 1) / (dfcom + 3) dfcom (1 - lambda)``, ``df =
df_old df_obs / (df_old + df_obs)``; and ``riv = (1 + 1/m) B / Ubar``, ``fmi =
(riv + 2 / (df + 3)) / (1 + riv)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reunistat.errors import ModelError
from reunistat.models._term_df import TermDfResult
from reunistat.results import ModelResult, Provenance


def barnard_rubin(m: int, b: np.ndarray, t: np.ndarray, dfcom: float = np.inf) -> np.ndarray:
    """Barnard-Rubin degrees of freedom (as ``mice:::barnard.rubin``).

    Examples
    --------
    >>> float(barnard_rubin(5, np.array([0.01]), np.array([0.02]))[0])
    11.11...
    """
    lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
    df_old = (m - 1) / lam**2
    if np.isinf(dfcom):
        return np.asarray(df_old, dtype=float)
    df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return np.asarray(df_old * df_obs / (df_old + df_obs), dtype=float)


def pool_table(fits: Sequence[ModelResult], dfcom: float | None = None) -> pd.DataFrame:
    """Return mice's pooling table by term: estimate, ubar, b, t, dfcom, df, riv, lambda, fmi."""
    if len(fits) < 2:
        raise ModelError(f"pooling needs at least 2 imputed fits, got {len(fits)}")
    terms = fits[0].params.index
    for f in fits[1:]:
        if not f.params.index.equals(terms):
            raise ModelError(
                "the imputed fits have different terms (a level missing from one imputed "
                f"dataset?): {list(terms)} vs {list(f.params.index)}"
            )
    m = len(fits)
    q = np.vstack([f.params.to_numpy(float) for f in fits])
    u = np.stack([np.diag(f.cov.to_numpy(float)) for f in fits])
    qbar, ubar = q.mean(axis=0), u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    dfc = np.inf if dfcom is None else float(dfcom)
    df = barnard_rubin(m, b, t, dfc)
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    fmi = (riv + 2 / (df + 3)) / (1 + riv)
    return pd.DataFrame(
        {
            "estimate": qbar,
            "ubar": ubar,
            "b": b,
            "t": t,
            "dfcom": dfc,
            "df": df,
            "riv": riv,
            "lambda": lam,
            "fmi": fmi,
        },
        index=terms,
    )


def pool(fits: Sequence[ModelResult], dfcom: float | None = None) -> ModelResult:
    """Pool models fitted to ``m`` imputed datasets by Rubin's rules.

    Parameters
    ----------
    fits : sequence of ModelResult
        The same model fitted to each completed dataset (same terms).
    dfcom : float, optional
        Complete-data degrees of freedom (infinite when not given, as ``mice::pool``
        for models without residual degrees of freedom).

    Returns
    -------
    ModelResult
        ``params`` the pooled estimates, ``cov`` the total covariance ``Ubar + (1 +
        1/m) B`` (full matrices), each term's t reference on its Barnard-Rubin df
        (``tidy()``); ``extras["pool"]`` holds mice's table (``ubar, b, t, df, riv,
        lambda, fmi``), ``fit_stats`` ``m`` and the largest fraction of missing
        information.
    """
    table = pool_table(fits, dfcom)
    m = len(fits)
    q = np.vstack([f.params.to_numpy(float) for f in fits])
    ubar = np.mean([f.cov.to_numpy(float) for f in fits], axis=0)
    b = np.cov(q, rowvar=False, ddof=1).reshape(len(table), len(table))
    cov = ubar + (1 + 1 / m) * b
    first = fits[0]
    terms = table.index
    prov = Provenance(
        function="reunistat.models.imputation.pool",
        data_sha256=first.provenance.data_sha256,
        formula=first.provenance.formula,
        options={**first.provenance.options, "m": m, "dfcom": dfcom, "pooled": first.model},
        versions=first.provenance.versions,
    )
    stats = {"m": float(m), "fmi_max": float(table["fmi"].max())}
    return TermDfResult(
        model=first.model,
        params=pd.Series(table["estimate"].to_numpy(), index=terms),
        cov=pd.DataFrame(cov, index=terms, columns=terms),
        vcov_type=f"rubin({first.vcov_type})",
        n_obs=first.n_obs,
        n_events=None,
        fit_stats=stats,
        provenance=prov,
        dist="t",
        df_resid=float(table["df"].min()),
        exp_label=first.exp_label,
        extras={"pool": table},
        df_terms=tuple(float(v) for v in table["df"]),
    )
