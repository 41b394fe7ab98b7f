"""cox.zph parity (R survival 3.x) and time splitting for time-varying effects."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import cox, cox_zph, split_episodes

REF = Path(__file__).parent / "reference" / "survival"
SPELLS_F = "reentered ~ age_band + sex + section20 + disability + prior_periods + placement_moves"


def ref(name):
    return json.loads((REF / f"{name}.json").read_text())


def check(z, r):
    assert list(z["term"]) == r["term"]
    np.testing.assert_allclose(z["chisq"], r["chisq"], rtol=1e-6)
    np.testing.assert_allclose(z["df"], r["df"])
    np.testing.assert_allclose(z["p_value"], r["p"], rtol=1e-5)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_rossi(ties):
    d = pd.read_csv(REF / "rossi.csv")
    fit = cox("arrest ~ fin + age + race + wexp + mar + paro + prio", d, "week", ties=ties)
    check(cox_zph(fit), ref("rossi")[ties]["zph"])


def test_cgd_counting_process():
    cg = pd.read_csv(REF / "cgd.csv")
    f = (
        "status ~ treat + female + age + inherit_auto + steroids + propylac + hos_usother"
        " + hos_euams + hos_euother"
    )
    fit = cox(f, cg, "tstop", entry_col="tstart", cluster="id")
    check(cox_zph(fit), ref("cgd")["ag_efron"]["zph"])


@pytest.mark.parametrize(
    "key,kw",
    [
        ("efron", {}),
        ("strata_efron", {"strata": "LA"}),
        ("strata_w_cluster", {"strata": "LA", "weights": "weight", "cluster": "CHILD"}),
    ],
)
def test_spells_factor_terms(key, kw):
    sp = pd.read_csv(REF / "synthetic_spells.csv")
    check(cox_zph(cox(SPELLS_F, sp, "days_followed", **kw)), ref("synthetic")[key]["zph"])


def test_split_episodes_keeps_fit_and_allows_time_varying_effect():
    d = pd.read_csv(REF / "rossi.csv")
    e = split_episodes(d, "week", "arrest", [10, 30])
    assert e.groupby(e.index // 1).size().sum() == len(e)
    assert e["arrest"].sum() == d["arrest"].sum()
    a = cox("arrest ~ fin + age + prio", d, "week")
    b = cox("arrest ~ fin + age + prio", e, "stop", entry_col="start")
    np.testing.assert_allclose(a.params, b.params, atol=1e-10)
    tv = cox("arrest ~ fin + age + prio + age:C(period)", e, "stop", entry_col="start")
    assert any("period" in t for t in tv.params.index)
    with pytest.raises(ValueError, match="positive"):
        split_episodes(d, "week", "arrest", [0])
