"""The polyreg imputation's multinomial logistic regression (first category the reference).

A bootstrap sample is fitted from its distinct rows, each weighted by how often
it was drawn (about 63% of the rows: every pass over the rows shrinks by a
third). Newton's Hessian is taken from evenly spaced rows of the sample above
``HESS_ROWS`` rows (scaled up): the steps stay close to Newton's and the
iterations converge to the same maximum. Its ``(n_cat - 1)^2`` blocks are
``X' diag(w_ab) X`` for weights ``w_ab`` that change every step, so the
products ``x_j x_l`` of each of those rows are made once per fit and each step
is one matrix product of them with every block's weights.
"""

from __future__ import annotations

import numpy as np

from reunistat.models.imputation.design_rows import Grouped, Patterned, Rows, group_rows

RIDGE = 1e-5  # as mice's ridge: keeps near-collinear imputation models solvable
HESS_ROWS = 20_000  # rows behind the multinomial Hessian (the gradient uses them all)
_EXP_SAFE = 700.0  # exp(eta) without shifting by the row's largest value below this


def fit_sample(
    x: np.ndarray | Patterned,
    codes: np.ndarray,
    n_cat: int,
    sample: np.ndarray,
    finite: bool | None = None,
) -> np.ndarray:
    """The multinomial fit to rows ``sample`` of ``x`` and ``codes`` (a bootstrap sample).

    The same maximum as :func:`multinom_fit` of ``x[sample]``: each distinct row
    counted as often as it is drawn, the Hessian from the same rows of the sample.
    ``x`` may be the rows sorted by their 0/1 patterns (:class:`Patterned`, with
    its own codes: ``codes`` is then not read).
    """
    n = len(sample)
    drawn = x.inverse[sample] if isinstance(x, Patterned) else sample
    counts = np.bincount(drawn, minlength=len(codes))
    rows = np.flatnonzero(counts)
    where = np.cumsum(counts > 0) - 1  # a row of x -> its place among the distinct rows
    at = where[drawn[_hess_positions(n)]] if n > HESS_ROWS else None
    if isinstance(x, Patterned):
        design: Rows = x.subset(rows)
        codes = x.codes
    else:
        design = Rows(np.take(x, rows, axis=0))  # whole rows: about 3x as fast as x[rows]
    return multinom_fit(
        design,
        codes[rows],
        n_cat,
        finite,
        weights=counts[rows].astype(float),
        hess_at=at,
        total=n,
    )


def _hess_positions(n: int) -> np.ndarray:
    """``HESS_ROWS`` evenly spaced positions among ``n`` rows."""
    return np.asarray(np.linspace(0, n - 1, HESS_ROWS).round().astype(int))


def multinom_fit(
    x: np.ndarray | Rows,
    codes: np.ndarray,
    n_cat: int,
    finite: bool | None = None,
    *,
    weights: np.ndarray | None = None,
    hess_at: np.ndarray | None = None,
    total: int | None = None,
) -> np.ndarray:
    """Multinomial logistic regression by Newton (tiny ridge): ``k x n_cat`` coefficients.

    ``weights``: case weights (how many rows each row stands for), ``total``
    their sum; the Hessian is from rows ``hess_at`` of ``x`` (scaled to
    ``total``), by default evenly spaced rows above ``HESS_ROWS`` rows, else
    every row with its weight. ``finite``: whether every value of ``x`` is
    finite, if the caller knows (else it is checked): Newton then starts at
    ``b = 0`` without a pass over the rows (every probability ``1 / n_cat``).
    """
    design = x if isinstance(x, Rows) else Rows(x)
    n, k, c1 = design.n, design.k, n_cat - 1
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    size = n if total is None else total
    if hess_at is None and weights is None and n > HESS_ROWS:
        hess_at = _hess_positions(n)
    hw = w if hess_at is None else size / len(hess_at)
    hess = _Hessian(design.grouped(hess_at), hess_at, hw, c1)
    wy = np.zeros((c1, n))  # weighted one-hot, a row per category after the first
    hit = np.flatnonzero(codes > 0)
    wy[codes[hit] - 1, hit] = w[hit]
    g0 = design.dot(wy)  # the gradient's constant part
    eta, e, wp = np.empty((c1, n)), np.empty((c1, n)), np.empty((c1, n))

    def state(b: np.ndarray) -> tuple[float, np.ndarray]:
        """Log-likelihood at ``b`` and each row's sum of ``exp``; ``e`` holds the ``exp``s."""
        design.eta(b, eta)  # a row per category: its values contiguous
        top = float(eta.max())
        if top < _EXP_SAFE:  # no overflow: exp(eta), the reference category's exp(0) = 1
            np.exp(eta, out=e)
            tot = e.sum(axis=0)
            tot += 1.0
            lse = np.log(tot)
        else:  # shifted by each row's largest value (at least the reference's 0)
            big = np.maximum(eta.max(axis=0), 0.0)
            np.exp(np.subtract(eta, big, out=e), out=e)
            tot = e.sum(axis=0)
            tot += np.exp(-big)
            lse = np.log(tot) + big
        ll = float(np.vdot(wy, eta) - w @ lse)
        return ll - 0.5 * RIDGE * float(np.sum(b * b)), tot

    b = np.zeros((k, c1))
    if finite is None:
        finite = design.finite()
    start = finite  # at b = 0 every exp is 1: no pass over the rows
    ll, tot = (-float(w.sum()) * float(np.log(n_cat)), None) if start else state(b)
    for it in range(100):
        if it == 0 and start:
            grad = g0 - design.dot(w[None])[0] / n_cat
            info = hess.at_equal(1.0 / n_cat)
        else:
            assert tot is not None
            r = w / tot
            np.multiply(e, r, out=wp)  # weighted probabilities
            grad = g0 - design.dot(wp)
            info = hess.at(e, tot)
        g = grad.ravel() - RIDGE * b.T.ravel()
        step = np.linalg.solve(info, g).reshape(c1, k).T
        t = 1.0
        while True:
            new, new_tot = state(b + t * step)
            if new >= ll - 1e-12 or t <= 1e-4:
                break
            t /= 2
        b, change, ll, tot = b + t * step, new - ll, new, new_tot
        if abs(change) < 1e-10 * (1 + abs(ll)):
            break
    return np.column_stack([np.zeros(k), b])


class _Hessian:
    """The multinomial's Hessian (tiny ridge) from rows ``x_h``, each of weight ``hw``.

    ``x_h``: the rows, or them grouped by their 0/1 patterns (:class:`Grouped`);
    ``rows``: their places among the fit's rows (None: every row, in order).

    Block ``(a, b)`` is ``sum_i hw_i p_ia (1[a=b] - p_ib) x_i x_i'``: a matrix
    product of each step's ``c1 (c1 + 1) / 2`` blocks' weights with the rows'
    products ``x_ij x_il`` (``j <= l``), made once. The products of two 0/1
    columns are those of the row's pattern of 0/1 values (a few hundred
    patterns in thousands of rows): the weights are summed by pattern (the rows
    sorted by it) and multiply the patterns' products. A 0/1 column ``l`` and
    another ``j``: the weights times ``x_j`` summed by pattern, times the
    patterns' ``x_l``; only the products of two other columns are the rows' own.
    """

    def __init__(
        self, x_h: np.ndarray | Grouped, rows: np.ndarray | None, hw: np.ndarray | float, c1: int
    ) -> None:
        # a row per column of x, in pattern order
        order, binary, cols, self.starts = x_h if isinstance(x_h, Grouped) else group_rows(x_h)
        k = len(cols)
        self.rows = order if rows is None else rows[order]
        self.hw = hw if np.ndim(hw) == 0 else np.asarray(hw)[order]
        j, l = np.triu_indices(k)
        jb, lb = np.isin(j, binary), np.isin(l, binary)
        both, neither = jb & lb, ~(jb | lb)
        self.by_pattern, self.by_row = np.flatnonzero(both), np.flatnonzero(neither)
        first = cols[:, self.starts]  # each pattern's values (its first row's)
        self.patterns = first[j[both]] * first[l[both]]  # binary pairs x patterns
        # each other column's values, its pairs with a 0/1 column and their values by pattern
        self.mixed = []
        for q in np.setdiff1d(np.arange(k), binary):
            pairs = np.flatnonzero(((j == q) & lb) | ((l == q) & jb))
            partner = np.where(j[pairs] == q, l[pairs], j[pairs])
            self.mixed.append((cols[q].copy(), pairs, np.ascontiguousarray(first[partner].T)))
        self.products = np.empty((len(self.by_row), cols.shape[1]))  # other pairs x rows
        for i, (q, r) in enumerate(zip(j[neither], l[neither], strict=True)):
            np.multiply(cols[q], cols[r], out=self.products[i])
        self.c1, self.k, self.n_pairs = c1, k, len(j)
        a, b_ = np.triu_indices(c1)
        self.blocks = (a, b_)
        # where each block's pair (j, l) goes in the (c1 k) x (c1 k) matrix, and its mirrors
        aj, bl = (a[:, None] * k + j).ravel(), (b_[:, None] * k + l).ravel()
        al, bj = (a[:, None] * k + l).ravel(), (b_[:, None] * k + j).ravel()
        self.place = (np.concatenate([aj, bl, al, bj]), np.concatenate([bl, aj, bj, al]))

    def _sums(self, wts: np.ndarray) -> np.ndarray:
        """Each weight vector's (rows in pattern order) sums of the pairs' products."""
        out = np.empty((len(wts), self.n_pairs))
        out[:, self.by_pattern] = np.add.reduceat(wts, self.starts, axis=1) @ self.patterns.T
        weighted = np.empty_like(wts)
        for values, pairs, partners in self.mixed:
            np.multiply(wts, values, out=weighted)
            out[:, pairs] = np.add.reduceat(weighted, self.starts, axis=1) @ partners
        out[:, self.by_row] = wts @ self.products.T
        return out

    def _matrix(self, sums: np.ndarray) -> np.ndarray:
        """The Hessian from each block's weighted sums of the pairs (blocks x pairs)."""
        n = self.c1 * self.k
        out = np.zeros((n, n))
        flat = sums.ravel()
        out[self.place] = np.concatenate([flat, flat, flat, flat])
        out[np.diag_indices(n)] += RIDGE
        return out

    def at(self, e: np.ndarray, tot: np.ndarray) -> np.ndarray:
        """The Hessian where the rows' probabilities are ``e / tot`` (a row per category)."""
        p_h = np.take(e, self.rows, axis=1) / np.take(tot, self.rows)
        wts = np.empty((len(self.blocks[0]), p_h.shape[1]))  # blocks x rows
        for i, (a, b_) in enumerate(zip(*self.blocks, strict=True)):
            if a == b_:  # p_a (1 - p_a)
                np.multiply(p_h[a], np.subtract(1.0, p_h[a]), out=wts[i])
            else:  # p_a (0 - p_b): -(p_a p_b), the same bits
                np.negative(np.multiply(p_h[a], p_h[b_], out=wts[i]), out=wts[i])
        if np.ndim(self.hw) == 0:
            return self._matrix(self._sums(wts) * self.hw)
        wts *= self.hw
        return self._matrix(self._sums(wts))

    def at_equal(self, p: float) -> np.ndarray:
        """The Hessian where every probability is ``p`` (Newton's start at ``b = 0``)."""
        a, b_ = self.blocks
        hw = np.broadcast_to(np.asarray(self.hw, dtype=float), self.rows.shape)
        plain = self._sums(np.ascontiguousarray(hw)[None])
        return self._matrix(np.where((a == b_)[:, None], p * (1 - p), -p * p) * plain)
