"""The child key numbered without hashing is ``pd.factorize``'s numbering.

:func:`reunistat.tables.keys.child_codes` numbers the (LA, CHILD) pairs in
order of first appearance; where each CHILD code has one LA and the codes
come in order of first appearance already, it takes them as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.tables.keys import _numbered, child_codes


def test_numbered_equals_factorize_on_random_keys():
    rng = np.random.default_rng(3)
    taken = 0
    for trial in range(400):
        n = int(rng.integers(1, 60))
        k = int(rng.integers(1, 12))
        if trial % 2:  # codes in order of first appearance, runs repeated
            child = np.repeat(np.arange(k), rng.integers(1, 4, size=k))[:n]
        else:
            child = rng.integers(0, k, size=n)
        la = (
            rng.integers(0, 3, size=k)[child]
            if trial % 4 < 2
            else rng.integers(0, 3, size=len(child))
        )
        key = la.astype(np.int64) * (k + 1) + child
        got = _numbered(key, child)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, pd.factorize(key)[0])
        taken += bool(np.array_equal(got, child))
    assert taken > 50


def test_children_of_two_authorities_with_one_identifier_stay_apart():
    h = pd.DataFrame({"LA": ["A", "B"], "CHILD": ["1", "1"]})
    e = pd.DataFrame({"LA": ["B", "A", "C", "A"], "CHILD": ["1", "1", "2", "1"]})
    assert [c.tolist() for c in child_codes(h, e, use_la=True)] == [[0, 1], [1, 0, 2, 0]]
    h = pd.DataFrame({"LA": ["A", "A"], "CHILD": ["1", "2"]}, dtype="category")
    e = pd.DataFrame({"LA": ["A", "A", "A"], "CHILD": ["1", "1", "2"]}, dtype="category")
    assert [c.tolist() for c in child_codes(h, e, use_la=True)] == [[0, 1], [0, 0, 1]]
