"""Power by simulation: agreement with Schoenfeld, reproducibility, errors."""

from __future__ import annotations

import numpy as np
import pytest

from reunistat.models.evaluation import EvaluationError
from reunistat.models.evaluation.power import (
    PowerDesign,
    baseline_rates,
    expected_events,
    hazard_ratio_from_risk_difference,
    sample_size,
    schoenfeld_events,
    schoenfeld_power,
    simulate_power,
    simulate_spells,
)

SMALL = PowerDesign(
    hazard_ratio=0.85, returns_per_year=2000, la_sd_log_hr=0.0, robust=False, n_pilot=15
)


def test_baseline_reproduces_national_curve() -> None:
    knots, rates = baseline_rates(((91, 0.12), (365, 0.20), (2191, 0.35)))
    assert knots.tolist() == [0.0, 91.0, 365.0] and rates.size == 3
    d = PowerDesign(
        years=30, adoption_year=0.5, n_pilot=1, hazard_ratio=1.0, la_sd_log_hr=0.0, robust=False
    )
    sp = simulate_spells(d, np.random.default_rng(0))
    long = sp.loc[sp["entry_day"] < 365 * 20]  # all followed 10+ years
    for h, p in ((91, 0.12), (365, 0.20), (2191, 0.35)):
        obs = ((long["reentered"] == 1) & (long["days_followed"] <= h)).mean()
        assert abs(obs - p) < 0.01, (h, obs)


def test_simulation_matches_closed_form_and_expected_events() -> None:
    r = simulate_power(SMALL, n_replicates=150, seed=3)
    mc = float(np.sqrt(r.cov.loc["power", "power"]))
    assert abs(r.params["power"] - r.fit_stats["freedman_power"]) < 3 * mc
    assert r.fit_stats["mean_events"] == pytest.approx(r.fit_stats["expected_events"], rel=0.02)
    # the model-based SE agrees with the spread of the estimates
    assert r.params["mean_std_error"] == pytest.approx(r.fit_stats["empirical_sd_log_hr"], rel=0.2)


def test_same_seed_same_answer_any_cores() -> None:
    a = simulate_power(SMALL, n_replicates=12, seed=9, chunk_size=5)
    b = simulate_power(SMALL, n_replicates=12, seed=9, chunk_size=3, n_jobs=2)
    assert a.extras["replicates"].equals(b.extras["replicates"])
    c = simulate_power(SMALL, n_replicates=12, seed=10)
    assert not a.extras["replicates"].equals(c.extras["replicates"])


def test_did_design_runs_and_frailty_lowers_precision() -> None:
    d = SMALL.replace(design="did", la_sd_log_hr=0.15, robust=True)
    r = simulate_power(d, n_replicates=10, seed=1)
    assert 0 <= r.params["power"] <= 1
    assert r.fit_stats["n_failed"] == 0


def test_closed_forms() -> None:
    assert schoenfeld_power(schoenfeld_events(0.75, 0.5), 0.75, 0.5) == pytest.approx(0.8)
    e = expected_events(SMALL)
    assert e["returns_pilot"] == pytest.approx(3 * 2000 * 0.1)
    hr = hazard_ratio_from_risk_difference(-0.05, 365)
    assert 1 - 0.8**hr == pytest.approx(0.15)


def test_sample_size_brackets_closed_form() -> None:
    d = SMALL.replace(hazard_ratio=0.8)
    out = sample_size(d, n_replicates=40, seed=2)
    assert out["returns_per_year_simulated"] == pytest.approx(
        out["returns_per_year_schoenfeld"], rel=0.35
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"design": "rct"}, "design must be"),
        ({"n_pilot": 0}, "n_pilot"),
        ({"adoption_year": 6.0}, "no post-adoption"),
        ({"baseline": ((91, 0.3), (365, 0.2))}, "increasing"),
        ({"hazard_ratio": 0.0}, "positive"),
    ],
)
def test_design_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(EvaluationError, match=match):
        PowerDesign(**kwargs)


def test_impossible_risk_difference() -> None:
    with pytest.raises(EvaluationError, match="impossible"):
        hazard_ratio_from_risk_difference(-0.5, 365)


@pytest.mark.parametrize("kind", ["comparison", "did"])
def test_fast_fit_equals_cox(kind: str) -> None:
    from reunistat.models.evaluation.power import _cox_fast
    from reunistat.models.survival import cox

    d = SMALL.replace(design=kind, la_sd_log_hr=0.15)
    sp = simulate_spells(d, np.random.default_rng(5))
    rhs = "treated" if kind == "comparison" else "treated + post"
    strata = "LA" if kind == "did" else None
    ref = cox(f"reentered ~ {rhs}", sp, "days_followed", strata=strata, cluster="LA")
    cols = rhs.split(" + ")
    la = sp["LA"].to_numpy()
    b, se = _cox_fast(
        sp[cols].to_numpy(float),
        sp["days_followed"].to_numpy(float),
        sp["reentered"].to_numpy() == 1,
        la if kind == "did" else None,
        la,
    )
    assert b == pytest.approx(ref.params["treated"], rel=1e-10)
    assert se == pytest.approx(float(ref.std_errors["treated"]), rel=1e-10)


def test_options_digest_is_the_hash_of_the_options_frame() -> None:
    import dataclasses

    import pandas as pd

    from reunistat.models.evaluation.power import PowerDesign, _options_digest
    from reunistat.results import data_hash

    for design in (PowerDesign(), PowerDesign(hazard_ratio=0.5, n_pilot=3)):
        opts = {**dataclasses.asdict(design), "n_replicates": 7, "seed": None, "x": "é"}
        plain = data_hash(pd.DataFrame([{k: str(v) for k, v in opts.items()}]))
        assert _options_digest(opts) == plain
