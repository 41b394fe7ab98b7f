"""One vocabulary across the models: keyword names, return types and output columns.

Walks every public function of ``reunistat.models.survival``, ``.logistic``,
``.evaluation`` and ``reunistat.costs``. A new public function must be added to
``RETURNS`` below (so it is checked), and then cannot drift: its options must be
spelled as the others spell them, its return type is the one declared here, and
its tidy frames and curve tables use the one list of column names.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from reunistat import costs, horizons
from reunistat.models import evaluation as ev
from reunistat.models import logistic as lg
from reunistat.models import survival as sv
from reunistat.results import CURVE_COLUMNS, HORIZON_COLUMNS, TIDY_COLUMNS, ModelResult

REF = Path(__file__).parent / "reference" / "survival"
NAMESPACES = {"survival": sv, "logistic": lg, "evaluation": ev, "costs": costs}

#: Every public function and the return annotation it must keep.
RETURNS = {
    "survival.aalen_johansen": "pd.DataFrame",
    "survival.andersen_gill": "ModelResult",
    "survival.baseline_hazard": "pd.DataFrame",
    "survival.cause_specific_cox": "ModelResult",
    "survival.cox": "ModelResult",
    "survival.cox_arrays": "tuple[np.ndarray, np.ndarray]",
    "survival.cox_arrays_like": "tuple[np.ndarray, np.ndarray]",
    "survival.cox_small_sample": "TermDfResult",
    "survival.cox_zph": "pd.DataFrame",
    "survival.fine_gray": "ModelResult",
    "survival.horizon_table": "pd.DataFrame",
    "survival.kaplan_meier": "pd.DataFrame",
    "survival.km_steps": "KMSteps",
    "survival.log_rank": "pd.DataFrame",
    "survival.predict_cumulative_incidence": "pd.DataFrame",
    "survival.pwp": "ModelResult",
    "survival.recurrent_episodes": "pd.DataFrame",
    "survival.residuals": "pd.Series | pd.DataFrame",
    "survival.split_episodes": "pd.DataFrame",
    "logistic.average_marginal_effects": "pd.DataFrame",
    "logistic.calibration_intercept_slope": "tuple[float, float]",
    "logistic.check_columns": "None",
    "logistic.cluster_codes": "tuple[np.ndarray, int]",
    "logistic.gee": "ModelResult",
    "logistic.horizon_outcome": "tuple[pd.DataFrame, HorizonOutcome]",
    "logistic.irls": "IrlsFit",
    "logistic.sandwich": "np.ndarray",
    "logistic.xtwx": "np.ndarray",
    "logistic.logistic": "ModelResult",
    "logistic.multilevel": "ModelResult",
    "logistic.observed_vs_predicted": "pd.DataFrame",
    "logistic.outcome_name": "str",
    "logistic.predict_profiles": "pd.DataFrame",
    "logistic.prediction_checks": "PredictionCheck",
    "evaluation.adoption_dates": "pd.Series",
    "evaluation.balance_table": "pd.DataFrame",
    "evaluation.balancing_weights": "np.ndarray",
    "evaluation.before_after": "ModelResult",
    "evaluation.comparison_sample": "pd.DataFrame",
    "evaluation.did": "ModelResult",
    "evaluation.event_study": "ModelResult",
    "evaluation.expected_events": "dict[str, float]",
    "evaluation.freedman_power": "float",
    "evaluation.hazard_ratio_from_risk_difference": "float",
    "evaluation.horizon_sample": "tuple[pd.DataFrame, dict[str, int]]",
    "evaluation.mark_adoption": "pd.DataFrame",
    "evaluation.pilot_vs_comparison": "ModelResult",
    "evaluation.potential_followup_days": "pd.Series",
    "evaluation.power_curve": "pd.DataFrame",
    "evaluation.propensity_weighting": "WeightingResult",
    "evaluation.sample_size": "dict[str, Any]",
    "evaluation.schoenfeld_events": "float",
    "evaluation.schoenfeld_power": "float",
    "evaluation.simulate_power": "ModelResult",
    "costs.gbp": "str",
    "costs.holmes_2014": "UnitCosts",
    "costs.invest_to_save": "ModelResult",
    "costs.invest_to_save_table": "pd.DataFrame",
    "costs.national_costs": "pd.DataFrame",
    "costs.reprice": "float | np.ndarray",
    "costs.reprice_costs": "UnitCosts",
    "costs.sensitivity_table": "pd.DataFrame",
    "costs.whole": "Any",
}

#: Models of a formula: (formula, data, ...) and the options they must spell the same way.
FORMULA_MODELS = {
    "survival.cox": {
        "duration_col",
        "event_col",
        "entry_col",
        "weights",
        "strata",
        "cluster",
        "vcov",
    },
    "survival.fine_gray": {"duration_col", "event_col", "cluster", "vcov"},
    "survival.cause_specific_cox": {"duration_col", "event_col"},
    "survival.andersen_gill": {"duration_col", "event_col", "entry_col", "cluster"},
    "survival.pwp": {"duration_col", "event_col", "entry_col", "cluster"},
    "logistic.logistic": {
        "outcome_col",
        "duration_col",
        "event_col",
        "horizon_days",
        "cluster",
        "vcov",
    },
    "logistic.gee": {"outcome_col", "duration_col", "event_col", "horizon_days", "cluster", "vcov"},
    "logistic.multilevel": {"outcome_col", "duration_col", "event_col", "horizon_days", "cluster"},
    "logistic.prediction_checks": {"outcome_col", "duration_col", "event_col", "horizon_days"},
}
#: Designs on the spells table: the same spellings of time, event, horizon and cluster.
DESIGNS = {
    "evaluation.pilot_vs_comparison",
    "evaluation.did",
    "evaluation.event_study",
    "evaluation.before_after",
    "evaluation.propensity_weighting",
}
#: Spellings replaced (kept for one release through **kwargs, never in a signature).
OLD = {
    "robust",
    "variance",
    "cov_type",
    "group",
    "id_col",
    "start_col",
    "stop_col",
    "horizons",
    "time_col",
    "status_col",
    "weights_col",
    "strata_col",
    "cluster_col",
    "time",
    "duration",
    "alpha_level",
    "level",
    "ci_level",
}
#: Where an old-looking name is the right one: a data helper's own column.
EXEMPT = {
    ("survival.recurrent_episodes", "id_col"),  # the child identifier that orders spells
    ("evaluation.adoption_dates", "start_col"),  # the LA table's PILOT_START column
    ("survival.km_steps", "duration"),  # the array kernels take arrays, not column names
    ("survival.cox_arrays", "duration"),
}


def _public() -> dict[str, Callable[..., Any]]:
    out = {}
    for ns, mod in NAMESPACES.items():
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for n in names:
            f = getattr(mod, n)
            if inspect.isfunction(f) and f.__module__.startswith("reunistat") and n != "data_hash":
                out[f"{ns}.{n}"] = f
    return out


PUBLIC = _public()


def test_every_public_function_is_declared() -> None:
    assert sorted(PUBLIC) == sorted(RETURNS)


@pytest.mark.parametrize("name", sorted(RETURNS))
def test_return_type(name: str) -> None:
    assert inspect.signature(PUBLIC[name]).return_annotation == RETURNS[name]


@pytest.mark.parametrize("name", sorted(RETURNS))
def test_no_old_spelling_in_signatures(name: str) -> None:
    params = inspect.signature(PUBLIC[name]).parameters
    old = {p for p in params if p in OLD and (name, p) not in EXEMPT}
    assert old == set()
    # a column name ends in _col (or is weights / strata / cluster / by)
    for p in params:
        if re.fullmatch(r"(la|time|status|id|stop|start)_?col", p) and (name, p) not in EXEMPT:
            assert p == "la_col" and name in {
                "evaluation.adoption_dates",
                "evaluation.mark_adoption",
                "evaluation.comparison_sample",
            }, f"{name}: {p}"
    # a confidence level is conf_level everywhere
    assert not {"ci", "level", "confidence"} & set(params)


@pytest.mark.parametrize("name", sorted(FORMULA_MODELS))
def test_formula_models_share_their_options(name: str) -> None:
    params = list(inspect.signature(PUBLIC[name]).parameters)
    assert params[:2] == ["formula", "data"]
    missing = FORMULA_MODELS[name] - set(params)
    if name in {"survival.cause_specific_cox"}:
        assert "kwargs" in params  # takes cox's options
    assert missing == set()


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_designs_share_their_options(name: str) -> None:
    params = inspect.signature(PUBLIC[name]).parameters
    assert {"duration_col", "event_col", "cluster"} <= set(params)
    if "horizon_days" in params:
        assert params["horizon_days"].default in (horizons.DEFAULT_HORIZON_DAYS, None)
        assert "potential_followup_col" in params


def test_defaults_come_from_one_place() -> None:
    for name, f in PUBLIC.items():
        for p in inspect.signature(f).parameters.values():
            if p.name == "horizon_days" and p.default is not inspect.Parameter.empty:
                assert p.default in (horizons.DEFAULT_HORIZON_DAYS, None, 365.0), name
            if p.name == "horizons_days":
                assert p.default in (
                    horizons.PUBLISHED_HORIZONS_DAYS,
                    horizons.WEIGHTING_HORIZONS_DAYS,
                ), name


# ---- what comes out: one list of column names ------------------------------------------


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return pd.read_csv(REF / "synthetic_spells.csv")


@pytest.fixture(scope="module")
def fits(spells: pd.DataFrame) -> dict[str, ModelResult]:
    d, e = "days_followed", "reentered"
    rec = spells.assign(start=0.0, stop=spells[d] + 0.5, order=1)
    return {
        "cox": sv.cox("~ section20 + prior_periods", spells, d, e, cluster="CHILD"),
        "fine_gray": sv.fine_gray("~ section20", spells, d, "event_type"),
        "cause_specific_cox": sv.cause_specific_cox("~ section20", spells, d, "event_type"),
        "andersen_gill": sv.andersen_gill(
            "~ section20", rec, "stop", e, entry_col="start", cluster="CHILD"
        ),
        "pwp": sv.pwp(
            "~ section20", rec, "stop", e, entry_col="start", cluster="CHILD", order_col="order"
        ),
        "logistic": lg.logistic("~ section20 + prior_periods", spells, cluster="LA"),
        "gee": lg.gee("~ section20", spells, cluster="LA"),
    }


def test_tidy_and_glance_vocabulary(fits: dict[str, ModelResult]) -> None:
    for name, r in fits.items():
        assert tuple(r.tidy().columns) == TIDY_COLUMNS, name
        assert tuple(r.tidy(exponentiate=True, conf_level=0.9).columns) == TIDY_COLUMNS, name
        g = r.glance()
        assert {"model", "n_obs", "n_events", "vcov_type", "n_dropped_missing"} <= set(g.columns)
        assert r.model == name or (name, r.model) in {
            ("cause_specific_cox", "cox"),
            ("gee", "logistic_gee"),
        }
        assert r.provenance.function.endswith("." + name) or name == "gee"


def test_horizon_counts_in_glance(fits: dict[str, ModelResult]) -> None:
    for name in ("logistic", "gee"):
        g = fits[name].glance().iloc[0]
        assert {"horizon_days", "n_excluded_censored", "n_excluded_potential"} <= set(g.index)


def _allowed(col: str) -> bool:
    base = re.sub(r"_\d+$", "", col)
    return base in CURVE_COLUMNS or base in {
        "std_error_log_surv",
        "surv_conf_low",
        "surv_conf_high",
        "surv_std_error",
    }


def test_curve_vocabulary(spells: pd.DataFrame) -> None:
    d = "days_followed"
    km = sv.kaplan_meier(spells, d, "reentered", by="section20")
    aj = sv.aalen_johansen(spells, d, "event_type")
    for curve in (km, aj):
        assert [c for c in curve.columns if not _allowed(c)] == []
    assert {"cumulative_incidence", "conf_low", "conf_high", "n_events", "n_risk"} <= set(km)
    assert {"cumulative_incidence_1", "conf_low_1", "n_events_2"} <= set(aj)
    for method, ev_col in (("km", "reentered"), ("aalen-johansen", "event_type")):
        h = sv.horizon_table(spells, d, ev_col, method=method)  # type: ignore[arg-type]
        assert tuple(h.columns) == HORIZON_COLUMNS


# ---- the old spellings still work, with a warning naming the new one --------------------

OLD_CALLS = {
    "cox robust=": (
        lambda sp: sv.cox("~ section20", sp, "days_followed", "reentered", robust=True),
        lambda sp: sv.cox("~ section20", sp, "days_followed", "reentered", vcov="HC0"),
        "vcov=",
    ),
    "cox formula left side": (
        lambda sp: sv.cox("reentered ~ section20", sp, "days_followed"),
        lambda sp: sv.cox("~ section20", sp, "days_followed", "reentered"),
        "event_col=",
    ),
    "logistic vcov='cluster'": (
        lambda sp: lg.logistic("~ section20", sp, vcov="cluster", cluster="LA"),
        lambda sp: lg.logistic("~ section20", sp, vcov="CR1", cluster="LA"),
        "vcov='CR1'",
    ),
    "logistic formula left side": (
        lambda sp: lg.logistic("reentered ~ section20", sp),
        lambda sp: lg.logistic("~ section20", sp, outcome_col="reentered"),
        "outcome_col=",
    ),
    "gee group= cov_type=": (
        lambda sp: lg.gee("~ section20", sp, group="LA", cov_type="naive"),
        lambda sp: lg.gee("~ section20", sp, cluster="LA", vcov="model"),
        "cluster=",
    ),
    "log_rank group=": (
        lambda sp: sv.log_rank(sp, "days_followed", "reentered", group="section20"),
        lambda sp: sv.log_rank(sp, "days_followed", "reentered", by="section20"),
        "by=",
    ),
    "andersen_gill old positions": (
        lambda sp: sv.andersen_gill(
            "~ section20",
            sp.assign(start=0.0, stop=sp.days_followed + 0.5),
            "start",
            "stop",
            "reentered",
            id_col="CHILD",
        ),
        lambda sp: sv.andersen_gill(
            "~ section20",
            sp.assign(start=0.0, stop=sp.days_followed + 0.5),
            "stop",
            "reentered",
            entry_col="start",
            cluster="CHILD",
        ),
        "entry_col",
    ),
}


@pytest.mark.parametrize("case", sorted(OLD_CALLS))
def test_old_spellings_warn_and_agree(case: str, spells: pd.DataFrame) -> None:
    old, new, hint = OLD_CALLS[case]
    with pytest.warns(DeprecationWarning, match=re.escape(hint)):
        a = old(spells)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        b = new(spells)
    if isinstance(a, ModelResult):
        pd.testing.assert_frame_equal(a.tidy(), b.tidy())
        assert a.vcov_type == b.vcov_type
    else:
        pd.testing.assert_frame_equal(a, b)


def test_unknown_keyword_is_a_type_error(spells: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        sv.cox("~ section20", spells, "days_followed", "reentered", robustness=True)


OLD_KEYWORDS = {
    "cox": {"robust"},
    "fine_gray": {"variance"},
    "gee": {"group", "cov_type"},
    "multilevel": {"group"},
    "prediction_checks": {"group"},
    "log_rank": {"group"},
    "horizon_table": {"horizons"},
    "propensity_weighting": {"horizons"},
    "did": {"la_col"},
    "event_study": {"la_col"},
    "before_after": {"la_col"},
    "andersen_gill": {"id_col"},
    "pwp": {"id_col"},
}


def test_the_package_uses_no_deprecated_spelling() -> None:
    """Inside src/reunistat every call to a model function uses the new keywords."""
    import ast

    src = Path(__file__).resolve().parents[1] / "src" / "reunistat"
    bad = []
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            old = OLD_KEYWORDS.get(name, set()) & {k.arg for k in node.keywords if k.arg}
            if old:
                bad.append(f"{path.relative_to(src)}:{node.lineno} {name}({', '.join(old)}=)")
    assert bad == []
