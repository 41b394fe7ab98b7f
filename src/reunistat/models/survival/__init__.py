"""Survival models of re-entry to care: Kaplan-Meier, cumulative incidence, Cox, Fine-Gray.

Every model takes a DataFrame with column names (a spells table, see
:mod:`reunistat.spells`) and returns a frozen :class:`reunistat.results.ModelResult`
or a tidy DataFrame.
"""

from reunistat.models.survival.cox import (
    baseline_hazard,
    cox,
    cox_arrays,
    cox_arrays_like,
    predict_cumulative_incidence,
)
from reunistat.models.survival.finegray import cause_specific_cox, fine_gray
from reunistat.models.survival.km import (
    KMSteps,
    aalen_johansen,
    horizon_table,
    kaplan_meier,
    km_steps,
)
from reunistat.models.survival.logrank import log_rank
from reunistat.models.survival.recurrent import andersen_gill, pwp, recurrent_episodes
from reunistat.models.survival.residuals import residuals
from reunistat.models.survival.smallsample import cox_small_sample
from reunistat.models.survival.zph import cox_zph, split_episodes

__all__ = [
    "KMSteps",
    "aalen_johansen",
    "andersen_gill",
    "baseline_hazard",
    "cause_specific_cox",
    "cox",
    "cox_arrays",
    "cox_arrays_like",
    "cox_small_sample",
    "cox_zph",
    "fine_gray",
    "horizon_table",
    "kaplan_meier",
    "km_steps",
    "log_rank",
    "predict_cumulative_incidence",
    "pwp",
    "recurrent_episodes",
    "residuals",
    "split_episodes",
]
