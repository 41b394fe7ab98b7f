"""Fine-Gray (cmprsk::crr parity on mgus2 and synthetic spells) and cause-specific Cox."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cause_specific_cox, cox, fine_gray

REF = Path(__file__).parent / "reference" / "survival"


def test_mgus2_matches_crr():
    mg = pd.read_csv(REF / "mgus2.csv")
    r = json.loads((REF / "mgus2.json").read_text())["crr"]
    res = fine_gray("~ age + male + hgb", mg, "etime", "event")
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.std_errors, r["se"], rtol=1e-6)
    np.testing.assert_allclose(res.fit_stats["loglik"], r["loglik"], rtol=1e-9)
    assert res.exp_label == "SHR" and res.vcov_type == "fine-gray"


def test_synthetic_matches_crr():
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    r = json.loads((REF / "synthetic.json").read_text())["crr"]
    res = fine_gray("~ section20 + prior_periods + disability", sp, "days_followed", "event_type")
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.std_errors, r["se"], rtol=1e-6)
    model = fine_gray(
        "~ section20 + prior_periods + disability",
        sp,
        "days_followed",
        "event_type",
        variance="model",
    )
    np.testing.assert_allclose(model.params, res.params)


def test_cause_specific_equals_cox_on_indicator():
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    cs = cause_specific_cox(
        "~ section20 + prior_periods", sp, "days_followed", "event_type", cluster="CHILD"
    )
    direct = cox("reentered ~ section20 + prior_periods", sp, "days_followed", cluster="CHILD")
    np.testing.assert_allclose(cs.params, direct.params)
    np.testing.assert_allclose(cs.std_errors, direct.std_errors)


def test_fine_gray_errors():
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    with pytest.raises(ValueError, match="no events of cause"):
        fine_gray("~ section20", sp, "days_followed", "event_type", cause=3)
    with pytest.raises(ValueError, match="variance must be"):
        fine_gray("~ section20", sp, "days_followed", "event_type", variance="robust")
