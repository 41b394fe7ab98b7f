"""Logistic models of re-entry to care within a fixed horizon of a return home.

Outcome (:func:`horizon_outcome`): re-entry within H days (365 by default);
spells censored before H without re-entry are excluded and counted.
Models: :func:`logistic` (odds ratios; model-based, HC or cluster-robust
variance by local authority or child), :func:`gee` (exchangeable correlation
within local authority), :func:`multilevel` (random intercept by local
authority: between-authority variance and median odds ratio). Interpretation:
:func:`predict_profiles`, :func:`average_marginal_effects`,
:func:`observed_vs_predicted`. Prediction checks: :func:`prediction_checks`.
The engine's pieces, for code that fits many logistic models on one design
(bootstraps): :func:`irls`,
:func:`xtwx` (``X' diag(w) X`` in cache-sized blocks), :func:`sandwich` and
:func:`cluster_codes` (robust and cluster-robust variances) and
:func:`check_columns` (the checks of a design before a fit).

These models describe populations of children returning home: how the chance
of re-entry differs between groups and authorities. They are not tools for
decisions about an individual child, and must not be used to score one.

Each name is imported from its module when first read (:mod:`reunistat._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reunistat._lazy import lazy_package

if TYPE_CHECKING:
    from reunistat.models.logistic._errors import LogisticInputError, SeparationError
    from reunistat.models.logistic.design import check_columns
    from reunistat.models.logistic.fit import IrlsFit, gee, irls, logistic
    from reunistat.models.logistic.linalg import xtwx
    from reunistat.models.logistic.margins import (
        average_marginal_effects,
        observed_vs_predicted,
        predict_profiles,
    )
    from reunistat.models.logistic.multilevel import multilevel
    from reunistat.models.logistic.outcome import HorizonOutcome, horizon_outcome, outcome_name
    from reunistat.models.logistic.prediction import (
        PredictionCheck,
        calibration_intercept_slope,
        prediction_checks,
    )
    from reunistat.models.logistic.vcov import cluster_codes, sandwich

__all__ = [
    "HorizonOutcome",
    "IrlsFit",
    "LogisticInputError",
    "PredictionCheck",
    "SeparationError",
    "average_marginal_effects",
    "calibration_intercept_slope",
    "check_columns",
    "cluster_codes",
    "gee",
    "horizon_outcome",
    "irls",
    "logistic",
    "multilevel",
    "observed_vs_predicted",
    "outcome_name",
    "predict_profiles",
    "prediction_checks",
    "sandwich",
    "xtwx",
]

lazy_package(
    __name__,
    {
        "HorizonOutcome": "outcome",
        "IrlsFit": "fit",
        "LogisticInputError": "_errors",
        "PredictionCheck": "prediction",
        "SeparationError": "_errors",
        "average_marginal_effects": "margins",
        "calibration_intercept_slope": "prediction",
        "check_columns": "design",
        "cluster_codes": "vcov",
        "gee": "fit",
        "horizon_outcome": "outcome",
        "irls": "fit",
        "logistic": "fit",
        "multilevel": "multilevel",
        "observed_vs_predicted": "margins",
        "outcome_name": "outcome",
        "predict_profiles": "margins",
        "prediction_checks": "prediction",
        "sandwich": "vcov",
        "xtwx": "linalg",
    },
)
