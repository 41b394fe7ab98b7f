"""The fast paths of the model layer give what the slow paths give, to the bit.

* ``models._simple_design``: the design of a formula of simple terms, built by
  looking values up, equals formulaic's matrix, column names, term columns
  and model spec;
* ``results.data_hash``: pandas' row hashes, with strings hashed without
  factorising;
* ``logistic.fit.concordance``: the rank-sum AUC of pandas' ``rank``;
* a logistic model's provenance hash covers the columns it read, and only those.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from reunistat.models import _formula
from reunistat.models._simple_design import simple_design
from reunistat.models.logistic import logistic
from reunistat.models.logistic.fit import concordance
from reunistat.results import _row_hashes, data_hash


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    levels = np.array(["5-9", "1-4", "10-15", "16+"])
    return pd.DataFrame(
        {
            "age_band": levels[rng.integers(0, 4, n)],
            "sex": pd.Categorical(
                np.where(rng.random(n) < 0.5, "f", "m"), categories=["m", "f", "x"]
            ),
            "ordered": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"], ordered=True
            ),
            "flag": rng.random(n) < 0.3,
            "count": rng.integers(0, 9, n),
            "days": rng.integers(1, 300, n),
            "score": rng.normal(size=n),
            "LA": rng.choice([f"E{i:03d}" for i in range(40)], n),
        },
        index=pd.RangeIndex(5, 5 + n) if seed % 2 else rng.permutation(n) + 100,
    )


FORMULAS = [
    "age_band + sex + count + score",
    "C(age_band, contr.treatment('10-15')) + sex + flag + np.log1p(days) + score",
    "C(count) + ordered + C(LA) + days",
    "C(age_band) + np.sqrt(days) + np.log(days) + count + count",
    "flag + score",
]


def _formulaic(rhs: str, data: pd.DataFrame, intercept: bool) -> _formula.Design:
    from formulaic import model_matrix

    mm = model_matrix("~ " + rhs, data, na_action="drop", ensure_full_rank=True)
    cols = [str(c) for c in mm.columns]
    keep = cols if intercept else [c for c in cols if c != "Intercept"]
    term_columns = {}
    for term, idx in mm.model_spec.term_indices.items():
        names = [cols[i] for i in idx if cols[i] in keep]
        if names:
            term_columns[str(term)] = [keep.index(c) for c in names]
    x = _formula.row_major(mm[keep])
    return _formula.Design(x, keep, term_columns, mm.index, mm.model_spec, 0)


@pytest.mark.parametrize("rhs", FORMULAS)
@pytest.mark.parametrize("intercept", [True, False])
def test_simple_design_is_formulaics_to_the_bit(rhs: str, intercept: bool) -> None:
    for seed in (1, 2):
        data = _frame(3000, seed)
        fast = simple_design(rhs, data, intercept=intercept)
        assert fast is not None, rhs
        ref = _formulaic(rhs, data, intercept)
        assert fast.x.tobytes() == ref.x.tobytes() and fast.x.flags.c_contiguous
        assert fast.columns == ref.columns
        assert fast.term_columns == ref.term_columns
        assert fast.spec == ref.spec
        # the spec builds the same matrix of new data
        new = _frame(50, seed + 10)
        a = fast.spec.get_model_matrix(new)
        b = ref.spec.get_model_matrix(new)
        assert a.equals(b)


def test_other_numbers_share_one_small_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers and functions of numbers are not read from formulaic's small matrix: data
    with the same levels and other numbers share it, and each design is formulaic's."""
    from reunistat.models import _simple_design

    monkeypatch.setattr(_simple_design, "_MATRICES", type(_simple_design._MATRICES)())
    rhs = "C(age_band, contr.treatment('10-15')) + np.log1p(days) + score + count"
    for seed in (1, 2, 3):
        data = _frame(3000, seed)
        data["age_band"] = data["age_band"].astype("category")
        fast = simple_design(rhs, data, intercept=False)
        ref = _formulaic(rhs, data, False)
        assert fast is not None and fast.x.tobytes() == ref.x.tobytes()
        assert fast.spec == ref.spec
    assert len(_simple_design._MATRICES) == 1


def test_a_function_with_missing_values_goes_through_formulaic() -> None:
    data = _frame(3000, 1)
    data.loc[data.index[5], "count"] = -3  # np.log1p(-3) is nan: formulaic drops the row
    assert simple_design("sex + np.log1p(count)", data, intercept=True) is None
    d = _formula.design("sex + np.log1p(count)", data, intercept=True)
    assert d.n_dropped_missing == 1


def test_design_uses_the_fast_path_and_keeps_the_rows() -> None:
    data = _frame(2000, 3)
    d = _formula.design(FORMULAS[1], data, intercept=True)
    assert d.rows.equals(data.index)
    assert d.n_dropped_missing == 0
    assert simple_design(FORMULAS[1], data, intercept=True) is not None


@pytest.mark.parametrize(
    "rhs",
    [
        "age_band * sex",  # interaction
        "bs(score, df=3) + sex",  # stateful transform
        "age_band + sex - 1",  # no intercept
        "I(count + 1)",  # arbitrary expression
        "score",  # too few rows below, and a float with missing values
    ],
)
def test_other_formulas_and_data_go_through_formulaic(rhs: str) -> None:
    data = _frame(2000, 4)
    data.loc[data.index[3], "score"] = np.nan
    assert simple_design(rhs, data, intercept=True) is None
    assert simple_design("age_band", data.iloc[:100], intercept=True) is None  # small
    missing = data.copy()
    missing.loc[missing.index[7], "age_band"] = None
    assert simple_design("age_band + count", missing, intercept=True) is None
    d = _formula.design("age_band + count", missing, intercept=True)
    assert d.n_dropped_missing == 1 and len(d.x) == len(data) - 1


def test_a_wrong_reference_level_still_gets_formulaics_error() -> None:
    data = _frame(2000, 5)
    with pytest.raises(ValueError, match="cannot build the model"):
        _formula.design("C(age_band, contr.treatment('nope'))", data, intercept=True)


def _pandas_hash(df: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def test_data_hash_is_pandas_row_hash() -> None:
    rng = np.random.default_rng(7)
    n = 5000
    ids = np.array([f"C{i:07d}" for i in rng.permutation(n)], dtype=object)
    with_missing = ids.copy()
    with_missing[::7] = None
    with_missing[::11] = np.nan
    mixed = ids.copy()
    mixed[::13] = 5  # not all strings: pandas' own path
    frames = [
        _frame(n, 1).assign(CHILD=ids),
        _frame(n, 2).assign(CHILD=with_missing, other=mixed),
        pd.DataFrame({"u": ["é", "ü", "a"] * 1000, "v": [f"x{i}" for i in range(3000)]}),
        _frame(n, 1).assign(CHILD=ids).set_index(["LA", "age_band"]),
        pd.DataFrame(index=pd.RangeIndex(3)),
    ]
    for f in frames:
        assert data_hash(f) == _pandas_hash(f)
        assert (_row_hashes(f) == pd.util.hash_pandas_object(f).to_numpy()).all()
    f = frames[0]
    cols = ["sex", "CHILD", "days"]
    assert data_hash(f, columns=set(cols)) == _pandas_hash(f[["sex", "days", "CHILD"]])


def test_concordance_is_the_rank_sum_of_pandas() -> None:
    rng = np.random.default_rng(3)
    for i in range(60):
        n = int(rng.integers(2, 4000))
        p = rng.random(n)
        if i % 3 == 0:
            p = np.round(p, 2)  # many ties
        y = (rng.random(n) < 0.3).astype(float)
        y[:2] = [1.0, 0.0]
        ranks = pd.Series(p).rank(method="average").to_numpy()
        n1 = y.sum()
        ref = (ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * (n - n1))
        assert concordance(y, p) == ref


def _spells(n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    f = _frame(n, 1)
    f["days_followed"] = rng.integers(1, 900, n)
    f["reentered"] = (rng.random(n) < 0.4).astype(int)
    f["CHILD"] = [f"C{i}" for i in range(n)]
    return f


def test_logistic_provenance_hashes_the_columns_it_read() -> None:
    sp = _spells()
    rhs = "~ age_band + flag + count"
    base = logistic(rhs, sp, cluster="LA").provenance.data_sha256
    read = ["days_followed", "reentered", "LA", "age_band", "flag", "count"]
    assert base == data_hash(sp, columns=read)
    other = sp.assign(CHILD=sp["CHILD"][::-1].to_numpy(), extra=1.0)  # columns not read
    assert logistic(rhs, other, cluster="LA").provenance.data_sha256 == base
    changed = sp.copy()
    changed.loc[changed.index[0], "count"] += 1
    assert logistic(rhs, changed, cluster="LA").provenance.data_sha256 != base
    moved = sp.copy()
    moved.loc[moved.index[0], "days_followed"] += 500
    assert logistic(rhs, moved, cluster="LA").provenance.data_sha256 != base
    weighted = logistic(rhs, sp.assign(w=1.0), weights="w").provenance.data_sha256
    assert weighted == data_hash(sp.assign(w=1.0), columns=[*read[:2], *read[3:], "w"])
