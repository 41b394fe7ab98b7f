"""Fixed-horizon outcome conditioned on potential follow-up (no selection by outcome)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.cohort import CohortConfig, derive_cohort
from reunistat.models.logistic import LogisticInputError, horizon_outcome, logistic
from reunistat.synthetic import default_config, generate

PF = "days_potential_followup"


def test_potential_followup_keeps_exactly_the_spells_that_could_reach_h():
    s = pd.DataFrame(
        {
            "days_followed": [10, 400, 100, 500, 50, 200],
            "reentered": [1, 0, 0, 1, 1, 0],
            PF: [900, 900, 900, 900, 200, 200],
        }
    )
    out, n = horizon_outcome(s, 365, potential_followup_col=PF)
    # rows 4-5 could not be followed 365 days: out whatever happened (row 4 re-entered)
    assert out.index.tolist() == [0, 1, 3]
    assert out["reentry_365d"].tolist() == [1, 0, 0]
    assert (n.n_excluded_potential, n.n_excluded_censored, n.n_events) == (2, 1, 1)
    plain, m = horizon_outcome(s, 365)
    assert plain.index.tolist() == [0, 1, 3, 4] and m.n_excluded_potential == 0
    with pytest.raises(LogisticInputError, match="potential follow-up of 5000 days"):
        horizon_outcome(s.assign(days_followed=6000), 5000, potential_followup_col=PF)
    with pytest.raises(LogisticInputError, match="no column 'nope'"):
        horizon_outcome(s, 365, potential_followup_col="nope")


def test_potential_followup_removes_the_upward_bias_on_generator_truth():
    """Under a logistic truth, the risk by H matches expit(intercept + lp) only when
    the sample is chosen by potential follow-up; excluding by observed follow-up
    keeps early re-entries of spells later censored and overstates the risk."""
    cfg = default_config().with_overrides(
        {"reentry.model": "logistic", "reentry.la_sd_log_hr": 0.0}
    )
    data = generate(cfg, seed=21, scale=0.2)
    spells = derive_cohort(data.tables, CohortConfig(data_end=data.truth["data_end"]))
    truth = data.truth_returns.set_index(["CHILD", "spell_number"])["true_lp"]
    lp = spells.set_index(["CHILD", "spell_number"]).index.map(truth).to_numpy(float)
    spells = spells.assign(true_p=1 / (1 + np.exp(-(cfg["reentry"]["logistic"]["intercept"] + lp))))
    h = cfg["reentry"]["logistic"]["horizon_days"]
    gaps = {}
    for name, col in (("potential", PF), ("observed", None)):
        out, _ = horizon_outcome(spells, h, potential_followup_col=col)
        p = out["true_p"].to_numpy()
        se = np.sqrt((p * (1 - p)).sum()) / len(p)
        gaps[name] = (out[f"reentry_{h}d"].mean() - p.mean()) / se
    assert abs(gaps["potential"]) < 3
    assert gaps["observed"] > 4  # the bias the potential sample removes
    fit = logistic("~ section20 + disability", spells, horizon_days=h, potential_followup_col=PF)
    assert fit.extras["outcome"].n_excluded_potential > 0
    assert fit.fit_stats["n_excluded_potential"] == fit.extras["outcome"].n_excluded_potential
    assert fit.provenance.options["potential_followup_col"] == PF
