"""Analysis groups of 903 codes: old and new codes of one meaning share a group.

Code lists change between collection years (SEX 1/2 became M/F/U in 2024-25;
PLACE Z1 became Z11-Z14 in 2025-26); analyses compare years, so each grouping
maps every code any year allowed. :func:`group_codes` normalises values as
DfE's validator does (trimmed, upper-cased) before mapping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import pandas as pd

from reunistat.codes import lists
from reunistat.codes.years import normalise_codes

#: Sex: ``1`` and ``M`` male, ``2`` and ``F`` female, ``U`` unknown.
SEX_GROUP: Final = dict(lists.SEX)

#: Each grouping by name: the 903 column it groups and the code-to-group map.
GROUPINGS: Final[dict[str, tuple[str, Mapping[str, str]]]] = {
    "sex": ("SEX", SEX_GROUP),
    "ethnic_group": ("ETHNIC", lists.ETHNIC_GROUP),
    "placement_group": ("PLACE", lists.PLACE_GROUP),
    "legal_status_group": ("LS", lists.LS_GROUP),
}


def group_codes(values: pd.Series, grouping: str) -> pd.Series:
    """Return the analysis group of each code (missing for blanks and unknown codes).

    Parameters
    ----------
    values : Series
        Codes of the grouping's column, in any case and spacing.
    grouping : str
        A key of :data:`GROUPINGS`: ``sex``, ``ethnic_group``,
        ``placement_group`` or ``legal_status_group``.

    Examples
    --------
    >>> group_codes(pd.Series(["1", "m", "F", "2"]), "sex").tolist()
    ['male', 'male', 'female', 'female']
    >>> group_codes(pd.Series(["Z1", "Z13", "u4", "K2"]), "placement_group").tolist()
    ['other', 'other', 'foster', 'childrens_home']
    """
    if grouping not in GROUPINGS:
        raise KeyError(f"unknown grouping {grouping!r}; known: {list(GROUPINGS)}")
    _, mapping = GROUPINGS[grouping]
    clean, _ = normalise_codes(values.astype(object))
    return clean.map(mapping)
