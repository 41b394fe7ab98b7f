"""Harrell's concordance for survival data as R's ``survival::concordance`` defines it.

For each event at time ``t`` the comparable rows are those at risk at ``t`` in
the same stratum (``start < t <= stop``) other than rows with an event at ``t``;
a pair is concordant when the row with the event has the larger linear
predictor. Pairs carry weight ``w_i w_j``; ties in the predictor count one half::

    C = (concordant + tied / 2) / (concordant + discordant + tied)

The counts are a two-dimensional dominance problem (time order x predictor
order), solved with whole-array numpy operations: for right-censored data by a
merge-sort count over the bits of each row's place in time order (``O(n log T)``
for ``T`` distinct times, the default), in general (``(start, stop]`` data) by an
offline count in ``O(n log^2 n)``.
"""

from __future__ import annotations

import numpy as np


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


def _time_leaves(stop: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, int]:
    """Each row's place in the sweep from the latest time, ``2 * rank + event``, and its bits.

    ``rank`` numbers the distinct times from the latest (0) down. At a tied time the
    censored rows (even place) come before the events (odd place): an event is
    compared with the rows censored at its time, not with the other events there.
    """
    back = stop.max() - stop
    days = back.astype(np.int64) if back.max() < 2**20 else None
    if days is not None and np.array_equal(days, back):  # whole days: rank by counting
        rank = (np.cumsum(np.bincount(days) > 0) - 1)[days]
    else:
        rank = np.unique(back, return_inverse=True)[1].reshape(-1)
    place = 2 * rank.astype(np.int64) + event
    return place, max(1, int(place.max()).bit_length())


def _sweep_order(
    eta: np.ndarray, place: np.ndarray, bits: int, s: np.ndarray | None
) -> tuple[np.ndarray, bool]:
    """Rows by stratum, predictor ascending, and place descending among equal predictors.

    In this order a row ``q`` before a row ``p`` of the same stratum with an
    earlier place has ``eta_q < eta_p`` strictly: tied predictors never count as
    concordant. Also returns whether any predictors are tied.
    """
    order = np.argsort(eta)
    se = eta[order]
    tie = se[1:] == se[:-1]
    tied = bool(tie.any())
    if tied:  # within runs of equal predictors, later places first
        in_run = np.zeros(eta.shape[0], dtype=bool)
        in_run[1:] |= tie
        in_run[:-1] |= tie
        idx = np.flatnonzero(in_run)
        run = np.cumsum(np.r_[True, ~tie])[idx]
        key = (run << bits) + ((1 << bits) - 1 - place[order[idx]])
        order[idx] = order[idx][np.argsort(key, kind="stable")]
    if s is not None:
        small = s[order].astype(np.int16 if int(s.max()) < 2**15 else np.int64)
        order = order[np.argsort(small, kind="stable")]
    return order, tied


def _ordered_pairs(
    code: np.ndarray, wq: np.ndarray, bits: int, wp: np.ndarray | None = None
) -> float:
    """Sum ``wq_p * wp_q`` over pairs with ``q`` before ``p`` and a smaller code in the same block.

    A block is a value of ``code >> bits`` (the stratum). The pairs are counted
    by the code's bits from the highest, as a merge sort would: at bit ``l``,
    within each group of equal ``code >> (l + 1)`` (a run of rows), the rows with
    bit ``l`` clear that come before a row with it set are that row's pairs split
    at bit ``l``; then each group is partitioned stably by bit ``l``. With ``wp``
    None the weights are 1 and ``wq`` is boolean: integer counts, carried as the
    code's lowest bit. (Sums of whole-number weights are exact in any order.)
    """
    n = code.shape[0]
    size = ((int(code.max(initial=0)) >> bits) + 1) << bits
    count = np.bincount(code, minlength=size)
    hw = count if wp is None else np.bincount(code, wp, size)
    hq = np.bincount(code, wq, size)
    unit = wp is None
    key = (code << 1) | wq if unit else code  # unit weights: the query flag rides along
    key = key.astype(np.uint16 if (size << unit) <= 2**16 else np.int64)
    pos = np.arange(n, dtype=np.int64)
    c0x = np.empty(n, dtype=np.int64)
    total = 0.0
    for level in range(bits - 1, -1, -1):
        b = (key & (1 << (level + unit))) != 0
        nb = ~b
        np.cumsum(nb, dtype=np.int64, out=c0x)
        c0x -= nb  # rows with the bit clear before each row
        if wp is None:
            total += float(np.dot(c0x, (b & (key & 1).astype(bool)).astype(np.int64)))
        else:
            w0 = np.where(b, 0.0, wp)
            w0x = np.cumsum(w0) - w0
            total += float(np.dot(np.where(b, wq, 0.0), w0x))
        per = 1 << level  # less what lies before each group's start
        hw_g = hw.reshape(-1, 2, per).sum(axis=2)
        hq_g = hq.reshape(-1, 2, per).sum(axis=2)
        total -= float(hq_g[:, 1] @ (np.cumsum(hw_g[:, 0]) - hw_g[:, 0]))
        if level:
            n_g = count.reshape(-1, 2, per).sum(axis=2)
            sizes = n_g.sum(axis=1)
            at = np.repeat(np.cumsum(n_g[:, 1]) - n_g[:, 1], sizes)
            at += c0x  # a row with the bit clear: clear rows before it, set rows of earlier groups
            set_at = np.repeat(np.cumsum(n_g[:, 0]), sizes)
            set_at += pos
            set_at -= c0x
            np.copyto(at, set_at, where=b)
            key = _scatter(key, at)
            if wp is not None:
                wq, wp = _scatter(wq, at), _scatter(wp, at)
    return total


def _scatter(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Return ``values`` moved to positions ``at`` (a permutation)."""
    out = np.empty_like(values)
    out[at] = values
    return out


def _sweep(
    stop: np.ndarray, event: np.ndarray, eta: np.ndarray, w: np.ndarray | None, s: np.ndarray | None
) -> tuple[float, float, float]:
    """Right-censored data: (concordant, discordant, tied) weights in whole-array passes.

    Each event ``p`` is compared with the rows of its stratum that come before it
    in the sweep from the latest time (:func:`_time_leaves`): a row ``q`` is
    concordant when ``eta_q < eta_p``, tied when equal, discordant otherwise.
    """
    if stop.shape[0] == 0:
        return 0.0, 0.0, 0.0
    place, bits = _time_leaves(stop, event)
    order, any_tied = _sweep_order(eta, place, bits, s)
    code = place if s is None else (s.astype(np.int64) << bits) | place
    c_o, e_o = code[order], event[order]
    w_o = None if w is None else w[order]
    wq = e_o if w_o is None else w_o * e_o
    conc = _ordered_pairs(c_o, wq, bits, w_o)
    size = ((int(code.max()) >> bits) + 1) << bits
    h = np.bincount(code, w, size).reshape(-1, 1 << bits)  # risk sets: all earlier places
    total = float(np.bincount(c_o, wq, size) @ (np.cumsum(h, axis=1) - h).reshape(-1))
    tied = 0.0
    if any_tied:
        tied = _tied(eta[order], None if s is None else s[order], c_o, wq, w_o)
    return conc, total - conc - tied, tied


def _tied(
    eta_o: np.ndarray,
    s_o: np.ndarray | None,
    c_o: np.ndarray,
    wq: np.ndarray,
    w_o: np.ndarray | None,
) -> float:
    """Pairs with equal predictors: in each run of equal (stratum, eta), the later places."""
    n = eta_o.shape[0]
    same = eta_o[1:] == eta_o[:-1]
    if s_o is not None:
        same &= s_o[1:] == s_o[:-1]
    new_run = np.r_[True, ~same]
    new_sub = new_run | np.r_[True, c_o[1:] != c_o[:-1]]
    cw = np.r_[0.0, np.cumsum(np.ones(n) if w_o is None else w_o)]

    def ends(new: np.ndarray) -> np.ndarray:
        return np.r_[np.flatnonzero(new)[1:], n][np.cumsum(new) - 1]

    return float(np.dot(wq, cw[ends(new_run)] - cw[ends(new_sub)]))


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

    Right-censored data (no ``start``) take the sweep from the latest time,
    counted bit by bit (:func:`_sweep`), unless ``method="levels"``: the general
    offline dominance count, which ``(start, stop]`` data always take.

    Examples
    --------
    >>> t, e = np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 0])
    >>> concordance_index(t, e, np.array([4.0, 3, 2, 1]))
    1.0
    >>> concordance_index(t, e, np.array([1.0, 1, 2, 2]), method="levels")
    0.25
    """
    n = stop.shape[0]
    event = np.asarray(event).astype(bool)
    if start is None and method in ("auto", "sweep"):
        w_in = None if weights is None else np.asarray(weights, dtype=float)
        s_in = None if strata is None else np.asarray(strata, dtype=np.int64)
        conc, disc, tie = _sweep(stop, event, np.asarray(eta, dtype=float), w_in, s_in)
        den = conc + disc + tie
        return (conc + tie / 2) / den if den > 0 else float("nan")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    vals = np.unique(eta, return_inverse=True)[1].astype(np.int64)
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
