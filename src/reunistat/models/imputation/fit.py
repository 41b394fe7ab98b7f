"""Fit a Cox or logistic model to each imputed dataset and pool (multiple imputation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from reunistat.errors import InputError, ModelError
from reunistat.models.imputation.chained import Method, impute
from reunistat.models.imputation.pooling import pool
from reunistat.models.imputation.refit import refit_all
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
        Passed to the model (``cluster=``, ``strata=``, ``horizon_days=``, ...),
        and ``full=`` to :func:`fit_imputed`.

    Returns
    -------
    ModelResult
        The pooled model (:func:`pool`); ``extras["fits"]`` the ``m`` fits (after
        the first refitted from its design, see :func:`fit_imputed`) and
        ``extras["imputed"]`` the ``m`` completed datasets (their columns not
        imputed are ``data``'s own: :func:`impute` with ``copy=False``).
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
        copy=False,  # the fits read the datasets; the columns not imputed stay data's
    )
    pooled = fit_imputed(
        formula,
        done,
        model=model,
        duration_col=duration_col,
        event_col=event_col,
        **model_options,
    )
    return restamp(
        pooled,
        "reunistat.models.imputation.mi_fit",
        imputed=list(columns),
        m=m,
        n_iter=n_iter,
        seed=seed,
    )


def fit_imputed(
    formula: str,
    imputed: Sequence[pd.DataFrame],
    *,
    model: MiModel = "cox",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    dfcom: float | None = None,
    full: bool = False,
    **model_options: Any,
) -> ModelResult:
    """Fit a model to each completed dataset and pool by Rubin's rules.

    One set of imputations can serve several analysis models (as ``with()`` on
    a ``mids`` object in R's ``mice``), provided the imputation model holds
    every analysis model's variables and outcome: e.g. the Cox model's event
    and Nelson-Aalen hazard and the logistic model's re-entry within the
    horizon (as auxiliary ``predictors`` of :func:`impute`).

    Parameters
    ----------
    formula : str
        Right-hand side of the analysis model.
    imputed : sequence of pandas.DataFrame
        The ``m`` completed datasets (:func:`impute`, or ``extras["imputed"]``
        of :func:`mi_fit`).
    model : {"cox", "logistic"}
        :func:`reunistat.models.survival.cox` or
        :func:`reunistat.models.logistic.logistic`.
    duration_col, event_col : str
        Follow-up and re-entry.
    dfcom : float, optional
        Complete-data degrees of freedom for :func:`pool` (infinite by default;
        R's ``mice::pool`` takes a ``glm``'s residual df).
    full : bool
        Fit every dataset with the model function itself. By default the
        model function fits only the first so; the others are refitted from
        its design with the columns that read imputed values redone
        (:mod:`reunistat.models.imputation.refit`,
        :mod:`~reunistat.models.imputation.refit_logistic`): the same
        estimates and covariances to the bit, without the fit statistics
        (``glance()``) and diagnostic state of the model function (a logistic
        refit keeps ``extras["data"]``, ``["outcome_col"]`` and ``["fitted"]``).
    **model_options
        Passed to the model (``cluster=``, ``horizon_days=``, ...).

    Returns
    -------
    ModelResult
        The pooled model (:func:`pool`), ``extras["fits"]`` the ``m`` fits and
        ``extras["imputed"]`` the datasets. A refitted fit has ``params``,
        ``cov``, ``n_obs`` and ``n_events`` (and no ``fit_stats``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"x": rng.integers(0, 2, 300).astype(float),
    ...                   "days_followed": rng.integers(1, 900, 300),
    ...                   "reentered": rng.integers(0, 2, 300)})
    >>> d.loc[:40, "x"] = np.nan
    >>> done = impute(d, ["x"], m=3, n_iter=1, seed=1)
    >>> res = fit_imputed("~ x", done, model="logistic", horizon_days=365)
    >>> list(res.params.index), int(res.fit_stats["m"])
    (['Intercept', 'x'], 3)
    """
    fit: Callable[[pd.DataFrame], ModelResult]
    if model == "cox":
        from reunistat.models.survival import cox

        def fit(d: pd.DataFrame) -> ModelResult:
            return cox(formula, d, duration_col, event_col, **model_options)

    elif model == "logistic":
        from reunistat.models.logistic import logistic

        def fit(d: pd.DataFrame) -> ModelResult:
            return logistic(
                formula, d, duration_col=duration_col, event_col=event_col, **model_options
            )

    else:
        raise InputError(f"model must be 'cox' or 'logistic', got {model!r}")
    if len(imputed) == 0:
        raise ModelError("pooling needs at least 2 imputed fits, got 0")
    if full:
        fits = [fit(d) for d in imputed]
    else:
        fits = refit_all(model, formula, imputed, fit, duration_col, event_col, model_options)
    pooled = pool(fits, dfcom)
    pooled.extras["fits"] = fits
    pooled.extras["imputed"] = list(imputed)
    return pooled
