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
from reunistat.tables.rules import registry

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

#: Validation rules: name and message (the registry :mod:`reunistat.tables.rules` gives
#: each its DfE number, scope, table, columns and severity).
RULES: Final = registry.messages()
