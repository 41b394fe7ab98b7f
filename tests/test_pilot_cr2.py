"""CR2 with Satterthwaite df for the logistic pilot-versus-comparison model, against clubSandwich.

The frozen case is ``tests/reference/evaluation/`` (``spells.csv``, ``adoption.csv``;
``pvc_design.csv`` written by ``make_pvc_case.py``, ``pvc_cr2.csv`` by ``pvc_reference.R``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import EvaluationError
from reunistat.models.evaluation import pilot_vs_comparison

REF = Path(__file__).parent / "reference" / "evaluation"
PF = "days_potential_followup"


@pytest.fixture(scope="module")
def case() -> tuple[pd.DataFrame, dict[str, str]]:
    spells = pd.read_csv(REF / "spells.csv", dtype={"LA": str})
    ad = pd.read_csv(REF / "adoption.csv", dtype={"LA": str})
    return spells, dict(zip(ad["LA"], ad["adoption_date"], strict=True))


def _fit(case, **kw):  # type: ignore[no-untyped-def]
    spells, adoption = case
    return pilot_vs_comparison(
        spells, adoption, model="logistic", adjust="C(return_year)", potential_followup_col=PF, **kw
    )


def test_logistic_cr2_matches_clubsandwich_on_the_working_model(case) -> None:  # type: ignore[no-untyped-def]
    res = _fit(case)  # CR2 is the logistic default
    assert res.vcov_type == "CR2(LA)"
    assert res.provenance.options["vcov"] == "CR2"
    t = res.tidy()
    ref = pd.read_csv(REF / "pvc_cr2.csv")
    assert len(t) == len(pd.read_csv(REF / "pvc_design.csv")["return_year"].unique()) + 1
    work = ref[ref["method"] == "working"].reset_index(drop=True)
    np.testing.assert_allclose(t["estimate"], work["estimate"], rtol=1e-7)
    np.testing.assert_allclose(t["std_error"], work["std_error"], rtol=1e-7)
    np.testing.assert_allclose(res.extras["df_by_term"], work["df"], rtol=1e-6)
    np.testing.assert_allclose(t["p_value"], work["p_value"], rtol=1e-5)
    # clubSandwich's own glm method weights the adjustment differently: close, not equal
    glm = ref[ref["method"] == "glm"].reset_index(drop=True)
    np.testing.assert_allclose(t["std_error"], glm["std_error"], rtol=1e-3)
    assert not np.allclose(t["std_error"], glm["std_error"], rtol=1e-9, atol=0)


def test_cr2_is_wider_than_cr1_for_the_pilot_term_and_cr1_is_kept(case) -> None:  # type: ignore[no-untyped-def]
    cr2, cr1 = _fit(case), _fit(case, vcov="CR1")
    se2 = float(np.sqrt(cr2.cov.loc["treated", "treated"]))
    se1 = float(np.sqrt(cr1.cov.loc["treated", "treated"]))
    assert se2 > se1  # 15 pilot authorities: CR1 is too small
    assert cr1.vcov_type.startswith("cluster")
    np.testing.assert_allclose(cr2.extras["cov_cr1"].to_numpy(), cr1.cov.to_numpy())
    np.testing.assert_allclose(cr2.params, cr1.params)
    # the pilot term's Satterthwaite df (10.1) is below the CR1 rule's pilot LAs - 1 = 14
    df_pilot = float(cr2.extras["df_by_term"]["treated"])
    assert df_pilot < cr1.df_resid == 14
    assert (
        cr1.df_resid
        == min(cr1.provenance.options["n_pilot_las"], cr1.provenance.options["n_comparison_las"])
        - 1
    )


def test_cox_cr2_is_cox_small_sample_and_cr1_stays_the_default(case) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    with pytest.raises(EvaluationError, match="vcov must be"):
        pilot_vs_comparison(spells, adoption, model="cox", adjust=None, vcov="HC1")  # type: ignore[arg-type]
    cr1 = pilot_vs_comparison(spells, adoption, model="cox", adjust=None)
    assert cr1.provenance.options["vcov"] == "CR1"
    cr2 = pilot_vs_comparison(spells, adoption, model="cox", adjust=None, vcov="CR2")
    assert cr2.provenance.options["vcov"] == "CR2"
    # the same fit with the CR2 variance of cox_small_sample: estimates equal, the CR1
    # fit's robust variance kept, a Satterthwaite df below the CR1 rule's pilot LAs - 1
    np.testing.assert_allclose(cr2.params, cr1.params)
    np.testing.assert_allclose(cr2.extras["cov_cr0"].to_numpy(), cr1.cov.to_numpy())
    df_pilot = float(cr2.extras["df_by_term"]["treated"])
    assert 1 < df_pilot < cr1.df_resid
    assert cr2.cov.loc["treated", "treated"] > cr1.cov.loc["treated", "treated"]


def test_logistic_cr2_takes_the_fits_design_the_same_bits(case) -> None:  # type: ignore[no-untyped-def]
    """CR2 from the fit's own design matrix: the design built again from its spec, to the bit."""
    from reunistat.models.evaluation.designs import logistic_cr2

    res = _fit(case, vcov="CR1")
    x = res.extras["design_matrix"]
    rebuilt = np.asarray(res.extras["model_spec"].get_model_matrix(res.extras["data"]), float)
    assert rebuilt.tobytes() == np.ascontiguousarray(x).tobytes()
    assert rebuilt.flags.f_contiguous  # the layout logistic_cr2 gives the fit's design
    kept = logistic_cr2(res, "LA")
    extras = {k: v for k, v in res.extras.items() if k != "design_matrix"}
    again = logistic_cr2(type(res)(**{**res.__dict__, "extras": extras}), "LA")
    assert kept.cov.to_numpy().tobytes() == again.cov.to_numpy().tobytes()
    assert (
        kept.extras["df_by_term"].to_numpy().tobytes()
        == again.extras["df_by_term"].to_numpy().tobytes()
    )


def test_cox_comparison_without_glance_tests_has_the_same_terms(case) -> None:  # type: ignore[no-untyped-def]
    spells, adoption = case
    full = pilot_vs_comparison(spells, adoption, model="cox", adjust="C(return_year)")
    terms = pilot_vs_comparison(
        spells, adoption, model="cox", adjust="C(return_year)", glance_tests=False
    )
    pd.testing.assert_frame_equal(terms.tidy(), full.tidy(), check_exact=True)
    assert "concordance" in full.fit_stats and "concordance" not in terms.fit_stats
