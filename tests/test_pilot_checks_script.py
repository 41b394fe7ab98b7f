"""Pieces of analyses/13_pilot_checks.py that take a shortcut: the same result as the long way."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.survival.recurrent import sort_codes

SCRIPT = Path(__file__).parents[1] / "analyses" / "13_pilot_checks.py"


def _script() -> dict[str, Any]:
    return runpy.run_path(str(SCRIPT), run_name="test")


CHILD_CODES = _script()["_child_codes"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet="AB9a_\u00e9", min_size=0, max_size=4), min_size=0, max_size=40),
    st.booleans(),
)
def test_child_codes_are_sort_codes(ids: list[str], ordered: bool) -> None:
    """Sorted identifiers (as recurrent_episodes returns them) or not: sort_codes' codes."""
    values = sorted(ids) if ordered else ids
    child = pd.Series(values, dtype=object)
    got = CHILD_CODES(child)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, sort_codes(child))


def test_child_codes_with_a_missing_identifier_or_numbers() -> None:
    for child in (
        pd.Series(["a", "a", None, "b"], dtype=object),
        pd.Series([3, 1, 1, 2]),
        pd.Series([1, 1, 2, 3], dtype=object),
        pd.Series(["b", "a", "a"], dtype=object),
    ):
        np.testing.assert_array_equal(CHILD_CODES(child), sort_codes(child))
