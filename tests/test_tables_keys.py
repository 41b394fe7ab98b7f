"""The integer child key ``_cid``: the same numbering as the text key, made without text."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.tables.keys import (
    CID,
    child_codes,
    child_uid,
    sort_by_child,
    uid_by_child,
    with_child_keys,
)

_LA = st.sampled_from(["201", "202", "  ", "x"])
_CHILD = st.one_of(
    st.sampled_from(["1", "01", "2", "A 1", "None", "nan"]), st.none(), st.integers(0, 3)
)


def _frame(rows: list[tuple[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(
        {"LA": [r[0] for r in rows], "CHILD": pd.Series([r[1] for r in rows], dtype=object)}
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_LA, _CHILD), max_size=12),
    st.lists(st.tuples(_LA, _CHILD), max_size=12),
    st.booleans(),
)
def test_child_codes_number_children_as_factorising_the_text_key(
    h_rows: list[tuple[str, object]], e_rows: list[tuple[str, object]], use_la: bool
) -> None:
    h, e = _frame(h_rows), _frame(e_rows)
    expected = pd.factorize(pd.concat([child_uid(h, use_la), child_uid(e, use_la)]))[0]
    got_h, got_e = child_codes(h, e, use_la=use_la)
    assert got_h.dtype == np.int64 and got_e.dtype == np.int64
    assert np.concatenate([got_h, got_e]).tolist() == expected.tolist()


def test_with_child_keys_keeps_the_readers_key_and_sort_orders_each_child_by_date() -> None:
    h = pd.DataFrame({"LA": ["B", "A"], "CHILD": ["1", "1"]})
    e = pd.DataFrame(
        {
            "LA": ["A", "B", "A"],
            "CHILD": ["1", "1", "1"],
            "DECOM": pd.to_datetime(["2020-05-01", "2019-01-01", "2020-01-01"]),
        }
    )
    h2, e2 = with_child_keys(h, e, use_la=True)
    assert h2[CID].tolist() == [0, 1] and e2[CID].tolist() == [1, 0, 1]
    assert with_child_keys(h2, e2, use_la=True)[0] is h2  # a key present is kept
    s = sort_by_child(e2, use_la=True)
    assert s[CID].tolist() == [0, 1, 1]
    assert s["DECOM"].dt.strftime("%Y-%m").tolist() == ["2019-01", "2020-01", "2020-05"]
    assert CID not in e.columns and "_uid" not in s.columns


def test_uid_by_child_gives_the_text_key_of_each_childs_first_row() -> None:
    e = pd.DataFrame({"LA": ["A", "B", "A"], "CHILD": ["1", "2", "1"]})
    assert uid_by_child(e, use_la=True).to_dict() == {"1": "A\x1f1", "2": "B\x1f2"}
    assert uid_by_child(e, use_la=False).to_dict() == {"1": "1", "2": "2"}
