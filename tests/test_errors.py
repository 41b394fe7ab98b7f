"""Every error the models raise for bad input is a ReunistatError (one exception tree).

Two checks: statically, every ``raise`` in the models, results and costs names
a class of :mod:`reunistat.errors`' tree (or ``TypeError``, Python's own error for
a call with unknown keywords); dynamically, a table of bad calls to the public
model functions, each of which must raise a :class:`~reunistat.errors.ReunistatError`
(and so also a ``ValueError``, as before).
"""

from __future__ import annotations

import ast
import builtins
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from reunistat import costs, errors
from reunistat.errors import ReunistatError
from reunistat.models import evaluation as ev
from reunistat.models import logistic as lg
from reunistat.models import survival as sv
from reunistat.results import etable

SRC = Path(__file__).resolve().parents[1] / "src" / "reunistat"
REF = Path(__file__).parent / "reference" / "survival"
CHECKED = [*sorted((SRC / "models").rglob("*.py")), SRC / "results.py", SRC / "costs.py"]


def _raised(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name):
                out.append((node.lineno, exc.id))
            elif isinstance(exc, ast.Attribute):
                out.append((node.lineno, exc.attr))
    return out


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(SRC)))
def test_every_raise_is_in_the_tree(path: Path) -> None:
    mod_name = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
    mod = importlib.import_module(mod_name.removesuffix(".__init__"))
    bad = []
    for line, name in _raised(path):
        cls = getattr(mod, name, None) or getattr(builtins, name, None)
        if not isinstance(cls, type):
            continue  # a variable holding an exception class (checked by its callers' tests)
        if not (issubclass(cls, ReunistatError) or cls is TypeError):
            bad.append(f"line {line}: raise {name}")
    assert bad == []


def test_model_errors_keep_their_old_names() -> None:
    assert issubclass(lg.LogisticInputError, errors.InputError)
    assert issubclass(lg.SeparationError, errors.SeparationError)
    assert issubclass(lg.SeparationError, lg.LogisticInputError)
    assert ev.EvaluationError is errors.EvaluationError
    assert issubclass(errors.EvaluationError, ValueError)


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    return pd.read_csv(REF / "synthetic_spells.csv")


def _bad_calls(sp: pd.DataFrame) -> dict[str, Callable[[], Any]]:
    d, e = "days_followed", "reentered"
    neg = sp.assign(days_followed=-sp[d])
    la = pd.DataFrame({"LA": ["E801"], "PILOT": [1], "PILOT_START": ["2030-01-01"]})
    fit = sv.cox("~ section20", sp, d, e)
    return {
        "cox: missing column": lambda: sv.cox("~ section20", sp, "nope", e),
        "cox: negative durations": lambda: sv.cox("~ section20", neg, d, e),
        "cox: bad ties": lambda: sv.cox("~ section20", sp, d, e, ties="exact"),  # type: ignore[arg-type]
        "cox: bad vcov": lambda: sv.cox("~ section20", sp, d, e, vcov="HC3"),  # type: ignore[arg-type]
        "cox: CR0 without cluster": lambda: sv.cox("~ section20", sp, d, e, vcov="CR0"),
        "cox: no event column": lambda: sv.cox("~ section20", sp, d),
        "cox: no events": lambda: sv.cox("~ section20", sp.assign(reentered=0), d, e),
        "cox: constant covariate": lambda: sv.cox("~ one", sp.assign(one=1), d, e),
        "cox: collinear": lambda: sv.cox("~ section20 + s2", sp.assign(s2=2 * sp.section20), d, e),
        "cox: bad cluster": lambda: sv.cox("~ section20", sp, d, e, cluster=3),  # type: ignore[arg-type]
        "cox: bad formula": lambda: sv.cox("~ not_a_column", sp, d, e),
        "fine_gray: bad cause": lambda: sv.fine_gray("~ section20", sp, d, "event_type", cause=7),
        "fine_gray: bad vcov": lambda: sv.fine_gray("~ x", sp, d, "event_type", vcov="HC0"),  # type: ignore[arg-type]
        "kaplan_meier: bad event codes": lambda: sv.kaplan_meier(sp, d, "event_type"),
        "kaplan_meier: bad conf_level": lambda: sv.kaplan_meier(sp, d, e, conf_level=2),
        "aalen_johansen: negative codes": lambda: sv.aalen_johansen(
            sp.assign(event_type=-1), d, "event_type"
        ),
        "horizon_table: bad method": lambda: sv.horizon_table(sp, d, e, method="x"),  # type: ignore[arg-type]
        "log_rank: one group": lambda: sv.log_rank(sp.assign(g=1), d, e, by="g"),
        "log_rank: no by": lambda: sv.log_rank(sp, d, e),
        "cox_zph: not a cox fit": lambda: sv.cox_zph(lg.logistic("~ section20", sp)),
        "cox_zph: bad transform": lambda: sv.cox_zph(fit, "sqrt"),  # type: ignore[arg-type]
        "split_episodes: bad cuts": lambda: sv.split_episodes(sp, d, e, [-1]),
        "andersen_gill: no cluster": lambda: sv.andersen_gill("~ x", sp, d, e),
        "pwp: no order": lambda: sv.pwp("~ x", sp, d, e, cluster="CHILD"),
        "recurrent_episodes: missing column": lambda: sv.recurrent_episodes(sp),
        "predict: stratified without stratum": lambda: sv.predict_cumulative_incidence(
            sv.cox("~ section20", sp, d, e, strata="LA"), sp.head(1), [365]
        ),
        "logistic: horizon beyond follow-up": lambda: lg.logistic("~ x", sp, horizon_days=99999),
        "logistic: bad vcov": lambda: lg.logistic("~ section20", sp, vcov="HC3"),  # type: ignore[arg-type]
        "logistic: missing outcome": lambda: lg.logistic("~ section20", sp, outcome_col="nope"),
        "logistic: separation": lambda: lg.logistic(
            "~ sep", sp.assign(sep=(sp[d] < 365) & (sp[e] == 1))
        ),
        "gee: bad vcov": lambda: lg.gee("~ section20", sp, vcov="HC0"),  # type: ignore[arg-type]
        "multilevel: bad n_agq": lambda: lg.multilevel("~ section20", sp, n_agq=0),
        "prediction_checks: bad penalty": lambda: lg.prediction_checks(
            "~ section20",
            sp,
            penalty="l3",  # type: ignore[arg-type]
        ),
        "horizon_outcome: fractional horizon": lambda: lg.horizon_outcome(sp, 365.5),  # type: ignore[arg-type]
        "horizon_sample: fractional horizon": lambda: ev.horizon_sample(sp, 365.5),  # type: ignore[arg-type]
        "adoption_dates: none": lambda: ev.adoption_dates({"A": None}),
        "pilot_vs_comparison: bad model": lambda: ev.pilot_vs_comparison(sp, la, model="x"),  # type: ignore[arg-type]
        "did: no date column": lambda: ev.did(sp, la),
        "before_after: cox with a horizon": lambda: ev.before_after(
            sp.assign(return_date="2031-01-01"), la.assign(LA="E805"), model="cox", horizon_days=365
        ),
        "propensity_weighting: bad method": lambda: ev.propensity_weighting(
            sp.assign(treated=0),
            method="x",  # type: ignore[arg-type]
        ),
        "balancing_weights: bad method": lambda: ev.balancing_weights(
            np.array([0.5]),
            np.array([1]),
            "x",  # type: ignore[arg-type]
        ),
        "PowerDesign: no pilots": lambda: ev.simulate_power(ev.PowerDesign(n_pilot=0)),
        "tidy: bad conf_level": lambda: fit.tidy(conf_level=1.5),
        "etable: bad show": lambda: etable([fit], show="x"),  # type: ignore[arg-type]
        "costs: bad effect scale": lambda: costs.invest_to_save(0.9, effect_scale="x"),  # type: ignore[arg-type]
    }


def test_bad_input_raises_a_reunistat_error(spells: pd.DataFrame) -> None:
    not_ours = {}
    for name, call in _bad_calls(spells).items():
        try:
            call()
        except ReunistatError:
            continue
        except Exception as exc:
            not_ours[name] = f"{type(exc).__name__}: {exc}"
        else:
            not_ours[name] = "no error"
    assert not_ours == {}
