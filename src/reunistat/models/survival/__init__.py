"""Survival models of re-entry to care: Kaplan-Meier, cumulative incidence, Cox, Fine-Gray.

Every model takes a DataFrame with column names (a spells table, see
:mod:`reunistat.spells`) and returns a frozen :class:`reunistat.results.ModelResult`
or a tidy DataFrame.
"""

from reunistat.models.survival.cox import (
    baseline_hazard,
    cox,
    predict_cumulative_incidence,
)

__all__ = ["baseline_hazard", "cox", "predict_cumulative_incidence"]
