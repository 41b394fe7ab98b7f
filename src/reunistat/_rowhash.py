"""pandas' row hashes of plain numeric columns, computed a block of rows at a time.

``pd.util.hash_pandas_object`` hashes a numeric, boolean or datetime column by
mixing the 64 bits of each value (a splitmix64 finaliser) and combines the
columns' hashes with the index's as CPython's tuple hash does. Each of its
steps makes a new array the length of the frame; here the same integer
operations run in place over blocks of rows small enough to stay in cache, so
the hashes are the same to the bit at a fraction of the memory traffic.
:func:`reunistat.results.data_hash` uses this for its plain columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Rows per block: a few arrays of this many 64-bit values fit in a core's L2 cache.
BLOCK = 1 << 15

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def plain_values(values: object) -> np.ndarray | None:
    """Return the values when pandas hashes them by their bits, else None.

    That is a one-dimensional numpy array of booleans, integers, floats,
    datetimes or timedeltas of at most 8 bytes: pandas hashes these (``hash_array``)
    as their bits zero-extended to 64 (booleans as 0 and 1), mixed.
    """
    if (
        isinstance(values, np.ndarray)
        and values.ndim == 1
        and values.dtype.kind in "biufmM"
        and values.dtype.itemsize <= 8
    ):
        return values
    return None


def index_values(index: pd.Index) -> np.ndarray | None:
    """Return an index's values when pandas hashes them by their bits, else None."""
    if isinstance(index, pd.MultiIndex) or not isinstance(index.dtype, np.dtype):
        return None
    return plain_values(index.to_numpy())


def _bits(values: np.ndarray, out: np.ndarray) -> None:
    """Write into ``out`` the 64-bit integers pandas mixes for ``values``."""
    if values.dtype.kind == "b":
        np.copyto(out, values, casting="unsafe")  # False, True -> 0, 1
    else:
        np.copyto(out, values.view(f"u{values.dtype.itemsize}"), casting="unsafe")


def _mix(values: np.ndarray, h: np.ndarray, tmp: np.ndarray) -> None:
    """Write into ``h`` pandas' ``_hash_ndarray`` mix of plain values (``tmp``: work space)."""
    if values.dtype.itemsize == 8 and values.dtype.kind != "b":
        bits = values.view(np.uint64)  # the first step reads the values' bits directly
    else:
        _bits(values, h)
        bits = h
    np.right_shift(bits, np.uint64(30), out=tmp)
    np.bitwise_xor(bits, tmp, out=h)
    h *= _M1
    np.right_shift(h, np.uint64(27), out=tmp)
    h ^= tmp
    h *= _M2
    np.right_shift(h, np.uint64(31), out=tmp)
    h ^= tmp


def hash_plain(values: np.ndarray) -> np.ndarray:
    """Return pandas' hash of one plain column (``pd.util.hash_array(values)``), the same values.

    >>> v = np.array([1.5, -0.0, np.nan, 3.0])
    >>> bool((hash_plain(v) == pd.util.hash_array(v)).all())
    True
    """
    return combine([(values, True)], len(values), tuple_hash=False)


def combine(
    items: Sequence[tuple[np.ndarray, bool]], n: int, *, tuple_hash: bool = True
) -> np.ndarray:
    """Return pandas' combined row hash of ``items`` (the columns, then the index).

    Each item is ``(values, True)`` for plain values (:func:`plain_values`,
    hashed here) or ``(hash, False)`` for a column's finished pandas hash
    (``uint64``). With ``tuple_hash=False`` there is one item, whose hash is
    returned as it is (not combined).

    >>> f = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 2.0]}, index=[7, 8, 9])
    >>> cols = [(f["a"].to_numpy(), True), (f["b"].to_numpy(), True)]
    >>> rows = combine([*cols, (f.index.to_numpy(), True)], 3)
    >>> bool((rows == pd.util.hash_pandas_object(f).to_numpy()).all())
    True
    """
    if not tuple_hash and len(items) != 1:
        raise ValueError("tuple_hash=False hashes one column")
    mults = []
    mult = np.uint64(1000003)
    for i in range(len(items)):
        mults.append(mult)
        inverse_i = len(items) - i
        mult += np.uint64(82520 + inverse_i + inverse_i)
    out = np.empty(n, dtype=np.uint64)
    h_buf = np.empty(min(n, BLOCK), dtype=np.uint64)
    tmp_buf = np.empty(min(n, BLOCK), dtype=np.uint64)
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        acc = out[a:b]
        h, tmp = h_buf[: b - a], tmp_buf[: b - a]
        if tuple_hash:
            acc.fill(0x345678)
        for (values, plain), mult in zip(items, mults, strict=True):
            if plain:
                _mix(values[a:b], h, tmp)
                part = h
            else:
                part = values[a:b]
            if not tuple_hash:
                acc[:] = part
            else:
                acc ^= part
                acc *= mult
        if tuple_hash:
            acc += np.uint64(97531)
    return out
