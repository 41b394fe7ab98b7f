"""``cox_arrays_like``: a fit's sorted and grouped rows with other covariates, to the bit.

Refits of the same times and events with other covariates (multiple imputation's
completed datasets) reuse the first fit's sorted, grouped problem; the result
must be :func:`cox_arrays`'s (or :func:`cox`'s) of the covariates unsorted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cox, cox_arrays, cox_arrays_like


def _data(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "g": rng.choice(["p", "q", "r"], n),
            "b": rng.integers(0, 2, n).astype(float),
            "t": rng.integers(1, 200, n).astype(float),  # many ties
            "e": rng.integers(0, 2, n),
            "s": rng.integers(0, 3, n),
            "w": rng.uniform(0.5, 2.0, n),
            "cl": rng.integers(0, 40, n),
        }
    )


def _sorted_t(x: np.ndarray, order: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x[order].T)


@pytest.mark.parametrize(
    "options", [{"cluster": "cl"}, {"strata": "s", "ties": "breslow"}, {"weights": "w"}]
)
def test_the_first_fits_rows_with_other_covariates_are_cox_arrays_to_the_bit(options) -> None:  # type: ignore[no-untyped-def]
    d = _data(1)
    first = cox("~ a + g + b", d, "t", "e", concordance=False, **options)
    st = first.extras["state"]
    rng = np.random.default_rng(2)
    x = np.column_stack(  # other covariates for the same rows: a design of three columns
        [rng.normal(size=len(d)), rng.integers(0, 2, len(d)), rng.normal(size=len(d))]
    ).astype(float)
    cl = d["cl"].to_numpy() if "cluster" in options else None
    beta, var = cox_arrays_like(st.problem, _sorted_t(x, st.problem.order), cluster=cl)
    if "weights" in options:  # cox_arrays has no weights: cox() of the same columns
        other = d.assign(x0=x[:, 0], x1=x[:, 1], x2=x[:, 2])
        want = cox("~ x0 + x1 + x2", other, "t", "e", concordance=False, **options)
        assert beta.tobytes() == want.params.to_numpy().tobytes()
        assert var.tobytes() == want.cov.to_numpy().tobytes()
        return
    strata = d["s"].to_numpy() if "strata" in options else None
    ties = options.get("ties", "efron")
    b2, v2 = cox_arrays(x, st.stop, st.event, strata=strata, cluster=cl, ties=ties)
    assert beta.tobytes() == b2.tobytes() and var.tobytes() == v2.tobytes()


def test_the_covariates_must_be_in_the_engines_layout() -> None:
    d = _data(3, 300)
    st = cox("~ a + b", d, "t", "e", concordance=False).extras["state"]
    x = d[["a", "b"]].to_numpy()[st.problem.order]
    with pytest.raises(ValueError, match="sorted order"):
        cox_arrays_like(st.problem, x)  # (n, p), not (p, n)
    xt = np.ascontiguousarray(x.T)
    before = xt.copy()
    cox_arrays_like(st.problem, xt)
    assert xt.tobytes() == before.tobytes()  # not centred in place
