"""The spells table: one row per return home. The contract between stages.

:func:`reunistat.cohort.derive_cohort` produces it; every model takes it (or
any DataFrame with a duration and an event column). DOMAIN.md §3 defines each
quantity. Units are in the names.

========================  ======================================================
column                    meaning
========================  ======================================================
LA                        local authority code (string)
CHILD                     the child's pseudonymous 903 identifier (never output)
spell_number              1 for the child's first return home, 2 for the next...
period_start              DECOM of the period of care that ended in the return
return_date               DEC of that period: time zero
return_rec                REC of the return: E4A, E4B or E13
reentry_date              DECOM of the next period of care (NaT if none)
reentered                 1 if re-entry was observed, else 0
days_followed             days from return_date to re-entry or censoring (>= 0)
censor_date               return_date + days_followed
days_potential_followup   days from return_date to the earlier of the 18th birthday
                          and the data end, whatever happened: condition fixed-
                          horizon outcomes on this, not on days_followed
censor_reason             reentry, data_end, age18, death, other_exit
event_type                0 censored, 1 re-entry, 2 competing exit (reached 18 /
                          other permanent exit): for cumulative incidence
age_at_return_years       exact age in years at return_date
age_band                  DfE band: under 1, 1-4, 5-9, 10-15, 16+
sex                       male / female
ethnic_code               the 903 ETHNIC code
ethnic_group              White, Mixed, Asian, Black, Other, Unknown
disability                1 if the child has a CIN disability (or CIN N2)
section20                 1 if LS on the last episode is V2
legal_status_group        care_order, section20, placement_order, emergency, ...
prior_periods             periods of care before the one just ended (in the data;
                          every kind of end: a child re-entering after E8, E3,
                          an SGO or custody counts them)
prior_returns_home        returns home before this one (spell_number - 1)
placement_moves           placement-changing episodes in the period (RNE P, T, B,
                          U): for a period starting with S, placements minus one
last_placement_type       foster, childrens_home, secure, with_parents, ...
period_length_days        DEC - DECOM of the period just ended
history_truncated         1 if the child was in care when the data begin (first
                          episode in the data has RNE other than S or starts
                          before the extract start): prior_periods and
                          prior_returns_home are lower bounds
period_truncated          1 if the period just ended began before the data (its
                          first episode in the data is not RNE S): period_start,
                          period_length_days and placement_moves are lower bounds
category_of_need          CIN code N1-N8 of the last episode
return_type               planned (E4A), unplanned (E4B), e13 (E13)
return_year               financial year of return (April start), e.g. 2019
idaci_decile              1 (most deprived) to 10, from the home postcode
fsm                       free-school-meal eligibility from NPD (1/0, NA)
pilot                     1 if the LA ran the reunification pilot on return_date
uasc                      1 if an unaccompanied asylum-seeking child (903 UASC
                          table or header UASC), 0 if not, NA without UASC data
previous_permanence       order before care known at the return (903 PREV_PERM):
                          adoption, sgo, cao (residence / child arrangements),
                          unknown, none; NA without a previous_permanence row
missing_episodes          missing-from-placement episodes (MISSING = M) starting
                          in the period just ended; NA without a missing table
away_episodes             away-without-authorisation episodes (MISSING = A)
                          starting in the period just ended; NA likewise
========================  ======================================================

Left truncation: an extract begins at a collection year, and children already
in care then have a history the data do not show. They are kept; the two flags
say which covariates are incomplete, and the cohort flow counts them. For every
child, periods of care that ended before the extract start are not seen.
"""

from __future__ import annotations

from typing import Final

SPELL_COLUMNS: Final = (
    "LA",
    "CHILD",
    "spell_number",
    "period_start",
    "return_date",
    "return_rec",
    "reentry_date",
    "reentered",
    "days_followed",
    "censor_date",
    "days_potential_followup",
    "censor_reason",
    "event_type",
    "age_at_return_years",
    "age_band",
    "sex",
    "ethnic_code",
    "ethnic_group",
    "disability",
    "section20",
    "legal_status_group",
    "prior_periods",
    "prior_returns_home",
    "placement_moves",
    "last_placement_type",
    "period_length_days",
    "history_truncated",
    "period_truncated",
    "category_of_need",
    "return_type",
    "return_year",
    "idaci_decile",
    "fsm",
    "pilot",
    "uasc",
    "previous_permanence",
    "missing_episodes",
    "away_episodes",
)

CENSOR_REASONS: Final = ("reentry", "data_end", "age18", "death", "other_exit")
#: event_type codes for competing-risks analyses.
EVENT_CENSORED: Final = 0
EVENT_REENTRY: Final = 1
EVENT_COMPETING: Final = 2
