"""Cross-checks against the Python engines the package keeps as references."""

from pathlib import Path

import numpy as np
import pandas as pd

from reunistat.models.survival import cox, kaplan_meier

REF = Path(__file__).parent / "reference" / "survival"
F = "arrest ~ fin + age + race + wexp + mar + paro + prio"


def test_lifelines_and_statsmodels_agree_on_rossi():
    from lifelines import CoxPHFitter
    from statsmodels.duration.hazard_regression import PHReg

    d = pd.read_csv(REF / "rossi.csv")
    ours = cox(F, d, "week")
    ll = CoxPHFitter().fit(d, "week", "arrest")
    np.testing.assert_allclose(ours.params, ll.params_[ours.params.index], rtol=1e-5)
    np.testing.assert_allclose(ours.std_errors, ll.standard_errors_[ours.params.index], rtol=1e-4)
    covs = list(ours.params.index)
    sm = PHReg(d["week"], d[covs], status=d["arrest"], ties="efron").fit()
    np.testing.assert_allclose(ours.params, sm.params, rtol=1e-6)
    np.testing.assert_allclose(ours.std_errors, sm.bse, rtol=1e-6)


def test_kaplan_meier_agrees_with_lifelines():
    from lifelines import KaplanMeierFitter

    d = pd.read_csv(REF / "rossi.csv")
    ours = kaplan_meier(d, "week", "arrest")
    km = KaplanMeierFitter().fit(d["week"], d["arrest"])
    theirs = km.survival_function_.iloc[1:, 0].to_numpy()  # lifelines adds time 0
    np.testing.assert_allclose(ours["surv"], theirs, rtol=1e-12)
    ci = km.confidence_interval_.iloc[1:].to_numpy()
    np.testing.assert_allclose(ours["surv_conf_low"], ci[:, 0], rtol=1e-9)
    np.testing.assert_allclose(ours["surv_conf_high"], ci[:, 1], rtol=1e-9)
