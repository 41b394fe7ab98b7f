"""Cohort derivation: linked tables → periods of care → returns home (spells).

``derive_cohort(tables, config)`` returns the spells table of
:mod:`reunistat.spells`; ``build_cohort`` also returns the flow of exclusions,
the periods of care and the validation record. The modules follow the flow:
:mod:`~reunistat.cohort.extent` (data end and extract start),
:mod:`~reunistat.cohort.prepare` (validation and exclusions),
:mod:`~reunistat.cohort.periods` (episodes → periods of care),
:mod:`~reunistat.cohort.outcomes` (returns home, re-entry, censoring),
:mod:`~reunistat.cohort.covariates`, :mod:`~reunistat.cohort.other_tables`
(uasc, previous_permanence, missing, oc3) and :mod:`~reunistat.cohort.flow`; the
readable summary ``reunistat cohort`` prints is in :mod:`reunistat.report.cohort_summary`
(it uses the survival models, which come after the cohort in the flow).

Decisions and caveats (DOMAIN.md §3 made precise):

- A period of care starts at an episode with RNE = S (or the child's first,
  or one after an E-coded or blank REC) and continues through X1. Periods made
  only of V3/V4 episodes are short breaks: not periods of care, not returns,
  not re-entries, not counted in ``prior_periods``.
- A return home ends a period with E4A or E4B, and E13 unless
  ``include_e13=False``; E13 periods then count as other exits (and still as
  prior periods). ``spell_number`` counts the child's returns home.
- Follow-up ends at the earliest of re-entry (the DECOM of the next period of
  care), a known death or other exit (optional ``exits`` table; exits before
  the return are ignored), the 18th birthday (:func:`reunistat.dates.eighteenth_birthday`)
  and the data end. Ties go to re-entry, then death, other exit, age 18, data
  end. A return on or after the 18th birthday has ``days_followed = 0``
  (``age18``); one on the data end has ``days_followed = 0`` (``data_end``).
- The data end is ``CohortConfig.data_end`` or, if unset, 31 March of the
  latest collection year read (``tables.keys.YEAR_COL`` of the episodes,
  before any exclusion); only without collection years the latest DECOM or
  DEC read, and the flow and provenance say so. A DECOM or DEC after it is
  rule ``after_data_end`` (strict: an error; lenient: the child is excluded).
- A child in care when the data begin (first episode in the data not RNE S,
  or before 1 April of the earliest collection year) is kept; their first
  period starts at the first episode seen. ``history_truncated`` and
  ``period_truncated`` say which covariates are lower bounds; the flow counts
  these children, periods and returns (stage ``note``).
- ``prior_periods`` counts every earlier period of care in the data, however
  it ended (E8, E3, an SGO, custody...); ``prior_returns_home`` only returns.
- Lenient mode that leaves no spell is an error (``DataValidationError``)
  that says how many children each rule excluded.
- Disability is a child-level trait: any CIN census code other than NONE, or
  CIN category N2 on any of the child's episodes (including short breaks).
- ``pilot`` is 1 when the LA's ``PILOT`` is 1 and ``PILOT_START`` is on or
  before the return date (a blank start means no pilot).
- ``idaci_decile`` comes from the HOME_POST of the period's last episode;
  ``fsm`` from the NPD row of the child's UPN; both NA when unlinked.
"""

from reunistat.cohort.config import CohortConfig
from reunistat.cohort.derive import Cohort, build_cohort, derive_cohort, infer_data_end
from reunistat.cohort.flow import check_flow

__all__ = [
    "Cohort",
    "CohortConfig",
    "build_cohort",
    "check_flow",
    "derive_cohort",
    "infer_data_end",
]
