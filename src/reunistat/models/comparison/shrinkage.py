"""Shrunken authority estimates from the random-intercept logistic model (caterpillar plot).

The random-intercept model :func:`reunistat.models.logistic.multilevel`
(``logit p_ij = x_ij' beta + u_j``, ``u_j ~ N(0, sigma^2)``) gives for each
authority the conditional mode of ``u_j``: its log odds ratio against the
national average authority for children with the same characteristics,
*shrunk* towards 0 the more, the fewer returns it has. Its conditional
standard deviation is the inverse square root of the curvature of the
penalised log-likelihood at the mode,
``1 / sqrt(sum_i p_ij (1 - p_ij) + 1 / sigma^2)`` (lme4's ``condVar`` for
``glmer``), given ``beta`` and ``sigma``; intervals are the mode plus or minus
``z`` times that standard deviation (they ignore the uncertainty in ``beta``
and ``sigma``, as lme4's do).

These compare authorities as populations; they are not for decisions about
an individual child.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from reunistat.errors import InputError
from reunistat.results import ModelResult


@dataclass(frozen=True)
class Shrunken:
    """Shrunken authority effects and the model they come from.

    Attributes
    ----------
    table : DataFrame
        One row per authority, sorted by estimate: ``<group>, n_spells,
        observed, log_odds_ratio, std_error, odds_ratio, conf_low, conf_high,
        rank`` (rank 1 the lowest).
    model : ModelResult
        The random-intercept fit.
    """

    table: pd.DataFrame
    model: ModelResult


def conditional_sd(result: ModelResult) -> pd.Series:
    """Conditional standard deviation of each group's random intercept at its mode.

    Parameters
    ----------
    result : ModelResult
        A fit from :func:`reunistat.models.logistic.multilevel`.

    Returns
    -------
    pandas.Series
        Indexed like ``result.extras["random_effects"]``.
    """
    if result.model != "logistic_multilevel":
        raise InputError(f"conditional_sd needs a multilevel fit, got a {result.model!r} model")
    opts = result.provenance.options
    group = str(opts.get("group", opts.get("cluster")))
    frame: pd.DataFrame = result.extras["data"]
    u: pd.Series = result.extras["random_effects"]
    x = np.asarray(result.extras["model_spec"].get_model_matrix(frame), dtype=float)
    eta = x @ result.params.to_numpy() + u.reindex(frame[group].to_numpy()).to_numpy()
    p = expit(eta)
    w = pd.Series(p * (1 - p)).groupby(frame[group].to_numpy()).sum()
    sigma2 = float(result.fit_stats["sigma2_la"])
    prec = w.reindex(u.index).to_numpy() + (1.0 / sigma2 if sigma2 > 0 else np.inf)
    return pd.Series(1.0 / np.sqrt(prec), index=u.index, name="std_error")


def shrunken_effects(
    data: pd.DataFrame,
    covariates: str,
    *,
    group: str = "LA",
    horizon_days: int = 365,
    potential_followup_col: str | None = "days_potential_followup",
    n_agq: int = 1,
    conf_level: float = 0.95,
    model: ModelResult | None = None,
) -> Shrunken:
    """Fit the random-intercept model and return each authority's shrunken odds ratio.

    Parameters
    ----------
    data : pandas.DataFrame
        The spells table.
    covariates : str
        Right-hand side of the fixed part (the children's characteristics).
    group : str
        The authority column (the random intercept).
    horizon_days : int
        Horizon of the outcome (re-entry within it).
    potential_followup_col : str or None
        As for :func:`reunistat.models.logistic.multilevel`.
    n_agq : int
        Quadrature points (1: Laplace).
    conf_level : float
        Level of the intervals.
    model : ModelResult, optional
        The same random-intercept model, already fitted to ``data`` by
        :func:`reunistat.models.logistic.multilevel` (analysis 05 shares
        its fit): used instead of fitting again when its formula and options
        are the ones these arguments ask for, else refitted.

    Returns
    -------
    Shrunken
    """
    from reunistat.models.logistic import multilevel

    if not 0 < conf_level < 1:
        raise InputError(f"conf_level must lie between 0 and 1, got {conf_level}")
    rhs = covariates.split("~", 1)[1] if "~" in covariates else covariates
    pf = potential_followup_col if potential_followup_col in data.columns else None
    # the grouping keyword is ``cluster=`` in the unified vocabulary (``group=`` before)
    params = inspect.signature(multilevel).parameters
    by = {"cluster" if "cluster" in params else "group": group}
    formula = f"~ {rhs.strip()}"
    if model is not None and _same_fit(model, formula, group, horizon_days, pf, n_agq):
        res = model
    else:
        res = multilevel(
            formula,
            data,
            horizon_days=horizon_days,
            n_agq=n_agq,
            potential_followup_col=pf,
            **by,  # type: ignore[arg-type]
        )
    u: pd.Series = res.extras["random_effects"]
    sd = conditional_sd(res)
    frame: pd.DataFrame = res.extras["data"]
    y = frame[res.extras["outcome_col"]].to_numpy(dtype=float)
    counts = pd.DataFrame({"n": 1, "y": y}).groupby(frame[group].to_numpy()).sum()
    zq = float(stats.norm.ppf((1 + conf_level) / 2))
    est = u.to_numpy()
    table = pd.DataFrame(
        {
            group: u.index.to_numpy(),
            "n_spells": counts["n"].reindex(u.index).to_numpy().astype(np.int64),
            "observed": counts["y"].reindex(u.index).to_numpy().astype(np.int64),
            "log_odds_ratio": est,
            "std_error": sd.to_numpy(),
            "odds_ratio": np.exp(est),
            "conf_low": np.exp(est - zq * sd.to_numpy()),
            "conf_high": np.exp(est + zq * sd.to_numpy()),
        }
    )
    table = table.sort_values(["log_odds_ratio", group], kind="stable").reset_index(drop=True)
    table["rank"] = np.arange(1, len(table) + 1)
    return Shrunken(table, res)


def _same_fit(
    model: ModelResult,
    formula: str,
    group: str,
    horizon_days: int,
    potential_followup_col: str | None,
    n_agq: int,
) -> bool:
    """Whether ``model`` is the multilevel fit :func:`shrunken_effects` would make."""
    if model.model != "logistic_multilevel":
        return False
    opts = model.provenance.options
    fitted = (model.provenance.formula or "").split("~", 1)[-1].strip()
    return (
        fitted == f"{formula.split('~', 1)[-1].strip()} + (1 | {group})"
        and opts.get("group") == group
        and opts.get("horizon_days") == horizon_days
        and opts.get("potential_followup_col") == potential_followup_col
        and opts.get("n_agq") == n_agq
        and opts.get("competing", "exclude") == "exclude"
        and opts.get("conf_level") == 0.95
    )
