"""Evaluating practice pilots: comparison designs, difference-in-differences, weighting, power.

Every estimate is a :class:`reunistat.results.ModelResult`:

* :func:`pilot_vs_comparison`: pilot versus comparison authorities after
  adoption, adjusted Cox or logistic model, errors clustered by LA;
* :func:`did`, :func:`event_study`, :func:`before_after`: difference-in-
  differences on re-entry within a horizon, its event-study view with a
  pre-trend test, and the naive before/after comparison it corrects;
* :func:`propensity_weighting`: propensity scores, inverse-probability and
  overlap weights, balance, weighted re-entry curves and risk differences;
* :func:`simulate_power`, :func:`schoenfeld_power`: power by simulation and
  its closed-form approximation.

Heavy engines (joblib, tqdm, the Cox and logistic fits) are imported on first use.

Each name is imported from its module when first read (:mod:`reunistat._lazy`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reunistat._lazy import lazy_package

if TYPE_CHECKING:
    from reunistat.models.evaluation._common import (
        DEFAULT_ADJUST,
        EvaluationError,
        adoption_dates,
        horizon_sample,
        mark_adoption,
        potential_followup_days,
    )
    from reunistat.models.evaluation.designs import comparison_sample, pilot_vs_comparison
    from reunistat.models.evaluation.did import before_after, did, event_study
    from reunistat.models.evaluation.power import (
        NATIONAL_CURVE,
        PowerDesign,
        expected_events,
        freedman_power,
        hazard_ratio_from_risk_difference,
        power_curve,
        sample_size,
        schoenfeld_events,
        schoenfeld_power,
        simulate_power,
    )
    from reunistat.models.evaluation.weighting import (
        WeightingResult,
        balance_table,
        balancing_weights,
        propensity_weighting,
    )

__all__ = [
    "DEFAULT_ADJUST",
    "NATIONAL_CURVE",
    "EvaluationError",
    "PowerDesign",
    "WeightingResult",
    "adoption_dates",
    "balance_table",
    "balancing_weights",
    "before_after",
    "comparison_sample",
    "did",
    "event_study",
    "expected_events",
    "freedman_power",
    "hazard_ratio_from_risk_difference",
    "horizon_sample",
    "mark_adoption",
    "pilot_vs_comparison",
    "potential_followup_days",
    "power_curve",
    "propensity_weighting",
    "sample_size",
    "schoenfeld_events",
    "schoenfeld_power",
    "simulate_power",
]

lazy_package(
    __name__,
    {
        "DEFAULT_ADJUST": "_common",
        "EvaluationError": "_common",
        "NATIONAL_CURVE": "power",
        "PowerDesign": "power",
        "WeightingResult": "weighting",
        "adoption_dates": "_common",
        "balance_table": "weighting",
        "balancing_weights": "weighting",
        "before_after": "did",
        "comparison_sample": "designs",
        "did": "did",
        "event_study": "did",
        "expected_events": "power",
        "freedman_power": "power",
        "hazard_ratio_from_risk_difference": "power",
        "horizon_sample": "_common",
        "mark_adoption": "_common",
        "pilot_vs_comparison": "designs",
        "potential_followup_days": "_common",
        "power_curve": "power",
        "propensity_weighting": "weighting",
        "sample_size": "power",
        "schoenfeld_events": "power",
        "schoenfeld_power": "power",
        "simulate_power": "power",
    },
)
