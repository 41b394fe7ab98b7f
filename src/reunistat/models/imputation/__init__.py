"""Multiple imputation of missing covariates, pooled by Rubin's rules.

* :func:`impute`: ``m`` completed datasets by chained equations, with the event
  indicator and the Nelson-Aalen cumulative hazard in the imputation model
  (White and Royston 2009), independent seeded chains (parallel with ``n_jobs``);
* :func:`pool`: Rubin's rules with Barnard-Rubin degrees of freedom, as R's
  ``mice::pool``;
* :func:`mi_fit`: both around a Cox or logistic model; :func:`fit_imputed` another
  model fitted to the same imputations.

Missing ethnicity, disability and deprivation are common in real extracts;
dropping those spells (or an "unknown" category) biases the estimates unless
the values are missing completely at random.
"""

from __future__ import annotations

from reunistat.models.imputation.chained import choose_method, impute, nelson_aalen
from reunistat.models.imputation.fit import fit_imputed, mi_fit
from reunistat.models.imputation.pooling import barnard_rubin, pool, pool_table

__all__ = [
    "barnard_rubin",
    "choose_method",
    "fit_imputed",
    "impute",
    "mi_fit",
    "nelson_aalen",
    "pool",
    "pool_table",
]
