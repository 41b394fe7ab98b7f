"""Day constants and the default horizons, defined once for the whole package.

Every module that turns days into years, or picks a default horizon, takes it
from here (units in the names: days).

Examples
--------
>>> round(730 / DAYS_PER_YEAR, 3)
1.999
"""

from __future__ import annotations

#: Mean days in a year (Julian): days / DAYS_PER_YEAR gives years.
DAYS_PER_YEAR = 365.25
#: Mean days in a month.
DAYS_PER_MONTH = DAYS_PER_YEAR / 12
#: The default fixed horizon of re-entry models (logistic, evaluation designs): one year.
DEFAULT_HORIZON_DAYS = 365
#: Horizons of the published re-entry figures: 3 months, 1, 2, 5 and 6 years.
PUBLISHED_HORIZONS_DAYS = (91, 365, 730, 1826, 2191)
#: Horizons of the weighted pilot comparisons: 6, 12 and 24 months.
WEIGHTING_HORIZONS_DAYS = (182, 365, 730)
#: Horizons of the cohort summary ``reunistat cohort`` prints: 3 months, 1 and 6 years.
SUMMARY_HORIZONS_DAYS = (91, 365, 2191)
#: Times of the at-risk rows under a published curve: yearly to 6 years.
AT_RISK_DAYS = (0, 365, 730, 1096, 1461, 1826, 2191)
