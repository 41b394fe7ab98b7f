"""The logistic fit's shortcuts give the values of the plain computations, to the bit.

Text columns factorised once (``models/logistic/_coded.py``), pandas' hash
from those codes (``results.data_hash(..., coded=)``), the cluster sums as one
sparse product (``vcov.sum_by_cluster``) and the concordance from two sorted
arrays (``fit.concordance``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.logistic import logistic
from reunistat.models.logistic._coded import (
    as_category,
    code_text_columns,
    first_appearance_codes,
    simple_term_columns,
)
from reunistat.models.logistic.fit import concordance
from reunistat.models.logistic.vcov import sum_by_cluster
from reunistat.results import _column_hash, data_hash

LEVELS = st.sampled_from(["a", "b", "B", "c10", "c2", "é", ""])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(LEVELS, st.none()), min_size=1, max_size=60),
    pick=st.lists(st.booleans(), min_size=60, max_size=60),
)
def test_codes_of_a_subset_are_pandas_own(values: list[str | None], pick: list[bool]) -> None:
    col = np.array(values, dtype=object)
    coded = code_text_columns(pd.DataFrame({"x": col, "n": 1}), {"x", "n"})
    assert list(coded) == ["x"]  # text columns only
    rows = np.flatnonzero(pick[: len(col)])
    sub = col[rows]
    cat = as_category(coded["x"], rows)
    if len(sub) == 0 or any(v is None for v in sub):
        assert cat is None
        return
    assert list(cat) == list(sub)
    assert list(cat.categories) == sorted(set(sub))
    codes, g = first_appearance_codes(coded["x"], rows)
    want, uniques = pd.factorize(sub, sort=False)
    assert g == len(uniques)
    assert np.array_equal(codes, want)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.one_of(LEVELS, st.none()), min_size=1, max_size=60))
def test_hash_from_codes_is_pandas_hash(values: list[str | None]) -> None:
    s = pd.Series(values, dtype=object)
    coded = code_text_columns(pd.DataFrame({"x": s}), {"x"})["x"]
    want = pd.util.hash_pandas_object(s, index=False).to_numpy()
    assert np.array_equal(_column_hash(s, coded), want)
    f = pd.DataFrame({"x": s, "y": np.arange(len(s))})
    assert data_hash(f, coded={"x": coded}) == data_hash(f)


def test_simple_term_columns() -> None:
    assert simple_term_columns("a + C(b) + C(c, contr.treatment('x-y'))") == {"a", "b", "c"}
    assert simple_term_columns("a + np.log1p(b)") == set()
    assert simple_term_columns("a:b + c") == set()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 300), g=st.integers(1, 12), seed=st.integers(0, 10_000))
def test_cluster_sums_equal_bincount_to_the_bit(n: int, g: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    resid = rng.normal(size=n)
    codes = rng.integers(0, g, n)
    scores = x * resid[:, None]
    want = np.column_stack(
        [np.bincount(codes, weights=scores[:, j], minlength=g) for j in range(5)]
    )
    assert np.array_equal(sum_by_cluster(x, codes, g, resid), want)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 400), levels=st.integers(1, 30), seed=st.integers(0, 10_000))
def test_concordance_equals_the_rank_sum(n: int, levels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.integers(0, levels, n) / levels  # many ties
    y = (rng.random(n) < 0.4).astype(float)
    y[0], y[1] = 1.0, 0.0
    ranks = pd.Series(p).rank(method="average").to_numpy()
    n1, n0 = y.sum(), n - y.sum()
    want = float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    assert concordance(y, p) == want


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 4000
    band = rng.choice(np.array(["0-4", "5-9", "10-15", "16+"], dtype=object), n)
    la = rng.choice(np.array([f"E{i:04d}" for i in range(30)], dtype=object), n)
    eta = -1 + 0.3 * (band == "16+") + rng.normal(0, 0.3, 30)[pd.factorize(la)[0]]
    reent = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    days = np.where(reent == 1, rng.integers(1, 700, n), rng.integers(200, 900, n))
    return pd.DataFrame(
        {"age_band": band, "LA": la, "reentered": reent, "days_followed": days, "k": n % 7}
    )


def test_categorical_and_text_columns_give_the_same_fit(spells: pd.DataFrame) -> None:
    before = spells.copy()
    text = logistic("~ age_band + C(LA)", spells, cluster="LA")
    cat = spells.assign(
        age_band=spells["age_band"].astype("category"), LA=spells["LA"].astype("category")
    )
    other = logistic("~ age_band + C(LA)", cat, cluster="LA")
    pd.testing.assert_frame_equal(spells, before)  # the caller's frame is untouched
    assert np.array_equal(text.params.to_numpy(), other.params.to_numpy())
    assert np.array_equal(text.cov.to_numpy(), other.cov.to_numpy())
    assert text.provenance.data_sha256 == other.provenance.data_sha256


def test_every_row_kept_shares_no_new_column(spells: pd.DataFrame) -> None:
    followed = np.where(spells["reentered"] == 1, spells["days_followed"], 400)
    kept = spells.assign(days_followed=followed)  # every spell's outcome at a year is known
    res = logistic("~ age_band", kept)
    assert res.glance()["n_excluded_censored"].iloc[0] == 0
    assert "reentry_365d" in res.extras["data"].columns
    assert "reentry_365d" not in kept.columns
