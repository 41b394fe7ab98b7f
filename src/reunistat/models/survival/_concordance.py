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
    """Weights at integer ranks ``0 .. m-1`` with prefix sums, in four levels.

    Ranks are grouped into blocks of 8, those into blocks of 64 and those into
    blocks of 512. Adding a batch of weights is four scatter-adds; the sum below a
    rank is one lookup in the cumulated top level plus three masked windows of at
    most 8 entries, so a whole batch of queries takes a fixed handful of
    whole-array operations. (Sums of whole-number weights are exact in any order.)
    """

    SHIFTS = (0, 3, 6)  # the windowed levels; the top level holds blocks of 512

    def __init__(self, m: int) -> None:
        self.m_pad = -(-max(m, 1) // 512) * 512
        self.levels = [np.zeros(self.m_pad >> s) for s in self.SHIFTS]
        self.elem = self.levels[0]
        self.top = np.zeros(self.m_pad >> 9)
        self.lane = np.arange(8)

    def add(self, ranks: np.ndarray, w: np.ndarray) -> None:
        """Add weights ``w`` at ``ranks``."""
        for level, shift in zip(self.levels, self.SHIFTS, strict=True):
            np.add.at(level, ranks >> shift, w)
        np.add.at(self.top, ranks >> 9, w)

    def below(self, ranks: np.ndarray) -> np.ndarray:
        """Sum of the weights at ranks strictly below each of ``ranks`` (0 .. m)."""
        out = np.concatenate([[0.0], np.cumsum(self.top)])[ranks >> 9]
        for level, shift in zip(self.levels[::-1], self.SHIFTS[::-1], strict=True):
            hi = ranks >> shift  # the entries of this level below the rank ...
            idx = ((hi >> 3) << 3)[:, None] + self.lane  # ... within its block of 8
            part = np.where(idx < hi[:, None], level[np.minimum(idx, level.size - 1)], 0)
            out += part.sum(axis=1)
        return out


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


def _n_distinct(t: np.ndarray) -> int:
    """Number of distinct values (whole-day times sort by radix)."""
    if t.shape[0] == 0:
        return 0
    st = t[_stable_argsort(t)]
    return int(np.count_nonzero(st[1:] != st[:-1])) + 1


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
    few = start is None and _n_distinct(stop) * (int(s.max()) + 1) <= 20_000
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
