"""Difference-in-differences on re-entry within a horizon, event study, pre-trends.

The outcome is re-entry within ``horizon_days`` of a return home (risk scale).
The two-way fixed-effects model ``y ~ treated + LA + return year`` compares the
change after adoption in pilot authorities with the change over the same years
in comparison authorities, so a secular trend common to all authorities (the
generator builds in 2% fewer re-entries per year) cancels. The naive
before/after comparison within pilot authorities (:func:`before_after`) does
not remove the trend, and is provided to show that bias.

Standard errors are cluster-robust by local authority: by default CR2 with a t
reference per coefficient on its Satterthwaite degrees of freedom (R's
clubSandwich), and wild cluster bootstrap intervals for every coefficient
(:mod:`~reunistat.models.evaluation.cluster_inference`); ``vcov="CR1"`` gives
the Stata / ``sandwich::vcovCL`` variance on clusters - 1 df. The event study
replaces ``treated`` by indicators of years relative to adoption (year -1 the
reference); a joint Wald test of the pre-adoption indicators checks the
parallel-trends assumption.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse, stats

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models import _options
from reunistat.models.evaluation._common import (
    Adoption,
    EvaluationError,
    check_post_adoption,
    horizon_frame,
    marked_view,
)
from reunistat.models.evaluation._dummy_design import DummyDesign
from reunistat.models.evaluation.cluster_inference import (
    BootWeights,
    ClusterFit,
    ClusterResult,
    ClusterVcov,
    ols_cluster,
    satterthwaite_df,
    wild_bootstrap_ci,
    wild_pretrend,
)
from reunistat.results import ModelResult, Provenance, data_hash, restamp

if TYPE_CHECKING:
    from reunistat.models.logistic import HorizonOutcome

BeforeAfterModel = Literal["risk", "cox"]
PretrendTest = Literal["wild_bootstrap", "wald"]


def _la_col(function: str, cluster: str, deprecated: dict[str, Any]) -> str:
    """Return the LA column: ``cluster``, or the deprecated ``la_col=``."""
    old = _options.take_deprecated(function, deprecated, {"la_col": "cluster="})
    return str(old.get("la_col", cluster))


def _fe_design(
    data: pd.DataFrame, terms: pd.DataFrame, la_col: str, year_col: str
) -> tuple[np.ndarray | DummyDesign, list[str]]:
    """``Intercept``, the terms, then LA and year dummies (first level dropped), as floats.

    The same matrix and names as ``pd.get_dummies(..., drop_first=True)`` of the
    labels as text (their levels in sorted order). When the terms are 0/1 too, the
    matrix is a :class:`DummyDesign` (its rows made when a product needs them:
    the same values, without the ``n x k`` array) holding its sparse copy, which
    :func:`ols_cluster` uses; else the dense matrix.
    """
    fixed = [(_text_categorical(data[c]), p) for c, p in ((la_col, "LA"), (year_col, "year"))]
    names = ["Intercept", *map(str, terms.columns)]
    names += [f"{p}_{level}" for cat, p in fixed for level in cat.categories[1:]]
    n = len(data)
    values = terms.to_numpy(dtype=float)  # contiguous: checked and scanned below
    start = 1 + terms.shape[1]
    ones = []  # per factor, the column of each row's 1 (0, the intercept's: the reference)
    for cat, _ in fixed:
        codes = np.asarray(cat.codes, dtype=np.int64)
        ones.append(np.where(codes > 0, start + codes - 1, 0))
        start += len(cat.categories) - 1
    if not ((values == 0.0) | (values == 1.0)).all():
        return DummyDesign(values, ones, len(names), None).dense(), names
    rows = np.arange(n)
    at = [(rows, np.zeros(n, dtype=np.int64))]  # the (row, column) of each 1
    at += [(rows[col > 0], col[col > 0]) for col in ones]
    r, c = np.nonzero(values)  # the block of x, as written (a strided view is slower)
    at.append((r, c + 1))
    rc = np.concatenate([a for a, _ in at]), np.concatenate([b for _, b in at])
    xs = sparse.csr_matrix((np.ones(len(rc[0])), rc), shape=(n, len(names)))
    return DummyDesign(values, ones, len(names), xs), names


def _text_categorical(col: pd.Series) -> pd.Categorical:
    """``pd.Categorical(col.astype(str))``, from the column's distinct values.

    Text or whole numbers without missing values are converted to text once per
    distinct value, not per row (the same categories and codes); anything else
    as before.

    >>> c = _text_categorical(pd.Series([2017, 2016, 2017, 10]))
    >>> list(c.categories), c.codes.tolist()
    (['10', '2016', '2017'], [2, 1, 2, 0])
    """
    if col.dtype.kind in "iu" or col.dtype == object:
        codes, uniques = pd.factorize(col)
        text = pd.Index(uniques).astype(str)
        if not (codes < 0).any() and text.is_unique and text.dtype == object:
            order = text.argsort()  # the categories' order: text sorted as pandas sorts it
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            dtype = pd.CategoricalDtype(text[order], ordered=False)
            return pd.Categorical.from_codes(rank[codes], dtype=dtype)  # type: ignore[arg-type]
    return pd.Categorical(col.astype(str))


def _result(
    model: str,
    names: list[str],
    fit: ClusterFit,
    keep: list[str],
    data: pd.DataFrame,
    function: str,
    options: dict[str, object],
    extra_stats: dict[str, float] | None = None,
    read: tuple[str, ...] = (),
) -> ModelResult:
    """The design's result: CR2 with Satterthwaite df per term (or CR1 on G - 1), bootstrap CIs.

    ``provenance.data_sha256`` hashes the columns of ``data`` the design reads
    (``read``: the outcome, its terms' columns, the authority and the year), with
    the index, as the Cox and logistic models' digests do (all columns when
    ``read`` is empty).
    """
    idx = [names.index(k) for k in keep]
    params = pd.Series(fit.beta[idx], index=keep)
    c = pd.DataFrame(fit.cov[np.ix_(idx, idx)], index=keep, columns=keep)
    st = {"n_clusters": float(fit.n_clusters), "mean_outcome": float(data["y"].mean())}
    if fit.vcov == "CR2":
        df = satterthwaite_df(fit, idx)
        st["df_satterthwaite_min"] = float(df.min())
    else:
        df = np.full(len(idx), float(fit.n_clusters - 1))
    st.update(extra_stats or {})
    extras: dict[str, Any] = {"df_by_term": pd.Series(df, index=keep, name="df")}
    if fit.vcov == "CR2":  # the CR1 covariance too, for comparison
        extras["cov_cr1"] = pd.DataFrame(fit.cr1_cov()[np.ix_(idx, idx)], index=keep, columns=keep)
    n_boot = int(options.get("n_boot", 0))  # type: ignore[call-overload]
    if n_boot > 0 and options.get("boot_intervals", True):
        extras["wild_bootstrap"] = wild_bootstrap_ci(
            fit,
            idx,
            n_boot=n_boot,
            seed=int(options["seed"]),  # type: ignore[call-overload]
            weights=options["boot_weights"],  # type: ignore[arg-type]
            conf_level=float(options["conf_level"]),  # type: ignore[arg-type]
        ).assign(term=keep)
    cluster = options.get("cluster", "LA")
    return ClusterResult(
        model=model,
        params=params,
        cov=c,
        vcov_type=f"CR2({cluster})" if fit.vcov == "CR2" else f"cluster({cluster})",
        n_obs=len(data),
        n_events=int(data["y"].sum()),
        fit_stats=st,
        provenance=Provenance(
            function=function, data_sha256=data_hash(data, read or None), options=options
        ),
        dist="t",
        df_resid=float(df.min()),
        exp_label="estimate",
        extras=extras,
        df_terms=tuple(float(v) for v in df),
    )


def _inference_options(
    vcov: ClusterVcov, n_boot: int, seed: int, boot_weights: BootWeights, conf_level: float
) -> dict[str, object]:
    """Check and record the inference options of a linear design."""
    if vcov not in ("CR2", "CR1"):
        raise EvaluationError(f"vcov must be 'CR2' or 'CR1', got {vcov!r}")
    if boot_weights not in ("rademacher", "webb"):
        raise EvaluationError(f"boot_weights must be 'rademacher' or 'webb', got {boot_weights!r}")
    if n_boot != 0 and n_boot < 99:
        raise EvaluationError(f"n_boot must be 0 (no bootstrap) or at least 99, got {n_boot}")
    if not 0 < conf_level < 1:
        raise EvaluationError(f"conf_level must lie strictly between 0 and 1, got {conf_level}")
    return {
        "vcov": vcov,
        "n_boot": n_boot,
        "seed": seed,
        "boot_weights": boot_weights,
        "conf_level": conf_level,
    }


def _prepare(
    spells: pd.DataFrame,
    adoption: Adoption,
    horizon_days: int,
    la_col: str,
    date_col: str,
    duration_col: str,
    event_col: str,
    potential_followup_col: str | None,
) -> tuple[pd.DataFrame, HorizonOutcome]:
    marked = marked_view(spells, adoption, la_col=la_col, date_col=date_col)
    check_post_adoption(marked, la_col)
    hs, counts = horizon_frame(
        marked,
        horizon_days,
        duration_col=duration_col,
        event_col=event_col,
        potential_followup_col=potential_followup_col,
    )
    if hs.loc[hs["pilot_la"] == 1, "post"].sum() == 0:
        raise EvaluationError(
            f"no pilot return after adoption is followed for {horizon_days} days: the horizon "
            "is beyond the follow-up available after adoption; choose a shorter horizon or "
            "wait for more data"
        )
    if (hs["pilot_la"] == 0).sum() == 0:
        raise EvaluationError("no comparison authority in the data: a DiD needs one")
    hs.index = pd.RangeIndex(len(hs))  # a new frame (a take of the rows): no copy
    return hs, counts


def did(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    cluster: str = "LA",
    year_col: str = "return_year",
    date_col: str = "return_date",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
    vcov: ClusterVcov = "CR2",
    n_boot: int = 999,
    seed: int = 20240331,
    boot_weights: BootWeights = "rademacher",
    conf_level: float = 0.95,
    **deprecated: Any,
) -> ModelResult:
    """Difference-in-differences on re-entry within ``horizon_days`` (risk difference).

    Two-way fixed effects: ``y ~ treated + LA + return_year``, with ``treated``
    1 for returns in a pilot authority on or after its adoption date.

    Parameters
    ----------
    spells : pandas.DataFrame
        The spells table.
    adoption : DataFrame, Series or mapping
        Adoption dates of the pilot authorities.
    horizon_days : int
        Horizon of the outcome (365 by default).
    cluster : str
        The local authority column: the unit that adopts, its fixed effects and
        the clusters of the variance. (Replaces ``la_col=``, deprecated.)
    year_col, date_col, duration_col, event_col : str
        Column names.
    potential_followup_col : str, optional
        Potential follow-up in days; when given, the sample is the spells whose
        potential follow-up reaches the horizon (recommended; see
        :func:`~reunistat.models.evaluation.potential_followup_days`).
    vcov : {"CR2", "CR1"}
        ``"CR2"`` (default): Bell-McCaffrey variance with a t reference per
        term on its Satterthwaite degrees of freedom (as R's clubSandwich);
        ``"CR1"``: the Stata / ``vcovCL`` variance on clusters - 1 df (the
        earlier default, optimistic with few pilot authorities).
    n_boot : int
        Wild cluster bootstrap replicates for the intervals and p-values of
        ``tidy(conf_method="wild_bootstrap")`` (restricted, by test
        inversion); 0 for none.
    seed : int
        Seed of the wild bootstrap.
    boot_weights : {"rademacher", "webb"}
        The bootstrap's weights per cluster.
    conf_level : float
        Level of the bootstrap intervals.

    **deprecated
        The older spelling la_col=, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        Term ``treated``: the change in the risk of re-entry within the
        horizon attributable to the pilot (a risk difference), CR2 errors by
        LA with a t reference on the Satterthwaite df (``vcov="CR1"``: CR1 on
        clusters - 1 df); ``extras["wild_bootstrap"]`` the bootstrap
        intervals; ``glance()`` has the horizon counts.
    """
    la_col = _la_col("did", cluster, deprecated)
    inference = _inference_options(vcov, n_boot, seed, boot_weights, conf_level)
    hs, counts = _prepare(
        spells,
        adoption,
        horizon_days,
        la_col,
        date_col,
        duration_col,
        event_col,
        potential_followup_col,
    )
    x, names = _fe_design(hs, hs[["treated"]], la_col, year_col)
    fit = ols_cluster(hs["y"].to_numpy(float), x, hs[la_col].to_numpy(), vcov)
    opts: dict[str, object] = {
        "horizon_days": horizon_days,
        "cluster": la_col,
        **counts.as_dict(),
        **inference,
    }
    return _result(
        "did",
        names,
        fit,
        ["treated"],
        hs,
        "reunistat.models.evaluation.did",
        opts,
        counts.fit_stats(),
        ("y", "treated", la_col, year_col),
    )


def event_study(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    window: tuple[int, int] = (-5, 4),
    reference: int = -1,
    cluster: str = "LA",
    year_col: str = "return_year",
    date_col: str = "return_date",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
    pretrend_test: PretrendTest = "wild_bootstrap",
    vcov: ClusterVcov = "CR2",
    n_boot: int = 999,
    seed: int = 20240331,
    boot_weights: BootWeights = "rademacher",
    conf_level: float = 0.95,
    boot_intervals: bool = True,
    **deprecated: Any,
) -> ModelResult:
    """Event study: the pilot-comparison difference by year relative to adoption.

    Years relative to adoption outside ``window`` are binned into its end
    points; year ``reference`` (-1, the year before adoption) is the
    reference. ``fit_stats`` holds the joint test that all pre-adoption
    coefficients are zero: the cluster-robust Wald statistic (``pretrend_F`` on
    ``pretrend_df``, ``pretrend_p_wald`` from F(df, clusters - 1)) and
    ``pretrend_p``, by default its wild cluster bootstrap p-value (restricted
    residuals, Rademacher weights by LA; Cameron, Gelbach & Miller 2008). The
    asymptotic Wald test over-rejects here: with 30 of 150 authorities piloting
    it rejected 15% of 60 generator datasets with parallel trends at nominal 5%
    (benchmarks/results/evaluation_validation.md). A small p-value casts doubt
    on parallel trends. The joint test uses the CR1 variance (its bootstrap
    studentises with CR1); each coefficient's own test and interval use
    ``vcov`` (CR2 with Satterthwaite df by default) and its wild bootstrap
    interval, as for :func:`did`.

    Parameters
    ----------
    spells, adoption, horizon_days, cluster, year_col, date_col, duration_col, event_col
        As for :func:`did`.
    potential_followup_col : str, optional
        As for :func:`did`.
    window : (int, int)
        First and last relative year shown; years beyond are binned into them.
    reference : int
        The omitted relative year.
    pretrend_test : {"wild_bootstrap", "wald"}
        How ``pretrend_p`` is computed.
    vcov, n_boot, seed, boot_weights, conf_level
        As for :func:`did`; ``n_boot`` and ``seed`` also serve the pre-trend test.
    boot_intervals : bool
        False: the wild bootstrap serves the pre-trend test only, without each
        term's bootstrap interval (``tidy(conf_method="wild_bootstrap")`` is
        then unavailable; the Satterthwaite intervals and every other number
        are the same), for a caller that shows only those.

    **deprecated
        The older spelling la_col=, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        Terms ``rel_year[k]`` for each k in the window except the reference,
        each with its own Satterthwaite df and wild bootstrap interval.
    """
    la_col = _la_col("event_study", cluster, deprecated)
    inference = _inference_options(vcov, n_boot, seed, boot_weights, conf_level)
    if pretrend_test not in ("wild_bootstrap", "wald"):
        raise EvaluationError(
            f"pretrend_test must be 'wild_bootstrap' or 'wald', got {pretrend_test!r}"
        )
    lo, hi = window
    if not lo <= reference < hi or lo >= 0 or hi < 0:
        raise EvaluationError(
            f"window {window} must span adoption and contain reference {reference}"
        )
    hs, counts = _prepare(
        spells,
        adoption,
        horizon_days,
        la_col,
        date_col,
        duration_col,
        event_col,
        potential_followup_col,
    )
    rel = hs["years_from_adoption"].clip(lo, hi)
    ks = [k for k in range(lo, hi + 1) if k != reference]
    terms = pd.DataFrame({f"rel_year[{k}]": (rel == k).astype(float) for k in ks})
    empty = [c for c in terms.columns if terms[c].sum() == 0]
    if empty:
        raise EvaluationError(
            f"no pilot returns in {empty}: narrow the window (now {window}) to the years observed"
        )
    x, names = _fe_design(hs, terms, la_col, year_col)
    y, groups = hs["y"].to_numpy(float), hs[la_col].to_numpy()
    fit = ols_cluster(y, x, groups, vcov)
    cov1 = fit.cov if vcov == "CR1" else fit.cr1_cov()
    keep = list(terms.columns)
    pre = [f"rel_year[{k}]" for k in ks if k < 0]
    idx = [names.index(k) for k in pre]
    b, v = fit.beta[idx], cov1[np.ix_(idx, idx)]
    n_cl = fit.n_clusters  # the authorities (hs[la_col].nunique())
    extra: dict[str, float] = counts.fit_stats()
    if pre:
        wald = float(b @ np.linalg.solve(v, b))
        f = wald / len(pre)
        extra |= {
            "pretrend_F": f,
            "pretrend_df": float(len(pre)),
            "pretrend_p_wald": float(stats.f.sf(f, len(pre), n_cl - 1)),
        }
        extra["pretrend_p"] = extra["pretrend_p_wald"]
        if pretrend_test == "wild_bootstrap" and n_boot > 0:
            # x is 0/1 (the terms and the fixed effects' dummies): X'X holds exact counts
            # the clusters as the fit's codes (the same clusters, numbered as they appear)
            extra["pretrend_p"] = wild_pretrend(
                y, x, fit.codes, idx, wald, n_boot, seed, fit.bread, fit.xtx, fit.x_sparse
            )
            extra["pretrend_n_boot"] = float(n_boot)
    opts: dict[str, object] = {
        "horizon_days": horizon_days,
        "window": window,
        "reference": reference,
        "cluster": la_col,
        **counts.as_dict(),
        **inference,
    }
    if not boot_intervals:
        opts["boot_intervals"] = False
    return _result(
        "event_study",
        names,
        fit,
        keep,
        hs,
        "reunistat.models.evaluation.event_study",
        opts,
        extra,
        ("y", "years_from_adoption", la_col, year_col),
    )


def before_after(
    spells: pd.DataFrame,
    adoption: Adoption,
    *,
    model: BeforeAfterModel = "risk",
    horizon_days: int | None = None,
    cluster: str = "LA",
    date_col: str = "return_date",
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    potential_followup_col: str | None = None,
    vcov: ClusterVcov = "CR2",
    n_boot: int = 999,
    seed: int = 20240331,
    boot_weights: BootWeights = "rademacher",
    conf_level: float = 0.95,
    **deprecated: Any,
) -> ModelResult:
    """Naive before/after comparison within pilot authorities (biased by any secular trend).

    Shown for contrast with :func:`did`: it attributes to the pilot every
    change over time, including the trend that affects all authorities.

    Parameters
    ----------
    spells, adoption, cluster, date_col, duration_col, event_col
        As for :func:`did`.
    horizon_days : int, optional
        Horizon of the risk (365 days when not given); ``model="risk"`` only.
    potential_followup_col : str, optional
        As for :func:`did`; ``model="risk"`` only.
    model : {"risk", "cox"}
        ``"risk"``: risk difference in re-entry within ``horizon_days``,
        after minus before, with LA fixed effects; ``"cox"``: log hazard ratio
        after versus before, stratified by LA, over all follow-up (a horizon or
        a potential follow-up column with it is an error, not ignored).
    vcov, n_boot, seed, boot_weights, conf_level
        As for :func:`did`; ``model="risk"`` only (the Cox model is clustered by LA).

    **deprecated
        The older spelling la_col=, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        Term ``post``.
    """
    la_col = _la_col("before_after", cluster, deprecated)
    inference = _inference_options(vcov, n_boot, seed, boot_weights, conf_level)
    if model not in ("risk", "cox"):
        raise EvaluationError(f"model must be 'risk' or 'cox', got {model!r}")
    if model == "cox" and (horizon_days is not None or potential_followup_col is not None):
        raise EvaluationError(
            "before_after(model='cox') uses all follow-up: horizon_days and "
            "potential_followup_col apply to model='risk' only"
        )
    horizon_days = DEFAULT_HORIZON_DAYS if horizon_days is None else horizon_days
    marked = marked_view(spells, adoption, la_col=la_col, date_col=date_col)
    check_post_adoption(marked, la_col)
    pilots = marked.loc[marked["pilot_la"] == 1].reset_index(drop=True)
    if pilots["post"].nunique() < 2:
        raise EvaluationError("pilot authorities have returns only before or only after adoption")
    if model == "cox":
        from reunistat.models.survival import cox

        res = cox("~ post", pilots, duration_col, event_col, strata=la_col, cluster=la_col)
        return restamp(res, "reunistat.models.evaluation.before_after", design="before_after")
    hs, counts = horizon_frame(
        pilots,
        horizon_days,
        duration_col=duration_col,
        event_col=event_col,
        potential_followup_col=potential_followup_col,
    )
    hs.index = pd.RangeIndex(len(hs))  # a new frame (a take of the rows): no copy
    la = pd.get_dummies(hs[la_col].astype(str), drop_first=True, dtype=float)
    x = np.column_stack([np.ones(len(hs)), hs["post"].to_numpy(float), la.to_numpy()])
    names = ["Intercept", "post", *la.columns.astype(str)]
    fit = ols_cluster(hs["y"].to_numpy(float), x, hs[la_col].to_numpy(), vcov)
    opts: dict[str, object] = {
        "horizon_days": horizon_days,
        "cluster": la_col,
        **counts.as_dict(),
        **inference,
    }
    return _result(
        "before_after",
        names,
        fit,
        ["post"],
        hs,
        "reunistat.models.evaluation.before_after",
        opts,
        counts.fit_stats(),
        ("y", "post", la_col),
    )
