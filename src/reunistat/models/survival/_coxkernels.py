"""The Cox engine's whole-array kernels: segment, group and interval sums, ``X' D X``.

Split from :mod:`reunistat.models.survival._coxengine`, which calls them once or
twice per likelihood evaluation. Each is a faster layout of a plain numpy
computation giving the same numbers to the bit (tests/test_survival_engine_fast.py
and tests/test_survival_engine_layout.py hold the two side by side):

- :func:`_segment_sums`: ``np.add.reduceat`` of ``[w r; x w r]`` over segments,
  block by block through one cache-sized work row;
- :class:`Interleaved`: the event rows ordered so that neighbours belong to
  different event groups, for per-group :func:`numpy.bincount` sums;
- :func:`_revcum` and :func:`_interval_sum`: risk-set sums from cumulative sums
  over event groups (with the zero views of :func:`_zero_free`);
- :func:`_xtdx`: ``X' diag(d) X`` by BLAS ``dsyrk`` in blocks summed in the order
  OpenBLAS sums one product.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import dsyrk

FloatArray = NDArray[Any]  # float64 in practice; bincount is typed as int
IntArray = NDArray[np.int64]


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
        cls,
        starts: IntArray,
        sizes: IntArray,
        group: IntArray,
        frac: FloatArray,
        mw: FloatArray,
        rank: IntArray | None = None,
    ) -> Interleaved:
        """Order the event rows by their place within their group (``rank``), then by group."""
        if rank is None:
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


def _zero_free(idx: IntArray) -> IntArray:
    """Return ``idx``, or a read-only zero view taking no memory when it is all zeros.

    Right-censored, unstratified data have no event group before any row's entry.
    """
    if idx.shape[0] and not idx.any():
        return np.broadcast_to(np.zeros(1, dtype=np.int64), idx.shape)
    return idx


def _run_lengths(starts: IntArray, total: int) -> IntArray:
    """Return ``np.diff(np.append(starts, total))``: the length of each run from its start."""
    out = np.empty(starts.shape[0], dtype=np.int64)
    if starts.shape[0]:
        np.subtract(starts[1:], starts[:-1], out=out[:-1])
        out[-1] = total - starts[-1]
    return out


def _all_zero(idx: IntArray) -> bool:
    """True for the zero view of :func:`_zero_free` (a stride-0 array)."""
    return bool(idx.ndim == 1 and idx.strides[0] == 0 and idx.shape[0] and idx[0] == 0)


def _revcum(groups: FloatArray) -> FloatArray:
    """Reverse cumulative sum along axis 0 with a trailing zero row."""
    out = np.empty((groups.shape[0] + 1, *groups.shape[1:]))
    out[-1] = 0.0
    groups[::-1].cumsum(axis=0, out=out[-2::-1])  # written reversed: the same sums
    return out


_ZERO = np.zeros(1)  # the value of group 0 (no event group) in group_on_rows


def group_on_rows(prob: Any, per_group: FloatArray, wr: FloatArray) -> FloatArray:
    """Return ``per_group[g] * wr`` per sorted row, ``g`` the row's event group.

    Meaningful on the event rows (``where=prob.event``): an event row's
    ``row_hi`` is its group + 1, so one gather over all rows reads the group
    values, and each product is the one taken over the event rows' indices
    (multiplication commutes, bit for bit), in whole-row passes.
    """
    out = np.concatenate((_ZERO, per_group)).take(prob.row_hi)
    out *= wr
    return np.asarray(out)


def _interval_sum(per_group: FloatArray, hi: IntArray, lo: IntArray) -> FloatArray:
    """For each row, sum ``per_group`` over the event groups in its at-risk interval."""
    cum = np.zeros((per_group.shape[0] + 1, *per_group.shape[1:]))
    per_group.cumsum(axis=0, out=cum[1:])
    if _all_zero(lo):  # cum[0] is 0: v - 0 is v, bit for bit
        return np.asarray(cum.take(hi, axis=0))
    return cum[hi] - cum[lo]


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
    if q is None or xt.shape[1] <= 16 * q:  # one product over all rows (the blocks' sums)
        c = dsyrk(1.0, np.multiply(xt, root).T, trans=1)
    else:
        c = _syrk_blocked(xt, root, q)
    return _symmetric(c)


def _symmetric(c: FloatArray) -> FloatArray:
    """Return ``np.triu(c) + np.triu(c, 1).T``: the upper triangle mirrored, ``+ 0.0`` included.

    Each value is an upper-triangle value plus a zero, as in that sum (which
    turns ``-0.0`` into ``0.0``), in two numpy calls instead of eight.
    """
    out = np.where(_upper(c.shape[0]), c, c.T)
    out += 0.0
    return out


@functools.cache
def _upper(p: int) -> NDArray[np.bool_]:
    """The mask of the upper triangle (diagonal included) of a ``(p, p)`` matrix."""
    return np.triu(np.ones((p, p), dtype=bool))


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


_SEGMENT_BLOCK = 1 << 16  # rows summed at a time by _segment_sums: a work row in L2 cache


def _segment_sums(
    xt: FloatArray, wr: FloatArray, starts: IntArray, ones: bool = False
) -> FloatArray:
    """Return the sums of ``wr`` and of ``xt[j] * wr`` over segments, shape (p + 1, segments).

    ``np.add.reduceat(v, starts)`` for each row ``v`` of ``[wr; xt * wr]``, taken
    over blocks of whole segments of about :data:`_SEGMENT_BLOCK` rows, so the
    products pass through a work row that stays in cache. Each segment's sum is
    the same ``reduceat`` over the same values: equal to the bit. ``ones``:
    ``wr`` is all ones, so the products are ``xt``'s rows themselves.
    """
    p, n = xt.shape
    n_seg = starts.shape[0]
    out = np.empty((p + 1, n_seg))
    if n_seg == 0:
        return out
    if ones:  # x * 1.0 is x, bit for bit: the segment sums of the rows as they are
        out[0] = np.add.reduceat(wr, starts)
        np.add.reduceat(xt, starts, axis=1, out=out[1:])
        return out
    if n <= _SEGMENT_BLOCK:  # one block: the loop below with the cuts [n_seg], in place
        out[0] = np.add.reduceat(wr, starts)
        row = np.empty(n)
        for j in range(p):
            out[j + 1] = np.add.reduceat(np.multiply(xt[j], wr, out=row), starts)
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
