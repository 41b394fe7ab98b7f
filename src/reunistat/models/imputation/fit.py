"""Fit a Cox or logistic model to each imputed dataset and pool (multiple imputation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from reunistat.models.imputation.chained import Method, impute
from reunistat.models.imputation.pooling import pool
from reunistat.results import ModelResult, restamp

MiModel = Literal["cox", "logistic"]


def mi_fit(
    formula: str,
    data: pd.DataFrame,
    columns: Sequence[str] | Mapping[str, Method],
    *,
    model: MiModel = "cox",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    predictors: Sequence[str] = (),
    m: int = 20,
    n_iter: int = 10,
    seed: int = 20240331,
    n_jobs: int = 1,
    **model_options: Any,
) -> ModelResult:
    """Impute ``columns`` ``m`` times, fit the model to each, pool by Rubin's rules.

    Parameters
    ----------
    formula : str
        Right-hand side of the analysis model (``"~ disability + ..."``).
    data : pandas.DataFrame
        The spells, with missing values in ``columns``.
    columns : sequence or mapping
        Columns to impute (and their methods); see :func:`impute`.
    model : {"cox", "logistic"}
        :func:`reunistat.models.survival.cox` (time to re-entry) or
        :func:`reunistat.models.logistic.logistic` (re-entry within a horizon).
    duration_col, event_col : str
        Follow-up and re-entry (the outcome in the imputation model too).
    predictors : sequence of str
        Complete covariates of the analysis model and auxiliary variables,
        predictors of the imputation model (list the analysis model's).
    m, n_iter, seed, n_jobs
        As for :func:`impute`.
    **model_options
        Passed to the model (``cluster=``, ``strata=``, ``horizon_days=``, ...).

    Returns
    -------
    ModelResult
        The pooled model (:func:`pool`); ``extras["fits"]`` the ``m`` fits and
        ``extras["imputed"]`` the ``m`` completed datasets.
    """
    done = impute(
        data,
        columns,
        duration_col=duration_col,
        event_col=event_col,
        predictors=predictors,
        m=m,
        n_iter=n_iter,
        seed=seed,
        n_jobs=n_jobs,
    )
    if model == "cox":
        from reunistat.models.survival import cox

        fits = [cox(formula, d, duration_col, event_col, **model_options) for d in done]
    elif model == "logistic":
        from reunistat.models.logistic import logistic

        fits = [
            logistic(formula, d, duration_col=duration_col, event_col=event_col, **model_options)
            for d in done
        ]
    else:
        from reunistat.errors import InputError

        raise InputError(f"model must be 'cox' or 'logistic', got {model!r}")
    pooled = pool(fits)
    pooled.extras["fits"] = fits
    pooled.extras["imputed"] = done
    return restamp(
        pooled,
        "reunistat.models.imputation.mi_fit",
        imputed=list(columns),
        m=m,
        n_iter=n_iter,
        seed=seed,
    )
