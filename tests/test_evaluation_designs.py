"""Pilot evaluation designs on generator data with a known pilot effect; clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.evaluation import (
    EvaluationError,
    adoption_dates,
    before_after,
    did,
    event_study,
    pilot_vs_comparison,
    potential_followup_days,
)
from reunistat.models.evaluation._common import horizon_frame
from reunistat.models.evaluation.validation import true_risk_difference
from reunistat.synthetic import default_config, generate

PF = "days_potential_followup"  # the generator's potential follow-up


@pytest.fixture(scope="module")
def gen():  # type: ignore[no-untyped-def]
    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    return generate(cfg, seed=11, scale=0.1, progress=False)


def test_cox_design_recovers_truth(gen) -> None:  # type: ignore[no-untyped-def]
    r = pilot_vs_comparison(gen.truth_returns, gen.tables["la"])
    row = r.tidy().set_index("term").loc["treated"]
    truth = gen.truth["true_log_ratios"]["pilot"]
    assert row.conf_low < truth < row.conf_high
    assert abs(row.estimate - truth) < 3 * row.std_error
    assert r.vcov_type == "cluster(LA)"
    assert r.provenance.function.endswith("pilot_vs_comparison")
    assert r.provenance.options["n_pilot_las"] == 30


def test_logistic_design_recovers_truth() -> None:
    cfg = default_config().with_overrides({"pilot.n_authorities": 30, "reentry.model": "logistic"})
    g = generate(cfg, seed=5, scale=0.1, progress=False)
    r = pilot_vs_comparison(
        g.truth_returns, g.tables["la"], model="logistic", potential_followup_col=PF
    )
    row = r.tidy().set_index("term").loc["treated"]
    truth = g.truth["true_log_ratios"]["pilot"]
    assert row.conf_low < truth < row.conf_high


def test_did_and_naive_before_after(gen) -> None:  # type: ignore[no-untyped-def]
    tr, la = gen.truth_returns, gen.tables["la"]
    r = did(tr, la, potential_followup_col=PF)
    t = r.tidy().iloc[0]
    rows = (tr["pilot"] == 1) & (tr[PF] >= 365)
    truth = true_risk_difference(tr, gen.truth, 365, rows)
    assert t.conf_low < truth < t.conf_high
    # naive before/after on the hazard scale absorbs the 2%/year secular trend
    ba = before_after(tr, la, model="cox").tidy().iloc[0]
    assert ba.estimate < gen.truth["true_log_ratios"]["pilot"]


def test_event_study_has_pretrend_test(gen) -> None:  # type: ignore[no-untyped-def]
    e = event_study(gen.truth_returns, gen.tables["la"], potential_followup_col=PF)
    assert "rel_year[-1]" not in e.params.index
    assert {"pretrend_F", "pretrend_p", "pretrend_p_wald"} <= set(e.fit_stats)
    assert 0 < e.fit_stats["pretrend_p"] <= 1
    w = event_study(
        gen.truth_returns, gen.tables["la"], potential_followup_col=PF, pretrend_test="wald"
    )
    assert w.fit_stats["pretrend_p"] == w.fit_stats["pretrend_p_wald"]


def test_pilot_without_post_adoption_returns(gen) -> None:  # type: ignore[no-untyped-def]
    tr = gen.truth_returns
    late = {str(la): "2030-04-01" for la in gen.tables["la"].query("PILOT == 1")["LA"]}
    with pytest.raises(EvaluationError, match="on or after its adoption date"):
        pilot_vs_comparison(tr, late)
    some = adoption_dates(gen.tables["la"]).astype(object).to_dict()
    first = next(iter(some))
    some[first] = pd.Timestamp("2030-04-01")
    with pytest.warns(UserWarning, match="no return home on or after adoption"):
        did(tr, some, potential_followup_col=PF)


def test_horizon_beyond_follow_up(gen) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EvaluationError, match="beyond follow-up"):
        did(gen.truth_returns, gen.tables["la"], horizon_days=9000, potential_followup_col=PF)
    with pytest.raises(EvaluationError, match="whole number"):
        horizon_frame(gen.truth_returns, 365.5)  # type: ignore[arg-type]


def test_potential_follow_up_avoids_upward_bias() -> None:
    s = pd.DataFrame(
        {
            "days_followed": [10, 100, 400, 50],
            "reentered": [1, 0, 0, 1],
            "potential": [100, 100, 500, 500],
        }
    )
    naive, _ = horizon_frame(s, 365)
    cond, _ = horizon_frame(s, 365, potential_followup_col="potential")
    assert naive["y"].mean() > cond["y"].mean()
    sp = pd.DataFrame(
        {"return_date": pd.to_datetime(["2020-01-01"]), "age_at_return_years": [17.5]}
    )
    assert potential_followup_days(sp, "2024-03-31").iloc[0] == np.floor(0.5 * 365.25)


def test_bad_inputs(gen) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EvaluationError, match="model must be"):
        pilot_vs_comparison(gen.truth_returns, gen.tables["la"], model="probit")  # type: ignore[arg-type]
    with pytest.raises(EvaluationError, match="appear in the spells"):
        did(gen.truth_returns, {"ZZZ": "2018-01-01"})
    with pytest.raises(EvaluationError, match="no pilot authority"):
        did(gen.truth_returns, {})


def test_wild_bootstrap_replicate_equals_direct_refit(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    ci_mod = importlib.import_module("reunistat.models.evaluation.cluster_inference")
    rng = np.random.default_rng(0)
    n, g = 3000, 40
    codes = pd.factorize(rng.integers(0, g, n))[0]
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 3)), (codes % 5 == 0) * 1.0])
    y = rng.normal(size=n) + 0.1 * x[:, 1]
    idx, keep = [2, 3], [0, 1, 4]
    fitted = x[:, keep] @ np.linalg.lstsq(x[:, keep], y, rcond=None)[0]
    v = np.random.default_rng(5).choice([-1.0, 1.0], size=(g, 1))
    fit = ci_mod.ols_cluster(fitted + (y - fitted) * v[codes, 0], x, codes, "CR1")
    b, cov = fit.beta, fit.cov
    w = b[idx] @ np.linalg.solve(cov[np.ix_(idx, idx)], b[idx])

    class Fixed:
        def choice(self, a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
            return v

    monkeypatch.setattr(ci_mod.np.random, "default_rng", lambda seed: Fixed())
    assert ci_mod.wild_pretrend(y, x, codes, idx, w - 1e-8, 1, 0) == 1.0
    assert ci_mod.wild_pretrend(y, x, codes, idx, w + 1e-8, 1, 0) == 0.5


def test_logistic_and_pilot_vs_comparison_analyse_the_same_sample(gen) -> None:  # type: ignore[no-untyped-def]
    """One horizon outcome: the same spells and options give the same (n, events) and counts."""
    from reunistat.models.evaluation import comparison_sample
    from reunistat.models.logistic import logistic

    tr, la = gen.truth_returns, gen.tables["la"]
    for pf in (PF, None):
        pv = pilot_vs_comparison(
            tr, la, model="logistic", adjust="section20", potential_followup_col=pf
        )
        sample = comparison_sample(tr, la)
        lg = logistic("~ treated + section20", sample, potential_followup_col=pf, cluster="LA")
        assert (pv.n_obs, pv.n_events) == (lg.n_obs, lg.n_events)
        keys = ["horizon_days", "n_excluded_censored", "n_excluded_potential"]
        assert pv.glance()[keys].equals(lg.glance()[keys])
        np.testing.assert_allclose(pv.params, lg.params)


def test_horizon_rule_for_deaths_and_other_exits() -> None:
    """A spell that could be followed to H but ended early by death is excluded, not a negative.

    Before the one horizon outcome, the evaluation designs counted it as a negative
    when a potential follow-up column was given, and logistic() excluded it.
    """
    s = pd.DataFrame(
        {
            "days_followed": [10, 100, 400, 500],
            "reentered": [1, 0, 0, 1],
            "censor_reason": ["reentry", "death", "data_end", "reentry"],
            "potential": [500, 500, 500, 500],
        }
    )
    out, counts = horizon_frame(s, 365, potential_followup_col="potential")
    assert out["y"].tolist() == [1, 0, 0]
    assert counts.n_used == 3 and counts.n_excluded_censored == 1
    from reunistat.models.logistic import horizon_outcome

    lo, c = horizon_outcome(s, 365, potential_followup_col="potential")
    assert list(lo.index) == list(out.index) and c == counts


def test_did_reports_its_horizon_counts(gen) -> None:  # type: ignore[no-untyped-def]
    r = did(gen.truth_returns, gen.tables["la"], potential_followup_col=PF)
    g = r.glance().iloc[0]
    assert g["horizon_days"] == 365 and g["n_excluded_potential"] > 0
    assert "n_excluded_censored" in g


def test_before_after_cox_refuses_horizon_options(gen) -> None:  # type: ignore[no-untyped-def]
    """before_after(model='cox') used to ignore horizon_days and potential_followup_col."""
    tr, la = gen.truth_returns, gen.tables["la"]
    with pytest.raises(EvaluationError, match="all follow-up"):
        before_after(tr, la, model="cox", horizon_days=730)
    with pytest.raises(EvaluationError, match="all follow-up"):
        before_after(tr, la, model="cox", potential_followup_col=PF)
    with pytest.raises(EvaluationError, match="all follow-up"):
        pilot_vs_comparison(tr, la, model="cox", potential_followup_col=PF)


def test_la_col_is_deprecated_for_cluster(gen) -> None:  # type: ignore[no-untyped-def]
    tr, la = gen.truth_returns, gen.tables["la"]
    with pytest.warns(DeprecationWarning, match="cluster="):
        old = did(tr, la, la_col="LA", potential_followup_col=PF)
    new = did(tr, la, cluster="LA", potential_followup_col=PF)
    pd.testing.assert_frame_equal(old.tidy(), new.tidy())


def test_one_horizon_rule_for_logistic_and_evaluation(gen) -> None:  # type: ignore[no-untyped-def]
    """The designs' sample, counts and messages are horizon_outcome's (issue 13, item 8)."""
    from reunistat.models.evaluation import horizon_sample
    from reunistat.models.logistic import LogisticInputError, horizon_outcome

    s = gen.truth_returns.assign(days_followed=lambda d: d["days_followed"].astype(float))
    lo, c = horizon_outcome(s, 365, potential_followup_col=PF)
    ev_out, ev_c = horizon_frame(s, 365, potential_followup_col=PF)
    assert ev_c == c and ev_c.n_excluded == c.n_spells - c.n_used > 0
    np.testing.assert_array_equal(ev_out["y"], lo["reentry_365d"])
    with pytest.warns(DeprecationWarning, match="horizon_outcome"):
        old, old_c = horizon_sample(s, 365, potential_followup_col=PF)
    assert old_c == c.as_dict() and old.index.equals(lo.index)
    r = did(s, gen.tables["la"], potential_followup_col=PF)
    g = r.glance().iloc[0]
    for k, v in c.fit_stats().items():
        assert g[k] == v
    assert r.provenance.options["n_excluded"] == c.n_excluded
    for bad in (365.5, 0, 99999):
        with pytest.raises(LogisticInputError) as lg_err:
            horizon_outcome(s, bad)  # type: ignore[arg-type]
        with pytest.raises(EvaluationError) as ev_err:
            horizon_frame(s, bad)  # type: ignore[arg-type]
        assert str(ev_err.value) == str(lg_err.value)


def test_linear_designs_hash_the_columns_they_read(gen) -> None:  # type: ignore[no-untyped-def]
    """The digest follows the outcome, terms, authority and year, not the spells' other columns."""
    tr, la = gen.truth_returns, gen.tables["la"]
    other = tr.assign(sex="x", placement_moves=tr["placement_moves"] + 1)
    later = tr.assign(reentered=1 - tr["reentered"])
    for fit in (
        lambda s: did(s, la, potential_followup_col=PF, n_boot=0),
        lambda s: before_after(s, la, potential_followup_col=PF, n_boot=0),
        lambda s: event_study(s, la, potential_followup_col=PF, n_boot=0),
    ):
        digest = fit(tr).provenance.data_sha256
        assert fit(other).provenance.data_sha256 == digest
        assert fit(later).provenance.data_sha256 != digest


def test_pilot_vs_comparison_on_a_sample_already_made(gen) -> None:  # type: ignore[no-untyped-def]
    """``sample=`` (07 fits both models on one): the fits made from the spells, to the bit."""
    from reunistat.models.evaluation import comparison_sample

    tr, la = gen.truth_returns, gen.tables["la"]
    sample = comparison_sample(tr, la)
    for kw in ({"model": "cox"}, {"model": "logistic", "potential_followup_col": PF}):
        fresh = pilot_vs_comparison(tr, la, **kw)  # type: ignore[arg-type]
        shared = pilot_vs_comparison(tr, la, sample=sample, **kw)  # type: ignore[arg-type]
        pd.testing.assert_frame_equal(shared.tidy(), fresh.tidy(), check_exact=True)
        assert shared.provenance.data_sha256 == fresh.provenance.data_sha256
