"""The logistic design's checks from codes give what the pass over the matrix gives.

* ``_simple_design`` hands over its blocks (codes and tables) and reads a
  categorical's own codes: the matrix is still formulaic's, to the bit;
* ``design._block_summaries`` (column summaries from counts per level) equals
  ``design._column_summaries`` (a pass over ``X``) wherever the checks read it;
* the rank check on the fit's first information raises what the check on
  ``X'X`` raises, and a fit through the fast paths equals one through formulaic;
* ``_coded.factorize_text`` is ``pd.factorize``; ``fit._null_terms`` is the
  ``xlogy`` sum's array; the engine's ``xtwx`` is the bootstrap's old kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import xlogy

from reunistat.models import _simple_design
from reunistat.models.logistic import LogisticInputError, gee, logistic, multilevel, xtwx
from reunistat.models.logistic import design as design_mod
from reunistat.models.logistic._coded import factorize_text
from reunistat.models.logistic.design import _block_summaries, _column_summaries
from reunistat.models.logistic.fit import _null_terms, concordance
from reunistat.results import ModelResult


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = np.array(["5-9", "1-4", "10-15", "16+"])[rng.integers(0, 4, n)]
    eth = rng.choice(["White", "Asian", "Black", "Mixed"], n, p=[0.7, 0.1, 0.1, 0.1])
    return pd.DataFrame(
        {
            "age_band": age,
            "eth": pd.Categorical(eth, categories=["White", "Mixed", "Black", "Asian"]),
            "ordered": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"], ordered=True
            ),
            "s20": rng.integers(0, 2, n),
            "one": np.ones(n, dtype=np.int64),
            "count": rng.integers(0, 9, n),
            "score": rng.normal(size=n).astype(np.float32),
            "big": rng.integers(0, 2, n) * 3.0,
            "y": (rng.random(n) < 0.3).astype(float),
            "LA": rng.choice([f"E{i:03d}" for i in range(30)], n),
        }
    )


FORMULAS = [
    "age_band + eth + s20 + count + score",
    "C(age_band, contr.treatment('10-15')) + ordered + np.log1p(count) + big",
    "eth + C(count) + one + s20",
]


def _formulaic_matrix(rhs: str, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    from formulaic import model_matrix

    mm = model_matrix("~ " + rhs, data, na_action="drop", ensure_full_rank=True)
    return np.ascontiguousarray(mm.to_numpy(dtype=float)), [str(c) for c in mm.columns]


@pytest.mark.parametrize("rhs", FORMULAS)
def test_blocks_write_formulaics_matrix_and_summarise_it(rhs: str) -> None:
    for seed in (1, 2, 3):
        data = _frame(2500, seed)
        d = _simple_design.simple_design(rhs, data, intercept=True)
        assert d is not None and d.blocks
        x, cols = _formulaic_matrix(rhs, data)
        assert d.columns == cols
        assert np.array_equal(d.x, x)
        y = data["y"].to_numpy()
        want = _column_summaries(d.x, y, step=512)
        got = _block_summaries(d.blocks, d.x.shape[1], y)
        lo, hi, only01, ones, ones_y = got
        assert np.array_equal(lo, want[0]) and np.array_equal(hi, want[1])
        binary = (lo == 0) & (hi == 1) & only01
        assert np.array_equal(binary, (want[0] == 0) & (want[1] == 1) & want[2])
        assert np.array_equal(ones[binary], want[3][binary])
        assert np.array_equal(ones_y[binary], want[4][binary])


def test_categoricals_read_by_their_codes_unless_a_category_is_unused() -> None:
    data = _frame(3000, 4)
    used = _simple_design._category_codes(data["eth"])
    assert used is not None and np.array_equal(used[0], data["eth"].cat.codes.to_numpy())
    sparse = data.assign(eth=data["eth"].cat.add_categories(["Other"]))
    assert _simple_design._category_codes(sparse["eth"]) is None  # factorised, as before
    missing = data.assign(eth=data["eth"].where(data.index > 5))
    assert _simple_design._category_codes(missing["eth"]) is None
    for frame in (sparse, data):
        d = _simple_design.simple_design("eth + count", frame, intercept=True)
        if d is not None:
            assert np.array_equal(d.x, _formulaic_matrix("eth + count", frame)[0])


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(
        st.one_of(st.sampled_from(["a", "b", "B", "é", "", "c10"]), st.none(), st.just(1)),
        min_size=1,
        max_size=8,
    ),
    n_levels=st.integers(1, 200),
    seed=st.integers(0, 1000),
)
def test_factorize_text_is_pandas_factorize(levels: list, n_levels: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = np.array([*levels, *(f"L{i}" for i in range(n_levels))], dtype=object)
    values = pool[rng.integers(0, len(pool), 5000)]
    codes, uniques = factorize_text(values)
    want_codes, want_uniques = pd.factorize(values, sort=False)
    assert np.array_equal(codes, want_codes) and codes.dtype == want_codes.dtype
    assert list(uniques) == list(want_uniques)


@settings(max_examples=40, deadline=None)
@given(ybar=st.floats(1e-6, 1 - 1e-6), seed=st.integers(0, 1000))
def test_null_terms_are_the_xlogy_array(ybar: float, seed: int) -> None:
    y = (np.random.default_rng(seed).random(300) < 0.4).astype(float)
    want = xlogy(y, ybar) + xlogy(1 - y, 1 - ybar)
    assert np.array_equal(_null_terms(y, np.float64(ybar)), want)


def test_engine_xtwx_is_the_bootstraps_old_kernel() -> None:
    rng = np.random.default_rng(7)
    x, w = rng.normal(size=(5000, 9)), rng.random(5000)
    step = max(64, 262_144 // 81)
    parts = (
        (x[i : i + step] * w[i : i + step, None]).T @ x[i : i + step] for i in range(0, 5000, step)
    )
    assert np.array_equal(xtwx(x, w), sum(parts, np.zeros((9, 9))))


def _spells(n: int, seed: int) -> pd.DataFrame:
    f = _frame(n, seed)
    rng = np.random.default_rng(seed)
    return f.assign(
        days_followed=rng.integers(10, 900, n),
        reentered=(rng.random(n) < 0.4).astype(np.int64),
        w=rng.random(n) + 0.5,
    )


@pytest.mark.parametrize("rhs", [*FORMULAS[:2], "eth + C(count) + s20", "one + count"])
@pytest.mark.parametrize("options", [{}, {"cluster": "LA"}, {"weights": "w", "cluster": "LA"}])
def test_logistic_equals_the_formulaic_path(
    rhs: str, options: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    spells = _spells(4000, 11)

    def fit() -> ModelResult | str:
        try:
            return logistic("~ " + rhs, spells, outcome_col="y", **options)
        except LogisticInputError as exc:  # the same error either way
            return str(exc)

    fast = fit()
    monkeypatch.setattr(design_mod, "simple_design", lambda *a, **k: None)
    monkeypatch.setattr(_simple_design, "simple_design", lambda *a, **k: None)
    slow = fit()
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow and "constant" in fast
        return
    assert fast.params.equals(slow.params)
    assert fast.cov.equals(slow.cov)
    assert fast.fit_stats == slow.fit_stats
    assert fast.provenance.data_sha256 == slow.provenance.data_sha256


@pytest.mark.parametrize("weights", [None, "w"])
def test_rank_check_on_first_information_names_the_collinear_terms(weights: str | None) -> None:
    spells = _spells(3000, 5)
    spells = spells.assign(c2=2 * spells["count"] + 1)
    with pytest.raises(LogisticInputError, match=r"collinear: .*count.*c2"):
        logistic("~ age_band + count + c2", spells, outcome_col="y", weights=weights)
    with pytest.raises(LogisticInputError, match=r"collinear: .*count.*c2"):
        design_mod.check_columns(
            *_xy("~ age_band + count + c2", spells), ["Intercept", "a", "b", "c", "count", "c2"]
        )


@pytest.mark.parametrize("fit", [gee, multilevel])
def test_gee_and_multilevel_check_the_rank_with_or_without_a_start(fit: Any) -> None:
    spells = _spells(3000, 6)
    bad = spells.assign(c2=2 * spells["count"] + 1)
    with pytest.raises(LogisticInputError, match=r"collinear: .*count.*c2"):
        fit("~ age_band + count + c2", bad, outcome_col="y", cluster="LA")
    start = logistic("~ age_band + count", spells, outcome_col="y", cluster="LA")
    fit("~ age_band + count", spells, outcome_col="y", cluster="LA", start=start)


def _xy(formula: str, spells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    d = design_mod.build_design(formula, spells, outcome_col="y", rank=False)
    assert not d.rank_checked
    return d.X, d.y


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 400), ties=st.booleans(), seed=st.integers(0, 1000))
def test_concordance_without_ties_is_the_rank_sum(n: int, ties: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    if ties:
        p = np.round(p, 1)
    y = (rng.random(n) < 0.4).astype(float)
    y[:2] = [0.0, 1.0]
    n1 = y.sum()
    ranks = pd.Series(p).rank(method="average").to_numpy()
    want = float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (n - n1)))
    assert concordance(y, p) == want
