"""Pilot versus comparison authorities after adoption: adjusted Cox and logistic models.

The sample is every return home on or after the first pilot's adoption date,
less the returns in pilot authorities before their own adoption; the pilot
indicator is 1 for returns in a pilot authority after its adoption. Models are
adjusted for the child's characteristics and the year of return (re-entry
falls over calendar time, so comparing different periods would be biased), and
standard errors are clustered by local authority, the unit that adopts.

With few pilot authorities the cluster-robust (CR1) variance is too small. For
the logistic model ``vcov="CR2"`` (the default) gives the Bell-McCaffrey CR2
variance of the model's working (IRLS) linear model at convergence, ``Z =
W^(1/2) X`` with Pearson residuals, and Satterthwaite degrees of freedom per
coefficient: exactly ``clubSandwich::vcovCR(type = "CR2")`` and ``coef_test(test =
"Satterthwaite")`` applied to that working ``lm`` (frozen in
``tests/reference/evaluation/``). clubSandwich's own ``glm`` method weights the
adjustment differently; on the frozen case the two standard errors agree within
0.1%. For the Cox model ``vcov="CR2"`` gives
:func:`~reunistat.models.survival.cox_small_sample`'s CR2 (each authority's share of
the information as its leverage, Satterthwaite df per term); its default stays CR1
referred to a t on ``min(pilot, comparison LAs) - 1`` degrees of freedom
(``small_sample``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models.evaluation._common import (
    DEFAULT_ADJUST,
    Adoption,
    EvaluationError,
    as_datetimes,
    check_post_adoption,
    marked_view,
)
from reunistat.results import ModelResult, restamp

Model = Literal["cox", "logistic"]
PilotVcov = Literal["CR2", "CR1"]
TERM = "treated"


def comparison_sample(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    la_col: str = "LA",
    date_col: str = "return_date",
) -> pd.DataFrame:
    """Return the post-adoption sample with the 0/1 column ``treated`` (pilot after adoption)."""
    marked = marked_view(spells, adoption, la_col=la_col, date_col=date_col)
    check_post_adoption(marked, la_col)
    first = marked.loc[marked["pilot_la"] == 1, "adoption_date"].min()
    rd = as_datetimes(marked[date_col])
    keep = (rd >= first) & ~((marked["pilot_la"] == 1) & (marked["post"] == 0))
    out = marked.loc[keep]
    if out["treated"].nunique() < 2:
        raise EvaluationError(
            "after the first adoption date there are no returns in comparison authorities: "
            "every authority is a pilot, so there is nothing to compare with"
        )
    return out


def pilot_vs_comparison(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    model: Model = "cox",
    adjust: str | None = DEFAULT_ADJUST,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    cluster: str = "LA",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
    date_col: str = "return_date",
    small_sample: bool = True,
    vcov: PilotVcov | None = None,
    glance_tests: bool = True,
    sample: pd.DataFrame | None = None,
) -> ModelResult:
    """Compare re-entry after a return home in pilot and comparison authorities.

    Parameters
    ----------
    spells : pandas.DataFrame
        The spells table (:mod:`reunistat.spells`).
    adoption : DataFrame, Series or mapping
        Adoption dates of the pilot authorities (see
        :func:`~reunistat.models.evaluation.adoption_dates`).
    model : {"cox", "logistic"}
        Cox model of time to re-entry (hazard ratio), or logistic model of
        re-entry within ``horizon_days`` (odds ratio).
    adjust : str or None
        Right-hand side of the adjustment (formulaic); ``None`` for none. The
        default adjusts for the spells-table covariates and ``return_year``.
    horizon_days : int
        Horizon of the logistic outcome: the sample and outcome are
        :func:`reunistat.models.logistic.logistic`'s for the same options (one
        rule, :func:`~reunistat.models.logistic.horizon_outcome`), and the counts
        are in ``glance()``.
    cluster : str
        Column of the cluster-robust variance (the local authority).
    duration_col, event_col : str
        Follow-up and re-entry columns.
    potential_followup_col : str, optional
        Potential follow-up (days from return to the data end or the 18th
        birthday); for the logistic model the sample is then the spells whose
        potential follow-up reaches the horizon, which avoids the upward bias
        of dropping only censored non-re-entries. See
        :func:`~reunistat.models.evaluation.potential_followup_days`.
    date_col : str
        Date of the return home.
    small_sample : bool
        Refer tests and intervals to a t distribution on ``min(pilot LAs,
        comparison LAs) - 1`` degrees of freedom: with few pilot authorities
        the cluster-robust variance is too optimistic against the normal (the
        power simulation's size was 7.0% at nominal 5% with 15 of 150 LAs
        piloting, 5.0% with this reference). With ``vcov="CR2"`` each term has
        its own Satterthwaite df instead.
    vcov : {"CR2", "CR1"}, optional
        The cluster-robust variance: ``"CR2"`` (Bell-McCaffrey on the working
        linear model, Satterthwaite df per term; the logistic model's default;
        for the Cox model, :func:`~reunistat.models.survival.cox_small_sample`)
        or ``"CR1"`` (``sandwich::vcovCL``; the Cox model's default).
    glance_tests : bool
        False: the Cox model's ``glance()`` without the concordance and the
        robust score test (each another pass over the rows; every other number
        the same), for a caller that shows only the terms.
    sample : pandas.DataFrame, optional
        ``comparison_sample(spells, adoption, la_col=cluster, date_col=date_col)``
        already made (a caller fitting both models), used as it is.

    Returns
    -------
    ModelResult
        Term ``treated`` is the pilot effect (log HR or log OR).
    """
    if model not in ("cox", "logistic"):
        raise EvaluationError(f"model must be 'cox' or 'logistic', got {model!r}")
    kind = vcov if vcov is not None else ("CR2" if model == "logistic" else "CR1")
    if kind not in ("CR2", "CR1"):
        raise EvaluationError(f"vcov must be 'CR2' or 'CR1', got {kind!r}")
    if sample is None:
        sample = comparison_sample(spells, adoption, la_col=cluster, date_col=date_col)
    rhs = TERM if not adjust else f"{TERM} + {adjust}"
    opts: dict[str, Any] = {"design": "pilot_vs_comparison"}
    opts["n_pilot_las"] = int(sample.loc[sample["treated"] == 1, cluster].nunique())
    opts["n_comparison_las"] = int(sample.loc[sample["treated"] == 0, cluster].nunique())
    if model == "cox":
        from reunistat.models.survival import cox

        if potential_followup_col is not None:
            raise EvaluationError(
                "potential_followup_col applies to model='logistic' (a fixed horizon); the Cox "
                "model uses all follow-up"
            )
        small: Literal["CR2"] | None = "CR2" if kind == "CR2" else None  # CR1: its robust
        tests = None if glance_tests else False  # None: cox's own choice by size
        res = cox(
            f"~ {rhs}",
            sample,
            duration_col,
            event_col,
            cluster=cluster,
            vcov=small,
            concordance=tests,
            robust_score=tests,
        )
    else:
        from reunistat.models.logistic import LogisticInputError, logistic

        try:
            res = logistic(
                f"~ {rhs}",
                sample,
                duration_col=duration_col,
                event_col=event_col,
                horizon_days=horizon_days,
                potential_followup_col=potential_followup_col,
                cluster=cluster,
            )
        except LogisticInputError as exc:
            if "beyond follow-up" not in str(exc) and "whole number" not in str(exc):
                raise
            raise EvaluationError(str(exc)) from exc
        out = res.extras["outcome"]
        opts.update(
            {
                "horizon_n_spells": out.n_spells,
                "horizon_n_used": out.n_used,
                "horizon_n_excluded": out.n_excluded,
                "horizon_days": horizon_days,
            }
        )
    opts["vcov"] = kind
    if kind == "CR2" and model == "logistic":
        res = logistic_cr2(res, cluster)
    elif kind == "CR1" and small_sample:
        df = float(min(opts["n_pilot_las"], opts["n_comparison_las"]) - 1)
        if df < 1:
            raise EvaluationError("a single pilot authority: cluster-robust inference impossible")
        res = dataclasses.replace(res, dist="t", df_resid=df)
    opts["small_sample"] = small_sample
    return restamp(res, "reunistat.models.evaluation.pilot_vs_comparison", **opts)


def logistic_cr2(res: ModelResult, cluster: str) -> ModelResult:
    """Return a logistic fit with the CR2 variance and Satterthwaite df per term.

    The fit's working linear model at convergence, ``Z = sqrt(p (1 - p)) X`` with
    working outcome ``Z beta + (y - p) / sqrt(p (1 - p))``, has least-squares
    estimate ``beta`` and residuals the Pearson residuals; its CR2 variance
    (:func:`~reunistat.models.evaluation.cluster_inference.ols_cluster`) has
    the bread ``(X' W X)^-1`` of the logistic model, and
    :func:`~reunistat.models.evaluation.cluster_inference.satterthwaite_df`
    gives each term's degrees of freedom. ``extras["cov_cr1"]`` keeps the CR1
    covariance.
    """
    from reunistat.models._term_df import with_term_df
    from reunistat.models.evaluation.cluster_inference import ols_cluster, satterthwaite_df

    frame = res.extras["data"]
    x = res.extras.get("design_matrix")  # the fit's own design, the rows of its frame
    if x is None or x.shape[0] != len(frame):  # built again
        x = np.asarray(res.extras["model_spec"].get_model_matrix(frame), dtype=float)
    # column-major, as the frame's matrix (np.asarray of a frame) that was built here before:
    # the working outcome's product z @ beta then adds in the same order, to the bit
    x = np.asfortranarray(x, dtype=float)
    if x.shape[1] != len(res.params):
        raise EvaluationError("the logistic model's design could not be rebuilt for CR2")
    y = pd.to_numeric(frame[res.extras["outcome_col"]]).to_numpy(float)
    p = np.asarray(res.extras["fitted"], dtype=float)
    sd = np.sqrt(p * (1 - p))
    z = x * sd[:, None]
    fit = ols_cluster(z @ res.params.to_numpy(float) + (y - p) / sd, z, frame[cluster], "CR2")
    df = satterthwaite_df(fit)
    return with_term_df(res, fit.cov, df, f"CR2({cluster})", "cov_cr1")
