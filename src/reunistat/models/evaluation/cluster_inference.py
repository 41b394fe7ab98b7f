"""Inference with few clusters: CR2 variance, Satterthwaite degrees of freedom, wild bootstrap.

A pilot evaluation has 150 authorities of which perhaps 15 pilot; the
cluster-robust (CR1) variance of a coefficient identified by those 15 is too
small and its t reference on ``G - 1`` degrees of freedom a rule of thumb. The
field's answers, for the linear designs (:func:`~reunistat.models.evaluation.did`,
``event_study``, ``before_after``):

* **CR2** (Bell and McCaffrey 2002): each cluster's residuals are scaled by
  ``A_g = (I - H_gg)^(-1/2)`` before the sandwich, ``H_gg`` the cluster's block
  of the hat matrix (Moore-Penrose inverse square root where, as with the
  authority fixed effects, ``I - H_gg`` is singular; as R's
  ``clubSandwich::vcovCR(type = "CR2")``).
* **Satterthwaite degrees of freedom** for each coefficient (Bell-McCaffrey;
  Pustejovsky and Tipton 2018; ``clubSandwich::coef_test(test =
  "Satterthwaite")`` with the working model ``Phi = I`` of an unweighted
  ``lm``): ``df = (tr Omega)^2 / ||Omega||_F^2`` with ``Omega = P'P``, ``p_g =
  (I - H)_{.g} A_g X_g M c``. Few effective clusters give few degrees of freedom.
* **Wild cluster bootstrap intervals** (restricted, "WCR": Cameron, Gelbach and
  Miller 2008; intervals by test inversion as in Roodman et al.'s
  ``boottest``): for each coefficient, the values ``b0`` not rejected by the
  symmetric bootstrap-t test of ``beta_j = b0``, with Rademacher or Webb
  six-point weights drawn once per cluster from a seeded generator. The
  restricted residuals are linear in ``b0`` (by Frisch-Waugh-Lovell they are
  ``e + a (beta_j - b0) / M_jj`` with ``a = X M e_j``), so each candidate costs
  O(B) after one pass over the data.

Everything works on the full design matrix (fixed effects as dummies); the
cost is O(n k^2) for the CR2 factors (a thin QR per cluster), never an
``n_g x n_g`` matrix.

Examples
--------
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(12), 20)
>>> x = np.column_stack([np.ones(240), rng.normal(size=240)])
>>> y = x @ [1.0, 0.5] + rng.normal(size=12)[g] + rng.normal(size=240)
>>> fit = ols_cluster(y, x, g, vcov="CR2")
>>> bool(np.all(satterthwaite_df(fit) > 0))
True
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from reunistat.errors import EvaluationError
from reunistat.models._term_df import TermDfResult
from reunistat.models.evaluation._dummy_design import DummyDesign
from reunistat.replicates import one_blas_thread

ClusterVcov = Literal["CR2", "CR1"]
BootWeights = Literal["rademacher", "webb"]
_TOL = 1e-12  # eigenvalues of I - H_gg below this are treated as zero (as clubSandwich)


@dataclass(frozen=True)
class ClusterFit:
    """An OLS fit with its cluster-robust pieces (arrays; rows in the data's order).

    Attributes
    ----------
    beta, cov : numpy.ndarray
        Estimates and their CR2 or CR1 covariance.
    vcov : {"CR2", "CR1"}
        Which variance.
    x, y, resid : numpy.ndarray
        Design (or a :class:`DummyDesign`, its rows made when used), outcome and OLS
        residuals.
    bread : numpy.ndarray
        ``M = (X'X)^-1``.
    codes : numpy.ndarray
        Cluster of each row (0..G-1).
    n_clusters : int
        G.
    factors : list of (numpy.ndarray, numpy.ndarray)
        Per cluster, ``(V, d)`` with ``A_g z = z + V (d * V'z)`` (CR2), empty for CR1.
    rows : list of numpy.ndarray
        The row indices of each cluster.
    xtx : numpy.ndarray or None
        ``X'X``, from which ``bread`` was inverted.
    x_sparse : scipy.sparse.csr_matrix or None
        ``x`` again, sparse, when its every entry is 0 or 1 (:func:`ols_cluster`).
    """

    beta: np.ndarray
    cov: np.ndarray
    vcov: ClusterVcov
    x: np.ndarray | DummyDesign
    y: np.ndarray
    resid: np.ndarray
    bread: np.ndarray
    codes: np.ndarray
    n_clusters: int
    factors: list[tuple[np.ndarray, np.ndarray]]
    rows: list[np.ndarray]
    xtx: np.ndarray | None = None
    x_sparse: Any = None

    def adjust(self, z: np.ndarray) -> np.ndarray:
        """Return ``A_g z_g`` for every cluster (z: n or n x m); ``z`` itself for CR1."""
        if self.vcov == "CR1":
            return z
        out = np.array(z, dtype=float, copy=True)
        for r, (v, d) in zip(self.rows, self.factors, strict=True):
            zg = z[r]
            out[r] = (
                zg + v @ (d[:, None] * (v.T @ zg)) if zg.ndim == 2 else zg + v @ (d * (v.T @ zg))
            )
        return out

    @functools.cached_property
    def _layout(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows in cluster order (row order within each) and each cluster's start."""
        order = np.argsort(self.codes, kind="stable")
        counts = np.bincount(self.codes, minlength=self.n_clusters)
        return order, np.concatenate([[0], np.cumsum(counts)])

    def cluster_sums(self, z: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum the rows of ``z`` (times ``weights``, one per row) within each cluster (G x ...)."""
        order, starts = self._layout
        return np.asarray(_by_cluster(order, starts, weights) @ np.ascontiguousarray(z))

    def x_sums(self, weights: np.ndarray) -> np.ndarray:
        """``cluster_sums(x, weights)``: the rows of the design times ``weights``, by cluster.

        From ``x_sparse`` when there is one: the same numbers to the bit
        (:func:`_x_sums`).
        """
        order, starts = self._layout
        return _x_sums(_by_cluster(order, starts, weights), self.x, self.x_sparse)

    def cr1_cov(self) -> np.ndarray:
        """The CR1 covariance of the same fit (``G/(G-1) (n-1)/(n-k)``, as Stata)."""
        scores = self.x_sums(self.resid)
        n, k = self.x.shape
        g = self.n_clusters
        cov = g / (g - 1) * (n - 1) / (n - k) * self.bread @ (scores.T @ scores) @ self.bread
        return (cov + cov.T) / 2


def _by_cluster(order: np.ndarray, starts: np.ndarray, weights: np.ndarray | None) -> Any:
    """The G x n matrix summing rows within clusters, times ``weights`` (``S @ z``).

    The CSR arrays of ``sparse.csr_matrix((weights, (codes, arange(n))))``, which
    keeps each cluster's rows in row order, made from the cluster layout found
    once (``order``, ``starts``) instead of a sort per call: the same matrix, so
    ``S @ z`` adds the same products in the same order. With weights, each sum
    adds ``weights[i] * z[i]``, the products ``(z * weights[:, None])[i]`` a
    matrix of ones would add (``1.0 * v`` is ``v``).
    """
    n, g = len(order), len(starts) - 1
    data = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[order]
    return sparse.csr_matrix((data, order, starts), shape=(g, n))


#: Rows per block of :func:`_rows_times`: a block of a wide design stays in cache.
ROW_BLOCK = 1024


def _row_blocks(n: int) -> list[tuple[int, int]]:
    """Blocks of ``ROW_BLOCK`` rows; the last one holds the last ``n % 4`` rows and 4 more."""
    bounds = list(range(0, n, ROW_BLOCK))
    if len(bounds) > 1 and n - bounds[-1] < 8:
        bounds.pop()  # the last block then has the last n % 4 rows and at least 4 more
    bounds.append(n)
    return list(itertools.pairwise(bounds))


def _rows(x: np.ndarray | DummyDesign, r: slice | np.ndarray) -> np.ndarray:
    """``x[r]``: rows of the design (made, for a :class:`DummyDesign`)."""
    return x.rows(r) if isinstance(x, DummyDesign) else x[r]


def _dense(x: np.ndarray | DummyDesign) -> np.ndarray:
    """The design as one array (made whole, for a :class:`DummyDesign`)."""
    return x.dense() if isinstance(x, DummyDesign) else x


def _gram(x: np.ndarray | DummyDesign) -> np.ndarray:
    """``X'X`` of the design (a :class:`DummyDesign` made whole once)."""
    d = _dense(x)
    return np.asarray(d.T @ d)


def _times(x: np.ndarray | DummyDesign, m: np.ndarray) -> np.ndarray:
    """``x @ m`` (``m`` a vector or a matrix); a :class:`DummyDesign` by blocks of rows.

    The same numbers to the bit: OpenBLAS's matrix-vector and matrix-matrix
    products take each row of ``x`` apart from the others (see :func:`_rows_times`).
    """
    if not isinstance(x, DummyDesign):
        return x @ m
    out = np.empty((x.shape[0], *m.shape[1:]))
    for i, j in _row_blocks(x.shape[0]):
        out[i:j] = x.rows(slice(i, j)) @ m
    return out


def _rows_times(
    x: np.ndarray | DummyDesign, vs: list[np.ndarray], cols: list[int] | None = None
) -> np.ndarray:
    """``x @ v`` for each ``v`` of ``vs`` (len(vs) x n), one pass over ``x``'s rows in blocks.

    ``x`` C-contiguous (2-D float64) or a :class:`DummyDesign`. With ``cols``, the
    products are those of ``x[:, cols] @ v`` (that copy is Fortran-ordered), each block's columns
    copied in the same order, without the ``n x len(cols)`` copy.

    The same numbers to the bit as one product over all rows: a matrix-vector
    product (OpenBLAS ``gemv``) takes each row apart from the others, in
    groups of 4 rows and the last ``n % 4`` rows by another path; every block
    but the last has a multiple of 4 rows and the last holds those last rows,
    so each row gets the same operations. Reading ``x`` once for every ``v``
    (instead of once per ``v``), or only a block of its columns at a time,
    is what saves the time.
    """
    out = np.empty((len(vs), x.shape[0]))
    for i, j in _row_blocks(x.shape[0]):
        xb = _rows(x, slice(i, j))
        xb = xb if cols is None else np.asfortranarray(xb[:, cols])
        for t, v in enumerate(vs):
            out[t, i:j] = xb @ v
    return out


def _x_sums(by_cluster: Any, x: np.ndarray | DummyDesign, x_sparse: Any) -> np.ndarray:
    """``by_cluster @ x`` (G x k), from ``x_sparse`` (``x`` as a sparse matrix of 0/1) if given.

    Each sum adds ``weight * x[i, j]`` over a cluster's rows in row order. With
    ``x`` all 0 and 1 every product is the weight itself or a zero, and adding a
    zero changes no sum, so skipping the zeros (the sparse product adds the
    others in the same row order) gives the same numbers to the bit, at a
    fraction of the cost of reading the dense ``n x k`` matrix.
    """
    if x_sparse is None and isinstance(x, DummyDesign):
        x_sparse = x.sparse
    if x_sparse is None:
        return np.asarray(by_cluster @ np.ascontiguousarray(x))
    return np.asarray((by_cluster @ x_sparse).toarray())


def _cr2_factors(
    x: np.ndarray | DummyDesign, bread: np.ndarray, rows: list[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per cluster, the low-rank form of the pseudo-inverse square root of ``I - H_gg``."""
    out = []
    for r in rows:
        xg = _rows(x, r)
        used = np.flatnonzero(np.any(xg != 0, axis=0))
        q, rr = np.linalg.qr(xg[:, used])
        b = rr @ bread[np.ix_(used, used)] @ rr.T
        lam, u = np.linalg.eigh((b + b.T) / 2)
        keep = lam > _TOL  # directions of H_gg; the rest of I - H_gg is the identity
        v = q @ u[:, keep]
        one_minus = 1.0 - lam[keep]
        d = np.where(one_minus > _TOL, 1.0 / np.sqrt(np.clip(one_minus, _TOL, None)) - 1.0, -1.0)
        out.append((v, d))
    return out


@one_blas_thread
def ols_cluster(
    y: np.ndarray,
    x: np.ndarray | DummyDesign,
    groups: np.ndarray,
    vcov: ClusterVcov = "CR2",
    x_sparse: Any = None,
) -> ClusterFit:
    """OLS with a CR2 (Bell-McCaffrey) or CR1 (Stata, ``sandwich::vcovCL``) cluster variance.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome (n).
    x : numpy.ndarray or DummyDesign
        Full-rank design (n x k), fixed effects as dummies (a :class:`DummyDesign`:
        its rows made when used, its sparse copy ``x_sparse`` when not given).
    groups : array-like
        Cluster labels (n).
    vcov : {"CR2", "CR1"}
        CR2: ``M (sum_g X_g' A_g e_g e_g' A_g X_g) M``; CR1: the same with
        ``A_g = I`` times ``G/(G-1) (n-1)/(n-k)``.
    x_sparse : scipy.sparse matrix, optional
        ``x`` again as a sparse matrix, given only when every entry of ``x`` is
        0 or 1 (an intercept and dummies): ``X'X`` (exact counts, whatever the
        order of the sums) and the cluster sums of ``x``'s rows are then taken
        from it, the same numbers to the bit at a fraction of the cost.

    Returns
    -------
    ClusterFit
    """
    if vcov not in ("CR2", "CR1"):
        raise EvaluationError(f"vcov must be 'CR2' or 'CR1', got {vcov!r}")
    y = np.asarray(y, dtype=float)
    if isinstance(x, DummyDesign):
        x_sparse = x.sparse if x_sparse is None else x_sparse
    else:
        x = np.ascontiguousarray(x, dtype=float)
    if x_sparse is not None:
        x_sparse = sparse.csr_matrix(x_sparse, dtype=float)
        if x_sparse.shape != x.shape:
            raise EvaluationError(f"x_sparse is {x_sparse.shape}, x is {x.shape}")
    xtx = _gram(x) if x_sparse is None else (x_sparse.T @ x_sparse).toarray()
    bread = np.linalg.inv((xtx + xtx.T) / 2)
    # X'y of a 0/1 design and whole-number outcomes: exact counts, the same in any order
    exact = x_sparse is not None and _small_integers(y)
    beta = bread @ (np.asarray(x_sparse.T @ y).ravel() if exact else _dense(x).T @ y)
    resid = y - _times(x, beta)
    codes, labels = pd.factorize(np.asarray(groups))
    n_g = len(labels)
    if n_g < 2:
        raise EvaluationError("a cluster-robust variance needs at least two clusters")
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
    factors = _cr2_factors(x, bread, rows) if vcov == "CR2" else []
    fit = ClusterFit(
        beta, np.empty(0), vcov, x, y, resid, bread, codes, n_g, factors, rows, xtx, x_sparse
    )
    if vcov == "CR1":
        cov = fit.cr1_cov()
    else:
        scores = fit.x_sums(fit.adjust(resid))
        cov = bread @ (scores.T @ scores) @ bread
        cov = (cov + cov.T) / 2
    return dataclasses.replace(fit, cov=cov)


@one_blas_thread
def satterthwaite_df(fit: ClusterFit, idx: list[int] | None = None) -> np.ndarray:
    """Satterthwaite (Bell-McCaffrey) degrees of freedom of each coefficient in ``idx``.

    With ``w_g = A_g X_g M e_j`` and ``z_g = X_g' w_g``, ``Omega = diag(w_g'w_g)
    - Z' M Z`` (G x G) and ``df = (tr Omega)^2 / sum(Omega^2)``: clubSandwich's
    ``coef_test(test = "Satterthwaite")`` under the working model ``Phi = I``.
    """
    idx = list(range(len(fit.beta))) if idx is None else idx
    a = _times(fit.x, fit.bread[:, idx])  # n x m: X M e_j
    w = fit.adjust(a)
    ww = fit.cluster_sums(w * w)  # G x m
    out = np.empty(len(idx))
    for j in range(len(idx)):
        z = fit.x_sums(w[:, j])  # G x k
        omega = np.diag(ww[:, j]) - z @ fit.bread @ z.T
        out[j] = np.trace(omega) ** 2 / np.sum(omega * omega)
    return out


def boot_weights(
    kind: BootWeights, n_clusters: int, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw the wild bootstrap's weights, one per cluster and replicate (G x B).

    ``"rademacher"``: +-1 with equal chance; ``"webb"``: Webb's (2014) six
    points +-sqrt(1/2), +-1, +-sqrt(3/2), better with fewer than ~12 clusters.
    """
    if kind == "rademacher":
        pts = np.array([-1.0, 1.0])
    elif kind == "webb":
        pts = np.sqrt(np.array([1.5, 1.0, 0.5]))
        pts = np.concatenate([-pts, pts])
    else:
        raise EvaluationError(f"boot_weights must be 'rademacher' or 'webb', got {kind!r}")
    return rng.choice(pts, size=(n_clusters, n_boot))


def _bootstrap_pieces(
    fit: ClusterFit,
    j: int,
    v: np.ndarray,
    xe: np.ndarray | None = None,
    a: np.ndarray | None = None,
) -> dict[str, np.ndarray | float]:
    """The parts of the restricted bootstrap-t that do not depend on the tested value.

    ``xe``: ``fit.x_sums(fit.resid)``, the same for every ``j``; ``a``:
    ``fit.x @ fit.bread[:, j]`` if at hand.
    """
    if a is None:
        a = _times(fit.x, fit.bread[:, j])
    m_jj = float(fit.bread[j, j])
    w = fit.adjust(a)
    xw = fit.x_sums(w)  # G x k
    out: dict[str, np.ndarray | float] = {"m_jj": m_jj}
    for name, u in (("e", fit.resid), ("a", a)):
        if name == "e" and xe is not None:
            xu = xe
        else:
            xu = fit.x_sums(u)
        k = np.diag(fit.cluster_sums(w * u)) - xw @ fit.bread @ xu.T  # G x G
        out["kv_" + name] = k @ v  # G x B
        out["num_" + name] = fit.cluster_sums(a * u) @ v  # B
    out["se_raw"] = float(np.sqrt(np.sum(fit.cluster_sums(w * fit.resid) ** 2)))
    return out


def _boot_p(pieces: dict[str, np.ndarray | float], beta_j: float, b0: float) -> float:
    """Symmetric wild-bootstrap p-value of ``beta_j = b0``."""
    tau = (beta_j - b0) / float(pieces["m_jj"])
    t = (beta_j - b0) / float(pieces["se_raw"])
    num = np.asarray(pieces["num_e"]) + tau * np.asarray(pieces["num_a"])
    kv = np.asarray(pieces["kv_e"]) + tau * np.asarray(pieces["kv_a"])
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = num / np.sqrt(np.sum(kv * kv, axis=0))
    return float(np.mean(np.abs(t_star) >= abs(t) - 1e-12 * max(1.0, abs(t))))


def _bound(
    pieces: dict[str, np.ndarray | float], beta_j: float, se: float, alpha: float, sign: float
) -> float:
    """The interval end on one side: the last value not rejected (bisection)."""
    inner, step = beta_j, 2.0 * se
    outer = beta_j + sign * step
    for _ in range(60):
        if _boot_p(pieces, beta_j, outer) <= alpha:
            break
        inner, step = outer, step * 2
        outer = beta_j + sign * step
    else:
        return float(sign * np.inf)
    for _ in range(60):
        mid = (inner + outer) / 2
        if _boot_p(pieces, beta_j, mid) > alpha:
            inner = mid
        else:
            outer = mid
        if abs(outer - inner) < 1e-7 * se:
            break
    return (inner + outer) / 2


@one_blas_thread
def wild_bootstrap_ci(
    fit: ClusterFit,
    idx: list[int],
    *,
    n_boot: int = 999,
    seed: int = 20240331,
    weights: BootWeights = "rademacher",
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Restricted wild cluster bootstrap intervals and p-values for coefficients ``idx``.

    The bootstrap-t uses the fit's own variance (CR2 or CR1). One set of
    weights (seeded) serves every coefficient. Returns ``conf_low``,
    ``conf_high`` and ``p_value`` (of ``beta_j = 0``), one row per coefficient.
    """
    if n_boot < 99:
        raise EvaluationError(f"n_boot must be at least 99 for a bootstrap interval, got {n_boot}")
    if not 0 < conf_level < 1:
        raise EvaluationError(f"conf_level must lie strictly between 0 and 1, got {conf_level}")
    v = boot_weights(weights, fit.n_clusters, n_boot, np.random.default_rng(seed))
    alpha = 1.0 - conf_level
    rows = []
    xe = fit.x_sums(fit.resid)
    # every term's x @ bread[:, j] from one pass over the rows (the same bits: _rows_times)
    blocked = isinstance(fit.x, DummyDesign) or (
        fit.x.dtype == np.float64 and fit.x.flags.c_contiguous
    )
    a = _rows_times(fit.x, [fit.bread[:, j] for j in idx]) if blocked else [None] * len(idx)
    for t, j in enumerate(idx):
        pieces = _bootstrap_pieces(fit, j, v, xe, a[t])
        b, se = float(fit.beta[j]), float(np.sqrt(fit.cov[j, j]))
        rows.append(
            {
                "conf_low": _bound(pieces, b, se, alpha, -1.0),
                "conf_high": _bound(pieces, b, se, alpha, 1.0),
                "p_value": _boot_p(pieces, b, 0.0),
            }
        )
    return pd.DataFrame(rows)


@one_blas_thread
def wild_pretrend(
    y: np.ndarray,
    x: np.ndarray | DummyDesign,
    groups: np.ndarray,
    idx: list[int],
    wald: float,
    n_boot: int,
    seed: int,
    bread: np.ndarray | None = None,
    xtx: np.ndarray | None = None,
    x_sparse: Any = None,
) -> float:
    """Wild cluster bootstrap p-value of the Wald test that ``beta[idx] == 0`` (WCR, CR1).

    Vectorised over replicates: with Rademacher weights ``v`` (one per cluster)
    the bootstrap estimate is ``beta0 + A v`` and the cluster scores of the
    tested terms are linear in ``v``, so every replicate costs O(G k) after
    one pass over the data. ``bread``: ``(X'X)^-1`` as :func:`ols_cluster`
    computes it from the same ``x`` (``ClusterFit.bread``), if at hand.
    ``xtx``: ``X'X`` (``ClusterFit.xtx``), given only when ``x`` holds small
    integers (0/1 dummies: every entry of ``X'X`` is then an exact count, the
    same whichever order it is summed in), so that the restricted model's
    ``X'X`` is its rows and columns without the tested terms, to the bit.
    ``x_sparse``: ``x`` as a sparse matrix, given only when ``x`` is all 0 and 1
    (``ClusterFit.x_sparse``): the cluster sums of its rows come from it.
    """
    w = _pretrend_statistics(y, x, groups, idx, n_boot, seed, bread, xtx, x_sparse)
    return float((1 + np.sum(w >= wald)) / (1 + n_boot))


def _pretrend_statistics(
    y: np.ndarray,
    x: np.ndarray | DummyDesign,
    groups: np.ndarray,
    idx: list[int],
    n_boot: int,
    seed: int,
    bread: np.ndarray | None,
    xtx: np.ndarray | None,
    x_sparse: Any = None,
) -> np.ndarray:
    """The ``n_boot`` bootstrap Wald statistics of :func:`wild_pretrend`."""
    rng = np.random.default_rng(seed)
    codes, g = pd.factorize(groups)
    n_g, (n, k) = len(g), x.shape
    m = len(idx)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_g))])
    s = _by_cluster(order, starts, None)
    keep = [j for j in range(k) if j not in set(idx)]
    fitted_r = _restricted_fit(y, x, keep, xtx, x_sparse)
    resid_r = y - fitted_r
    if bread is None:
        full = _gram(x) if xtx is None else xtx
        bread = np.linalg.inv((full + full.T) / 2)
    z = _times(x, bread[idx].T)  # n x m: beta[idx] = z' y
    xtf = x.sparse.T @ fitted_r if isinstance(x, DummyDesign) else x.T @ fitted_r
    beta0 = bread @ xtf
    f0 = fitted_r - _times(x, beta0)
    # cluster sums of the scores as weighted sums of x's rows: no n x k array of products
    a = bread @ _x_sums(_by_cluster(order, starts, resid_r), x, x_sparse).T  # k x G
    p0 = np.asarray(s @ (z * f0[:, None]))  # G x m
    p1 = np.asarray(s @ (z * resid_r[:, None]))  # G x m
    q = np.stack(
        [_x_sums(_by_cluster(order, starts, z[:, j]), x, x_sparse) for j in range(m)], axis=1
    )  # G x m x k
    c = n_g / (n_g - 1) * (n - 1) / (n - k)
    v = rng.choice(np.array([-1.0, 1.0]), size=(n_g, n_boot))
    av = a @ v  # k x B
    b = beta0[idx][:, None] + av[idx]  # m x B
    sc = p0[:, :, None] + p1[:, :, None] * v[:, None, :] - np.einsum("gmk,kb->gmb", q, av)
    vs = c * np.einsum("gmb,gnb->bmn", sc, sc)  # B x m x m
    sol = np.linalg.solve(vs, b.T[:, :, None])[:, :, 0]
    return np.asarray(np.einsum("bm,bm->b", b.T, sol))


def _small_integers(y: np.ndarray) -> bool:
    """Whether ``y`` holds whole numbers under 2**20 in size.

    Their sums over a 0/1 design's columns (up to 2**33 rows) are then exact
    counts, the same whichever order they are taken in.
    """
    return bool(np.all(np.abs(y) < 2.0**20)) and np.array_equal(y, np.trunc(y))


def _restricted_fit(
    y: np.ndarray,
    x: np.ndarray | DummyDesign,
    keep: list[int],
    xtx: np.ndarray | None,
    x_sparse: Any,
) -> np.ndarray:
    """The fitted values of ``y`` on the columns ``keep`` of ``x`` (the restricted model).

    With ``x`` all 0 and 1 (``x_sparse`` given, C-contiguous) and ``y`` whole
    numbers, ``X_r'y`` holds exact counts (the same in any order: from the
    sparse matrix) and ``X_r b`` comes a block of rows at a time
    (:func:`_rows_times`), the same bits as through the ``n x len(keep)`` copy
    of ``x``, which costs more than the products.
    """
    fast = (
        x_sparse is not None
        and xtx is not None
        and (isinstance(x, DummyDesign) or (x.dtype == np.float64 and x.flags.c_contiguous))
        and _small_integers(y)
    )
    xtx_r = None if xtx is None else xtx[np.ix_(keep, keep)]
    if not fast:
        xr = _dense(x)[:, keep]
        xtx_r = xr.T @ xr if xtx_r is None else xtx_r
        return np.asarray(xr @ np.linalg.solve((xtx_r + xtx_r.T) / 2, xr.T @ y))
    assert xtx_r is not None
    xty = np.asarray(x_sparse.T @ y).ravel()[keep]
    return _rows_times(x, [np.linalg.solve((xtx_r + xtx_r.T) / 2, xty)], keep)[0]


@dataclass(frozen=True)
class ClusterResult(TermDfResult):
    """A design's result: a t reference per term, and its wild bootstrap intervals.

    ``tidy()`` refers each term to a t distribution on its own Satterthwaite
    degrees of freedom (``df_terms``; ``df_resid`` holds the smallest);
    ``tidy(conf_method="wild_bootstrap")`` gives the wild cluster bootstrap
    p-values and intervals instead (at the level they were computed,
    ``extras["wild_bootstrap"]``).
    """

    def tidy(
        self,
        exponentiate: bool = False,
        conf_level: float = 0.95,
        conf_method: Literal["satterthwaite", "wild_bootstrap"] = "satterthwaite",
    ) -> pd.DataFrame:
        """Return one row per term; see the class notes for ``conf_method``."""
        out = TermDfResult.tidy(self, exponentiate, conf_level)
        if conf_method == "satterthwaite":
            return out
        if conf_method != "wild_bootstrap":
            raise EvaluationError(
                f"conf_method must be 'satterthwaite' or 'wild_bootstrap', got {conf_method!r}"
            )
        boot = self.extras.get("wild_bootstrap")
        if boot is None:
            raise EvaluationError("no wild bootstrap was run for this result (n_boot=0)")
        level = float(self.provenance.options.get("conf_level", 0.95))
        if abs(conf_level - level) > 1e-12:
            raise EvaluationError(
                f"the wild bootstrap intervals are at conf_level={level}; refit with "
                f"conf_level={conf_level} for others"
            )
        lo, hi = boot["conf_low"].to_numpy(float), boot["conf_high"].to_numpy(float)
        if exponentiate:
            lo, hi = np.exp(lo), np.exp(hi)
        return out.assign(p_value=boot["p_value"].to_numpy(float), conf_low=lo, conf_high=hi)
