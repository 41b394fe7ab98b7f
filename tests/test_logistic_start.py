"""multilevel() and gee() start from a logistic() fit of the same model: the same numbers.

Both begin with the independence logistic fit that ``logistic()`` makes; given
that fit (``start=``) they skip their own, and every number is the one a fresh
fit gives, to the bit. A fit of another model, outcome, data or cluster column
must be ignored (fitted again), and equal data in another order of levels is
another model (its terms differ). A multilevel fit keeps its start's frame of
the rows used when that frame has its rows and columns.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reunistat.models.logistic import fit as fit_module
from reunistat.models.logistic import gee, logistic, multilevel
from reunistat.results import ModelResult

HERE = Path(__file__).parent
COV = "section20 + prior_periods + age_band"
PF = "days_potential_followup"
OPTIONS: dict[str, Any] = {"horizon_days": 365, "potential_followup_col": PF}
multilevel_module = importlib.import_module("reunistat.models.logistic.multilevel")


@pytest.fixture(scope="module")
def case() -> pd.DataFrame:
    return pd.read_csv(HERE / "reference/comparison/case.csv", dtype={"LA": str, "age_band": str})


def _assert_same(a: ModelResult, b: ModelResult) -> None:
    pd.testing.assert_series_equal(a.params, b.params, check_exact=True)
    pd.testing.assert_frame_equal(a.cov, b.cov, check_exact=True)
    assert a.fit_stats.keys() == b.fit_stats.keys()
    for k, v in a.fit_stats.items():
        assert np.array_equal(v, b.fit_stats[k], equal_nan=True), k
    assert a.provenance == b.provenance
    for key in ("random_effects",):
        if key in a.extras:
            pd.testing.assert_series_equal(a.extras[key], b.extras[key], check_exact=True)


def _counting_irls(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[int]:
    calls: list[int] = []
    real = fit_module.irls

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "irls", counted)
    return calls


@pytest.mark.parametrize("model", ["multilevel", "gee"])
def test_a_shared_start_gives_the_fresh_fit(case, monkeypatch, model):
    res = logistic("~ " + COV, case, cluster="LA", **OPTIONS)
    fn, module = (multilevel, multilevel_module) if model == "multilevel" else (gee, fit_module)
    fresh = fn("~ " + COV, case, cluster="LA", **OPTIONS)
    calls = _counting_irls(monkeypatch, module)
    shared = fn("~ " + COV, case.copy(), cluster="LA", start=res, **OPTIONS)
    assert calls == []  # the start was taken from res
    _assert_same(shared, fresh)


def _others(case: pd.DataFrame) -> list[ModelResult]:
    """Fits that must not start the model of ``COV`` on ``case`` clustered by LA."""
    moved = case.copy()
    moved.loc[moved.index[0], "prior_periods"] += 1
    reordered = case.copy()
    levels = sorted(case["age_band"].unique())
    reordered["age_band"] = pd.Categorical(case["age_band"], [levels[-1], *levels[:-1]])
    weighted = case.assign(w=1.0)
    return [
        logistic("~ section20 + prior_periods", case, cluster="LA", **OPTIONS),
        logistic("~ " + COV, case, cluster="LA", horizon_days=180, potential_followup_col=PF),
        logistic("~ " + COV, case, cluster="LA", horizon_days=365),
        logistic("~ " + COV, case, **OPTIONS),  # no cluster: another provenance
        logistic("~ " + COV, moved, cluster="LA", **OPTIONS),
        logistic("~ " + COV, reordered, cluster="LA", **OPTIONS),
        logistic("~ " + COV, weighted, cluster="LA", weights="w", **OPTIONS),
        multilevel("~ " + COV, case, cluster="LA", **OPTIONS),
    ]


@pytest.mark.parametrize("model", ["multilevel", "gee"])
def test_a_start_of_another_model_is_ignored(case, monkeypatch, model):
    fn, module = (multilevel, multilevel_module) if model == "multilevel" else (gee, fit_module)
    fresh = fn("~ " + COV, case, cluster="LA", **OPTIONS)
    others = _others(case)
    calls = _counting_irls(monkeypatch, module)
    for i, other in enumerate(others, 1):
        got = fn("~ " + COV, case, cluster="LA", start=other, **OPTIONS)
        assert len(calls) == i  # fitted again
        _assert_same(got, fresh)


def test_a_shared_start_shares_its_frame(case):
    """One frame of the rows used for the start and the multilevel fit it starts."""
    res = logistic("~ " + COV, case, cluster="LA", **OPTIONS)
    shared = multilevel("~ " + COV, case, cluster="LA", start=res, **OPTIONS)
    fresh = multilevel("~ " + COV, case, cluster="LA", **OPTIONS)
    assert shared.extras["data"] is res.extras["data"]
    pd.testing.assert_frame_equal(fresh.extras["data"], shared.extras["data"], check_exact=True)
    other = logistic("~ " + COV, case.assign(extra=1), cluster="LA", **OPTIONS)
    kept = multilevel("~ " + COV, case, cluster="LA", start=other, **OPTIONS)
    assert "extra" not in kept.extras["data"].columns  # another frame: its own
