"""Random-intercept (multilevel) logistic model: variation in re-entry between authorities.

``logit P(y_ij = 1 | u_j) = x_ij' beta + u_j`` with ``u_j ~ N(0, sigma^2)`` for
local authority ``j``. The marginal likelihood integrates each authority's
``u_j`` out by the Laplace approximation (``n_agq=1``, ``lme4::glmer``'s
default) or adaptive Gauss-Hermite quadrature (``n_agq > 1``, as glmer's
``nAGQ``), centred on each authority's conditional mode. Authorities are
independent, so this is a sum of one-dimensional integrals, maximised over
``(beta, log sigma)`` with scipy; standard errors come from the numerical
Hessian (differences of the exact gradient) of the marginal log-likelihood,
as glmer's do.

Reported: conditional odds ratios (for spells in the same authority), the
between-authority variance ``sigma^2``, the **median odds ratio**
``MOR = exp(sqrt(2 sigma^2) * Phi^-1(0.75))`` (the median odds ratio between
two spells with the same covariates in two randomly chosen authorities), and
the latent-scale intraclass correlation ``sigma^2 / (sigma^2 + pi^2/3)``.

These describe how authorities differ as populations; they are not for
decisions about an individual child.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.linalg import solve_triangular
from scipy.special import expit

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models import _options
from reunistat.models.logistic._errors import LogisticInputError
from reunistat.models.logistic.design import build_design
from reunistat.models.logistic.fit import (
    _outcome_options,
    _unique_index,
    irls,
    shared_frame,
    shared_start,
)
from reunistat.models.logistic.outcome import Competing
from reunistat.results import ModelResult, Provenance

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass
class _Problem:
    """Data and warm-start state of the marginal likelihood.

    On construction the rows are sorted by group (stably) and the design kept
    transposed (``Xt``; ``X`` becomes a view of it), so every sum within groups
    is a :func:`numpy.add.reduceat` over contiguous runs: the same terms in the
    same order as a bincount, without a pass per column.
    """

    X: np.ndarray
    y: np.ndarray
    codes: np.ndarray  # group codes 0 .. n_groups - 1, every group present
    n_groups: int
    nodes: np.ndarray
    log_weights: np.ndarray
    modes: np.ndarray
    Xt: np.ndarray = field(init=False, repr=False)
    starts: np.ndarray = field(init=False, repr=False)
    sizes: np.ndarray = field(init=False, repr=False)
    p_mode: np.ndarray = field(init=False, repr=False)
    e_mode: np.ndarray = field(init=False, repr=False)
    w_mode: np.ndarray = field(init=False, repr=False)
    sw_mode: np.ndarray = field(init=False, repr=False)
    first_ones: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        order = np.argsort(self.codes, kind="stable")
        self.codes = self.codes[order]
        self.y = self.y[order]
        self.Xt = np.ascontiguousarray(self.X[order].T)
        self.X = self.Xt.T
        self.starts = np.searchsorted(self.codes, np.arange(self.n_groups))
        self.sizes = np.diff(np.append(self.starts, len(self.codes)))
        # the first column 1 in every row (the intercept): its products with a weight are the weight
        self.first_ones = self.Xt.size > 0 and bool((self.Xt[0] == 1.0).all())

    def _spread(self, v: np.ndarray) -> np.ndarray:
        """Each group's value on each of its rows: ``v[codes]`` (rows sorted by group)."""
        return np.repeat(v, self.sizes)

    def _sum(self, v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(v, self.starts)

    def _sum_x(self, *ws: tuple[np.ndarray, np.ndarray]) -> list[np.ndarray]:
        """Per group, the sums of ``w x`` over its rows, (groups, k), for each ``(w, sums of w)``.

        One column of ``X`` at a time, into a buffer that stays in cache: each
        column's products are summed within groups by the same
        :func:`numpy.add.reduceat` as on the whole (k, n) product matrix (the same
        sums to the bit), at half its cost. A column of ones (the intercept) takes
        the sums of ``w`` given (``1.0 * w`` is ``w``: the same sums). The results
        are transposed views of (k, groups) arrays, as the reduction over the whole
        matrix gives them.
        """
        sums = [np.empty((len(self.Xt), len(self.starts))) for _ in ws]
        buf = np.empty(self.Xt.shape[1])
        for i, x in enumerate(self.Xt):
            for (w, sw), out in zip(ws, sums, strict=True):
                if i == 0 and self.first_ones:
                    out[i] = sw
                else:
                    np.add.reduceat(np.multiply(x, w, out=buf), self.starts, out=out[i])
        return [out.T for out in sums]

    def conditional_modes(self, eta: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the modes of each group's standardised effect and the curvature there.

        Newton steps per group; each pass over the rows writes into two buffers
        (the same operations as on new arrays).
        """
        z = self.modes.copy()
        p, t = np.empty_like(eta), np.empty_like(eta)
        for _ in range(100):
            # sigma * z[codes], the same products
            expit(np.add(eta, self._spread(sigma * z), out=p), out=p)
            grad = sigma * self._sum(np.subtract(self.y, p, out=t)) - z
            np.subtract(1, p, out=t)
            curv = sigma**2 * self._sum(np.multiply(p, t, out=t)) + 1.0
            step = np.clip(grad / curv, -5.0, 5.0)
            z += step
            if np.max(np.abs(step)) < 1e-11:
                break
        e = eta + self._spread(sigma * z)
        p = expit(e)
        w = p * (1 - p)
        sw = self._sum(w)
        curv = sigma**2 * sw + 1.0
        self.modes = z
        # at the modes, for the node there and the gradient
        self.e_mode, self.p_mode, self.w_mode, self.sw_mode = e, p, w, sw
        return z, curv

    def loglik(self, theta: np.ndarray) -> float:
        """Return the (approximate) marginal log-likelihood at ``(beta, log sigma)``."""
        return self.value_and_grad(theta, gradient=False)[0]

    def value_and_grad(
        self, theta: np.ndarray, gradient: bool = True, value: bool = True
    ) -> tuple[float, np.ndarray]:
        """Return the marginal log-likelihood and its exact gradient in ``(beta, log sigma)``.

        The gradient differentiates the quadrature rule itself, including how
        each group's mode and curvature (where the nodes sit) move with the
        parameters (implicit function theorem), so it is the exact gradient of
        the approximation the optimiser maximises.

        ``value=False`` (the gradient only: the log-likelihood returned is
        NaN) spares the Laplace approximation (one node) each group's
        log-likelihood: with one node its weight in the gradient is
        ``exp(a - a) / 1 = 1`` whatever ``a`` is, when ``a`` is finite (checked
        from bounds: else it is computed). The same gradient, to the bit.
        """
        beta, sigma = theta[:-1], float(np.exp(theta[-1]))
        eta = beta @ self.Xt
        z, curv = self.conditional_modes(eta, sigma)
        s = 1.0 / np.sqrt(curv)
        log_s = np.log(np.sqrt(2.0) * s)
        a, gprime, resid, s_res, zs = [], [], [], [], []
        for x, lw in zip(self.nodes, self.log_weights, strict=True):
            zk = z + np.sqrt(2.0) * s * x
            # at the node on the mode (x = 0, zk = z) e is the modes' linear predictor
            e = self.e_mode if x == 0 else eta + self._spread(sigma * zk)
            if value or not gradient or len(self.nodes) > 1 or not _finite_node(e, zk, log_s):
                g = self._sum(self.y * e - np.logaddexp(0.0, e)) - zk**2 / 2 - _HALF_LOG_2PI
                a.append(g + x**2 + lw + log_s)
            if gradient:
                # at the node on the mode (x = 0) e is the mode's linear predictor
                r = self.y - (self.p_mode if x == 0 else expit(e))
                sr = self._sum(r)
                resid.append(r)
                s_res.append(sr)
                gprime.append(sigma * sr - zk)
                zs.append(zk)
        if not a:  # one node, its log-likelihood finite in every group: weight 1
            ones = np.ones((1, len(z)))
            return np.nan, self._gradient(eta, sigma, z, curv, s, ones, resid, s_res, gprime, zs)
        A = np.vstack(a)
        m = A.max(axis=0)
        E = np.exp(A - m)
        tot = E.sum(axis=0)
        ll = float((m + np.log(tot)).sum())
        if not gradient:
            return ll, np.empty(0)
        pi = E / tot
        return ll, self._gradient(eta, sigma, z, curv, s, pi, resid, s_res, gprime, zs)

    def _gradient(
        self,
        eta: np.ndarray,
        sigma: float,
        z: np.ndarray,
        curv: np.ndarray,
        s: np.ndarray,
        pi: np.ndarray,
        resid: list[np.ndarray],
        s_res: list[np.ndarray],
        gprime: list[np.ndarray],
        zs: list[np.ndarray],
    ) -> np.ndarray:
        sq2 = np.sqrt(2.0)
        p0 = self.p_mode  # expit(eta + sigma * z[codes]), from conditional_modes
        w0, sw = self.w_mode, self.sw_mode  # p0 * (1 - p0) and its sums, from there too
        v0 = w0 * (1 - 2 * p0)  # dw/d eta
        sv = self._sum(v0)
        swx, svx = self._sum_x((w0, sw), (v0, sv))
        # how the modes move: implicit differentiation of sigma * sum(y - p) = z
        dz_b = -sigma * swx / curv[:, None]
        dz_t = z * (1 - sigma**2 * sw) / curv
        # and the curvature C = 1 + sigma^2 sum(w) at the mode
        dc_b = sigma**2 * (svx + sigma * sv[:, None] * dz_b)
        dc_t = 2 * sigma**2 * sw + sigma**2 * sv * (sigma * z + sigma * dz_t)
        dlogs_b, dlogs_t = -0.5 * dc_b / curv[:, None], -0.5 * dc_t / curv
        ds_b, ds_t = s[:, None] * dlogs_b, s * dlogs_t
        # one node of weight 1 in every group (the Laplace approximation): r is
        # 0 + 1 * resid, without spreading the weights over the rows
        one = len(self.nodes) == 1 and bool((pi[0] == 1.0).all())
        r = resid[0] + 0.0 if one else np.zeros_like(eta)
        a_j = np.zeros_like(z)
        b_j = np.zeros_like(z)
        g_t = 0.0
        for k, x in enumerate(self.nodes):
            if not one:
                r += self._spread(pi[k]) * resid[k]
            a_j += pi[k] * gprime[k]
            b_j += pi[k] * gprime[k] * x
            g_t += float((pi[k] * sigma * zs[k] * s_res[k]).sum())
        g_b = self.Xt @ r + (a_j[:, None] * dz_b + sq2 * b_j[:, None] * ds_b + dlogs_b).sum(axis=0)
        g_t += float((a_j * dz_t + sq2 * b_j * ds_t + dlogs_t).sum())
        return np.append(g_b, g_t)


def _finite_node(e: np.ndarray, zk: np.ndarray, log_s: np.ndarray) -> bool:
    """True if every group's log-likelihood at a node is surely finite (bounds, not its sums).

    ``|y e - log(1 + exp(e))| <= |e| + log 2`` on each row, so a group's sum
    stays below ``n (max |e| + 1)``; ``zk^2 / 2`` and ``log_s`` must be finite too.
    """
    big = float(np.max(np.abs(e), initial=0.0))
    small_z = float(np.max(np.abs(zk), initial=0.0)) < 1e150
    return big * max(len(e), 1) < 1e300 and small_z and bool(np.isfinite(log_s).all())


def _hessian(grad: Any, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Central differences of an exact gradient."""
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        H[i] = (grad(x + e) - grad(x - e)) / (2 * h[i])
    return (H + H.T) / 2


def _optimise(
    prob: _Problem, start: np.ndarray, information: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Maximise the marginal likelihood from ``start``; return it, the Hessian, steps, converged.

    L-BFGS-B works on coordinates in which the fixed effects are scaled by
    the Cholesky factor ``L`` of ``information`` (the ordinary logistic fit's,
    close to the marginal likelihood's curvature in beta): ``beta = beta0 +
    L^-T u``. Its curvature there is near the identity, so it needs a fraction
    of the steps it takes on the raw scale.
    """

    def fun(t: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g = prob.value_and_grad(t)
        return -ll, -g

    def grad(t: np.ndarray) -> np.ndarray:
        return -prob.value_and_grad(t, value=False)[1]

    k = len(start) - 1
    chol = np.linalg.cholesky(information)
    scale = np.sqrt(2.0 * prob.n_groups)  # about the curvature in log sigma

    def theta_of(u: np.ndarray) -> np.ndarray:
        b = start[:k] + solve_triangular(chol, u[:k], lower=True, trans="T")
        return np.append(b, start[k] + u[k] / scale)

    def fun_u(u: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = fun(theta_of(u))
        gu = np.append(solve_triangular(chol, g[:k], lower=True), g[k] / scale)
        return f, gu

    res = optimize.minimize(
        fun_u,
        np.zeros(k + 1),
        jac=True,
        method="L-BFGS-B",
        bounds=[(None, None)] * k + [((-12.0 - start[k]) * scale, (4.0 - start[k]) * scale)],
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
    )
    theta = theta_of(res.x)
    H = _hessian(grad, theta, 1e-5 * np.maximum(np.abs(theta), 0.1))
    for _ in range(3):  # Newton steps polish what L-BFGS-B left
        if theta[-1] <= -11.9:
            break
        try:
            step = np.linalg.solve(H, grad(theta))
        except np.linalg.LinAlgError:
            break
        # fun's values without its gradients, in the same order (the modes move the same)
        if -prob.loglik(theta - step) > -prob.loglik(theta) or not np.all(np.isfinite(step)):
            break
        theta = theta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    # converged: the optimiser says so, or the gradient vanishes (L-BFGS-B often stops
    # with a line-search message at the optimum when ftol is this tight)
    g = grad(theta)
    free = g[:-1] if theta[-1] <= -11.9 else g  # at the bound only the free part must vanish
    converged = bool(res.success) or float(np.max(np.abs(free))) < 1e-4 * max(1.0, abs(res.fun))
    return theta, H, int(res.nit), converged


def _variance_components(
    theta: np.ndarray, H: np.ndarray, conf_level: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    log_sigma = float(theta[-1])
    sigma2 = float(np.exp(2 * log_sigma))
    try:
        var = float(np.linalg.inv(H)[-1, -1])
        se_log_sigma = float(np.sqrt(var)) if var > 0 else float("nan")
    except np.linalg.LinAlgError:
        se_log_sigma = float("nan")
    q = stats.norm.ppf(0.5 + conf_level / 2)
    q75 = stats.norm.ppf(0.75)
    if not np.isfinite(se_log_sigma) or log_sigma <= -11.9 or se_log_sigma > 5:
        # at or near the boundary sigma = 0 a Wald interval on log sigma means nothing
        ls = np.array([log_sigma, -np.inf, np.nan])
    else:
        ls = np.array([log_sigma, log_sigma - q * se_log_sigma, log_sigma + q * se_log_sigma])
    s2 = np.exp(2 * ls)
    mor = np.exp(np.sqrt(2 * s2) * q75)
    icc = s2 / (s2 + np.pi**2 / 3)
    table = pd.DataFrame(
        {
            "quantity": ["sigma2_la", "median_odds_ratio", "icc_latent"],
            "estimate": [s2[0], mor[0], icc[0]],
            "conf_low": [s2[1], mor[1], icc[1]],
            "conf_high": [s2[2], mor[2], icc[2]],
        }
    )
    fit_stats = {
        "sigma2_la": sigma2,
        "sigma_la": float(np.sqrt(sigma2)),
        "se_log_sigma_la": se_log_sigma,
        "mor": float(mor[0]),
        "mor_conf_low": float(mor[1]),
        "mor_conf_high": float(mor[2]),
        "icc_latent": float(icc[0]),
    }
    return table, fit_stats


def multilevel(
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
    n_agq: int = 1,
    conf_level: float = 0.95,
    start: ModelResult | None = None,
    **deprecated: Any,
) -> ModelResult:
    """Fit a random-intercept logistic model of re-entry within ``horizon_days``.

    Parameters
    ----------
    formula, data, outcome_col, duration_col, event_col, horizon_days, competing
        As for :func:`~reunistat.models.logistic.logistic`.
    potential_followup_col : str, optional
        As for :func:`~reunistat.models.logistic.logistic`.
    cluster : str
        Column of the clusters that get a random intercept, "LA" by default.
        (Replaces ``group=``, deprecated.)
    n_agq : int
        Quadrature points per authority: 1 is the Laplace approximation
        (glmer's default); 5-25 adaptive Gauss-Hermite quadrature.
    conf_level : float
        Level of the intervals for the variance, median odds ratio and ICC
        (Wald on log sigma; when sigma is at or near zero the lower limits are
        0, 1, 0 and the upper limits are not given).
    start : ModelResult, optional
        A :func:`~reunistat.models.logistic.logistic` fit of the same model to
        the same data, clustered by ``cluster`` (e.g. the fit reported beside
        this one): its estimates and information start the optimisation
        instead of a new fit of the same model, so the result is the same to
        the bit, and its frame of the rows used is this fit's
        ``extras["data"]`` too (one frame for both). A fit of another model or
        data is ignored (fitted again).

    **deprecated
        The older spelling group=, with a :class:`DeprecationWarning`.

    Returns
    -------
    ModelResult
        Fixed effects (conditional log-odds ratios) in ``params``;
        ``fit_stats`` has ``sigma2_la`` (the between-group variance, named for
        the usual cluster, the local authority, whatever ``cluster`` is), ``mor``
        (median odds ratio) with its interval, ``icc_latent`` and the
        log-likelihood;
        ``extras["variance_components"]`` is a table of them and
        ``extras["random_effects"]`` the conditional modes of each group's
        intercept.
    """
    group = _options.take_deprecated("multilevel", deprecated, {"group": "cluster="}).get(
        "group", cluster
    )
    if isinstance(n_agq, bool) or not isinstance(n_agq, int) or not 1 <= n_agq <= 50:
        raise LogisticInputError(f"n_agq must be a whole number from 1 to 50, got {n_agq!r}")
    if not 0 < conf_level < 1:
        raise LogisticInputError(f"conf_level must lie between 0 and 1, got {conf_level}")
    data = _unique_index(data)
    d = build_design(
        formula,
        data,
        outcome_col=outcome_col,
        duration_col=duration_col,
        event_col=event_col,
        horizon_days=horizon_days,
        competing=competing,
        extra_cols=(group,),
        potential_followup_col=potential_followup_col,
        function="multilevel",
        rank=False,  # checked by the start's fit (the same design) or on irls' first information
    )
    labels = d.frame[group]
    codes, n_groups = d.cluster_codes(group)
    if n_groups < 3:
        raise LogisticInputError(
            f"a random intercept by {group!r} needs at least 3 groups, found {n_groups}"
        )
    data_sha256 = d.data_sha256(data)
    options = _outcome_options(horizon_days, competing, potential_followup_col)
    shared = shared_start(start, d, data_sha256, options)
    frame = d.frame if start is None or shared is None else shared_frame(start, d)
    start_fit = shared or irls(d.X, d.y, d.terms, check=d.check_rank)
    nodes, weights = np.polynomial.hermite.hermgauss(n_agq)
    prob = _Problem(d.X, d.y, codes, n_groups, nodes, np.log(weights), np.zeros(n_groups))
    theta0 = np.append(start_fit.params, np.log(0.5))
    theta, H, n_iter, converged = _optimise(prob, theta0, start_fit.information)
    k = d.X.shape[1]
    at_boundary = theta[-1] <= -11.9 or np.linalg.eigvalsh(H)[0] <= 0
    try:
        # at sigma = 0 the curvature in log sigma vanishes: use the fixed-effects block
        cov = np.linalg.inv(H[:k, :k]) if at_boundary else np.linalg.inv(H)[:k, :k]
    except np.linalg.LinAlgError as exc:
        raise LogisticInputError(
            "the Hessian of the multilevel likelihood is singular; the model is not identified"
        ) from exc
    ll = prob.loglik(theta)
    table, vc_stats = _variance_components(theta, H, conf_level)
    z, _ = prob.conditional_modes(theta[:k] @ prob.Xt, float(np.exp(theta[-1])))
    uniques = pd.unique(labels)
    idx = pd.Index(d.terms)
    fit_stats: dict[str, float] = {
        "log_likelihood": ll,
        "aic": -2 * ll + 2 * (k + 1),
        "bic": -2 * ll + float(np.log(len(d.y))) * (k + 1),
        **vc_stats,
        "n_clusters": float(n_groups),
        "n_agq": float(n_agq),
        "iterations": float(n_iter),
        "converged": float(converged),
        "n_dropped_missing": float(d.n_dropped_missing),
    }
    if d.outcome is not None:
        fit_stats.update(d.outcome.fit_stats())
    if not converged:
        warnings.warn(
            "the multilevel fit may not have converged (the gradient at the estimate is not "
            "zero); glance() reports converged = 0",
            UserWarning,
            stacklevel=2,
        )
    if at_boundary:
        fit_stats["boundary"] = 1.0  # between-authority variance estimated at (or near) zero
    return ModelResult(
        model="logistic_multilevel",
        params=pd.Series(theta[:k], index=idx),
        cov=pd.DataFrame((cov + cov.T) / 2, index=idx, columns=idx),
        vcov_type="model (marginal likelihood)",
        n_obs=len(d.y),
        n_events=int(d.y.sum()),
        fit_stats=fit_stats,
        provenance=Provenance(
            function="reunistat.models.logistic.multilevel",
            data_sha256=data_sha256,
            formula=d.formula + f" + (1 | {group})",
            options={
                "group": group,
                "horizon_days": horizon_days,
                "n_agq": n_agq,
                "competing": competing,
                "potential_followup_col": potential_followup_col,
                "conf_level": conf_level,
            },
        ),
        exp_label="OR",
        extras={
            "variance_components": table,
            "random_effects": pd.Series(
                z * np.exp(theta[-1]), index=pd.Index(uniques, name=group), name="intercept"
            ),
            "outcome": d.outcome,
            "model_spec": d.model_spec,
            "data": frame,
            "outcome_col": d.outcome_col,
        },
    )
