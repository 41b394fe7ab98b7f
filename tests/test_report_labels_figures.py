"""Labels of variables and terms, readable numbers, and the publication figures."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Annotation

from reunistat.models.logistic import average_marginal_effects, logistic
from reunistat.pipeline import load_config
from reunistat.report.discussion import crude_adjusted_statement, ph_statement, power_statement
from reunistat.report.figures import PNG_DPI, curve_figure, fitted_top, flow_figure, save_figure
from reunistat.report.labels import (
    VARIABLES,
    labelled_margins,
    num_text,
    p_text,
    term_label,
    with_references,
)
from reunistat.report.tables import model_table

ROOT = Path(__file__).parents[1]
RAW = ("section20", "log1p", "C(", "contr.", "childrens_home", "with_parents", "[T.", "e13")


@pytest.fixture(scope="module")
def spells() -> pd.DataFrame:
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.tables import read_extract

    return build_cohort(
        read_extract(ROOT / "data/synthetic/sample"), CohortConfig(validation="lenient")
    ).spells


@pytest.fixture(scope="module")
def covariates() -> str:
    return load_config(ROOT / "analyses/config.toml").covariates


def test_every_term_of_the_paper_models_has_a_readable_label(spells, covariates):
    res = logistic("~ " + covariates, spells, horizon_days=365, cluster="LA")
    labels = [term_label(t) for t in res.params.index]
    for lab in labels:
        assert not any(r in lab for r in RAW), lab
    assert "Return type: unplanned (E4B) (vs planned (E4A))" in labels
    assert "Placement moves in the period (per move)" in labels


def test_marginal_effects_use_the_odds_ratios_reference_groups(spells, covariates):
    sp = with_references(spells, covariates)
    res = logistic("~ " + covariates, sp, horizon_days=365, cluster="LA")
    ame = average_marginal_effects(res)
    refs = {
        v: r.reference for v, r in VARIABLES.items() if r.reference and v in set(ame["variable"])
    }
    assert refs  # age band, sex, ethnic group, return type, last placement
    for v, ref in refs.items():
        contrasts = ame.loc[ame["variable"] == v, "contrast"]
        assert all(c.endswith(f" - {ref}") for c in contrasts), (v, list(contrasts))
    shown = labelled_margins(ame)
    text = shown.to_string()
    assert not any(r in text for r in RAW)
    assert "unplanned (E4B) vs planned (E4A)" in set(shown["comparison"])
    assert not shown["percentage points"].str.startswith("-0.0").any()


def test_p_values_and_numbers_are_written_for_reading():
    assert p_text(2.1e-130) == "<0.001" and p_text(0.0012) == "0.001"
    assert num_text(-0.0004, 3) == "0.000" and num_text(-0.0006, 3) == "-0.001"
    tidy = pd.DataFrame(
        {
            "term": ["a"],
            "estimate": [0.99999],
            "conf_low": [-0.0001],
            "conf_high": [1.2],
            "p_value": [1e-9],
        }
    )
    t = model_table(tidy, "HR")
    assert t.iloc[0].tolist() == ["a", "1.00", "0.00 to 1.20", "<0.001"]


def _curve(top: float) -> pd.DataFrame:
    t = np.arange(0, 2400, 30.0)
    est = top * (1 - np.exp(-t / 500))
    return pd.DataFrame(
        {"group": "all", "time": t, "ci": est, "lo": est * 0.97, "hi": est * 1.03 + 0.001}
    )


def test_curve_axis_is_fitted_to_the_curves_and_bands_are_drawn(tmp_path):
    c = _curve(0.33)
    assert fitted_top(c, "ci", ("lo", "hi")) == pytest.approx(0.4)
    fig = curve_figure(c, None, estimate="ci", conf=("lo", "hi"), title="t", xmax_days=2400)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] <= 0.4 + 1e-9  # not 60% for a curve ending at 33%
    assert ax.collections  # the band
    # the band's limits are drawn as lines too (visible where the band is narrow)
    assert len(ax.lines) == 3
    paths = save_figure(fig, tmp_path / "c", "alt", "source")
    png = paths[0].read_bytes()
    width = struct.unpack(">I", png[16:20])[0]
    assert width == round(fig.get_figwidth() * PNG_DPI)
    assert paths[1].suffix == ".svg" and paths[1].stat().st_size > 1000


def test_flow_diagram_joins_its_boxes_with_arrows():
    steps = [
        ("rows read", "100 children", False),
        ("duplicates", "5 children", True),
        ("bad dates", "3 children", True),
        ("valid", "92 children", False),
        ("no return home", "50 children", True),
        ("returns home", "42 children", False),
    ]
    fig = flow_figure(steps, "Cohort flow")
    ax = fig.axes[0]
    arrows = [c for c in ax.get_children() if isinstance(c, Annotation)]
    # two arrows down the main column, one to each box of exclusions
    assert len(arrows) == 4
    texts = [t.get_text() for t in ax.texts]
    assert any("duplicates: 5 children" in t and "bad dates: 3 children" in t for t in texts)
    assert len(ax.patches) == 5  # three main boxes, two exclusion boxes


def test_discussion_sentences_follow_the_numbers():
    z = pd.DataFrame({"label": ["Disability", "Sex", "GLOBAL"], "p_value": [0.01, 0.5, 0.1]})
    by = pd.DataFrame(
        {
            "label": ["Disability (yes vs no)", "Disability (yes vs no)"],
            "period": ["0-3 months", "3+ months"],
            "order": [0, 1],
            "estimate": [0.8, 1.1],
        }
    )
    s = ph_statement(z, by, n_events=40_000)
    assert "1 of 2 characteristics" in s and "Disability (p = 0.010)" in s
    assert "For Disability (yes vs no) the hazard ratio was 0.80 in 0-3 months and 1.10 in" in s
    assert "too small to matter" in s
    c = crude_adjusted_statement(
        "placement moves",
        {"0": "19.0%", "3+": "16.0%"},
        {
            "crude": (0.95, 0.92, 0.98),
            "the length of the period of care": (1.04, 1.01, 1.07),
            "age at return": (0.96, 0.93, 0.99),
            "every characteristic": (1.05, 1.02, 1.08),
        },
    )
    assert "Adjusting for the length of the period of care alone moved it to 1.04" in c
    assert "opposite directions" in c
    p = power_statement(
        pd.DataFrame(
            {
                "returns_per_year": [500, 1000, 2000],
                "power": [0.3, 0.41, 0.6],
                "schoenfeld_power": [0.55, 0.83, 0.98],
            }
        ),
        alpha=0.05,
        n_pilot=5,
        la_sd_log_hr=0.15,
        t_reference=True,
    )
    assert "0.41 against 0.83" in p and "critical value 2.78 instead of 1.96" in p
