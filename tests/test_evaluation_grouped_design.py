"""The bootstrap refits' products over a design's distinct rows equal the plain products."""

from __future__ import annotations

import numpy as np
import pytest

from reunistat.models.evaluation._grouped_design import GroupedDesign
from reunistat.models.logistic import xtwx


def _design(n: int, n_dummies: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dummies = (rng.random((n, n_dummies)) < 0.3).astype(float)
    count = rng.integers(0, 5, n).astype(float)
    length = np.log(rng.integers(1, 3000, n).astype(float))
    return np.column_stack([np.ones(n), dummies[:, :2], length, count, dummies[:, 2:]])


@pytest.mark.parametrize("n_dummies", [3, 40])  # 40: the numbering of combinations restarts
def test_products_over_levels_equal_the_products_over_rows(n_dummies: int) -> None:
    x = _design(3000, n_dummies)
    g = GroupedDesign.of(x, max_share=1.0)
    assert g.l_cols.tolist() == [3, 4]  # the log length and the count stay per row
    assert np.array_equal(g.matrix(), x)
    rows = np.flatnonzero(np.arange(3000) % 3 != 1)
    part = g.take(rows)
    rng = np.random.default_rng(1)
    beta, r, w = rng.normal(size=x.shape[1]), rng.normal(size=len(rows)), rng.random(len(rows))
    np.testing.assert_allclose(part.eta(beta), x[rows] @ beta, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(part.score(r), x[rows].T @ r, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(part.info(w), xtwx(x[rows], w), rtol=1e-12)


def test_many_levels_keep_every_column_per_row() -> None:
    x = _design(200, 40)  # nearly every row its own combination
    g = GroupedDesign.of(x)
    assert g.n_levels == 1 and len(g.d_cols) == 0 and len(g.l_cols) == x.shape[1]
    w = np.linspace(0.1, 2, 200)
    assert np.array_equal(g.matrix(), x)
    np.testing.assert_allclose(g.info(w), xtwx(x, w), rtol=1e-13)
