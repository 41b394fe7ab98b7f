"""Comparing local authorities fairly: indirect standardisation, funnel plots, shrinkage.

* :func:`indirect_standardisation`: observed and expected re-entries per
  authority from a national Cox or logistic model without the authority term,
  and ``O / E`` with exact Poisson intervals;
* :func:`funnel_table` / :func:`funnel_curve`: Spiegelhalter's (2005) funnel
  limits at 95% and 99.8% for ratios and proportions, exact or adjusted for
  over-dispersion (multiplicative ``phi`` or additive ``tau^2`` from
  winsorised z-scores, as NHS indicators do);
* :func:`shrunken_effects`: each authority's shrunken odds ratio from the
  random-intercept logistic model, with intervals (caterpillar plot).

These compare authorities as populations; they are not for decisions about an
individual child. Disclosure control of authority-level counts happens in
reporting (:mod:`reunistat.report.comparison_figures` and the analysis
script), not here.
"""

from reunistat.models.comparison.expected import (
    Method,
    Standardised,
    cox_expected,
    indirect_standardisation,
)
from reunistat.models.comparison.funnel import (
    ADJUSTMENTS,
    LEVELS,
    Adjustment,
    Kind,
    Overdispersion,
    exact_limits,
    exact_poisson_ratio_ci,
    funnel_curve,
    funnel_table,
    level_tag,
    limits,
    overdispersion,
    z_scores,
)
from reunistat.models.comparison.shrinkage import Shrunken, conditional_sd, shrunken_effects

__all__ = [
    "ADJUSTMENTS",
    "LEVELS",
    "Adjustment",
    "Kind",
    "Method",
    "Overdispersion",
    "Shrunken",
    "Standardised",
    "conditional_sd",
    "cox_expected",
    "exact_limits",
    "exact_poisson_ratio_ci",
    "funnel_curve",
    "funnel_table",
    "indirect_standardisation",
    "level_tag",
    "limits",
    "overdispersion",
    "shrunken_effects",
    "z_scores",
]
