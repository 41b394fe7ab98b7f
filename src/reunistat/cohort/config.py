"""Options of the cohort derivation, and reading them from a TOML table."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from reunistat.errors import ConfigError

#: Horizons (days) of the re-entry figures in the summary: 3 months, 1 year, 6 years.
DEFAULT_HORIZONS_DAYS = (91, 365, 2191)


@dataclass(frozen=True)
class CohortConfig:
    """How to derive the spells table from the linked tables.

    Parameters
    ----------
    data_end : date or None
        The last day the data cover. ``None`` takes 31 March of the latest
        collection year read, or, when no collection year is known, the latest
        DECOM or DEC in the episodes read (see :mod:`reunistat.cohort.extent`).
        A DECOM or DEC after it is a problem (rule ``after_data_end``).
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
    extract_start : date or None
        The first day the data cover. ``None`` takes 1 April of the earliest
        collection year read (unknown when no year is known). A child whose
        first episode starts before it, or has RNE other than S, was in care
        when the data begin: their history is truncated (``history_truncated``).
    uasc : {"keep", "exclude"}
        Whether to keep unaccompanied asylum-seeking children (the 903 UASC
        table, or a UASC column of the header) or exclude them with all their
        rows (counted in the flow, reason ``uasc``).
    """

    data_end: dt.date | None = None
    include_e13: bool = True
    validation: Literal["strict", "lenient"] = "strict"
    la: str | None = None
    horizons_days: tuple[int, ...] = DEFAULT_HORIZONS_DAYS
    ignore_rules: tuple[str, ...] = ()
    extract_start: dt.date | None = None
    uasc: Literal["keep", "exclude"] = "keep"

    def __post_init__(self) -> None:
        if self.validation not in ("strict", "lenient"):
            raise ConfigError(
                f"[cohort] validation must be 'strict' or 'lenient', got {self.validation!r}"
            )
        if self.uasc not in ("keep", "exclude"):
            raise ConfigError(f"[cohort] uasc must be 'keep' or 'exclude', got {self.uasc!r}")
        for name in ("data_end", "extract_start"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dt.date):
                try:
                    object.__setattr__(self, name, pd.Timestamp(value).date())
                except (ValueError, TypeError) as err:
                    raise ConfigError(
                        f"[cohort] {name} must be a date (YYYY-MM-DD), got {value!r}"
                    ) from err
        object.__setattr__(self, "horizons_days", tuple(int(h) for h in self.horizons_days))
        object.__setattr__(self, "ignore_rules", tuple(str(r) for r in self.ignore_rules))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> CohortConfig:
        """Build a config from a mapping (e.g. a parsed TOML table); unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown cohort option(s) {sorted(unknown)}; known: {sorted(known)}")
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
