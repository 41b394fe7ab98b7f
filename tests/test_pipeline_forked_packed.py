"""A frame sent with its child identifiers as Arrow text comes back the same frame.

:func:`reunistat.pipeline.forked_cohort.packed` sends a ``CHILD`` column of
text (or None) as one Arrow string array; :func:`unpacked` puts it back in its
place. Columns it cannot carry exactly (bytes, NaN) are sent as they are.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from reunistat.pipeline.forked_cohort import packed, unpacked


def _round_trip(df: pd.DataFrame) -> pd.DataFrame:
    return unpacked(pickle.loads(pickle.dumps(packed(df))))


def test_text_identifiers_come_back_as_the_same_objects_in_their_place():
    df = pd.DataFrame(
        {
            "LA": ["201", "201", None],
            "CHILD": np.array(["C1", None, "Ç2"], dtype=object),
            "n": [1, 2, 3],
        }
    )
    assert not isinstance(packed(df), pd.DataFrame)  # the identifiers went as Arrow
    got = _round_trip(df)
    pd.testing.assert_frame_equal(got, df, check_exact=True)
    assert [type(v) for v in got["CHILD"]] == [str, type(None), str]
    assert list(df.columns) == ["LA", "CHILD", "n"]  # the frame sent is left as it was


@pytest.mark.parametrize(
    "child",
    [[b"C1", b"C2"], ["C1", np.nan], [1, 2]],
    ids=["bytes", "nan", "numbers"],
)
def test_identifiers_arrow_cannot_carry_exactly_are_sent_as_they_are(child):
    df = pd.DataFrame({"CHILD": np.array(child, dtype=object), "n": [1, 2]})
    assert packed(df) is df
    got = _round_trip(df)
    pd.testing.assert_frame_equal(got, df, check_exact=True)
    assert [type(v) for v in got["CHILD"]] == [type(v) for v in df["CHILD"]]


def test_a_frame_without_identifiers_is_sent_as_it_is():
    df = pd.DataFrame({"LA": ["201"], "n": [1]})
    assert packed(df) is df and unpacked(df) is df
