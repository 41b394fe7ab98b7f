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

Heavy modules are imported on first use, so importing this package is cheap.
"""

from __future__ import annotations

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

__all__ = [
    "DEFAULT_ADJUST",
    "EvaluationError",
    "adoption_dates",
    "before_after",
    "comparison_sample",
    "did",
    "event_study",
    "horizon_sample",
    "mark_adoption",
    "pilot_vs_comparison",
    "potential_followup_days",
]
