"""Column declarations of the linked tables, declared once.

Each table lists its columns with a kind (``id``, ``code``, ``date``, ``text``,
``int``), whether a value is required, and for codes the allowed values (taken
from :mod:`reunistat.codes`, never re-typed). :mod:`reunistat.tables.io` uses
the kinds to parse CSV files; :mod:`reunistat.tables.validate` uses the whole
declaration to check a table with vectorised pandas operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from reunistat import codes

Kind = Literal["id", "code", "date", "text", "int"]


@dataclass(frozen=True)
class Column:
    """One declared column.

    Parameters
    ----------
    name : str
        The column name as the 903 (or linked table) spells it.
    kind : {"id", "code", "date", "text", "int"}
        How it is parsed and checked.
    required : bool
        Whether a missing value is an error.
    allowed : frozenset of str or None
        For codes: the allowed values (a null is allowed unless ``required``).
    """

    name: str
    kind: Kind
    required: bool = False
    allowed: frozenset[str] | None = None


def _codes(mapping: Mapping[str, str]) -> frozenset[str]:
    return frozenset(mapping)


HEADER: Final = (
    Column("LA", "id"),
    Column("CHILD", "id", required=True),
    Column("SEX", "code", required=True, allowed=_codes(codes.SEX)),
    Column("DOB", "date", required=True),
    Column("ETHNIC", "code", required=True, allowed=_codes(codes.ETHNIC)),
    Column("UPN", "id"),
    Column("MOTHER", "code"),
    Column("MC_DOB", "date"),
)

EPISODES: Final = (
    Column("LA", "id"),
    Column("CHILD", "id", required=True),
    Column("DECOM", "date", required=True),
    Column("RNE", "code", required=True, allowed=_codes(codes.RNE)),
    Column("LS", "code", required=True, allowed=_codes(codes.LS)),
    Column("CIN", "code", required=True, allowed=_codes(codes.CIN)),
    Column("PLACE", "code", required=True, allowed=_codes(codes.PLACE)),
    Column("PLACE_PROVIDER", "code", allowed=_codes(codes.PLACE_PROVIDER)),
    Column("DEC", "date"),
    Column("REC", "code", allowed=_codes(codes.REC)),
    Column("REASON_PLACE_CHANGE", "code", allowed=_codes(codes.REASON_PLACE_CHANGE)),
    Column("HOME_POST", "text"),
    Column("PL_POST", "text"),
    Column("URN", "text"),
)

CIN_TABLE: Final = (
    Column("LA", "id"),
    Column("LAchildID", "id", required=True),
    Column("UPN", "id"),
    Column("DISABILITY", "code", required=True, allowed=_codes(codes.DISABILITY)),
)

NPD: Final = (
    Column("UPN", "id", required=True),
    Column("FSM_EVER", "int"),
    Column("IDACI_DECILE", "int"),
    Column("SEN", "code"),
)

POSTCODES: Final = (
    Column("HOME_POST", "text", required=True),
    Column("IDACI_DECILE", "int", required=True),
)

LA_TABLE: Final = (
    Column("LA", "id", required=True),
    Column("LA_NAME", "text"),
    Column("REGION", "text"),
    Column("PILOT", "int"),
    Column("PILOT_START", "date"),
)

#: Optional: known deaths or other permanent exits after a return home.
EXITS: Final = (
    Column("LA", "id"),
    Column("CHILD", "id", required=True),
    Column("EXIT_DATE", "date", required=True),
    Column("EXIT_REASON", "code", required=True, allowed=frozenset({"death", "other_exit"})),
)

#: Every table reunistat reads, by name. ``header`` and ``episodes`` are required.
TABLES: Final[dict[str, tuple[Column, ...]]] = {
    "header": HEADER,
    "episodes": EPISODES,
    "cin": CIN_TABLE,
    "npd": NPD,
    "postcodes": POSTCODES,
    "la": LA_TABLE,
    "exits": EXITS,
}
REQUIRED_TABLES: Final = ("header", "episodes")
#: Columns a table must have (the rest may be absent and are then treated as blank).
MUST_HAVE: Final[dict[str, tuple[str, ...]]] = {
    "header": ("CHILD", "SEX", "DOB", "ETHNIC"),
    "episodes": ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "DEC", "REC"),
    "cin": ("LAchildID", "DISABILITY"),
    "npd": ("UPN",),
    "postcodes": ("HOME_POST", "IDACI_DECILE"),
    "la": ("LA",),
    "exits": ("CHILD", "EXIT_DATE", "EXIT_REASON"),
}


def columns_of(table: str, kind: Kind) -> list[str]:
    """Return the declared columns of ``table`` with the given kind."""
    return [c.name for c in TABLES[table] if c.kind == kind]


#: Columns of a problems report: one row per problem found.
PROBLEM_COLUMNS: Final = ("table", "column", "LA", "CHILD", "DECOM", "rule", "value", "detail")

#: Validation rules: identifier and what it checks.
RULES: Final = {
    "missing_column": "a column the table must have is absent",
    "bad_date": "a date is not a valid dd/mm/YYYY date",
    "required": "a required value is blank",
    "code": "a value is not in the allowed code list (DOMAIN.md §2)",
    "date_range": "a date is before 1 January 1900 or after the data end",
    "duplicate": "the same key appears twice with different values in one return",
    "dob_after_decom": "the child's date of birth is after an episode's start (DECOM)",
    "dec_before_decom": "the episode ends before it starts",
    "dec_rec_pair": "DEC and REC must both be blank (open) or both be filled",
    "overlap": "the episode ends after the child's next episode starts",
    "open_not_last": "an open episode (blank DEC) is followed by another episode of the child",
    "357": "the child's first episode must have RNE = S",
    "431": "RNE = S but the previous episode ended on the same day",
    "432": "the previous episode ended with an E code but RNE is not S",
    "433": "RNE is a continuation but DECOM is not the previous episode's DEC",
    "x1_next": "the episode ended X1 but no episode starts that day as a continuation",
    "p1_v2": "a child placed with parents (P1) cannot be under section 20 (V2)",
    "start_after_18": "the episode starts on or after the child's 18th birthday",
    "no_header": "the episode's CHILD is not in the header table",
    "no_episodes": "the header's CHILD has no episode",
}
