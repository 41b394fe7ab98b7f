"""Several logistic models side by side (results.etable), and the printout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reunistat.models.logistic import gee, logistic, multilevel
from reunistat.results import etable

REF = Path(__file__).parent / "reference" / "logistic"


@pytest.fixture(scope="module")
def models():
    df = pd.read_csv(REF / "sample.csv")
    f = "~ section20 + prior_periods + return_type"
    return {
        "glm": logistic(f, df),
        "glm, cluster LA": logistic(f, df, cluster="LA"),
        "GEE": gee(f, df),
        "multilevel": multilevel(f, df),
        "+ age": logistic(f + " + age_band", df, cluster="LA"),
    }


def test_etable_side_by_side(models):
    tab = etable(models, stats=("aic", "mor", "n_excluded_censored"))
    assert list(tab.columns) == list(models)
    assert tab.index[-6:].tolist() == [
        "N", "events", "variance", "aic", "mor", "n_excluded_censored"
    ]  # fmt: skip
    assert tab.loc["age_band[T.16+]", "glm"] == ""  # term missing from a model: blank
    assert tab.loc["mor", "glm"] == "" and tab.loc["mor", "multilevel"] != ""
    assert tab.loc["variance", "glm, cluster LA"] == "cluster(LA)"
    or_ = models["glm"].tidy(exponentiate=True).set_index("term").loc["section20", "estimate"]
    assert tab.loc["section20", "glm"].startswith(f"{or_:.2f} (")


def test_etable_default_is_unchanged_and_options(models):
    tab = etable(list(models.values())[:2])
    assert tab.index[-3:].tolist() == ["N", "events", "variance"]
    se = etable(models, show="se", exponentiate=False, labels={"section20": "Section 20"})
    assert "Section 20" in se.index
    b = models["glm"].params["section20"]
    s = models["glm"].std_errors["section20"]
    assert se.loc["Section 20", "glm"] == f"{b:.2f} ({s:.2f})"
    with pytest.raises(ValueError, match="show"):
        etable(models, show="p")  # type: ignore[arg-type]


def test_printout_states_counts_and_exclusions(models):
    text = str(models["glm, cluster LA"])
    assert "observations: 2,747" in text and "events: 855" in text
    assert "n_excluded_censored = 253" in text
    assert "OR" in text
