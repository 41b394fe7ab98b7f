"""Vectorised numpy core of the Cox partial likelihood (Efron and Breslow ties).

The data are sorted once and the covariates kept transposed, one contiguous row
of length ``n`` per covariate. Every Newton evaluation is then a handful of
whole-array passes: the linear predictor, sums within each distinct (stratum,
time) by :func:`numpy.add.reduceat` along those rows, one covariate at a time
(about ten times faster than the same sums over a row-major ``(n, p)`` array;
the kernels are in :mod:`reunistat.models.survival._coxkernels`),
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
import hashlib
import weakref
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from reunistat.errors import ModelError
from reunistat.models.survival._coxkernels import (
    FloatArray,
    IntArray,
    Interleaved,
    _all_zero,
    _interval_sum,
    _revcum,
    _run_lengths,
    _segment_sums,
    _syrk_block,
    _syrk_blocked,
    _syrk_chunks,
    _xtdx,
    _zero_free,
    group_on_rows,
)
from reunistat.models.survival._coxrobust import (
    _by_cluster,
    _gather_codes,
    cluster_scores,
    robust_cov,
    score_residuals,
)

__all__ = [  # the kernels are re-exported: callers and tests reach them here
    "CoxFit",
    "CoxProblem",
    "Evaluation",
    "FloatArray",
    "IntArray",
    "Interleaved",
    "TailWeights",
    "_all_zero",
    "_by_cluster",
    "_gather_codes",
    "_interval_sum",
    "_revcum",
    "_segment_sums",
    "_syrk_block",
    "_syrk_blocked",
    "_syrk_chunks",
    "_xtdx",
    "_zero_free",
    "cluster_scores",
    "evaluate",
    "group_info",
    "group_on_rows",
    "newton",
    "prepare",
    "robust_cov",
    "score_residuals",
]


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
    change = (sorted_keys[1:] != sorted_keys[:-1]).nonzero()[0]
    out = np.empty(change.shape[0] + 1, dtype=np.int64)
    out[0] = 0
    np.add(change, 1, out=out[1:])
    return out


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


def _key_order(keys: IntArray) -> IntArray:
    """Stable argsort of non-negative integer keys; keys under 65,536 take a radix sort.

    A stable order is the one order of the keys: the same from 16-bit copies.
    """
    if keys.shape[0] and keys.max() < 2**16 and keys.min() >= 0:
        keys = keys.astype(np.uint16)
    return np.argsort(keys, kind="stable").astype(np.int64, copy=False)


def _unique_times(t: FloatArray) -> tuple[FloatArray, IntArray]:
    """``np.unique(t, return_inverse=True)``; whole numbers spanning under 65,536 by counting.

    Whole-day times (each with the bits of its day count plus the minimum) are
    marked in a table of days: the distinct days in order, each read back as
    ``day + minimum`` (its own bits), and each time's rank among them.
    """
    if t.shape[0] > 1 and t.dtype == np.float64:
        lo, hi = t.min(), t.max()
        if np.isfinite(lo) and np.isfinite(hi) and hi - lo < 2**16:
            d = t - lo
            small = d.astype(np.uint16)
            if (small == d).all() and ((d + lo).view(np.uint64) == t.view(np.uint64)).all():
                present = np.zeros(int(small.max()) + 1, dtype=bool)
                present[small] = True
                rank = np.cumsum(present) - 1
                return present.nonzero()[0].astype(float) + lo, rank[small]
    uniq, inv = np.unique(t, return_inverse=True)
    return uniq, inv


def _time_event_order(stop: FloatArray, event: NDArray[np.bool_]) -> IntArray:
    """Rows by time, events first within a time, stably: one radix sort for whole days."""
    return _ordered_times(stop, event)[0]


def _ordered_times(stop: FloatArray, event: NDArray[np.bool_]) -> tuple[IntArray, FloatArray]:
    """Return :func:`_time_event_order`'s order and the times in that order.

    With whole-day times the sorted times are read from the sorted 16-bit keys
    (``day + lo``; exact, as every time is checked to have the bits of its day
    count plus ``lo``): a gather of 2-byte keys instead of 8-byte floats.
    """
    if stop.shape[0] > 1:
        lo, hi = stop.min(), stop.max()
        if np.isfinite(lo) and np.isfinite(hi) and 2 * (hi - lo) + 1 < 2**16:
            d = stop - lo
            small = d.astype(np.uint16)
            if (small == d).all():
                small *= 2
                small += ~event  # 2 * day + (not an event): the same order as the two sorts
                order = np.argsort(small, kind="stable")
                back = (d + lo).view(np.uint64)  # compared bit for bit: -0.0 included
                if stop.dtype != np.float64 or not (back == stop.view(np.uint64)).all():
                    return order, stop[order]
                days = small[order]
                days >>= 1
                return order, days.astype(float) + lo  # each value is d + lo: its time
    order = np.argsort(~event, kind="stable")  # booleans: a radix sort
    order = order[_stable_argsort(stop[order])]
    return order, stop[order]


def _sort_right_censored(
    stop: FloatArray, event: NDArray[np.bool_], s: IntArray | None, n_strata: int
) -> tuple[IntArray, IntArray, FloatArray, int]:
    """Order rows by (stratum, time, events first) with one float sort and radix sorts.

    Returns the order, the sorted composite keys ``stratum * K + rank``, the
    distinct times and ``K``.
    """
    n = stop.shape[0]
    order, st = _ordered_times(stop, event)
    new = np.empty(n, dtype=bool)
    new[:1] = True
    np.not_equal(st[1:], st[:-1], out=new[1:])
    rank = np.cumsum(new)
    uniq = st[new]
    k_mult = int(uniq.shape[0]) + 1
    if n_strata == 1 or s is None:  # one stratum: the keys are the ranks (0 * K + rank)
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
    x: Covariates,
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
    x : ndarray of shape (n, p), or :class:`SortedCovariates`
        Covariates (not yet centred), or what gives them in the sorted order.
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
        The prepared problem. When one of the last :data:`LIVE_PROBLEMS`
        problems prepared is still alive and had the same rows (times, events,
        entries, weights and strata, bit for bit, and ties; up to
        :data:`SHARED_ROWS`), its order and groups are shared: only the
        covariates are sorted (refits of the same rows with other covariates:
        imputed datasets, nested models, 12's models of the spells around its
        fits by period). Nothing in a problem is written to after it is made,
        so the shared arrays are the ones it would make.
    """
    if x.shape[0] > SHARED_ROWS:
        return _prepare(x, stop, event, start, weights, strata, ties, overwrite_x)
    key = _rows_key(stop, event, start, weights, strata, ties)
    ref = _LIVE.get(key)
    same = None if ref is None else ref()
    if same is not None and same.xt.shape[1] == x.shape[0]:
        return _with_covariates(same, *_centred(x, same.order, same.w, overwrite_x))
    prob = _prepare(x, stop, event, start, weights, strata, ties, overwrite_x)
    _LIVE.pop(key, None)  # newest last
    _LIVE[key] = weakref.ref(prob, lambda r: _forget(key, r))
    while len(_LIVE) > LIVE_PROBLEMS:
        del _LIVE[next(iter(_LIVE))]  # the oldest
    return prob


#: Rows up to which :func:`prepare` looks for a live problem with the same rows (the
#: national spells and their refits). Its digest of the rows takes about 1 ms per
#: 160,000; a million-row fit (no script refits those) does without it.
SHARED_ROWS = 1 << 18

#: How many of the last problems :func:`prepare` made it remembers (weakly).
LIVE_PROBLEMS = 8

#: The rows (their digests) of the last problems :func:`prepare` made, oldest first, each
#: with a weak reference to its problem.
_LIVE: dict[tuple[Any, ...], weakref.ref[CoxProblem]] = {}


def _forget(key: tuple[Any, ...], ref: weakref.ref[CoxProblem]) -> None:
    """Forget the rows when their problem is gone (not a later problem's of the same rows)."""
    if _LIVE.get(key) is ref:
        del _LIVE[key]


def _rows_key(*arrays: Any) -> tuple[Any, ...]:
    """What identifies a problem's rows: each array's type, shape and SHA-256 of its bytes.

    (None and text as given.) A digest rather than a copy: nothing of the size
    of the rows is kept beside the problem.
    """
    return tuple(
        a if a is None or isinstance(a, str) else _digest(np.ascontiguousarray(a)) for a in arrays
    )


def _digest(a: NDArray[Any]) -> tuple[str, tuple[int, ...], bytes]:
    return a.dtype.str, a.shape, hashlib.sha256(a.data).digest()


def _event_weights(prob: CoxProblem) -> FloatArray:
    """The sorted rows' event weights (0 on censored rows), as :func:`_prepare` makes them."""
    if prob.unit_w:
        return prob.event * 1.0
    return np.asarray(np.bincount(prob.death_rows, prob.death_w, prob.event.shape[0]))


class SortedCovariates(Protocol):
    """Covariates that give their rows in a given order, transposed (a design's blocks)."""

    @property
    def shape(self) -> tuple[int, int]: ...  # (n, p)

    def sorted_transposed(self, order: IntArray) -> FloatArray: ...  # x[order].T, C-contiguous


Covariates = FloatArray | SortedCovariates


def _centred(
    x: Covariates, order: IntArray, ws: FloatArray, overwrite_x: bool
) -> tuple[FloatArray, FloatArray]:
    """The sorted covariates ``(p, n)`` centred at their weighted means, and the means."""
    if isinstance(x, np.ndarray):
        xt = _sorted_transposed(x, order, out=x.T if overwrite_x else None)
    else:  # made in the sorted order by their owner: the same values
        xt = x.sorted_transposed(order)
    return _centre(xt, ws, out=xt)


def _centre(
    xt: FloatArray, ws: FloatArray, out: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """Sorted covariates ``(p, n)`` minus their weighted means (into ``out``), and the means."""
    means = (xt @ ws) / ws.sum() if xt.shape[1] else np.zeros(xt.shape[0])
    return np.subtract(xt, means[:, None], out=out), np.asarray(means, dtype=float)


def _with_covariates(prob: CoxProblem, xt: FloatArray, means: FloatArray) -> CoxProblem:
    """``prob`` (its rows' order and groups) with other centred, sorted covariates."""
    sum_wdx = _sum_wdx(xt, _event_weights(prob))
    return dataclasses.replace(prob, xt=xt, means=means, sum_wdx=sum_wdx, work={})


def _sum_wdx(xt: FloatArray, wd: FloatArray) -> FloatArray:
    """``sum w x`` over the events: the centred covariates times the event weights."""
    return np.asarray(xt @ wd) if xt.shape[1] else np.zeros(xt.shape[0])


def _prepare(
    x: Covariates,
    stop: FloatArray,
    event: NDArray[np.bool_],
    start: FloatArray | None,
    weights: FloatArray | None,
    strata: IntArray | None,
    ties: str,
    overwrite_x: bool,
) -> CoxProblem:
    """:func:`prepare` afresh: sort and group the rows, then the covariates."""
    n = x.shape[0]
    s = None if strata is None else np.asarray(strata, dtype=np.int64)
    n_strata = int(s.max()) + 1 if n and s is not None else 1
    if start is not None and n_strata == 1 and _entries_before_events(start, stop, event):
        start = None  # every row at risk from before the first event: right-censored sums
    ek: IntArray | None = None  # entry keys; None: all zero (right-censored, one stratum)
    if start is None:
        order, sk, uniq, k_mult = _sort_right_censored(stop, event, s, n_strata)
        if n_strata > 1:  # entry keys s * K
            ek = (sk // k_mult) * k_mult
    else:
        if s is None:
            s = np.zeros(n, dtype=np.int64)
        uniq, inv = _unique_times(np.concatenate([stop, start]))
        k_mult = uniq.shape[0] + 1
        stop_key = s * k_mult + inv[:n] + 1
        start_key = s * k_mult + inv[n:] + 1
        # sort by stop key, events first within a key (keeps death rows contiguous)
        order = _key_order(2 * stop_key + ~event)
        sk = stop_key[order]
        ek = start_key[order]
    ev = event[order]
    ws = np.ones(n) if weights is None else np.asarray(weights, dtype=float)[order]
    xt, means = _centred(x, order, ws, overwrite_x)  # before the groups, as it was: faster
    exit_starts = _boundaries(sk)
    exit_keys = sk[exit_starts]
    if start is None or ek is None:
        entry_perm = None
        # entries are s * K: one per stratum, summed from the stop-key groups
        if n_strata == 1:  # one entry key, 0, from the first row (none without rows)
            entry_starts = np.zeros(min(1, exit_starts.shape[0]), dtype=np.int64)
            entry_keys = entry_starts
        else:
            entry_starts = _boundaries(exit_keys // k_mult)
            entry_keys = (exit_keys // k_mult)[entry_starts] * k_mult
        entry_group = None
    else:
        entry_perm = _key_order(ek)
        ek_sorted = ek[entry_perm]
        entry_starts = _boundaries(ek_sorted)
        entry_keys = ek_sorted[entry_starts]
        entry_group = np.empty(n, dtype=np.int64)
        entry_group[entry_perm] = np.repeat(
            np.arange(entry_starts.shape[0]), _run_lengths(entry_starts, n)
        )
    death_rows = np.flatnonzero(ev).astype(np.int64, copy=False)
    dk = sk[death_rows]
    death_starts = _boundaries(dk)
    ev_keys = dk[death_starts]
    sizes = _run_lengths(death_starts, death_rows.shape[0])
    death_group = np.repeat(np.arange(ev_keys.shape[0]), sizes).astype(np.int64, copy=False)
    rank = np.arange(death_rows.shape[0]) - np.repeat(death_starts, sizes)  # place in group
    if ties == "efron":
        death_frac = rank / np.repeat(sizes, sizes)
    else:
        death_frac = np.zeros(death_rows.shape[0])
    ev_time = uniq[(ev_keys % k_mult) - 1] if ev_keys.shape[0] else np.zeros(0)
    ev_exit_pos = exit_keys.searchsorted(ev_keys, "left").astype(np.int64, copy=False)
    # split each stop-key group into its event rows (first, by the sort) and the rest
    group_size = _run_lengths(exit_starts, n)
    n_dead = np.zeros(exit_starts.shape[0], dtype=np.int64)
    n_dead[ev_exit_pos] = sizes
    split = exit_starts + n_dead
    extra = split[(n_dead > 0) & (n_dead < group_size)]
    seg_starts = np.sort(np.concatenate([exit_starts, extra])).astype(np.int64)
    if weights is None:  # unit weights: the values below without the gathers and sums
        dw, death_mw = np.ones(death_rows.shape[0]), np.ones(death_rows.shape[0])
        wd: FloatArray = ev * 1.0
    else:
        dw = ws[death_rows]
        group_w = np.bincount(death_group, dw, ev_keys.shape[0])
        death_mw = (group_w / np.maximum(sizes, 1))[death_group]
        wd = np.asarray(np.bincount(death_rows, dw, n))  # the event rows' weights, 0 elsewhere
    return CoxProblem(
        xt=xt,
        means=means,
        w=ws,
        event=ev,
        order=order,
        seg_starts=seg_starts,
        seg_exit=seg_starts.searchsorted(exit_starts).astype(np.int64, copy=False),
        death_seg=seg_starts.searchsorted(exit_starts[ev_exit_pos]).astype(np.int64, copy=False),
        entry_perm=entry_perm,
        entry_starts=entry_starts,
        ev_exit_pos=ev_exit_pos,
        ev_entry_pos=entry_keys.searchsorted(ev_keys, "left").astype(np.int64, copy=False),
        death_rows=death_rows,
        death_starts=death_starts,
        death_group=death_group,
        death_frac=death_frac,
        death_w=dw,
        death_mw=death_mw,
        sum_wdx=_sum_wdx(xt, wd),
        row_hi=_groups_upto(ev_keys, sk, exit_starts),
        row_lo=_zero_rows(n)
        if ek is None
        else _groups_upto(ev_keys, ek, None if start is not None else exit_starts),
        ev_keys=ev_keys,
        ev_stratum=(ev_keys // k_mult).astype(np.int64, copy=False),
        ev_time=np.asarray(ev_time, dtype=float),
        n_strata=n_strata,
        entry_group=entry_group,
        unit_w=weights is None,
        interleaved=Interleaved.build(death_starts, sizes, death_group, death_frac, death_mw, rank),
    )


def _entries_before_events(start: FloatArray, stop: FloatArray, event: NDArray[np.bool_]) -> bool:
    """True when every row enters before the first event time (one stratum).

    No row then enters at or after an event time: the entry sums subtracted from
    each risk set are all the zero row (``v - 0.0`` is ``v``, bit for bit) and no
    row has an event group before its entry, so the problem is the right-censored
    one of the same rows, whose risk-set sums skip the entry pass (periods of
    follow-up that all start at one time, as ``split_episodes`` makes them).
    """
    if not event.any():
        return False
    return bool(start.max() < stop[event].min())  # a nan start or stop: False, the general way


def prepare_like(prob: CoxProblem, xt: FloatArray) -> CoxProblem:
    """:func:`prepare` of ``prob``'s rows with other covariates, without sorting them again.

    ``xt`` holds the covariates (not centred) in ``prob``'s sorted order
    (``prob.order``), transposed: shape (p, n), C-contiguous float, as
    :func:`prepare` lays them out (it is not changed). What depends only on the
    times, events, weights, strata and ties is ``prob``'s; the means, the centred
    covariates and the events' covariate sums are made as :func:`prepare` makes
    them, so the problem is ``prepare``'s of the same covariates unsorted, bit for bit.
    """
    n = prob.w.shape[0]
    if xt.shape[1] != n or not _usable_out(xt, xt.shape):
        raise ModelError("xt: the covariates in the problem's sorted order, (p, n) C-contiguous")
    return _with_covariates(prob, *_centre(xt, prob.w, out=None))  # into new memory


def _zero_rows(n: int) -> IntArray:
    """A read-only zero per row, taking no memory (the view :func:`_zero_free` makes)."""
    return np.broadcast_to(np.zeros(1, dtype=np.int64), (n,))


def _groups_upto(ev_keys: IntArray, keys: IntArray, starts: IntArray | None) -> IntArray:
    """For each row, the number of event groups with key <= its key.

    ``starts``: the keys are sorted, with runs beginning at ``starts``: one search
    per run, repeated over it. The result is :func:`_zero_free`.
    """
    if starts is None:
        return _zero_free(np.searchsorted(ev_keys, keys, "right").astype(np.int64))
    per_run = ev_keys.searchsorted(keys[starts], "right").astype(np.int64, copy=False)
    if not per_run.any():  # no event group before any row: the zero view
        return _zero_rows(keys.shape[0])
    return np.repeat(per_run, _run_lengths(starts, keys.shape[0]))


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


def evaluate(prob: CoxProblem, beta: FloatArray, need_info: bool = True) -> Evaluation:
    """Evaluate the partial log-likelihood, score and information at ``beta``."""
    xt = prob.xt
    p, n = xt.shape
    at_zero = not beta.any()
    if at_zero:  # beta = 0 (Newton's start): every eta is +0.0 and every risk 1, without the passes
        eta, risk = np.zeros(n), np.ones(n)
    else:
        eta = beta @ xt
        risk = np.exp(eta)
    wr = prob.wr(risk)
    # segment sums of [w r; w r x'], one covariate row at a time through one row of
    # work memory (the same sums as over the whole (p + 1, n) array, bit for bit)
    entry, n_entry = prob.entry_group, prob.entry_starts.shape[0]
    ent_t = np.empty((p + 1, n_entry))
    if entry is None:
        seg_t = _segment_sums(xt, wr, prob.seg_starts, ones=at_zero and prob.unit_w)
    else:
        seg_t = np.empty((p + 1, prob.seg_starts.shape[0]))
        row = _buffer(prob, "row", (1, n))[0]
        for j in range(p + 1):
            v = wr if j == 0 else np.multiply(xt[j - 1], wr, out=row)
            seg_t[j] = np.add.reduceat(v, prob.seg_starts)
            ent_t[j] = np.bincount(entry, v, n_entry)  # counting-process data: by entry key
        del row, v
    seg = seg_t.T
    ds = seg[prob.death_seg]
    by_stratum = entry is None and prob.n_strata > 1  # the entry sums from the exit sums
    pairs = None if by_stratum else _exit_pairs(prob)
    if pairs is not None:  # each stop key's sum from its one or two segments, along rows
        rs = _risk_sums_t(seg_t, prob.seg_exit, pairs, prob.ev_exit_pos)
    else:
        exit_sums = np.add.reduceat(seg, prob.seg_exit, axis=0)
        rs = _revcum(exit_sums)[prob.ev_exit_pos]
        if by_stratum:  # (one stratum: every event is after the one entry key, 0 is taken)
            rs -= _revcum(np.add.reduceat(exit_sums, prob.entry_starts, axis=0))[prob.ev_entry_pos]
    if entry is not None:
        rs -= _revcum(np.ascontiguousarray(ent_t.T))[prob.ev_entry_pos]
    if prob.tail is not None:
        rs += _tail_sums(prob, prob.tail, wr)
    del wr
    g, f, mw, ng = prob.death_group, prob.death_frac, prob.death_mw, prob.n_groups
    rs0, ds0 = rs[:, 0], ds[:, 0]  # 1-d views: faster gathers than rs[g, 0]
    den = rs0[g] - f * ds0[g]
    loglik = float(np.dot(prob.death_w, eta[prob.death_rows]) - np.dot(mw, np.log(den)))
    il, den_i = prob.interleaved, None
    if il is None:
        inv = mw / den
        hazard = np.bincount(g, inv, ng)
        dcoef = np.bincount(g, inv * f, ng)
    else:  # the same values in the interleaved order: the same sums, faster
        den_i = rs0[il.group] - il.frac * ds0[il.group]
        inv = il.mw / den_i
        hazard = il.sums(inv, ng)
        dcoef = il.sums(inv * il.frac, ng)
    s1, s1d = rs[:, 1:], ds[:, 1:]
    score = prob.sum_wdx - hazard @ s1 + dcoef @ s1d
    out = Evaluation(loglik, score, np.zeros((p, p)), eta, risk, s1, s1d, den, hazard, dcoef, den_i)
    if need_info:  # the same fields with the information (cheaper than dataclasses.replace)
        info = group_info(prob, out)
        out = Evaluation(loglik, score, info, eta, risk, s1, s1d, den, hazard, dcoef, den_i)
    return out


def _exit_pairs(prob: CoxProblem) -> IntArray | None:
    """The stop-key groups made of two segments (events, then the others), kept in ``work``.

    A stop key's rows are split into at most two segments (its event rows and
    the rest), so ``np.add.reduceat`` over a key's segments is the first
    segment's sum, plus the second's where there is one (``x0 + (-0.0 + x1)``
    in numpy's reduction: ``x0 + x1``, bit for bit). None: more than two (not
    made by :func:`prepare`), left to ``reduceat``. Depends only on the rows.
    """
    pairs = prob.work.get("exit_pairs")
    if pairs is None:
        sizes = _run_lengths(prob.seg_exit, prob.seg_starts.shape[0])
        if sizes.shape[0] and sizes.max() > 2:
            return None
        pairs = prob.work["exit_pairs"] = np.flatnonzero(sizes == 2)
    return pairs


def _risk_sums_t(
    seg_t: FloatArray, seg_exit: IntArray, pairs: IntArray, pos: IntArray
) -> FloatArray:
    """``_revcum(np.add.reduceat(seg_t.T, seg_exit, axis=0))[pos]``, summed along rows.

    ``seg_t``: the segment sums, one contiguous row per column; ``pairs``: the
    stop keys of two segments (:func:`_exit_pairs`). Each key's sum is its first
    segment plus its second; the reverse cumulative sums run along each
    contiguous row (the same additions in the same order as down the columns of
    the row-major sums); the result is row-major ``(len(pos), rows)`` as before.
    """
    exit_t = seg_t.take(seg_exit, axis=1)
    if pairs.shape[0]:
        exit_t[:, pairs] += seg_t.take(seg_exit[pairs] + 1, axis=1)
    cum = np.empty((exit_t.shape[0], exit_t.shape[1] + 1))
    cum[:, -1] = 0.0
    np.cumsum(exit_t[:, ::-1], axis=1, out=cum[:, -2::-1])
    return np.ascontiguousarray(cum.take(pos, axis=1).T)


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
    # minus w r dcoef[g] on the event rows: whole-row passes (an event row's row_hi is its
    # group + 1), the same products and differences as through the death rows' indices
    np.subtract(diag, group_on_rows(prob, dcoef, wr), out=diag, where=prob.event)
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
    p = prob.xt.shape[0]
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
