"""The curve scripts' speed paths give what the slower code they replaced gave."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report.disclosure import DisclosureRules, _kept_rows


def _kept_rows_numpy(ev: np.ndarray, after: np.ndarray, rules: DisclosureRules) -> list[int]:
    """The loop of numpy calls :func:`_kept_rows` replaced."""
    if not rules.apply:
        return list(range(len(after)))
    keep = []
    acc = np.zeros(ev.shape[1])
    for k in range(len(after)):
        if after[k] < rules.threshold:
            break
        acc += ev[k]
        if acc.sum() >= rules.threshold and np.all((acc == 0) | (acc >= rules.threshold)):
            keep.append(k)
            acc[:] = 0
    return keep


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 3),
    st.integers(0, 60),
    st.integers(1, 12),
    st.booleans(),
    st.integers(0, 2**32 - 1),
)
def test_kept_rows_as_the_numpy_loop(n_types: int, n: int, threshold: int, apply: bool, seed: int):
    rng = np.random.default_rng(seed)
    ev = rng.poisson(rng.uniform(0, 6), size=(n, n_types)).astype(float)
    ev[rng.random(ev.shape) < 0.4] = 0.0
    after = np.sort(rng.integers(0, 80, size=n))[::-1].astype(float)
    rules = DisclosureRules(threshold=threshold, apply=apply)
    assert _kept_rows(ev, after, rules) == _kept_rows_numpy(ev, after, rules)
