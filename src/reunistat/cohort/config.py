"""Options of the cohort derivation, and reading them from a TOML table."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

#: Horizons (days) of the re-entry figures in the summary: 3 months, 1 year, 6 years.
DEFAULT_HORIZONS_DAYS = (91, 365, 2191)


@dataclass(frozen=True)
class CohortConfig:
    """How to derive the spells table from the linked tables.

    Parameters
    ----------
    data_end : date or None
        The last day the data cover (e.g. 31 March of the last collection
        year). ``None`` takes the latest DECOM or DEC in the extract.
    include_e13 : bool
        Whether leaving care to live with relatives or others without parental
        responsibility (E13) counts as a return home (DfE counts it).
    validation : {"strict", "lenient"}
        ``strict`` raises on any validation problem; ``lenient`` excludes the
        affected children and records why.
    la : str or None
        The local authority code to put in ``LA`` when the extract has no LA
        column (a single authority's own return).
    horizons_days : tuple of int
        Horizons of the re-entry figures in the summary.
    ignore_rules : tuple of str
        Validation rules not to apply (see
        :func:`reunistat.tables.validate_tables`), e.g. ``("357",)`` when the
        extract's history starts after some children entered care.
    """

    data_end: dt.date | None = None
    include_e13: bool = True
    validation: Literal["strict", "lenient"] = "strict"
    la: str | None = None
    horizons_days: tuple[int, ...] = DEFAULT_HORIZONS_DAYS
    ignore_rules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.validation not in ("strict", "lenient"):
            raise ValueError(f"validation must be 'strict' or 'lenient', got {self.validation!r}")
        if self.data_end is not None and not isinstance(self.data_end, dt.date):
            object.__setattr__(self, "data_end", pd.Timestamp(self.data_end).date())
        object.__setattr__(self, "horizons_days", tuple(int(h) for h in self.horizons_days))
        object.__setattr__(self, "ignore_rules", tuple(str(r) for r in self.ignore_rules))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CohortConfig:
        """Build a config from a mapping (e.g. a parsed TOML table); unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown cohort option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**dict(values))

    @classmethod
    def from_toml(cls, path: str | Path, table: str = "cohort") -> CohortConfig:
        """Read the ``[cohort]`` table (or ``table``) of a TOML file; absent means defaults."""
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
        section: Any = doc
        for part in table.split("."):
            section = section.get(part, {}) if isinstance(section, dict) else {}
        return cls.from_mapping(section)

    @property
    def data_end_ts(self) -> pd.Timestamp | None:
        """The data end as a Timestamp (or None)."""
        return None if self.data_end is None else pd.Timestamp(self.data_end)
