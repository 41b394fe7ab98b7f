"""``irls`` starts at the intercept's log-odds without a pass over X: the same numbers.

At the start only the intercept is non-zero, so ``X @ beta`` is its value in
every row (products with 0 add exact zeros) when every value of X is finite;
``irls`` then fills the linear predictor, the first probabilities and the
first log-likelihood's ``log(1 + exp(eta))`` from that one value. A value that
is not finite shows in the first information's diagonal, and the start is
then made from ``X @ beta`` as before.
"""

from __future__ import annotations

import numpy as np
import pytest

from reunistat.models.logistic import SeparationError, irls
from reunistat.models.logistic.fit import _loglik


def _design(n: int, seed: int) -> np.ndarray:
    """An intercept, dummies, counts, negative and continuous columns, and a -0.0."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            np.ones(n),
            rng.integers(0, 2, (n, 5)),
            rng.poisson(2.0, n),
            rng.normal(scale=30.0, size=(n, 3)),
            -np.abs(rng.normal(size=n)),
        ]
    ).astype(float)
    x[3, 1] = -0.0
    return x


@pytest.mark.parametrize("ybar", [1e-6, 0.013, 0.3, 0.61, 1 - 1e-6])
def test_the_start_from_the_intercept_alone_is_x_at_beta_to_the_bit(ybar: float) -> None:
    x = _design(5_003, 1)
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(ybar / (1 - ybar))
    eta = x @ beta
    assert eta.tobytes() == np.full(len(x), beta[0]).tobytes()
    rng = np.random.default_rng(2)
    y = (rng.random(len(x)) < ybar).astype(float)
    for weights in (None, rng.integers(1, 5, len(x)).astype(float)):
        assert _loglik(y, eta, weights, float(beta[0])) == _loglik(y, eta, weights)


def test_a_value_not_finite_starts_from_x_at_beta() -> None:
    """Not finite: the first pass is ``X @ beta`` as before (no convergence, as before)."""
    x = _design(400, 3)
    y = (np.random.default_rng(4).random(400) < 0.3).astype(float)
    fit = irls(x, y)
    assert fit.n_iter > 1 and np.isfinite(fit.params).all()
    for bad in (np.nan, np.inf, -np.inf):
        xb = x.copy()
        xb[7, 6] = bad
        with pytest.raises(SeparationError, match="did not converge"), np.errstate(all="ignore"):
            irls(xb, y)
