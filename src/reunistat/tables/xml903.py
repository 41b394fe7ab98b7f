"""The SSDA903 return as local authorities submit it to DfE: one XML file.

Each ``CHILD`` element holds a ``HEADER`` (the child's fields, with nested
``AREVIEW``, ``AMISSING``, ``OC2``, ``PERMANENCE``, ``AD_PLACED`` groups and
the UASC, OC3 and AD1 fields) and its ``EPISODE`` elements. They are mapped
to the same tables and columns as DfE's CSV files, as DfE's own validator
(``csc-validator-be-903``, ``lac_validator.ingress``) maps them: ``CHILDID``
is ``CHILD`` and ``PL`` is ``PLACE``; each table's child fields (CHILD, DOB,
SEX) come from the header.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Final

import pandas as pd

from reunistat.codes.lists import RETURN_TABLE_COLUMNS
from reunistat.errors import ReadError

#: Columns of each table, as DfE's CSV files have them.
COLUMNS: Final[dict[str, tuple[str, ...]]] = RETURN_TABLE_COLUMNS
#: Nested groups of the HEADER element and the table each row goes to.
_GROUPS: Final = {
    "AREVIEW": "reviews",
    "AMISSING": "missing",
    "OC2": "oc2",
    "PERMANENCE": "previous_permanence",
    "AD_PLACED": "placed_for_adoption",
}
#: A field that, when filled, puts the child in a one-row-per-child table.
_FLAGS: Final = {"UASC": "uasc", "IN_TOUCH": "oc3", "DATE_INT": "ad1"}
_RENAME: Final = {"CHILDID": "CHILD", "PL": "PLACE"}


def _leaves(elem: ET.Element) -> dict[str, str | None]:
    """Every field under ``elem`` (elements without children), by tag."""
    out: dict[str, str | None] = {}
    for node in elem.iter():
        if len(node) == 0:
            text = node.text.strip() if node.text is not None else None
            out[_RENAME.get(node.tag, node.tag)] = text or None
    return out


def _row(fields: dict[str, str | None], table: str) -> tuple[str | None, ...]:
    return tuple(fields.get(c) for c in COLUMNS[table])


def read_xml(path: Path) -> dict[str, pd.DataFrame]:
    """Read a DfE 903 XML return into its tables (every value as text, blanks as None).

    Raises
    ------
    ReadError
        When the file is not well-formed XML or holds no CHILD element.
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ReadError(f"{path}: not well-formed XML ({err}); export the return again") from err
    rows: dict[str, list[tuple[str | None, ...]]] = {t: [] for t in COLUMNS}
    children = root.findall("CHILD") if root.tag != "CHILD" else [root]
    if not children:
        raise ReadError(f"{path}: no CHILD element; is this an SSDA903 return?")
    for child in children:
        header_el = child.find("HEADER")
        base = _leaves(header_el) if header_el is not None else {}
        rows["header"].append(_row(base, "header"))
        for field, table in _FLAGS.items():
            if base.get(field) is not None:
                rows[table].append(_row(base, table))
        if header_el is not None:
            for group in header_el:
                group_table = _GROUPS.get(group.tag)
                if group_table is not None:
                    rows[group_table].append(_row({**base, **_leaves(group)}, group_table))
        for ep in child.findall("EPISODE"):
            rows["episodes"].append(_row({**base, **_leaves(ep)}, "episodes"))
    return {t: pd.DataFrame(r, columns=list(COLUMNS[t]), dtype=object) for t, r in rows.items()}
