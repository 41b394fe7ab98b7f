"""fit_imputed refits Cox and logistic models to datasets after the first from its design.

``reunistat.models.imputation.refit`` swaps into the first dataset's design
only the columns of terms that read an imputed column; the estimates and
covariances must equal, to the bit, what :func:`cox` gives on each completed
dataset (``fit_imputed(..., full=True)``), and anything it cannot do the
same way goes through ``cox``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import SeparationError
from reunistat.models.imputation import fit_imputed, impute
from reunistat.results import data_hash

REF = Path(__file__).parent / "reference" / "imputation"
FORMULA = (
    "~ disability + C(ethnic_group, contr.treatment('White')) + idaci_decile + section20 "
    "+ prior_periods + age_band"
)
IMPUTED = ["disability", "ethnic_group", "idaci_decile"]


@pytest.fixture(scope="module")
def done() -> list[pd.DataFrame]:
    data = pd.read_csv(REF / "mi_data.csv")
    data["LA"] = np.arange(len(data)) % 23
    text = ["ethnic_group", "age_band"]
    data[text] = data[text].astype("category")  # as analyses/11_imputation.py gives them
    cols = {"ethnic_group": "polyreg", "disability": "logreg", "idaci_decile": "pmm"}
    return impute(
        data, cols, predictors=["section20", "prior_periods", "age_band"], m=4, n_iter=2, seed=9
    )


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    for x, y in zip(a.extras["fits"], b.extras["fits"], strict=True):
        assert list(x.params.index) == list(y.params.index)
        np.testing.assert_array_equal(x.params.to_numpy(), y.params.to_numpy())
        np.testing.assert_array_equal(x.cov.to_numpy(), y.cov.to_numpy())
        assert (x.n_obs, x.n_events, x.vcov_type) == (y.n_obs, y.n_events, y.vcov_type)
        assert x.provenance.data_sha256 == y.provenance.data_sha256
    np.testing.assert_array_equal(a.params.to_numpy(), b.params.to_numpy())
    np.testing.assert_array_equal(a.cov.to_numpy(), b.cov.to_numpy())


def _refitted(res) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for f in res.extras["fits"] if not f.fit_stats)


@pytest.mark.parametrize("options", [{"cluster": "LA"}, {}, {"ties": "breslow"}])
def test_cox_refits_are_coxs_to_the_bit(done, options) -> None:  # type: ignore[no-untyped-def]
    full = fit_imputed(FORMULA, done, model="cox", full=True, **options)
    fast = fit_imputed(FORMULA, done, model="cox", **options)
    _same(full, fast)
    assert _refitted(full) == 0 and _refitted(fast) == len(done) - 1


def test_cox_refits_of_a_numeric_formula_are_coxs_to_the_bit(done) -> None:  # type: ignore[no-untyped-def]
    formula = "~ disability + idaci_decile + section20 + prior_periods"  # plain numbers
    full = fit_imputed(formula, done, model="cox", full=True, cluster="LA")
    fast = fit_imputed(formula, done, model="cox", cluster="LA")
    _same(full, fast)
    assert _refitted(fast) == len(done) - 1


@pytest.mark.parametrize(
    "options",
    [
        {"cluster": "LA", "horizon_days": 365},
        {"horizon_days": 200},
        {"cluster": "LA", "horizon_days": 365, "potential_followup_col": "pf"},
    ],
)
def test_logistic_refits_are_logistics_to_the_bit(done, options) -> None:  # type: ignore[no-untyped-def]
    data = [d.assign(pf=d["days_followed"] + np.arange(len(d)) % 400) for d in done]
    fast = fit_imputed(FORMULA, data, model="logistic", **options)
    full = fit_imputed(FORMULA, data, model="logistic", full=True, **options)
    _same(full, fast)
    assert _refitted(full) == 0 and _refitted(fast) == len(done) - 1
    for x, y in zip(full.extras["fits"], fast.extras["fits"], strict=True):
        assert x.extras["outcome_col"] == y.extras["outcome_col"]
        cols = [*IMPUTED, x.extras["outcome_col"]]
        pd.testing.assert_frame_equal(x.extras["data"][cols], y.extras["data"][cols])
        np.testing.assert_array_equal(x.extras["fitted"], y.extras["fitted"])
        assert x.provenance.data_sha256 == y.provenance.data_sha256


def test_logistic_what_cannot_be_refitted_goes_through_logistic(done) -> None:  # type: ignore[no-untyped-def]
    text = [d.assign(ethnic_group=d["ethnic_group"].astype(str)) for d in done]
    for data, formula, options in [
        (text, FORMULA, {}),
        (done, FORMULA + " + section20:disability", {}),
        (done, FORMULA, {"cluster": ("LA", "section20")}),
    ]:
        fast = fit_imputed(formula, data, model="logistic", **options)
        _same(fit_imputed(formula, data, model="logistic", full=True, **options), fast)
        assert _refitted(fast) == 0


def test_logistic_separation_in_a_later_dataset_raises_as_logistic_does(done) -> None:  # type: ignore[no-untyped-def]
    moved = done[1].copy()  # the same outcome, but no re-entry where the imputed level is Other
    hit = (moved["reentered"].to_numpy() > 0) & (moved["days_followed"].to_numpy() <= 365)
    moved["ethnic_group"] = moved["ethnic_group"].where(
        ~(hit & (moved["ethnic_group"] == "Other")), "White"
    )
    with pytest.raises(SeparationError):
        fit_imputed(FORMULA, [done[0], moved], model="logistic", horizon_days=365)


def test_what_cannot_be_refitted_goes_through_the_model_function(done) -> None:  # type: ignore[no-untyped-def]
    # text (not categorical) imputed values, an interaction with an imputed column,
    # options the refit does not know: every dataset fitted by the model function
    text = [d.assign(ethnic_group=d["ethnic_group"].astype(str)) for d in done]
    for data, formula, options in [
        (text, FORMULA, {}),
        (done, FORMULA + " + section20:disability", {}),
        (done, FORMULA, {"strata": "LA"}),
    ]:
        fast = fit_imputed(formula, data, model="cox", **options)
        _same(fit_imputed(formula, data, model="cox", full=True, **options), fast)
        assert _refitted(fast) == 0


def test_a_level_without_events_in_a_later_dataset_raises_as_cox_does(done) -> None:  # type: ignore[no-untyped-def]
    later = done[1].copy()
    rare = later["ethnic_group"] == "Other"
    later.loc[rare, "reentered"] = 0  # the outcome differs: cox() itself fits this one
    with pytest.raises(SeparationError, match="no events among"):
        fit_imputed(FORMULA, [done[0], later], model="cox")
    moved = done[1].copy()  # the same outcome, but no events where the imputed level is Other
    events = moved["reentered"].to_numpy() > 0
    moved["ethnic_group"] = moved["ethnic_group"].where(
        ~(events & (moved["ethnic_group"] == "Other")), "White"
    )
    with pytest.raises(SeparationError, match="no events among"):
        fit_imputed(FORMULA, [done[0], moved], model="cox")


@pytest.mark.parametrize("model", ["cox", "logistic"])
def test_refits_in_one_workspace_restore_what_the_last_one_wrote(done, model) -> None:  # type: ignore[no-untyped-def]
    # the first dataset again after another (its imputed columns as the first design's),
    # then one with only some columns changed: each design as if copied afresh
    partly = done[2].assign(disability=done[0]["disability"])
    data = [done[0], done[1], done[0].copy(), partly, done[3]]
    options = {"cluster": "LA"} if model == "cox" else {"cluster": "LA", "horizon_days": 365}
    fast = fit_imputed(FORMULA, data, model=model, **options)
    _same(fit_imputed(FORMULA, data, model=model, full=True, **options), fast)
    assert _refitted(fast) == len(data) - 1


def test_workspace_gives_the_first_design_with_the_written_columns() -> None:
    from reunistat.models.imputation.refit import Workspace

    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(50, 6))
    ws = Workspace(x0)
    ws.fresh()
    ws.write([1, 2], np.ones((50, 2)))
    x = ws.ready()
    assert np.array_equal(ws.ranges(x, [1, 2]), x.max(axis=0) - x.min(axis=0))
    ws.fresh()
    assert ws.ready().tobytes() == x0.tobytes()
    ws.fresh()
    ws.write([4], np.zeros((50, 1)))
    want = x0.copy()
    want[:, 4] = 0.0
    assert ws.ready().tobytes() == want.tobytes()
    # columns written again are not restored first; those left are, even after a
    # design that was started and not taken (a refit that gave up half-way)
    ws.fresh()
    ws.write([4, 5], np.full((50, 2), 2.0))
    ws.fresh()
    ws.write([5], np.full((50, 1), 3.0))
    want = x0.copy()
    want[:, 5] = 3.0
    assert ws.ready().tobytes() == want.tobytes()


def test_a_column_shares_its_hash_only_when_its_bits_are_the_same() -> None:
    """``same_bits``: -0.0 is not 0.0, categories in another order are not the same."""
    from reunistat.models.imputation.refit import same_bits
    from reunistat.results import column_hash

    zero = pd.Series([0.0, 1.0])
    assert same_bits(zero, zero.copy()) and not same_bits(zero, pd.Series([-0.0, 1.0]))
    assert not same_bits(zero, zero.astype("float32")) and not same_bits(zero, zero.astype(object))
    cat = pd.Series(pd.Categorical(["a", "b"], categories=["a", "b"]))
    other = pd.Series(pd.Categorical(["a", "b"], categories=["b", "a"]))
    assert same_bits(cat, cat.copy()) and not same_bits(cat, other)
    assert (column_hash(cat) == column_hash(cat.copy())).all()
    frame = pd.DataFrame({"c": cat, "z": zero})
    assert data_hash(frame, hashes={"c": column_hash(cat)}) == data_hash(frame)


def test_a_refits_hash_is_made_when_first_read_and_pickles_as_a_provenance(done) -> None:  # type: ignore[no-untyped-def]
    import pickle

    from reunistat.models.imputation.refit import DeferredProvenance
    from reunistat.results import Provenance

    full = fit_imputed(FORMULA, done, model="cox", full=True, cluster="LA")
    fast = fit_imputed(FORMULA, done, model="cox", cluster="LA")
    prov, want = fast.extras["fits"][1].provenance, full.extras["fits"][1].provenance
    assert isinstance(prov, DeferredProvenance) and prov._made is None  # not made by the fit
    assert prov == Provenance(
        want.function, want.data_sha256, want.formula, want.options, prov.versions
    )
    assert prov._made == want.data_sha256 and prov._digest is None
    back = pickle.loads(pickle.dumps(prov))
    assert type(back) is Provenance and back == prov and back.as_dict() == prov.as_dict()
