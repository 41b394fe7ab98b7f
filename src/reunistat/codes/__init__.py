"""SSDA903 and Children in Need code lists, by collection year, and their groupings.

The one place these codes live: the generator, the validators and the cohort
derivation all import them from here.

- :mod:`~reunistat.codes.lists`: every code any collection year allowed, with
  its label (``SEX``, ``RNE``, ``LS``, ``CIN``, ``PLACE``, ``PLACE_PROVIDER``,
  ``REC``, ``REASON_PLACE_CHANGE``, ``ETHNIC``, ``DISABILITY``) and the sets the
  cohort uses (``REC_RETURN_HOME``...).
- :mod:`~reunistat.codes.years`: which codes each collection year allows
  (:func:`valid_codes`), as DfE's validator checks them, and
  :func:`normalise_codes` (trim and upper-case, as the validator reads values).
- :mod:`~reunistat.codes.groups`: analysis groups that map old and new codes
  alike (:func:`group_codes`).
"""

from reunistat.codes.groups import GROUPINGS, SEX_GROUP, group_codes
from reunistat.codes.lists import (
    AGE_BANDS,
    CIN,
    DISABILITY,
    EPISODE_COLUMNS,
    ETHNIC,
    ETHNIC_GROUP,
    ETHNIC_GROUPS,
    HEADER_COLUMNS,
    LA_COLUMN,
    LS,
    LS_GROUP,
    PLACE,
    PLACE_GROUP,
    PLACE_PROVIDER,
    PLACE_WITH_URN,
    REASON_PLACE_CHANGE,
    REC,
    REC_ADOPTION,
    REC_AGE_OUT,
    REC_CONTINUE,
    REC_DIED,
    REC_END,
    REC_RETURN_HOME,
    REC_RETURN_WITH_PR,
    REC_SGO,
    RNE,
    RNE_CONTINUATION,
    RNE_LEGAL_CHANGE,
    RNE_PLACEMENT_CHANGE,
    SECTION20_LS,
    SEX,
    SHORT_BREAK_LS,
    age_band,
)
from reunistat.codes.years import (
    CODE_SETS,
    FIRST_RULESET_YEAR,
    LATEST_RULESET_YEAR,
    CodeSet,
    category_values,
    category_values_at,
    code_columns,
    distinct_categorical,
    invalid_codes,
    normalise_codes,
    normalise_to_categories,
    valid_codes,
)

__all__ = [
    "AGE_BANDS",
    "CIN",
    "CODE_SETS",
    "DISABILITY",
    "EPISODE_COLUMNS",
    "ETHNIC",
    "ETHNIC_GROUP",
    "ETHNIC_GROUPS",
    "FIRST_RULESET_YEAR",
    "GROUPINGS",
    "HEADER_COLUMNS",
    "LATEST_RULESET_YEAR",
    "LA_COLUMN",
    "LS",
    "LS_GROUP",
    "PLACE",
    "PLACE_GROUP",
    "PLACE_PROVIDER",
    "PLACE_WITH_URN",
    "REASON_PLACE_CHANGE",
    "REC",
    "REC_ADOPTION",
    "REC_AGE_OUT",
    "REC_CONTINUE",
    "REC_DIED",
    "REC_END",
    "REC_RETURN_HOME",
    "REC_RETURN_WITH_PR",
    "REC_SGO",
    "RNE",
    "RNE_CONTINUATION",
    "RNE_LEGAL_CHANGE",
    "RNE_PLACEMENT_CHANGE",
    "SECTION20_LS",
    "SEX",
    "SEX_GROUP",
    "SHORT_BREAK_LS",
    "CodeSet",
    "age_band",
    "category_values",
    "category_values_at",
    "code_columns",
    "distinct_categorical",
    "group_codes",
    "invalid_codes",
    "normalise_codes",
    "normalise_to_categories",
    "valid_codes",
]
