"""Cluster-robust variance of a Cox model with few clusters: CR2 and Satterthwaite df.

The cluster-robust (CR0) variance ``V (sum_g u_g u_g') V`` of a Cox model, ``u_g``
the score residuals summed within cluster ``g`` and ``V`` the inverse
information, is too small when a coefficient rests on few clusters (a pilot
adopted by 15 of 150 authorities). For least squares and GLMs the field's
remedy is CR2 (Bell and McCaffrey 2002): each cluster's residuals are scaled by
``(I - H_gg)^(-1/2)`` before the sandwich, with Satterthwaite degrees of freedom
per coefficient (R's ``clubSandwich``). Both can be written in the space of the
coefficients. With ``Z_g`` a cluster's working design and ``I_g = Z_g' Z_g`` its
share of the information, ``Z_g' f(Z_g V Z_g') = f(I_g V) Z_g'`` for any power
series ``f``, so

* the CR2 cluster score is ``(I - I_g V)^(-1/2) u_g``, computed as
  ``V^(-1/2) (I - B_g)^(-1/2) V^(1/2) u_g`` (so ``V u*_g = V^(1/2) (I - B_g)^(-1/2)
  V^(1/2) u_g``) with the symmetric ``B_g = V^(1/2)
  I_g V^(1/2)`` (eigenvalues in [0, 1]);
* the Bell-McCaffrey degrees of freedom of coefficient ``j`` are ``(tr Omega)^2 /
  ||Omega||_F^2`` with ``Omega = diag(c'V^(1/2) (I - B_g)^(-1) B_g V^(1/2) c) -
  Y Y'``, ``y_g = (I - B_g)^(-1/2) B_g V^(1/2) c`` and ``c = e_j``.

For a linear model these equal clubSandwich's CR2 and ``coef_test(test =
"Satterthwaite")`` exactly whenever ``I - H_gg`` is non-singular (tested
against :func:`reunistat.models.evaluation.cluster_inference.ols_cluster`).
For the Cox model ``I_g`` is the cluster's share of the information as the
predictable variation of its score: ``I_g = sum_{i in g} w_i r_i integral
Y_i(t) (x_i - xbar(t)) (x_i - xbar(t))' dLambda0(t)``, with ``xbar(t)`` the
risk-set mean and ``dLambda0`` the fit's baseline hazard increments. Summed
over clusters it is the Breslow information (exactly the model's with Breslow
ties or no tied events). Its R reference is built from ``coxph.detail`` in
``tests/reference/survival/smallsample/``.

``"CR3"`` uses ``(I - I_g V)^(-1)`` (Mancl and DeRouen's bias-corrected
sandwich, close to the cluster jackknife), keeping the CR2 degrees of freedom.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import sparse

from reunistat.errors import InputError
from reunistat.models._term_df import TermDfResult, with_term_df
from reunistat.models.survival import _coxengine as engine
from reunistat.results import ModelResult

SmallSampleVcov = Literal["CR2", "CR3"]
_TOL = 1e-12  # eigenvalues of I - B_g below this are treated as zero (as clubSandwich)


def _sym_sqrt(v: np.ndarray) -> np.ndarray:
    """``V^(1/2)`` of a symmetric positive semi-definite matrix."""
    lam, q = np.linalg.eigh((v + v.T) / 2)
    return np.asarray((q * np.sqrt(np.maximum(lam, 0.0))) @ q.T)


def _factors(shares: np.ndarray, v_half: np.ndarray, power: float) -> np.ndarray:
    """``(I - B_g)^(-power)`` for every cluster (G x p x p), pseudo-inverse where singular."""
    b = v_half @ shares @ v_half
    lam, q = np.linalg.eigh((b + np.swapaxes(b, 1, 2)) / 2)
    gap = 1 - lam
    scale = np.where(gap > _TOL, np.abs(gap) ** -power, 0.0)
    return np.asarray(np.einsum("gik,gk,gjk->gij", q, scale, q))


def score_space_cr2(
    scores: np.ndarray, shares: np.ndarray, bread: np.ndarray, vcov: SmallSampleVcov = "CR2"
) -> tuple[np.ndarray, np.ndarray]:
    """Return the CR2 (or CR3) covariance and each coefficient's Satterthwaite df.

    Parameters
    ----------
    scores : numpy.ndarray
        Cluster scores ``u_g`` (G x p): the score residuals summed by cluster.
    shares : numpy.ndarray
        Each cluster's share of the information ``I_g`` (G x p x p).
    bread : numpy.ndarray
        ``V``, the inverse of the model's information (p x p).
    vcov : {"CR2", "CR3"}
        Inverse square root (Bell-McCaffrey) or inverse (Mancl-DeRouen) adjustment.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The covariance (p x p) and the Bell-McCaffrey degrees of freedom (p,).

    Examples
    --------
    With one observation per cluster and a linear model this is HC2:

    >>> x = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 4.0]])
    >>> e = np.array([0.5, -1.0, 0.25, 0.25])
    >>> bread = np.linalg.inv(x.T @ x)
    >>> cov, df = score_space_cr2(x * e[:, None], np.einsum("gi,gj->gij", x, x), bread)
    >>> h = np.einsum("gi,ij,gj->g", x, bread, x)
    >>> hc2 = bread @ (x.T * (e**2 / (1 - h))) @ x @ bread
    >>> bool(np.allclose(cov, hc2))
    True
    """
    if vcov not in ("CR2", "CR3"):
        raise InputError(f"vcov must be 'CR2' or 'CR3', got {vcov!r}")
    v_half = _sym_sqrt(bread)
    a_half = _factors(shares, v_half, 0.5)
    adjust = a_half if vcov == "CR2" else _factors(shares, v_half, 1.0)
    # V u*_g = V^(1/2) A_g V^(1/2) u_g: the adjusted dfbeta of each cluster
    d = np.einsum("ij,gjk,gk->gi", v_half, adjust, scores @ v_half)
    cov = d.T @ d
    # Satterthwaite: per coefficient c = e_j, s = V^(1/2) c
    b = v_half @ shares @ v_half
    a_full = _factors(shares, v_half, 1.0)
    ab = a_full @ b  # (I - B_g)^-1 B_g
    y = np.einsum("gik,gkl,lj->gij", a_half, b, v_half)  # G x p x (coef j): y_g for c = e_j
    ww = np.einsum("ij,gik,kj->gj", v_half, ab, v_half)  # G x (coef j)
    yy = np.einsum("gij,gij->gj", y, y)  # ||y_g||^2
    tr = ww.sum(axis=0) - yy.sum(axis=0)
    cross = np.einsum("gij,gkj->jik", y, y)  # per j: Y'Y (p x p)
    frob = (ww * ww).sum(axis=0) - 2 * (ww * yy).sum(axis=0) + (cross * cross).sum(axis=(1, 2))
    return cov, tr**2 / frob


def information_shares(
    prob: engine.CoxProblem, ev: engine.Evaluation, codes: np.ndarray
) -> np.ndarray:
    """Each cluster's share of the Cox information (G x p x p), rows in the original order.

    ``I_g = sum_{i in g} w_i r_i sum_k Y_i(t_k) dLambda_k (x_i - xbar_k)(x_i - xbar_k)'``
    over the event groups ``k`` at which row ``i`` is at risk.
    """
    x = prob.x
    n, p = x.shape
    s0 = ev.den[prob.death_starts]  # the first death of a group has the full risk set
    xbar = ev.s1 / s0[:, None]
    haz = ev.hazard
    lam = engine._interval_sum(haz, prob.row_hi, prob.row_lo)
    a = engine._interval_sum(haz[:, None] * xbar, prob.row_hi, prob.row_lo)
    c = prob.w * ev.risk
    cl = np.asarray(codes, dtype=np.int64)[prob.order]
    n_cl = int(cl.max()) + 1
    # B_i = sum_k dLambda_k xbar_k xbar_k' over the row's interval: cumulative sums,
    # combined by cluster through one sparse product
    cum = np.zeros((haz.shape[0] + 1, p * p))
    np.cumsum(haz[:, None] * np.einsum("ki,kj->kij", xbar, xbar).reshape(-1, p * p), 0, out=cum[1:])
    rows = np.concatenate([cl, cl])
    cols = np.concatenate([prob.row_hi, prob.row_lo])
    vals = np.concatenate([c, -c])
    pick = sparse.csr_matrix((vals, (rows, cols)), shape=(n_cl, cum.shape[0]))
    out = np.asarray(pick @ cum).reshape(n_cl, p, p)
    ind = sparse.csr_matrix((np.ones(n), (cl, np.arange(n))), shape=(n_cl, n))
    xl = x * np.sqrt(c * lam)[:, None]
    cx = x * c[:, None]
    for lo in range(0, n, 8192):
        sl = slice(lo, min(n, lo + 8192))
        sub = ind[:, sl]
        cross = np.einsum("ni,nj->nij", cx[sl], a[sl])
        quad = np.einsum("ni,nj->nij", xl[sl], xl[sl]) - cross - np.swapaxes(cross, 1, 2)
        out += np.asarray(sub @ quad.reshape(-1, p * p)).reshape(n_cl, p, p)
    return out


def cox_small_sample(result: ModelResult, vcov: SmallSampleVcov = "CR2") -> TermDfResult:
    """Return a cluster-robust Cox fit with the CR2 (or CR3) variance and df per term.

    Parameters
    ----------
    result : ModelResult
        A fit of :func:`reunistat.models.survival.cox` with ``cluster=`` one column.
    vcov : {"CR2", "CR3"}
        Bell-McCaffrey (default) or Mancl-DeRouen adjustment of the cluster scores,
        with leverage from each cluster's share of the information (module notes).

    Returns
    -------
    TermDfResult
        The same estimates; ``tidy()`` refers each term to a t on its own
        Satterthwaite degrees of freedom (``extras["df_by_term"]``);
        ``extras["cov_cr0"]`` keeps the CR0 covariance.
    """
    from reunistat.models.survival.residuals import _state

    if vcov not in ("CR2", "CR3"):
        raise InputError(f"vcov must be 'CR2' or 'CR3', got {vcov!r}")
    st = _state(result)
    if st.cluster is None:
        raise InputError(
            f"{vcov} needs a Cox fit clustered on one column (cox(..., cluster='LA')); "
            "with several cluster columns use the nested outer one"
        )
    codes = pd.factorize(st.cluster, sort=True)[0]
    if codes.max() < 1:
        raise InputError(f"{vcov}: a single cluster; cluster-robust inference is impossible")
    prob, ev = st.problem, st.fit.last
    bread = np.linalg.inv(st.fit.info)
    scores = engine.cluster_scores(prob, ev, codes)
    shares = information_shares(prob, ev, codes)
    cov, df = score_space_cr2(scores, shares, bread, vcov)
    cluster = result.provenance.options.get("cluster")
    return with_term_df(result, cov, df, f"{vcov}({cluster})", "cov_cr0")
