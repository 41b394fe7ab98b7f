"""Logistic regression of re-entry within a horizon, with robust and GEE variants.

These models describe populations of returns home (how re-entry rates differ
between groups of children and authorities); they are not for decisions about
an individual child.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, xlogy

from reunistat.errors import ConvergenceError
from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models import _options
from reunistat.models.logistic._errors import LogisticInputError, SeparationError
from reunistat.models.logistic.design import Design, build_design
from reunistat.models.logistic.linalg import xtwx
from reunistat.models.logistic.outcome import Competing
from reunistat.models.logistic.vcov import sandwich
from reunistat.results import ModelResult, Provenance

_VCOV = ("model", "HC0", "HC1", "CR1")
LogisticVcov = Literal["model", "HC0", "HC1", "CR1"]
GeeVcov = Literal["CR0", "model", "CR3"]


@dataclass(frozen=True)
class IrlsFit:
    """Output of :func:`irls`."""

    params: np.ndarray
    p: np.ndarray
    information: np.ndarray
    loglik: float
    n_iter: int


def _loglik(
    y: np.ndarray, eta: np.ndarray, weights: np.ndarray | None = None, level: float | None = None
) -> float:
    """Sum of ``y * eta - log(1 + exp(eta))``, stable for large ``|eta|``.

    ``level``: the value of every ``eta`` if they are all the same (its
    ``log(1 + exp(.))`` then made once).
    """
    if level is None:
        soft = np.logaddexp(0.0, eta)
    else:
        soft = np.full(len(eta), np.logaddexp(0.0, level))
    if weights is None:
        return float(y @ eta - soft.sum())
    return float(weights @ (y * eta - soft))


def irls(
    X: np.ndarray,
    y: np.ndarray,
    terms: list[str] | None = None,
    tol: float = 1e-12,
    max_iter: int = 60,
    weights: np.ndarray | None = None,
    check: Callable[[np.ndarray], None] | None = None,
    ones: int | None = None,
) -> IrlsFit:
    """Fit a logistic regression by Newton-Raphson (IRLS) with step halving.

    Converges when the relative change in deviance is below ``tol`` (R's
    ``glm`` uses 1e-8); raises :class:`SeparationError` when the estimates
    diverge, which is what (quasi-)complete separation looks like. ``weights``
    are case weights (R's ``glm(weights = )``). ``check``, if given, is called
    with the first information matrix before the first step (without weights
    it is ``X' W X`` with every weight equal: :meth:`Design.check_rank
    <reunistat.models.logistic.design.Design.check_rank>`) and may raise.
    ``ones``, if given, is the position of ``X``'s first column of ones (the
    intercept, which starts at the log-odds of the mean), known to the caller;
    by default ``X`` is searched for it.
    """
    k = X.shape[1]
    terms = terms or [f"x{j}" for j in range(k)]
    cw = np.ones(len(y)) if weights is None else weights
    ybar = float(
        np.clip(y.mean() if weights is None else np.average(y, weights=cw), 1e-6, 1 - 1e-6)
    )
    beta = np.zeros(k)
    icpt = np.flatnonzero(np.all(X == 1.0, axis=0)) if ones is None else np.array([ones])
    if icpt.size:
        beta[icpt[0]] = np.log(ybar / (1 - ybar))
    # at the start, only the intercept: X @ beta is its value in every row when X is finite
    # (which the first information tells), without a pass over X
    level = float(beta[icpt[0]]) if icpt.size and beta[icpt[0]] != 0.0 else None
    eta = X @ beta if level is None else np.full(len(y), level)
    ll = _loglik(y, eta, weights, level)
    for it in range(1, max_iter + 1):
        p = expit(eta) if it > 1 or level is None else np.full(len(y), expit(level))
        w = p * (1 - p) if weights is None else cw * p * (1 - p)
        info = xtwx(X, w)
        if it == 1 and level is not None and not np.isfinite(np.diagonal(info)).all():
            # a value of X is not finite: start as from X @ beta
            eta = X @ beta
            ll = _loglik(y, eta, weights)
            p = expit(eta)
            w = p * (1 - p) if weights is None else cw * p * (1 - p)
            info = xtwx(X, w)
        if check is not None and it == 1:
            check(info)
        grad = X.T @ (y - p) if weights is None else X.T @ (cw * (y - p))
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError as exc:
            raise SeparationError(_separation_message(beta, terms)) from exc
        for _ in range(30):
            new_beta = beta + step
            new_eta = X @ new_beta
            new_ll = _loglik(y, new_eta, weights)
            if new_ll >= ll - 1e-9 * abs(ll):
                break
            step /= 2
        dev_change = abs(new_ll - ll) / (abs(new_ll) + 0.1)
        beta, eta, ll = new_beta, new_eta, new_ll
        if np.max(np.abs(eta)) > 30:
            raise SeparationError(_separation_message(beta, terms))
        if dev_change < tol and np.max(np.abs(step)) < 1e-6:
            p = expit(eta)
            w = p * (1 - p) if weights is None else cw * p * (1 - p)
            info = xtwx(X, w)
            return IrlsFit(beta, p, info, ll, it)
    raise SeparationError(
        f"the logistic fit did not converge in {max_iter} iterations; "
        + _separation_message(beta, terms)
    )


def _separation_message(beta: np.ndarray, terms: list[str]) -> str:
    big = [t for t, b in zip(terms, beta, strict=True) if abs(b) > 10 and t != "Intercept"]
    who = ", ".join(big) if big else ", ".join(terms)
    return (
        "separation: the outcome is perfectly predicted by a combination of covariates "
        f"(estimates diverging for: {who}); odds ratios are infinite. Merge sparse levels, "
        "drop the term, or use a penalised model"
    )


def _check_options(
    vcov: str | None, cluster: _options.Cluster, old: dict[str, Any]
) -> LogisticVcov:
    if "vcov" in old:  # vcov="cluster": the older name of "CR1"
        vcov = "CR1"
    if vcov is None:
        return "CR1" if cluster is not None else "model"
    if vcov not in _VCOV:
        raise LogisticInputError(f"vcov must be one of {list(_VCOV)}, got {vcov!r}")
    if vcov == "CR1" and cluster is None:
        raise LogisticInputError("vcov='CR1' needs cluster= a column name, e.g. 'LA'")
    if vcov != "CR1" and cluster is not None:
        raise LogisticInputError(f"cluster={cluster!r} was given but vcov={vcov!r}")
    return vcov  # type: ignore[return-value]


def _fit_stats(
    d: Design, fit: IrlsFit, n_clusters: int | None, w: np.ndarray | None = None
) -> dict[str, float]:
    n, k = d.X.shape
    ybar = d.y.mean() if w is None else np.average(d.y, weights=w)
    null_ll = float(_null_terms(d.y, ybar).sum() if w is None else w @ _null_terms(d.y, ybar))
    stats: dict[str, float] = {
        "log_likelihood": fit.loglik,
        "deviance": -2 * fit.loglik,
        "null_deviance": -2 * null_ll,
        "aic": -2 * fit.loglik + 2 * k,
        "bic": -2 * fit.loglik + float(np.log(n)) * k,
        "auc": concordance(d.y, fit.p),
        "iterations": float(fit.n_iter),
        "n_dropped_missing": float(d.n_dropped_missing),
    }
    if d.outcome is not None:
        stats.update(d.outcome.fit_stats())
    if n_clusters is not None:
        stats["n_clusters"] = float(n_clusters)
    return stats


def _null_terms(y: np.ndarray, ybar: float) -> np.ndarray:
    """Each row's log-likelihood under the null model: ``xlogy(y, ybar) + xlogy(1 - y, 1 - ybar)``.

    ``y`` is 0/1, so each row's term is one of two numbers, computed once by
    the same function (``xlogy(0, q)`` is exactly 0): the same array, to the bit.

    >>> y = np.array([0.0, 1, 1, 0, 1])
    >>> bool(np.array_equal(_null_terms(y, 0.6), xlogy(y, 0.6) + xlogy(1 - y, 0.4)))
    True
    """
    one = xlogy(1.0, ybar) + xlogy(0.0, 1 - ybar)
    zero = xlogy(0.0, ybar) + xlogy(1.0, 1 - ybar)
    return np.where(y == 1.0, one, zero)


def concordance(y: np.ndarray, p: np.ndarray) -> float:
    """Return the concordance (area under the ROC curve), ties counted half.

    From the sum of the average ranks of the positives (Mann-Whitney). A
    positive's average rank is ``(left + 1 + right) / 2``, where ``left`` and
    ``right`` are the numbers of predictions below it and at most it (two binary
    searches in the sorted predictions; without ties ``right`` is ``left + 1``).
    The ranks are half-integers and their sum is taken in integers, so it is
    exact: pandas' ``rank`` sum, to the bit.

    >>> concordance(np.array([0.0, 1, 0, 1]), np.array([0.1, 0.8, 0.8, 0.9]))
    0.875
    """
    n1 = float(y.sum())
    n0 = len(y) - n1
    if len(p) == 0 or len(p) > 2**24 or not np.isfinite(p).all():
        ranks = pd.Series(p).rank(method="average").to_numpy()
        return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))
    ordered = np.sort(p)
    positives = np.sort(p[y == 1])
    left = np.searchsorted(ordered, positives, side="left")
    if (ordered[1:] == ordered[:-1]).any():
        right = np.searchsorted(ordered, positives, side="right")
    else:  # no ties: each positive is the one prediction equal to it
        right = left + 1
    rank_sum = (int(left.sum()) + int(right.sum()) + len(positives)) / 2
    return float((rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0))


def _unique_index(data: pd.DataFrame) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame) and not data.index.is_unique:
        return data.reset_index(drop=True)
    return data


def _vcov_value(function: str, vcov: Any) -> dict[str, Any]:
    """Take the deprecated value ``vcov="cluster"`` (now ``"CR1"``)."""
    if vcov == "cluster":
        _options.warn_renamed(function, "vcov='cluster'", "vcov='CR1'")
        return {"vcov": vcov}
    return {}


def _outcome_options(
    horizon_days: int, competing: str, potential_followup_col: str | None
) -> dict[str, Any]:
    """The options of :func:`logistic`'s provenance that decide the outcome's rows and values."""
    return {
        "horizon_days": horizon_days,
        "competing": competing,
        "potential_followup_col": potential_followup_col,
    }


def shared_start(
    start: ModelResult | None, d: Design, data_sha256: str, options: dict[str, Any]
) -> IrlsFit | None:
    """The IRLS fit of ``d`` that :func:`logistic` made, if ``start`` is that fit.

    ``start`` must be an unweighted :func:`logistic` fit of the same outcome
    and formula (``d.formula``), with the same terms, rows, events, outcome
    ``options`` (horizon, competing, potential follow-up) and provenance hash
    of the columns read (``data_sha256``: the cluster column counts, so the
    same one must be used). Such a fit was made from the very matrix and
    outcome of ``d``, so its estimates and information are what ``irls(d.X,
    d.y, d.terms)`` returns, to the bit. Anything else gives None (fit again).
    """
    if start is None or start.model != "logistic" or "information" not in start.extras:
        return None
    prov = start.provenance
    same = (
        prov.formula == d.formula
        and prov.data_sha256 == data_sha256
        and "weights" not in prov.options
        and all(prov.options.get(k) == v for k, v in options.items())
        and list(start.params.index) == d.terms
        and start.n_obs == len(d.y)
        and start.n_events == int(d.y.sum())
    )
    if not same:
        return None
    fitted = start.extras["fitted"]
    return IrlsFit(
        np.asarray(start.params, dtype=float),
        fitted,
        start.extras["information"],
        start.fit_stats["log_likelihood"],
        int(start.fit_stats["iterations"]),
    )


def shared_frame(start: ModelResult, d: Design) -> pd.DataFrame:
    """``start``'s frame of the rows used if it has ``d.frame``'s rows and columns; else ``d``'s.

    For a fit whose start :func:`shared_start` accepted (the same rows, and the
    same values in the columns read, by the provenance hash): both results
    then keep one frame, in memory and in a pickle of both (the pipeline hands
    05's fits to the other worker).
    """
    frame = start.extras.get("data")
    if (
        isinstance(frame, pd.DataFrame)
        and frame.columns.equals(d.frame.columns)
        and frame.dtypes.equals(d.frame.dtypes)
        and frame.index.equals(d.frame.index)
    ):
        return frame
    return d.frame


def logistic(
    formula: str,
    data: pd.DataFrame,
    *,
    outcome_col: str | None = None,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    competing: Competing = "exclude",
    potential_followup_col: str | None = None,
    weights: str | None = None,
    cluster: str | tuple[str, ...] | None = None,
    vcov: LogisticVcov | None = None,
) -> ModelResult:
    """Fit a logistic model of re-entry within ``horizon_days`` of a return home.

    Describes populations (how the odds of re-entry differ between groups);
    not for decisions about an individual child.

    Parameters
    ----------
    formula : str
        The covariates, e.g. ``"~ age_band + section20 +
        bs(period_length_days, df=4) + return_type * prior_periods"``.
    data : pandas.DataFrame
        The spells table (:mod:`reunistat.spells`) or any DataFrame.
    outcome_col : str, optional
        An existing 0/1 outcome column. By default the outcome is re-entry
        within ``horizon_days``, derived from ``duration_col`` and
        ``event_col`` by :func:`~reunistat.models.logistic.outcome.horizon_outcome`
        (spells censored earlier without re-entry are excluded and counted).
        (A formula left side, ``"y ~ ..."``, still works, deprecated.)
    duration_col, event_col : str
        Days followed and the 0/1 re-entry indicator (spells-table names by default).
    horizon_days : int
        The horizon H in days (365 by default).
    competing : {"exclude", "negative"}
        Spells ended before H by reaching 18 or another permanent exit:
        excluded (default) or counted as not re-entering.
    potential_followup_col : str, optional
        Use only spells whose potential follow-up reaches H (e.g. the spells
        column ``days_potential_followup``): removes the upward bias of
        excluding spells by observed follow-up.
    weights : str, optional
        Column of case weights (positive; R's ``glm(weights = )``), e.g.
        balancing weights; the sandwich variances use the weighted scores, as
        ``sandwich::vcovCL`` does. ``auc`` in ``glance()`` stays unweighted.
    cluster : str or tuple of str, optional
        Column of cluster labels, e.g. ``"LA"`` or ``"CHILD"``; a tuple for
        two-way or nested clustering.
    vcov : {"model", "HC0", "HC1", "CR1"}, optional
        The variance: inverse information ("model"); robust HC0/HC1; or
        cluster-robust by ``cluster`` ("CR1": R's ``sandwich::vcovCL`` default
        for a glm, factor ``G/(G-1)``). Defaults to "CR1" when ``cluster`` is
        given, else "model". (``"cluster"`` is the deprecated name of "CR1".)

    Returns
    -------
    ModelResult
        ``tidy(exponentiate=True)`` gives odds ratios with CIs; ``glance()``
        has the horizon counts and ``n_dropped_missing``; the model-based
        covariance is in ``extras["cov_model"]``; ``extras["outcome"]`` holds
        the counts behind the outcome. ``provenance.data_sha256`` is
        :func:`~reunistat.results.data_hash` of the columns of ``data`` the
        model read (formula variables, duration and event or ``outcome_col``,
        potential follow-up, cluster, weights), as for ``gee``, ``multilevel``
        and ``prediction_checks``.
    """
    kind = _check_options(vcov, cluster, _vcov_value("logistic", vcov))
    cl_cols = _options.cluster_columns(cluster)
    data = _unique_index(data)
    d = build_design(
        formula,
        data,
        outcome_col=outcome_col,
        duration_col=duration_col,
        event_col=event_col,
        horizon_days=horizon_days,
        competing=competing,
        extra_cols=tuple(cl_cols),
        potential_followup_col=potential_followup_col,
        rank=weights is not None,  # unweighted: checked on the fit's first information
    )
    w = None
    if weights is not None:
        if weights not in d.frame.columns:
            raise LogisticInputError(f"data has no column {weights!r}")
        w = pd.to_numeric(d.frame[weights], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(w) & (w > 0)).all():
            raise LogisticInputError(f"weights column {weights!r} must be positive and finite")
    check = None if d.rank_checked else d.check_rank
    fit = irls(d.X, d.y, d.terms, weights=w, check=check, ones=d.first_ones_column())
    bread = np.linalg.inv(fit.information)
    bread = (bread + bread.T) / 2
    n_cl = None
    if kind == "CR1":
        coded = [d.cluster_codes(c) for c in cl_cols]
        if min(g for _, g in coded) < 2:
            raise LogisticInputError(f"cluster-robust variance needs 2+ clusters in {cluster!r}")
        n_cl = coded[0][1] if len(cl_cols) == 1 else min(g for _, g in coded)
        resid = d.y - fit.p if w is None else w * (d.y - fit.p)
        if len(cl_cols) == 1:  # the codes multiway would make (first-appearance order)
            cov = sandwich(d.X, resid, bread, "cluster", *coded[0])
        else:
            cov = _options.multiway(
                d.frame,
                cluster,
                lambda codes, g: sandwich(d.X, resid, bread, "cluster", codes, g),
                sort=False,
            )
    else:
        cov = sandwich(d.X, d.y - fit.p if w is None else w * (d.y - fit.p), bread, kind)
    idx = pd.Index(d.terms)
    extras: dict[str, Any] = {
        "cov_model": pd.DataFrame(bread, index=idx, columns=idx),
        "outcome": d.outcome,
        "model_spec": d.model_spec,
        "data": d.frame,
        "outcome_col": d.outcome_col,
        "fitted": fit.p,
        "information": fit.information,  # for multilevel() and gee() (shared_start)
        "design_matrix": d.X,  # for average_marginal_effects() (not built again)
        "n_dropped_missing": d.n_dropped_missing,
    }
    return ModelResult(
        model="logistic",
        params=pd.Series(fit.params, index=idx),
        cov=pd.DataFrame(cov, index=idx, columns=idx),
        vcov_type=f"cluster({_options.cluster_label(cluster)})" if kind == "CR1" else kind,
        n_obs=len(d.y),
        n_events=int(d.y.sum()),
        fit_stats=_fit_stats(d, fit, n_cl, w),
        provenance=Provenance(
            function="reunistat.models.logistic.logistic",
            data_sha256=d.data_sha256(data, weights),
            formula=d.formula,
            options={
                "horizon_days": horizon_days,
                "vcov": "cluster" if kind == "CR1" else kind,
                "cluster": cluster,
                "competing": competing,
                "potential_followup_col": potential_followup_col,
                **({"weights": weights} if weights is not None else {}),
            },
        ),
        exp_label="OR",
        extras=extras,
    )


_GEE_VCOV = {"CR0": "robust", "model": "naive", "CR3": "bias_reduced"}


def _gee_fit(mod: Any, cov_type: str, start_params: np.ndarray | None = None) -> Any:
    """Fit, raising :class:`~reunistat.errors.ConvergenceError` if statsmodels did not converge.

    Every other warning statsmodels gives is passed on to the caller, not silenced.
    ``start_params`` (the independence GLM's estimates) spares statsmodels its own
    start-up GLM fit.
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, IterationLimitWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mod.fit(
            maxiter=200, ctol=1e-10, cov_type=cov_type, ddof_scale=0, start_params=start_params
        )
    for w in caught:
        if issubclass(w.category, (ConvergenceWarning, IterationLimitWarning)) or res is None:
            raise ConvergenceError(
                f"the GEE fit did not converge in 200 iterations ({w.message}); simplify the "
                "model or check for sparse categories"
            )
        warnings.warn(w.message, w.category, stacklevel=3)
    return res


def gee(
    formula: str,
    data: pd.DataFrame,
    *,
    outcome_col: str | None = None,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    competing: Competing = "exclude",
    potential_followup_col: str | None = None,
    cluster: str = "LA",
    vcov: GeeVcov = "CR0",
    start: ModelResult | None = None,
    **deprecated: Any,
) -> ModelResult:
    """Fit a logistic GEE with exchangeable correlation within ``cluster``.

    Population-averaged odds ratios, with spells of one local authority (or
    child) allowed to be correlated. Uses statsmodels' ``GEE``. Describes
    populations; not for decisions about an individual child.

    The working correlation is the moment estimate with the Pearson scale
    estimated (divisor n), as ``geepack::geeglm(..., corstr =
    "exchangeable")``; estimates and robust errors equal geepack's to 1e-8.
    Non-convergence raises :class:`~reunistat.errors.ConvergenceError`; the
    iterations taken are in ``glance()``.

    Parameters
    ----------
    formula, data, outcome_col, duration_col, event_col, horizon_days, competing
        As for :func:`logistic`.
    potential_followup_col : str, optional
        As for :func:`logistic`.
    cluster : str
        Column of cluster labels ("LA" by default). (Replaces ``group=``, deprecated.)
    vcov : {"CR0", "model", "CR3"}
        The sandwich (default; geepack's "robust"), the model-based ("naive")
        variance, or Mancl and DeRouen's bias-reduced sandwich (a CR3-type
        correction). (Replaces ``cov_type=`` "robust", "naive",
        "bias_reduced", deprecated.)
    start : ModelResult, optional
        A :func:`logistic` fit of the same model to the same data, clustered
        by the same column (e.g. the cluster-robust fit reported beside the
        GEE): its estimates start the GEE, which starts from exactly that
        independence fit anyway, so the result is the same to the bit. A fit
        of another model or data is ignored (the start is fitted again).
    **deprecated
        The older spelling group=, cov_type=, with a :class:`DeprecationWarning`.
    """
    # the GEE's own modules: statsmodels.api would import all of statsmodels (0.4 s of CPU)
    from statsmodels.genmod import families

    from reunistat.models.logistic._gee import ColumnRankGEE, SequentialExchangeable

    old = _options.take_deprecated(
        "gee", deprecated, {"group": "cluster=", "cov_type": "vcov= ('CR0', 'model', 'CR3')"}
    )
    cluster = old.get("group", cluster)
    if "cov_type" in old:
        back = {v: k for k, v in _GEE_VCOV.items()}
        if old["cov_type"] not in back:
            raise LogisticInputError(
                f"cov_type must be robust, naive or bias_reduced: {old['cov_type']!r}"
            )
        vcov = back[old["cov_type"]]  # type: ignore[assignment]
    if vcov not in _GEE_VCOV:
        raise LogisticInputError(f"vcov must be one of {list(_GEE_VCOV)}, got {vcov!r}")
    if not isinstance(cluster, str):
        raise LogisticInputError("gee: cluster= must be one column (the GEE's groups)")
    cov_type = _GEE_VCOV[vcov]
    data = _unique_index(data)
    d = build_design(
        formula,
        data,
        outcome_col=outcome_col,
        duration_col=duration_col,
        event_col=event_col,
        horizon_days=horizon_days,
        competing=competing,
        extra_cols=(cluster,),
        potential_followup_col=potential_followup_col,
        function="gee",
        rank=False,  # checked by the start's fit (the same design) or on irls' first information
    )
    codes, n_cl = d.cluster_codes(cluster)
    if n_cl < 2:
        raise LogisticInputError(f"GEE needs 2+ groups in {cluster!r}")
    y, X = d.y, d.X
    if not (codes[1:] >= codes[:-1]).all():  # rows not already by cluster (spells by LA are)
        order = np.argsort(codes, kind="stable")
        y, X, codes = y[order], X[order], codes[order]
    mod = ColumnRankGEE(
        y, X, groups=codes, family=families.Binomial(), cov_struct=SequentialExchangeable()
    )
    data_sha256 = d.data_sha256(data)
    shared = shared_start(
        start, d, data_sha256, _outcome_options(horizon_days, competing, potential_followup_col)
    )
    try:  # GEE starts from the independence GLM: our IRLS fit of it (statsmodels' own is slow)
        params: np.ndarray | None = (shared or irls(d.X, d.y, d.terms, check=d.check_rank)).params
    except SeparationError:  # raised after the rank check (made on the first information)
        params = None  # let statsmodels start as it does
    res = _gee_fit(mod, cov_type, params)
    idx = pd.Index(d.terms)
    alpha = float(mod.cov_struct.dep_params)
    stats = {
        "working_correlation": alpha,
        "n_clusters": float(n_cl),
        "iterations": float(len(res.fit_history["params"]) - 1),
        "n_dropped_missing": float(d.n_dropped_missing),
    }
    if d.outcome is not None:
        stats.update(d.outcome.fit_stats())
    return ModelResult(
        model="logistic_gee",
        params=pd.Series(np.asarray(res.params), index=idx),
        cov=pd.DataFrame(np.asarray(res.cov_params()), index=idx, columns=idx),
        vcov_type=f"gee_{cov_type}({cluster})",
        n_obs=len(d.y),
        n_events=int(d.y.sum()),
        fit_stats=stats,
        provenance=Provenance(
            function="reunistat.models.logistic.gee",
            data_sha256=data_sha256,
            formula=d.formula,
            options={
                "group": cluster,
                "horizon_days": horizon_days,
                "cov_type": cov_type,
                "corstr": "exchangeable",
                "competing": competing,
                "potential_followup_col": potential_followup_col,
            },
        ),
        exp_label="OR",
        extras={
            "outcome": d.outcome,
            "model_spec": d.model_spec,
            "data": d.frame,
            "outcome_col": d.outcome_col,
        },
    )
