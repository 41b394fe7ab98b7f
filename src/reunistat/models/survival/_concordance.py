"""Harrell's concordance for survival data as R's ``survival::concordance`` defines it.

For each event at time ``t`` the comparable rows are those at risk at ``t`` in
the same stratum (``start < t <= stop``) other than rows with an event at ``t``;
a pair is concordant when the row with the event has the larger linear
predictor. Pairs carry weight ``w_i w_j``; ties in the predictor count one half::

    C = (concordant + tied / 2) / (concordant + discordant + tied)

The counts are a two-dimensional dominance problem (time order x predictor
order), solved offline in ``O(n log^2 n)`` with whole-array numpy operations.
"""

from __future__ import annotations

import itertools

import numpy as np

from reunistat.models.survival._coxengine import _stable_argsort


def _dominance(
    vals: np.ndarray, weights: np.ndarray, query: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each query element, sum the weights of earlier non-query elements by value.

    Returns ``(less, less_or_equal)``: sums over earlier points with value strictly
    below, and at most, the query's value. ``vals`` are non-negative integers.
    """
    n = vals.shape[0]
    m = int(vals.max()) + 2 if n else 1
    pos = np.arange(n, dtype=np.int64)
    qidx = np.flatnonzero(query)
    less = np.zeros(qidx.shape[0])
    leq = np.zeros(qidx.shape[0])
    order = np.arange(n, dtype=np.int64)
    level = 0
    while (1 << level) < n:
        parent = pos >> (level + 1)
        key = parent * m + vals
        order = order[np.argsort(key[order], kind="stable")]
        ks = key[order]
        left_point = (((pos >> level) & 1) == 0) & ~query
        cw = np.concatenate([[0.0], np.cumsum(np.where(left_point[order], weights[order], 0.0))])
        right_q = ((qidx >> level) & 1) == 1
        qq = qidx[right_q]
        base = cw[np.searchsorted(ks, parent[qq] * m, "left")]
        less[right_q] += cw[np.searchsorted(ks, key[qq], "left")] - base
        leq[right_q] += cw[np.searchsorted(ks, key[qq], "right")] - base
        level += 1
    return less, leq


class _PrefixSums:
    """Weights at integer ranks ``0 .. m-1`` with prefix sums, in three levels.

    Ranks are grouped into blocks of 32 and those into blocks of 1024. Adding a
    batch of weights is three scatter-adds; the sum below a rank is one lookup in
    the cumulated top level plus two masked windows of at most 32 entries, so a
    whole batch of queries takes a fixed handful of whole-array operations.
    """

    def __init__(self, m: int) -> None:
        self.m_pad = -(-max(m, 1) // 1024) * 1024
        self.elem = np.zeros(self.m_pad)
        self.sub = np.zeros(self.m_pad // 32)
        self.top = np.zeros(self.m_pad // 1024)
        self.lane = np.arange(32)

    def add(self, ranks: np.ndarray, w: np.ndarray) -> None:
        """Add weights ``w`` at ``ranks``."""
        np.add.at(self.elem, ranks, w)
        np.add.at(self.sub, ranks >> 5, w)
        np.add.at(self.top, ranks >> 10, w)

    def below(self, ranks: np.ndarray) -> np.ndarray:
        """Sum of the weights at ranks strictly below each of ``ranks`` (0 .. m)."""
        b, s = ranks >> 10, ranks >> 5
        ctop = np.concatenate([[0.0], np.cumsum(self.top)])
        sub_idx = (b << 5)[:, None] + self.lane  # the sub-blocks of each query's block
        sub_part = np.where(
            sub_idx < s[:, None], self.sub[np.minimum(sub_idx, self.sub.size - 1)], 0
        )
        el_idx = (s << 5)[:, None] + self.lane  # the ranks of each query's sub-block
        el_part = np.where(
            el_idx < ranks[:, None], self.elem[np.minimum(el_idx, self.m_pad - 1)], 0
        )
        return ctop[b] + sub_part.sum(axis=1) + el_part.sum(axis=1)


def _by_time_groups(
    stop: np.ndarray, event: np.ndarray, vals: np.ndarray, w: np.ndarray, s: np.ndarray
) -> tuple[float, float, float]:
    """Right-censored data with few distinct times: a Fenwick tree over predictor ranks.

    Groups of tied times are processed from the latest: censored rows at the time
    join the risk set before the events there are compared, the events after.
    """
    m = int(vals.max()) + 1
    conc = tied = disc = 0.0
    for stratum in np.unique(s):
        sel = np.flatnonzero(s == stratum)
        by_event = sel[np.argsort(event[sel], kind="stable")]  # censored first: radix sort
        order = by_event[_stable_argsort(-stop[by_event])]  # then time descending, stably
        t_o, e_o = stop[order], event[order]
        r_o = vals[order] + 1  # 1-based ranks
        w_o = w[order]
        bounds = np.flatnonzero(np.r_[True, t_o[1:] != t_o[:-1], True])
        tree = _PrefixSums(m + 2)
        total = 0.0
        for a, b in itertools.pairwise(bounds):
            ev_at = a + np.flatnonzero(e_o[a:b])
            first_ev = ev_at[0] if ev_at.size else b
            if first_ev > a:  # censored rows at this time join first
                tree.add(r_o[a:first_ev], w_o[a:first_ev])
                total += float(w_o[a:first_ev].sum())
            if ev_at.size:
                less = tree.below(r_o[ev_at])
                leq = less + tree.elem[r_o[ev_at]]  # plus the weight at exactly that rank
                wq = w_o[ev_at]
                conc += float(wq @ less)
                tied += float(wq @ (leq - less))
                disc += float(wq @ (total - leq))
                tree.add(r_o[ev_at], wq)
                total += float(wq.sum())
    return conc, disc, tied


def concordance_index(
    stop: np.ndarray,
    event: np.ndarray,
    eta: np.ndarray,
    *,
    start: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    method: str = "auto",
) -> float:
    """Return R's concordance of a Cox linear predictor ``eta`` (higher = earlier event).

    ``method="tree"`` (right-censored data with at most 20,000 distinct
    stratum-times, the default then) walks the tied-time groups with a Fenwick tree;
    ``"levels"`` is the general offline dominance count.
    """
    n = stop.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    vals = np.unique(eta, return_inverse=True)[1].astype(np.int64)
    few = start is None and np.unique(stop).shape[0] * (int(s.max()) + 1) <= 20_000
    if method == "tree" or (method == "auto" and few):
        conc, disc, tie = _by_time_groups(stop, event.astype(bool), vals, w, s)
        den = conc + disc + tie
        return (conc + tie / 2) / den if den > 0 else float("nan")
    times = stop if start is None else np.concatenate([stop, start])
    ranks = np.unique(times, return_inverse=True)[1].astype(np.int64) + 1
    big = int(ranks.max()) + 2
    stop_key = s * big + ranks[:n]
    # The sequence runs from late to early times. Within a key: removals first (a row
    # whose entry is at or after t is not at risk at t; a finished stratum leaves),
    # then censored rows, then the event queries, then the events themselves.
    ev_idx = np.flatnonzero(event)
    keys = [stop_key, stop_key[ev_idx]]
    kinds = [np.where(event, 3, 1), np.full(ev_idx.shape[0], 2)]
    wts = [w, w[ev_idx]]
    vv = [vals, vals[ev_idx]]
    if start is not None or strata is not None:
        keys.append(s * big + (ranks[n:] if start is not None else 0))
        kinds.append(np.zeros(n, dtype=np.int64))
        wts.append(-w)
        vv.append(vals)
    k_all = np.concatenate(keys)
    kind_all = np.concatenate(kinds)
    order = np.lexsort((kind_all, -k_all))
    is_query = kind_all[order] == 2
    w_all = np.concatenate(wts)[order]
    less, leq = _dominance(np.concatenate(vv)[order], w_all, is_query)
    at_risk = np.cumsum(np.where(is_query, 0.0, w_all))[is_query]
    wq = w_all[is_query]
    concordant = float(np.sum(wq * less))
    tied = float(np.sum(wq * (leq - less)))
    discordant = float(np.sum(wq * (at_risk - leq)))
    denom = concordant + discordant + tied
    return (concordant + tied / 2) / denom if denom > 0 else float("nan")
