"""Cohort derivation: linked tables → periods of care → returns home (spells).

``derive_cohort(tables, config)`` returns the spells table of
:mod:`reunistat.spells`; ``build_cohort`` also returns the flow of exclusions,
the periods of care and the validation record.
"""

from reunistat.cohort.config import CohortConfig
from reunistat.cohort.derive import Cohort, build_cohort, derive_cohort, infer_data_end
from reunistat.cohort.flow import check_flow
from reunistat.cohort.summary import reentry_summary, summary_text

__all__ = [
    "Cohort",
    "CohortConfig",
    "build_cohort",
    "check_flow",
    "derive_cohort",
    "infer_data_end",
    "reentry_summary",
    "summary_text",
]
