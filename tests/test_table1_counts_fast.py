"""Table 1's counts by level codes equal the counts by comparing each level (the old loop)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import tables
from reunistat.report.tables import table1_counts


def _old_counts(spells: pd.DataFrame, variables: dict[str, str], caps: dict[str, int]) -> dict:
    status = spells["reentered"].to_numpy() == 1
    out = {"all": (int(status.sum()), int((~status).sum()))}
    for col in variables:
        lev = tables._levels(spells[col], col, caps)
        for level in tables._level_order(list(pd.unique(lev))):
            sel = (lev == level).to_numpy()
            out[f"{col}={level}"] = (int((sel & status).sum()), int((sel & ~status).sum()))
    return out


_CELL = st.one_of(st.none(), st.sampled_from(["a", "b", "White", "missing", " a", "1"]))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_counts_by_codes_equal_counts_by_comparison(data: Any) -> None:
    n = data.draw(st.integers(1, 40))
    frame = pd.DataFrame(
        {
            "reentered": data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
            "ethnic": pd.Series(data.draw(st.lists(_CELL, min_size=n, max_size=n)), dtype=object),
            "disability": data.draw(
                st.lists(st.sampled_from([0, 1, 2, np.nan]), min_size=n, max_size=n)
            ),
            "n_prev": data.draw(
                st.lists(st.sampled_from([0, 1, 3, 7, np.nan]), min_size=n, max_size=n)
            ),
        }
    )
    frame["ethnic_cat"] = frame["ethnic"].astype("category")
    variables = {"ethnic": "E", "disability": "D", "n_prev": "P", "ethnic_cat": "C"}
    caps = {"n_prev": 3}
    counts, blocks, _ = table1_counts(frame, variables=variables, caps=caps)
    got = {k: (int(r["re-entered"]), int(r["not re-entered"])) for k, r in counts.iterrows()}
    old = _old_counts(frame, variables, caps)
    assert list(got) == list(old) and got == old
    assert [k for b in blocks for k in b] == list(old)[1:]


def _old_smallest(data: pd.DataFrame, variables: list[str], event_col: str) -> int:
    smallest = len(data)
    ev = pd.to_numeric(data[event_col], errors="coerce").fillna(0).to_numpy() > 0
    for v in variables:
        col = data[v]
        if pd.api.types.is_numeric_dtype(col) and col.nunique() > 2:
            continue
        g = pd.DataFrame({"lev": col.astype(str).to_numpy(), "ev": ev}).groupby("lev")["ev"]
        smallest = min(smallest, int(g.size().min()), int(g.sum().min()))
    return smallest


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_smallest_cell_by_codes_equals_the_groupby(data: Any) -> None:
    n = data.draw(st.integers(1, 30))
    text = data.draw(st.lists(_CELL, min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "ev": data.draw(st.lists(st.sampled_from([0, 1, 2, np.nan]), min_size=n, max_size=n)),
            "text": pd.Series(text, dtype=object),
            "full": pd.Series([t or "z" for t in text], dtype=object),
            "mixed": pd.Series([t or 1 for t in text], dtype=object),
            "flag": data.draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n)),
            "int_flag": data.draw(st.lists(st.sampled_from([0, 1, -3]), min_size=n, max_size=n)),
        }
    )
    frame["bool_flag"] = frame["int_flag"] > 0
    frame["uint_flag"] = frame["int_flag"].abs().astype(np.uint8)
    frame["cat"] = frame["text"].astype("category")
    frame["cat_full"] = pd.Categorical(
        frame["full"],
        categories=["z", "a", "b", "unused", "1"]
        + [c for c in sorted(set(frame["full"])) if c not in ("z", "a", "b", "unused", "1")],
    )
    alone = [[c] for c in frame.columns[1:]]
    for cols in (*alone, list(frame)[1:]):
        assert tables.smallest_cell(frame, cols, "ev") == _old_smallest(frame, cols, "ev")
