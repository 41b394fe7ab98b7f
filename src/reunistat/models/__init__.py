"""Models of re-entry to care: survival, logistic, pilot evaluation.

One vocabulary runs through every model function (a test walks them all):

* **data and formula**: ``model(formula, data, ...)`` with the formula's right
  side only (``"~ age_band + section20"``); the outcome is named by keyword.
* **time and event**: ``duration_col`` (days followed), ``event_col`` (0/1, or
  codes for competing risks), ``entry_col`` (interval start); the logistic
  models derive re-entry within ``horizon_days`` from the same two columns
  (:func:`reunistat.models.logistic.horizon_outcome`, the one fixed-horizon
  rule) or take an existing 0/1 ``outcome_col``.
* **variance**: ``weights``, ``strata``, ``cluster`` (one column, or a tuple for
  two-way or nested clustering) and ``vcov`` in pyfixest's names: ``"model"``,
  ``"HC0"``, ``"HC1"``, ``"CR0"``, ``"CR1"``, ``"CR3"`` (and ``"fine-gray"``);
  see :mod:`reunistat.models._options` for their exact definitions.
* **results**: a frozen :class:`reunistat.results.ModelResult`; ``tidy(
  exponentiate=, conf_level=)`` has the columns ``term, estimate, std_error,
  statistic, p_value, conf_low, conf_high``; ``glance()`` has ``n_obs,
  n_events, vcov_type``, ``n_dropped_missing`` and the horizon counts.
* **curves**: ``n_risk, n_events, n_censored, surv, cumulative_incidence,
  std_error, conf_low, conf_high`` (``_<cause>`` per cause), horizons in
  ``horizon_days`` (:data:`reunistat.results.CURVE_COLUMNS`).
* **errors**: every error a user can cause is a
  :class:`reunistat.errors.ReunistatError` (input, separation, convergence,
  evaluation errors).

Older spellings (``robust=``, ``variance=``, ``cov_type=``, ``group=``,
``la_col=``, ``id_col=``, ``horizons=``, a formula's left side) keep working
for one release with a :class:`DeprecationWarning` naming the new one.
"""
