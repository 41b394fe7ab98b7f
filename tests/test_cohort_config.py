"""CohortConfig: defaults, TOML, checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from reunistat.cohort import CohortConfig


def test_from_toml(tmp_path: Path):
    p = tmp_path / "c.toml"
    p.write_text(
        "[cohort]\ndata_end = 2024-03-31\ninclude_e13 = false\nvalidation = 'lenient'\n"
        "horizons_days = [91, 365]\n"
    )
    c = CohortConfig.from_toml(p)
    assert c == CohortConfig(
        data_end=dt.date(2024, 3, 31),
        include_e13=False,
        validation="lenient",
        horizons_days=(91, 365),
    )
    assert CohortConfig.from_toml(p, table="absent") == CohortConfig()


def test_checks():
    with pytest.raises(ValueError, match="unknown cohort option"):
        CohortConfig.from_mapping({"data_ends": "2020-01-01"})
    with pytest.raises(ValueError, match="validation"):
        CohortConfig(validation="loose")  # type: ignore[arg-type]
    assert CohortConfig(data_end="2020-03-31").data_end == dt.date(2020, 3, 31)  # type: ignore[arg-type]
