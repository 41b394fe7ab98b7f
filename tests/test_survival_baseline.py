"""Baseline-hazard centring of the Cox model against R survival 3.8-11.

``tests/reference/survival/diagnostics_baseline.json`` (``diagnostics.R``):
``survfit(fit)`` with R's current centring (0/1 covariates at 0) and with
``nocenter = NULL`` (every covariate at its mean), ``basehaz(fit, centered =
FALSE)`` and a user profile, on rossi, weighted synthetic spells and cgd's
``(start, stop]`` data.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import InputError
from reunistat.models.survival import cox, predict_cumulative_incidence
from reunistat.models.survival.cox import baseline_hazard, reference_profile

REF = Path(__file__).parent / "reference" / "survival"


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "diagnostics_baseline.json").read_text())


@pytest.fixture(scope="module")
def fits():
    rossi = pd.read_csv(REF / "rossi.csv")
    sp = pd.read_csv(REF / "synthetic_spells.csv").iloc[:800]
    cg = pd.read_csv(REF / "cgd.csv")
    return {
        "rossi": cox("~ fin + age + prio", rossi, "week", "arrest"),
        "spells_w": cox(
            "~ section20 + disability + prior_periods",
            sp,
            "days_followed",
            "reentered",
            weights="weight",
        ),
        "cgd": cox("~ treat + age + steroids", cg, "tstop", "status", entry_col="tstart"),
    }


@pytest.mark.parametrize("key", ["rossi", "spells_w", "cgd"])
def test_centring_matches_r(ref, fits, key):
    r, res = ref[key], fits[key]
    np.testing.assert_allclose(reference_profile(res, "r"), r["means_r"], atol=1e-12)
    np.testing.assert_allclose(reference_profile(res, "means"), r["means_old"], rtol=1e-12)
    for centre in ("r", "means"):
        b = baseline_hazard(res, centre=centre)
        np.testing.assert_array_equal(b["time"], r[centre]["time"])
        np.testing.assert_allclose(b["cumhaz"], r[centre]["cumhaz"], rtol=1e-8)
    zero = baseline_hazard(res, centre="zero")
    at = np.searchsorted(r["zero_time"], zero["time"])
    np.testing.assert_allclose(zero["cumhaz"], np.array(r["zero"])[at], rtol=1e-8)


def test_default_is_current_r_and_profiles(ref, fits):
    res = fits["rossi"]
    default = baseline_hazard(res)
    pd.testing.assert_frame_equal(default, baseline_hazard(res, centre="r"))
    assert default.attrs["reference_profile"]["fin"] == 0.0
    prof = baseline_hazard(res, centre={"fin": 1, "age": 30, "prio": 4})
    np.testing.assert_allclose(prof["cumhaz"], ref["rossi_profile"]["cumhaz"], rtol=1e-8)
    same = baseline_hazard(res, centre=pd.DataFrame({"fin": [1], "age": [30], "prio": [4]}))
    np.testing.assert_allclose(same["cumhaz"], prof["cumhaz"])
    # predictions do not depend on the centring: the profile's own prediction
    pr = predict_cumulative_incidence(
        res, pd.DataFrame({"fin": [1], "age": [30], "prio": [4]}), prof["time"]
    )
    np.testing.assert_allclose(pr["cumulative_hazard"], prof["cumhaz"], rtol=1e-12)
    with pytest.raises(InputError, match="centre must be one of"):
        baseline_hazard(res, centre="median")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="one covariate profile"):
        baseline_hazard(res, centre=pd.DataFrame({"fin": [0, 1], "age": 30, "prio": 1}))
