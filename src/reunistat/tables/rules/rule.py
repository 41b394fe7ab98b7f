"""One validation rule: its name, table, columns, message, DfE origin, scope and severity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Rule:
    """One validation rule.

    Attributes
    ----------
    name : str
        DfE's number (``"357"``) for a DfE rule, else a word (``"x1_next"``).
    table : str
        The table a problem is named in (``episodes``, ``header``...).
    columns : tuple of str
        The columns it checks; the first is the one a problem names.
    message : str
        What is wrong, as DfE words it for DfE rules.
    dfe : bool
        Whether this is a DfE rule (checked with DfE's scope).
    scope : str
        Which rows the rule looks at, and any deliberate difference from DfE.
    family : str
        The module that checks it (``codes``, ``dates``, ``sequence``, ``ages``,
        ``returns``, ``linkage``, ``reading``).
    severity : {"error", "warning"}
    """

    name: str
    table: str
    columns: tuple[str, ...]
    message: str
    dfe: bool
    scope: str
    family: str
    severity: Severity = "error"


def new_rule(
    name: str,
    table: str,
    columns: str,
    message: str,
    scope: str,
    family: str,
    severity: Severity = "error",
) -> Rule:
    """Return a rule; a name starting with a digit is a DfE rule's number."""
    return Rule(
        name, table, tuple(columns.split()), message, name[0].isdigit(), scope, family, severity
    )
