"""Vectorised numpy core of the Cox partial likelihood (Efron and Breslow ties).

The data are sorted once and the covariates kept transposed, one contiguous row
of length ``n`` per covariate. Every Newton evaluation is then a handful of
whole-array passes: the linear predictor, sums within each distinct (stratum,
time) by :func:`numpy.add.reduceat` along those rows, one covariate at a time
(about ten times faster than the same sums over a row-major ``(n, p)`` array),
reverse cumulative sums over those groups for the risk sets, and one weighted
``X' D X`` product for the information. Counting-
process data ``(start, stop]`` are handled by subtracting the sums of rows whose
entry time is at or after the event time, so a row is at risk for an event at
``t`` when ``start < t <= stop`` (R's convention). Strata never mix: times are
replaced by integer ranks and offset by ``stratum * K``.

Weights enter as in R's ``coxph`` (``coxfit6`` / ``agfit4``): for a tied event
time with ``d`` events whose weights sum to ``dw``, the Efron term ``j`` (``j = 0
.. d-1``) has denominator ``S0 - (j / d) * S0_deaths`` and weight ``dw / d``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.linalg.blas import dsyrk

FloatArray = NDArray[Any]  # float64 in practice; bincount is typed as int
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class TailWeights:
    """Rows kept in risk sets after their exit with time-varying weights (Fine-Gray).

    Row ``j`` (sorted position ``rows[j]``) stays in the risk set of every event
    group ``k >= pos[j]`` with weight ``w_j * gain[k] * inv_g[j]``, i.e. the
    inverse-probability-of-censoring weight ``G(t_k-) / G(X_j-)``. Unstratified.
    """

    rows: IntArray
    inv_g: FloatArray
    pos: IntArray
    gain: FloatArray


@dataclass(frozen=True)
class Interleaved:
    """The event rows in an order where neighbours belong to different event groups.

    Entry ``i`` is event row ``perm[i]`` (in ``death_rows`` order): first the
    first event of every group, then the second of every group with two or
    more, and so on. Each group's events keep their order, so a
    :func:`numpy.bincount` by ``group`` adds the same values in the same order
    (the same sums, bit for bit); with no two neighbours in one group, the
    additions do not wait on each other (about three times faster).
    """

    group: IntArray  # death_group[perm]
    frac: FloatArray  # death_frac[perm]
    mw: FloatArray  # death_mw[perm]

    @classmethod
    def build(
        cls, starts: IntArray, sizes: IntArray, group: IntArray, frac: FloatArray, mw: FloatArray
    ) -> Interleaved:
        """Order the event rows by their place within their group, then by group."""
        rank = np.arange(group.shape[0]) - np.repeat(starts, sizes)
        key = rank.astype(np.uint16) if sizes.max(initial=0) <= 2**16 else rank
        perm = np.argsort(key, kind="stable")  # a radix sort for 16-bit keys
        return cls(group[perm], _permuted(frac, perm), _permuted(mw, perm))

    def sums(self, values: FloatArray, n_groups: int) -> FloatArray:
        """Return the sum of ``values`` (in this order) within each event group."""
        return np.asarray(np.bincount(self.group, values, n_groups))


def _permuted(values: FloatArray, perm: IntArray) -> FloatArray:
    """Return ``values[perm]``; a constant array as a read-only view taking no memory.

    Breslow's fractions are all 0 and, without case weights, the mean event
    weights all 1: the view holds the same values.
    """
    bits = values.view(np.uint64)  # the same bits, not only equal values (-0.0, nan)
    if values.shape[0] and np.all(bits == bits[0]):
        return np.broadcast_to(values[:1].copy(), perm.shape)
    return values[perm]


@dataclass(frozen=True)
class CoxProblem:
    """Sorted, grouped data ready for repeated likelihood evaluations."""

    xt: FloatArray  # (p, n) centred covariates in sorted order, C-contiguous (transposed)
    means: FloatArray  # (p,) the centring
    w: FloatArray  # (n,) case weights, sorted
    event: NDArray[np.bool_]  # (n,) sorted
    order: IntArray  # sorted position -> original row
    seg_starts: IntArray  # reduceat boundaries: each stop key split into events | others
    seg_exit: IntArray  # reduceat boundaries over segments giving each distinct stop key
    death_seg: IntArray  # per event group: its segment of event rows
    entry_perm: IntArray | None  # rows ordered by start key (None: right-censored data)
    entry_starts: IntArray  # reduceat boundaries of the distinct start keys (rows), or of
    # the strata over the stop-key groups when entry_perm is None
    ev_exit_pos: IntArray  # per event group: first exit group with key >= event key
    ev_entry_pos: IntArray  # per event group: first entry group with key >= event key
    death_rows: IntArray  # sorted positions of the event rows, grouped by key
    death_starts: IntArray  # reduceat boundaries of the event groups among death_rows
    death_group: IntArray  # event group of each death row
    death_frac: FloatArray  # Efron fraction j/d of each death row (0 for Breslow)
    death_w: FloatArray  # case weight of each death row
    death_mw: FloatArray  # mean case weight of the events in the death row's group
    sum_wdx: FloatArray  # (p,) sum of w x over the events
    row_hi: IntArray  # per row: event groups with key <= stop key
    row_lo: IntArray  # per row: event groups with key <= start key
    ev_keys: IntArray  # (n_groups,) composite keys of the event groups
    ev_stratum: IntArray  # stratum code of each event group
    ev_time: FloatArray  # event time of each event group
    n_strata: int
    tail: TailWeights | None = None
    interleaved: Interleaved | None = None  # the event rows for fast per-group sums
    entry_group: IntArray | None = None  # per sorted row: its group in entry_starts order
    unit_w: bool = False  # no case weights: w is all ones, so w * r is r itself
    work: dict[str, FloatArray] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def x(self) -> FloatArray:
        """The centred covariates in sorted order, shape (n, p) (a Fortran-ordered view)."""
        return np.asarray(self.xt.T)

    def wr(self, risk: FloatArray) -> FloatArray:
        """Return ``w * risk`` (``risk`` itself without case weights: the same values)."""
        return risk if self.unit_w else self.w * risk

    @property
    def n_groups(self) -> int:
        """Number of distinct (stratum, event time) groups."""
        return int(self.ev_keys.shape[0])


def _boundaries(sorted_keys: IntArray) -> IntArray:
    """Return the first index of each run of equal values in a sorted array."""
    if sorted_keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate([[0], change]).astype(np.int64)


def _stable_argsort(t: FloatArray) -> IntArray:
    """Stable argsort of times; whole numbers spanning under 65,536 take a radix sort.

    Whole-day times (the usual case) are mapped exactly and in order to 16-bit
    integers, which numpy sorts stably by radix sort: the same order as sorting
    the floats, several times faster.
    """
    if t.shape[0] > 1:
        lo, hi = t.min(), t.max()
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2**16:
            d = t - lo
            small = d.astype(np.uint16)
            if np.array_equal(small, d):
                return np.argsort(small, kind="stable")
    return np.argsort(t, kind="stable")


def _time_event_order(stop: FloatArray, event: NDArray[np.bool_]) -> IntArray:
    """Rows by time, events first within a time, stably: one radix sort for whole days."""
    if stop.shape[0] > 1:
        lo, hi = stop.min(), stop.max()
        if np.isfinite(lo) and np.isfinite(hi) and 2 * (hi - lo) + 1 < 2**16:
            d = stop - lo
            small = d.astype(np.uint16)
            if np.array_equal(small, d):
                small *= 2
                small += ~event  # 2 * day + (not an event): the same order as the two sorts
                return np.argsort(small, kind="stable")
    order = np.argsort(~event, kind="stable")  # booleans: a radix sort
    return order[_stable_argsort(stop[order])]


def _sort_right_censored(
    stop: FloatArray, event: NDArray[np.bool_], s: IntArray, n_strata: int
) -> tuple[IntArray, IntArray, FloatArray, int]:
    """Order rows by (stratum, time, events first) with one float sort and radix sorts.

    Returns the order, the sorted composite keys ``stratum * K + rank``, the
    distinct times and ``K``.
    """
    n = stop.shape[0]
    order = _time_event_order(stop, event)
    st = stop[order]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(st[1:], st[:-1], out=new[1:])
    rank = np.cumsum(new)
    uniq = st[new]
    k_mult = int(uniq.shape[0]) + 1
    if n_strata == 1:  # one stratum: the keys are the ranks (0 * K + rank)
        return order.astype(np.int64, copy=False), rank.astype(np.int64, copy=False), uniq, k_mult
    small = s[order].astype(np.int16 if n_strata < 2**15 else np.int64)
    by_stratum = np.argsort(small, kind="stable")
    order = order[by_stratum]
    rank = rank[by_stratum]
    sk = s[order] * k_mult + rank
    return order.astype(np.int64, copy=False), sk.astype(np.int64, copy=False), uniq, k_mult


def _usable_out(out: FloatArray, shape: tuple[int, int]) -> bool:
    """True when ``out`` can hold the sorted covariates: C-contiguous float of ``shape``."""
    return bool(out.shape == shape and out.dtype == np.float64 and out.flags.c_contiguous)


def _sorted_transposed(
    x: FloatArray, order: IntArray, chunk: int = 4096, out: FloatArray | None = None
) -> FloatArray:
    """Return ``x[order].T`` as a C-contiguous float array (into ``out`` if given).

    Whole rows are gathered (one cache miss per row, not per value) in
    cache-sized chunks, each transposed into place. A Fortran-ordered ``x`` (the
    survival models' design) is first transposed block by block into rows: a
    gather covariate by covariate would miss the cache once per value. ``out``
    may be ``x.T`` itself (the rows are gathered from the transposed copy).
    """
    n, p = x.shape
    if x.dtype == np.float64 and x.T.flags.c_contiguous and not x.flags.c_contiguous:
        xt_in = x.T
        rows = np.empty((n, p))
        for i in range(0, n, chunk):
            rows[i : i + chunk] = xt_in[:, i : i + chunk].T
        x = rows
    else:
        x = np.ascontiguousarray(x, dtype=float)
    if out is None or not _usable_out(out, (p, n)) or np.may_share_memory(out, x):
        out = np.empty((p, n))
    for i in range(0, n, chunk):
        out[:, i : i + chunk] = np.take(x, order[i : i + chunk], axis=0).T
    return out


def prepare(
    x: FloatArray,
    stop: FloatArray,
    event: NDArray[np.bool_],
    *,
    start: FloatArray | None = None,
    weights: FloatArray | None = None,
    strata: IntArray | None = None,
    ties: str = "efron",
    overwrite_x: bool = False,
) -> CoxProblem:
    """Sort and group the data once for :func:`evaluate`.

    Parameters
    ----------
    x : ndarray of shape (n, p)
        Covariates (not yet centred).
    stop : ndarray of shape (n,)
        Exit (event or censoring) times.
    event : ndarray of shape (n,)
        True where the row ends in the event.
    start : ndarray of shape (n,), optional
        Entry times for ``(start, stop]`` data.
    weights : ndarray of shape (n,), optional
        Case weights (default 1).
    strata : ndarray of shape (n,), optional
        Integer stratum codes ``0 .. S-1``.
    ties : {"efron", "breslow"}
        Handling of tied event times.
    overwrite_x : bool
        Let the problem reuse the memory of a Fortran-ordered ``x`` (a design
        the caller no longer needs) for its sorted covariates: one copy fewer.

    Returns
    -------
    CoxProblem
        The prepared problem.
    """
    n = x.shape[0]
    s = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    n_strata = int(s.max()) + 1 if n else 1
    if start is None:
        order, sk, uniq, k_mult = _sort_right_censored(stop, event, s, n_strata)
        # entry keys s * K: all zero with one stratum
        ek = np.zeros(n, dtype=np.int64) if n_strata == 1 else (sk // k_mult) * k_mult
    else:
        uniq, inv = np.unique(np.concatenate([stop, start]), return_inverse=True)
        k_mult = uniq.shape[0] + 1
        stop_key = s * k_mult + inv[:n] + 1
        start_key = s * k_mult + inv[n:] + 1
        # sort by stop key, events first within a key (keeps death rows contiguous)
        order = np.argsort(2 * stop_key + ~event, kind="stable").astype(np.int64)
        sk = stop_key[order]
        ek = start_key[order]
    ev = event[order]
    xt = _sorted_transposed(x, order, out=x.T if overwrite_x else None)
    ws = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[order]
    means = (xt @ ws) / ws.sum() if n else np.zeros(x.shape[1])
    xt -= means[:, None]
    exit_starts = _boundaries(sk)
    exit_keys = sk[exit_starts]
    if start is None:
        entry_perm = None
        # entries are s * K: one per stratum, summed from the stop-key groups
        entry_starts = _boundaries(exit_keys // k_mult)
        entry_keys = (exit_keys // k_mult)[entry_starts] * k_mult
        entry_group = None
    else:
        entry_perm = np.argsort(ek, kind="stable").astype(np.int64)
        ek_sorted = ek[entry_perm]
        entry_starts = _boundaries(ek_sorted)
        entry_keys = ek_sorted[entry_starts]
        entry_group = np.empty(n, dtype=np.int64)
        entry_group[entry_perm] = np.repeat(
            np.arange(entry_starts.shape[0]), np.diff(np.append(entry_starts, n))
        )
    death_rows = np.flatnonzero(ev).astype(np.int64, copy=False)
    dk = sk[death_rows]
    death_starts = _boundaries(dk)
    ev_keys = dk[death_starts]
    sizes = np.diff(np.append(death_starts, death_rows.shape[0]))
    death_group = np.repeat(np.arange(ev_keys.shape[0]), sizes).astype(np.int64, copy=False)
    if ties == "efron":
        j = np.arange(death_rows.shape[0]) - np.repeat(death_starts, sizes)
        death_frac = j / np.repeat(sizes, sizes)
    else:
        death_frac = np.zeros(death_rows.shape[0])
    ev_time = uniq[(ev_keys % k_mult) - 1] if ev_keys.shape[0] else np.zeros(0)
    ev_exit_pos = np.searchsorted(exit_keys, ev_keys, "left").astype(np.int64)
    # split each stop-key group into its event rows (first, by the sort) and the rest
    group_size = np.diff(np.append(exit_starts, n))
    n_dead = np.zeros(exit_starts.shape[0], dtype=np.int64)
    n_dead[ev_exit_pos] = sizes
    split = exit_starts + n_dead
    extra = split[(n_dead > 0) & (n_dead < group_size)]
    seg_starts = np.sort(np.concatenate([exit_starts, extra])).astype(np.int64)
    dw = ws[death_rows]
    group_w = np.bincount(death_group, dw, ev_keys.shape[0])
    death_mw = (group_w / np.maximum(sizes, 1))[death_group]
    return CoxProblem(
        xt=xt,
        means=np.asarray(means, dtype=float),
        w=ws,
        event=ev,
        order=order,
        seg_starts=seg_starts,
        seg_exit=np.searchsorted(seg_starts, exit_starts).astype(np.int64),
        death_seg=np.searchsorted(seg_starts, exit_starts[ev_exit_pos]).astype(np.int64),
        entry_perm=entry_perm,
        entry_starts=entry_starts,
        ev_exit_pos=ev_exit_pos,
        ev_entry_pos=np.searchsorted(entry_keys, ev_keys, "left").astype(np.int64),
        death_rows=death_rows,
        death_starts=death_starts,
        death_group=death_group,
        death_frac=death_frac,
        death_w=dw,
        death_mw=death_mw,
        sum_wdx=xt @ np.bincount(death_rows, dw, n) if n else np.zeros(x.shape[1]),
        row_hi=_groups_upto(ev_keys, sk, exit_starts),
        row_lo=_groups_upto(ev_keys, ek, None if start is not None else exit_starts),
        ev_keys=ev_keys,
        ev_stratum=(ev_keys // k_mult).astype(np.int64),
        ev_time=np.asarray(ev_time, dtype=float),
        n_strata=n_strata,
        entry_group=entry_group,
        unit_w=weights is None,
        interleaved=Interleaved.build(death_starts, sizes, death_group, death_frac, death_mw),
    )


def _groups_upto(ev_keys: IntArray, keys: IntArray, starts: IntArray | None) -> IntArray:
    """For each row, the number of event groups with key <= its key.

    ``starts``: the keys are sorted, with runs beginning at ``starts``: one search
    per run, repeated over it. The result is :func:`_zero_free`.
    """
    if starts is None:
        return _zero_free(np.searchsorted(ev_keys, keys, "right").astype(np.int64))
    per_run = np.searchsorted(ev_keys, keys[starts], "right").astype(np.int64)
    if not per_run.any():  # no event group before any row: the zero view
        return np.broadcast_to(np.zeros(1, dtype=np.int64), keys.shape)
    return np.repeat(per_run, np.diff(np.append(starts, keys.shape[0])))


def _zero_free(idx: IntArray) -> IntArray:
    """Return ``idx``, or a read-only zero view taking no memory when it is all zeros.

    Right-censored, unstratified data have no event group before any row's entry.
    """
    if idx.shape[0] and not idx.any():
        return np.broadcast_to(np.zeros(1, dtype=np.int64), idx.shape)
    return idx


def _all_zero(idx: IntArray) -> bool:
    """True for the zero view of :func:`_zero_free` (a stride-0 array)."""
    return bool(idx.ndim == 1 and idx.strides[0] == 0 and idx.shape[0] and idx[0] == 0)


def _revcum(groups: FloatArray) -> FloatArray:
    """Reverse cumulative sum along axis 0 with a trailing zero row."""
    out = np.zeros((groups.shape[0] + 1, *groups.shape[1:]))
    out[:-1] = np.cumsum(groups[::-1], axis=0)[::-1]
    return out


def _interval_sum(per_group: FloatArray, hi: IntArray, lo: IntArray) -> FloatArray:
    """For each row, sum ``per_group`` over the event groups in its at-risk interval."""
    cum = np.zeros((per_group.shape[0] + 1, *per_group.shape[1:]))
    np.cumsum(per_group, axis=0, out=cum[1:])
    if _all_zero(lo):  # cum[0] is 0: v - 0 is v, bit for bit
        return np.asarray(cum[hi])
    return cum[hi] - cum[lo]


@dataclass(frozen=True)
class Evaluation:
    """The partial log-likelihood and its derivatives at one coefficient vector."""

    loglik: float
    score: FloatArray
    info: FloatArray
    eta: FloatArray  # centred linear predictor, sorted order
    risk: FloatArray  # exp(eta)
    s1: FloatArray  # (n_groups, p) risk-set sums of w r x
    s1d: FloatArray  # (n_groups, p) the same over the events of each group
    den: FloatArray  # (n_deaths,) Efron denominators
    hazard: FloatArray  # (n_groups,) baseline hazard increments (centred covariates)
    dcoef: FloatArray | None = None  # (n_groups,) sum over each group's events of f mw / den
    den_i: FloatArray | None = None  # den in the problem's interleaved order


def _buffer(prob: CoxProblem, name: str, shape: tuple[int, int]) -> FloatArray:
    """Return a reusable work array (allocated once per problem, not per evaluation)."""
    buf = prob.work.get(name)
    if buf is None or buf.shape != shape:
        buf = np.empty(shape)
        prob.work[name] = buf
    return buf


def _xtdx(xt: FloatArray, d: FloatArray, overwrite_d: bool = False) -> FloatArray:
    """Return ``X' diag(d) X`` for non-negative ``d`` from ``X'`` (p, n) by BLAS ``dsyrk``.

    ``Y = X' sqrt(D)`` is formed a block of rows at a time, each block summed
    into the product as it is made (:func:`_syrk_chunks`): the same sums in the
    same order as one ``dsyrk`` over the whole ``Y``, without a ``(p, n)`` array.
    ``overwrite_d`` lets the square roots of ``d`` take its memory.
    """
    root = np.maximum(d, 0.0, out=d if overwrite_d else None)
    np.sqrt(root, out=root)
    q = _syrk_block()
    if q is None:  # a BLAS whose blocking was not recognised: one product over all rows
        c = dsyrk(1.0, np.multiply(xt, root).T, trans=1)
    else:
        c = _syrk_blocked(xt, root, q)
    return np.asarray(np.triu(c) + np.triu(c, 1).T)


def _syrk_chunks(n: int, q: int, blocks: int = 16) -> Iterator[tuple[int, int]]:
    """Row ranges whose ``dsyrk`` products, summed in turn, equal one product over ``n`` rows.

    OpenBLAS sums the inner dimension in blocks of ``q`` while at least ``2 q``
    remain and splits what is left in two. Ranges of whole blocks (``blocks``
    at a time), then a last range of ``q`` to ``2 q`` rows (all ``n`` when
    fewer), reproduce those sums in that order.
    """
    i, size = 0, q * blocks
    while n - i >= size + q:
        yield i, i + size
        i += size
    if n - i >= 2 * q:
        j = ((n - i) // q - 1) * q
        yield i, i + j
        i += j
    yield i, n


def _syrk_blocked(xt: FloatArray, root: FloatArray, q: int) -> FloatArray:
    """``dsyrk`` of ``X' diag(root)``, summed over :func:`_syrk_chunks` (upper triangle)."""
    p, n = xt.shape
    c = None
    buf = np.empty((p, 16 * q))
    for a, b in _syrk_chunks(n, q):
        y = buf if b - a == buf.shape[1] else np.empty((p, b - a))
        np.multiply(xt[:, a:b], root[a:b], out=y)
        if c is None:
            c = dsyrk(1.0, y.T, trans=1)  # y.T is Fortran-ordered: no copy
        else:
            c = dsyrk(1.0, y.T, trans=1, beta=1.0, c=c, overwrite_c=True)
    return np.asarray(c)


@functools.cache
def _syrk_block() -> int | None:
    """The inner block size of this BLAS's ``dsyrk``, found by trial (None if none fits).

    A candidate fits when the blocked sums of :func:`_syrk_blocked` equal one
    ``dsyrk`` to the bit on two test matrices (rounding differs with any other
    blocking). Checked once per process, on first use, in about a millisecond.
    """
    rng = np.random.default_rng(14)
    tests = [(rng.normal(size=(3, n)), rng.uniform(0.5, 2.0, n)) for n in (4_217, 2_903)]
    whole = [dsyrk(1.0, (xt * r).T, trans=1) for xt, r in tests]
    for q in sorted(range(64, 1025, 8), key=lambda v: (v not in (384, 256, 512, 128), v)):
        if all(
            np.array_equal(np.triu(_syrk_blocked(xt, r, q)), np.triu(c))
            for (xt, r), c in zip(tests, whole, strict=True)
        ):
            return q
    return None


def _tail_sums(prob: CoxProblem, tl: TailWeights, wr: FloatArray) -> FloatArray:
    """Risk-set sums of ``[w r, w r x]`` contributed by the tail rows, per event group."""
    ng = prob.n_groups
    p = prob.xt.shape[0]
    out = np.zeros((ng + 1, p + 1))
    if tl.rows.shape[0]:
        v = wr[tl.rows] * tl.inv_g
        zt = np.empty((p + 1, tl.rows.shape[0]))  # (p + 1, rows): sums along contiguous rows
        zt[0] = v
        xt_tail = prob.work.get("tail_xt")
        if xt_tail is None:  # the tail rows are fixed: gather their covariates once
            xt_tail = prob.work["tail_xt"] = np.take(prob.xt, tl.rows, axis=1)
        np.multiply(xt_tail, v, out=zt[1:])
        starts = _boundaries(tl.pos)  # tail rows are in time order: pos is sorted
        out[tl.pos[starts]] = np.add.reduceat(zt, starts, axis=1).T
    return np.asarray(np.cumsum(out, axis=0)[:ng] * tl.gain[:, None])


_SEGMENT_BLOCK = 1 << 16  # rows summed at a time by _segment_sums: a work row in L2 cache


def _segment_sums(xt: FloatArray, wr: FloatArray, starts: IntArray) -> FloatArray:
    """Return the sums of ``wr`` and of ``xt[j] * wr`` over segments, shape (p + 1, segments).

    ``np.add.reduceat(v, starts)`` for each row ``v`` of ``[wr; xt * wr]``, taken
    over blocks of whole segments of about :data:`_SEGMENT_BLOCK` rows, so the
    products pass through a work row that stays in cache. Each segment's sum is
    the same ``reduceat`` over the same values: equal to the bit.
    """
    p, n = xt.shape
    n_seg = starts.shape[0]
    out = np.empty((p + 1, n_seg))
    if n_seg == 0:
        return out
    # each block ends at the first segment starting at or after a multiple of the block
    ends = np.searchsorted(starts, np.arange(_SEGMENT_BLOCK, n, _SEGMENT_BLOCK))
    cuts = np.unique(np.append(ends[ends > 0], n_seg))
    buf = np.empty(min(n, 2 * _SEGMENT_BLOCK))
    a = 0
    for b in cuts:
        r0, r1 = int(starts[a]), int(starts[b]) if b < n_seg else n
        local = starts[a:b] - r0
        w = wr[r0:r1]
        out[0, a:b] = np.add.reduceat(w, local)
        row = buf[: r1 - r0] if r1 - r0 <= buf.shape[0] else np.empty(r1 - r0)
        for j in range(p):
            out[j + 1, a:b] = np.add.reduceat(np.multiply(xt[j, r0:r1], w, out=row), local)
        a = b
    return out


def evaluate(prob: CoxProblem, beta: FloatArray, need_info: bool = True) -> Evaluation:
    """Evaluate the partial log-likelihood, score and information at ``beta``."""
    xt = prob.xt
    p, n = xt.shape
    eta = beta @ xt
    risk = np.exp(eta)
    wr = prob.wr(risk)
    # segment sums of [w r; w r x'], one covariate row at a time through one row of
    # work memory (the same sums as over the whole (p + 1, n) array, bit for bit)
    entry, n_entry = prob.entry_group, prob.entry_starts.shape[0]
    ent_t = np.empty((p + 1, n_entry))
    if entry is None:
        seg_t = _segment_sums(xt, wr, prob.seg_starts)
    else:
        seg_t = np.empty((p + 1, prob.seg_starts.shape[0]))
        row = _buffer(prob, "row", (1, n))[0]
        for j in range(p + 1):
            v = wr if j == 0 else np.multiply(xt[j - 1], wr, out=row)
            seg_t[j] = np.add.reduceat(v, prob.seg_starts)
            ent_t[j] = np.bincount(entry, v, n_entry)  # counting-process data: by entry key
        del row, v
    seg = seg_t.T
    exit_sums = np.add.reduceat(seg, prob.seg_exit, axis=0)
    ds = seg[prob.death_seg]
    if entry is None:
        entry_sums = np.add.reduceat(exit_sums, prob.entry_starts, axis=0)
    else:
        entry_sums = np.ascontiguousarray(ent_t.T)
    rs = _revcum(exit_sums)[prob.ev_exit_pos] - _revcum(entry_sums)[prob.ev_entry_pos]
    if prob.tail is not None:
        rs += _tail_sums(prob, prob.tail, wr)
    del wr
    g, f, mw, ng = prob.death_group, prob.death_frac, prob.death_mw, prob.n_groups
    den = rs[g, 0] - f * ds[g, 0]
    loglik = float(np.dot(prob.death_w, eta[prob.death_rows]) - np.dot(mw, np.log(den)))
    il, den_i = prob.interleaved, None
    if il is None:
        inv = mw / den
        hazard = np.bincount(g, inv, ng)
        dcoef = np.bincount(g, inv * f, ng)
    else:  # the same values in the interleaved order: the same sums, faster
        rs0, ds0 = rs[:, 0], ds[:, 0]
        den_i = rs0[il.group] - il.frac * ds0[il.group]
        inv = il.mw / den_i
        hazard = il.sums(inv, ng)
        dcoef = il.sums(inv * il.frac, ng)
    s1, s1d = rs[:, 1:], ds[:, 1:]
    score = prob.sum_wdx - hazard @ s1 + dcoef @ s1d
    out = Evaluation(loglik, score, np.zeros((p, p)), eta, risk, s1, s1d, den, hazard, dcoef, den_i)
    if need_info:
        out = dataclasses.replace(out, info=group_info(prob, out))
    return out


def group_info(prob: CoxProblem, ev: Evaluation, scale: FloatArray | None = None) -> FloatArray:
    """Return the information ``sum_k scale_k I_k`` summed over event groups ``k``.

    With ``scale=None`` this is the observed information; ``scale = g(t_k)`` and
    ``g(t_k)**2`` give the blocks of a score test for ``x * g(t)`` terms (cox.zph).
    """
    xt, g, f, ng = prob.xt, prob.death_group, prob.death_frac, prob.n_groups
    wr = prob.wr(ev.risk)
    il = prob.interleaved
    if scale is None and ev.dcoef is not None and ev.den_i is not None and il is not None:
        hazard, dcoef = ev.hazard, ev.dcoef  # evaluate's sums: the same values
        inv_i = il.mw / ev.den_i  # the same values as inv, interleaved: faster sums
        inv2 = inv_i / ev.den_i
        q0 = il.sums(inv2, ng)
        q1 = il.sums(inv2 * il.frac, ng)
        q2 = il.sums(inv2 * il.frac * il.frac, ng)
    else:
        inv = prob.death_mw / ev.den
        if scale is not None:
            inv = inv * scale[g]
        hazard = np.bincount(g, inv, ng)
        dcoef = np.bincount(g, inv * f, ng)
        inv2 = inv / ev.den
        q0 = np.bincount(g, inv2, ng)
        q1 = np.bincount(g, inv2 * f, ng)
        q2 = np.bincount(g, inv2 * f * f, ng)
    diag = _interval_sum(hazard, prob.row_hi, prob.row_lo)
    diag *= wr  # in place: the same products as wr * (...)
    dr = prob.death_rows
    diag[dr] -= wr[dr] * dcoef[g]
    if prob.tail is not None:
        tl = prob.tail
        later = _revcum(hazard * tl.gain)[tl.pos]
        diag[tl.rows] += wr[tl.rows] * tl.inv_g * later
    s1, s1d = ev.s1, ev.s1d
    cross = (s1 * q1[:, None]).T @ s1d
    if scale is None:
        del wr
        xdx = _xtdx(xt, diag, overwrite_d=True)
    else:
        xdx = (xt * diag) @ xt.T
    return np.asarray(
        xdx - (s1 * q0[:, None]).T @ s1 + cross + cross.T - (s1d * q2[:, None]).T @ s1d
    )


@dataclass(frozen=True)
class CoxFit:
    """Output of :func:`newton`."""

    beta: FloatArray  # on the original (uncentred) covariate scale; identical slopes
    info: FloatArray
    loglik: float
    loglik_null: float
    iterations: int
    converged: bool
    last: Evaluation


def newton(
    prob: CoxProblem,
    beta0: FloatArray | None = None,
    max_iter: int = 30,
    tol: float = 1e-10,
    first: Evaluation | None = None,
) -> CoxFit:
    """Maximise the partial likelihood by Newton-Raphson with step halving.

    Converges when the relative change in the log-likelihood falls below ``tol``
    and the Newton step is tiny; a final evaluation gives the information at the
    returned estimate.
    """
    p = prob.x.shape[1]
    beta = np.zeros(p) if beta0 is None else np.asarray(beta0, dtype=float)
    ev = evaluate(prob, beta) if first is None else first
    ll_null = ev.loglik if beta0 is None else evaluate(prob, np.zeros(p), False).loglik
    converged = False
    it = 0
    # overflow in a trial step is handled by step halving: keep numpy quiet about it
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while it < max_iter:
            it += 1
            try:
                step = np.linalg.solve(ev.info, ev.score)
            except np.linalg.LinAlgError:
                break
            new = evaluate(prob, beta + step)
            halvings = 0
            slack = 1e-11 * max(1.0, abs(ev.loglik))  # rounding noise of the sums
            while (not np.isfinite(new.loglik) or new.loglik < ev.loglik - slack) and halvings < 30:
                step = step / 2
                new = evaluate(prob, beta + step)
                halvings += 1
            beta = beta + step
            change = abs(new.loglik - ev.loglik)
            ev = new
            if change <= tol * max(1.0, abs(ev.loglik)):
                converged = True
                break
    prob.work.pop("row", None)  # evaluate's work row: not kept with the fit
    return CoxFit(beta, ev.info, ev.loglik, ll_null, it, converged, ev)


def score_residuals(prob: CoxProblem, ev: Evaluation) -> FloatArray:
    """Return the (unweighted) score residuals in sorted order, shape (n, p).

    ``sum_i w_i U_i`` is the score; ``w_i U_i V`` are R's weighted dfbeta residuals.
    """
    x = prob.x
    g, f = prob.death_group, prob.death_frac
    dr = prob.death_rows
    ng = prob.n_groups
    s1, s1d, den = ev.s1, ev.s1d, ev.den
    inv = prob.death_mw / den
    q0 = np.bincount(g, inv / den, ng)
    q1 = np.bincount(g, inv * f / den, ng)
    gk = s1 * q0[:, None] - s1d * q1[:, None]
    h_row = _interval_sum(ev.hazard, prob.row_hi, prob.row_lo)
    g_row = _interval_sum(gk, prob.row_hi, prob.row_lo)
    if f.any():
        q2 = np.bincount(g, inv * f * f / den, ng)
        h2 = np.bincount(g, inv * f, ng)
        g2 = s1 * q1[:, None] - s1d * q2[:, None]
        h_row[dr] -= h2[g]
        g_row[dr] -= g2[g]
    chunk = 16_384  # (chunk, p) temporaries, not (n, p): the same element-wise results
    for i in range(0, g_row.shape[0], chunk):
        g_row[i : i + chunk] -= x[i : i + chunk] * h_row[i : i + chunk, None]
    g_row *= ev.risk[:, None]
    resid = g_row
    sizes = np.diff(np.append(prob.death_starts, dr.shape[0]))
    a0 = np.bincount(g, 1 / den, ng)
    a1 = np.bincount(g, f / den, ng)
    amean = (s1 * a0[:, None] - s1d * a1[:, None]) / sizes[:, None]
    for i in range(0, dr.shape[0], chunk):
        d = dr[i : i + chunk]
        resid[d] += x[d] - amean[g[i : i + chunk]]
    return np.asarray(resid)


_DENSE_CELLS = 4_000_000  # cluster x column sums kept dense up to this many cells


def _by_cluster(
    codes: IntArray, cols: IntArray, data: FloatArray, n_cl: int, n_cols: int
) -> FloatArray | sparse.csr_matrix:
    """Return the (clusters x cols) matrix of summed ``data``: dense when small."""
    if n_cl * n_cols <= _DENSE_CELLS:
        flat = np.bincount(codes * n_cols + cols, data, n_cl * n_cols)
        return flat.reshape(n_cl, n_cols)
    return sparse.coo_matrix((data, (codes, cols)), shape=(n_cl, n_cols)).tocsr()


def _gather_codes(codes: IntArray, order: IntArray) -> IntArray:
    """Return ``codes[order]`` as int64, gathered from the narrowest integer copy.

    The gather is random access: from 16-bit codes (2 MB at 1M rows, in cache)
    it takes a quarter of the time it takes from 64-bit ones. Same values.
    """
    if codes.shape[0] and codes.dtype.kind in "iu":
        lo, hi = int(codes.min()), int(codes.max())
        for small in (np.int16, np.int32):
            if np.iinfo(small).min <= lo and hi <= np.iinfo(small).max:
                return codes.astype(small)[order].astype(np.int64)
    return np.asarray(codes, dtype=np.int64)[order]


def cluster_scores(prob: CoxProblem, ev: Evaluation, codes: IntArray) -> FloatArray:
    """Return the weighted score residuals summed within clusters, shape (clusters, p).

    Equal to summing ``w_i U_i`` from :func:`score_residuals` by cluster, without
    forming the (n, p) residual matrix: the interval sums become sparse products.
    """
    xt, w, risk = prob.xt, prob.w, ev.risk
    p = xt.shape[0]
    g, f, dr = prob.death_group, prob.death_frac, prob.death_rows
    ng = prob.n_groups
    c = _gather_codes(np.asarray(codes), prob.order)
    n_cl = int(c.max()) + 1
    wr = prob.wr(risk)
    # per-group sums over the Efron terms j: everything below is (n_groups, p)
    s1, s1d, den = ev.s1, ev.s1d, ev.den
    # per-group sums over the event rows, in the interleaved order when there is one
    il = prob.interleaved
    if il is not None and ev.den_i is not None:
        gs, fs, mws, dens = il.group, il.frac, il.mw, ev.den_i
    else:
        gs, fs, mws, dens = g, f, prob.death_mw, den
    inv = mws / dens
    # h2 is evaluate's dcoef (the same sums); without case weights the mean event
    # weights are exactly 1, so inv is 1 / den and a0 is the hazard
    h2 = np.bincount(gs, inv * fs, ng) if ev.dcoef is None else ev.dcoef
    q0 = np.bincount(gs, inv / dens, ng)
    q1 = np.bincount(gs, inv * fs / dens, ng)
    q2 = np.bincount(gs, inv * fs * fs / dens, ng)
    gk = s1 * q0[:, None] - s1d * q1[:, None]
    g2 = s1 * q1[:, None] - s1d * q2[:, None]
    sizes = np.diff(np.append(prob.death_starts, dr.shape[0]))
    a0 = ev.hazard if prob.unit_w else np.bincount(gs, 1 / dens, ng)
    a1 = np.bincount(gs, fs / dens, ng)
    amean = (s1 * a0[:, None] - s1d * a1[:, None]) / sizes[:, None]
    # sum_c x_i (w_i d_i - w_i r_i H'_i): per covariate, sums by cluster along its row
    a = -wr * _interval_sum(ev.hazard, prob.row_hi, prob.row_lo)
    a[dr] += w[dr] + wr[dr] * h2[g]
    out = np.empty((n_cl, p))
    prod = np.empty_like(a)
    for j, row in enumerate(xt):
        out[:, j] = np.bincount(c, np.multiply(a, row, out=prod), n_cl)
    del prod
    # + sum_c w_i r_i (G_i - d_i g2): G_i = cumG[hi] - cumG[lo]
    cum_g = np.zeros((ng + 1, p))
    np.cumsum(gk, axis=0, out=cum_g[1:])
    if _all_zero(prob.row_lo):  # the -w r terms all fall on cum_g[0] = 0: they add nothing
        m = _by_cluster(c, prob.row_hi, wr, n_cl, ng + 1)
    else:
        m = _by_cluster(
            np.concatenate([c, c]),
            np.concatenate([prob.row_hi, prob.row_lo]),
            np.concatenate([wr, -wr]),
            n_cl,
            ng + 1,
        )
    out += m @ cum_g
    # - sum over deaths of w_i amean_g + w_i r_i g2_g
    cd = c[dr]
    if n_cl * 2 * ng <= _DENSE_CELLS:  # the two halves fill disjoint cells: one each
        md = np.empty((n_cl, 2 * ng))
        md[:, :ng] = _by_cluster(cd, g, w[dr], n_cl, ng)
        md[:, ng:] = _by_cluster(cd, g, wr[dr], n_cl, ng)
    else:
        md = _by_cluster(
            np.concatenate([cd, cd]),
            np.concatenate([g, g + ng]),
            np.concatenate([w[dr], wr[dr]]),
            n_cl,
            2 * ng,
        )
    out -= md @ np.vstack([amean, g2])
    return np.asarray(out)


def robust_cov(
    prob: CoxProblem,
    ev: Evaluation,
    var: NDArray[np.floating],
    cluster: IntArray | None = None,
) -> FloatArray:
    """Return R's robust variance ``D'D`` from dfbeta residuals summed by cluster.

    ``cluster`` holds integer codes in the original row order (None: each row is
    its own cluster).
    """
    if cluster is None:
        u = score_residuals(prob, ev) * prob.w[:, None]
    else:
        u = cluster_scores(prob, ev, cluster)
    d = u @ var
    return np.asarray(d.T @ d)
