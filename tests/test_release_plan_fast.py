"""The release plan's counting shortcuts declare what the direct computations declare."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import release_plan as rp
from reunistat.report.disclosure import DisclosureRules
from reunistat.report.release_tables import ReleaseTables

_DAYS = st.lists(st.one_of(st.integers(0, 40).map(float), st.just(float("nan"))), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_DAYS, st.lists(st.integers(0, 45), min_size=1, max_size=6), st.data())
def test_numbers_at_risk_are_the_direct_counts(days: list[float], times: list[int], data) -> None:
    d = np.array(days, dtype=float)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(d), max_size=len(d))), bool)
    direct = [float(((d >= t) & mask).sum()) for t in times]
    assert rp._AtRisk(d, times).counts(mask) == direct


_LABEL = st.one_of(st.sampled_from(["a", "b", "1", "c d"]), st.just(None), st.just(1))


@settings(max_examples=200, deadline=None)
@given(st.lists(_LABEL, max_size=20), st.booleans())
def test_group_masks_are_the_text_comparisons(labels: list[Any], categorical: bool) -> None:
    s = pd.Series(labels, dtype="category" if categorical else object)
    groups = sorted(pd.unique(s.dropna()).astype(str), key=str)
    masks = rp._group_masks(s, [*groups, "zz"], s.notna().to_numpy())
    for g in [*groups, "zz"]:
        assert (masks[g] == ((s.astype(str) == g) & s.notna()).to_numpy()).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["x", "y", "z", "missing"]), min_size=1, max_size=15), st.data())
def test_table1_links_are_those_found_value_by_value(levels: list[str], data) -> None:
    n = len(levels)
    groups = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    masks = {f"g{k}": np.array(groups) == k for k in range(3)} | {"all": np.ones(n, bool)}
    fast, slow = ReleaseTables(DisclosureRules()), ReleaseTables(DisclosureRules())
    lev = pd.Series(levels)
    rp._link_table1(fast, "t", masks, lev, "v")
    rp._link_table1_values(slow, "t", masks, lev.to_numpy(), "v")
    assert fast._relations == slow._relations
