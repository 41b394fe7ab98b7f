"""The difference-in-differences designs' fixed-effect labels: the same categories as before."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.evaluation.did import _text_categorical


@pytest.mark.parametrize(
    "values",
    [
        [2017, 2016, 2017, 10, 9],  # whole numbers: ordered as text ("10" < "9")
        ["E09000002", "E06000001", "E09000002", "b", "B", "é"],
        ["a", None, "b"],  # missing: as text "None"
        [1.5, 2.0, np.nan],  # floats: as before
        [1, "1", 2],  # two values with one text: as before
        np.array([3, 1, 2], dtype=np.uint8),
    ],
)
def test_text_categorical_equals_astype_str(values: list) -> None:
    col = pd.Series(values)
    ref = pd.Categorical(col.astype(str))
    got = _text_categorical(col)
    assert got.categories.equals(ref.categories)
    assert got.categories.dtype == ref.categories.dtype
    assert got.codes.tolist() == ref.codes.tolist()
    assert got.dtype == ref.dtype
