"""Identifiers numbered by their digits: Arrow's dictionary encoding without hashing text.

The reader turns each text column into a dictionary (distinct values and
each row's index, :func:`reunistat.tables.formats.as_categorical`). Arrow
hashes the text to make it: a tenth of a second for half a million child
identifiers. Identifiers made of one prefix and a fixed number of digits are
numbered here by those integers instead (:func:`by_digits`), with the same
dictionary and indices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def by_digits(arr: object) -> object | None:
    """``arr.dictionary_encode()`` for identifiers numbered by their digits, not their text.

    Text of one length, one prefix, then digits (``C00000659``,
    ``A000005323350``) is equal exactly when its digits make the same number.
    Where each number comes in one run of rows (the rows of a child side by
    side, or one row each), and the runs' numbers are seen distinct without
    hashing (increasing, or counted in a table of the numbers' span), the
    runs are the dictionary's values; else the numbers are factorised (hashing
    integers: twice as fast as Arrow's hashing of the text). Either way the
    dictionary is the text of each value's first row, in order of first
    appearance, as Arrow's gives it (blanks: null). Other text: None.

    >>> import pyarrow as pa
    >>> enc = by_digits(pa.array(["C07", "C07", None, "C10", "C03", "C10"]))
    >>> enc.dictionary.to_pylist(), enc.indices.to_pylist()
    (['C07', 'C10', 'C03'], [0, 0, None, 1, 2, 1])
    >>> by_digits(pa.array(["C07", "C7"])) is None  # two lengths: "07" and "7" differ
    True
    """
    import pyarrow as pa

    found = prefixed_numbers(arr)
    if found is None:
        return None
    assert isinstance(arr, pa.Array)
    numbers = found[2]
    valid = np.flatnonzero(numbers >= 0)
    values = numbers[valid]
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    runs = values[starts]
    codes = np.full(len(numbers), -1, dtype=np.int32)
    if _distinct(runs):  # the runs are the values, in order of first appearance
        lengths = np.diff(np.append(starts, len(values)))
        codes[valid] = np.repeat(np.arange(len(runs), dtype=np.int32), lengths)
        firsts = valid[starts]
    else:
        numbered = pd.factorize(values)[0]  # in order of first appearance
        codes[valid] = numbered
        seen = np.maximum.accumulate(numbered)
        firsts = valid[numbered > np.concatenate(([-1], seen[:-1]))]
    indices = pa.array(codes, mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, arr.take(pa.array(firsts)))


def prefixed_numbers(arr: object) -> tuple[str, int, np.ndarray] | None:
    """The prefix, number of digits and numbers of text of one length, one prefix, then digits.

    Per row, the number its digits make (-1: null); None for other text.

    >>> import pyarrow as pa
    >>> prefixed_numbers(pa.array(["C07", None, "C10"]))
    ('C', 2, array([ 7, -1, 10]))
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    assert isinstance(arr, pa.Array)
    if not pa.types.is_string(arr.type) or arr.null_count == len(arr):
        return None
    sizes = pc.min_max(pc.binary_length(arr))
    size = sizes["min"].as_py()
    if size != sizes["max"].as_py():
        return None
    at = 0 if not arr.null_count else pc.index(pc.is_valid(arr), True).as_py()
    first = arr[at].as_py()
    k = next((i for i, ch in enumerate(first) if ch in "0123456789"), len(first))
    if len(first) != size or not first.isascii() or not 1 <= size - k <= 18:
        return None
    rows = _fixed_width(arr, size)  # each value's bytes, a row of ``size``
    if k and not (rows[:, :k] == np.frombuffer(first[:k].encode("ascii"), np.uint8)).all():
        return None
    # the ASCII codes of each digit place, in a row: their number, less that of the zeros'
    places = np.ascontiguousarray(rows[:, k:].T)
    if not ord("0") <= places.min() <= places.max() <= ord("9"):
        return None
    value = places[0].astype(np.int64)
    for place in places[1:]:  # at most 18 digits of "9" (57): below 2**63
        value *= 10
        value += place
    value -= ord("0") * int("1" * (size - k))
    if not arr.null_count:
        return first[:k], size - k, value
    numbers = np.full(len(arr), -1, dtype=np.int64)
    numbers[arr.is_valid().to_numpy(zero_copy_only=False)] = value
    return first[:k], size - k, numbers


def _fixed_width(arr: object, size: int) -> np.ndarray:
    """The bytes of an Arrow text array's values, all ``size`` bytes long, one row each (no nulls).

    Read in place where the values follow one another in the data (blanks
    holding no bytes, as usual), else from a copy of the values alone.

    >>> import pyarrow as pa
    >>> _fixed_width(pa.array(["C07", None, "C10"]), 3).tobytes()
    b'C07C10'
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    assert isinstance(arr, pa.StringArray)
    n_valid = len(arr) - arr.null_count
    _, offsets_buf, data = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    if end - start != n_valid * size:  # blanks holding bytes: the values copied alone
        return _fixed_width(pc.drop_null(arr), size)
    return np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start).reshape(-1, size)


def _distinct(numbers: np.ndarray) -> bool:
    """Whether no number repeats, seen without hashing (increasing, counted, or sorted).

    Numbers spread wider than a table of counts (UPNs, about 4 in 10 million
    used) are sorted: a sort of half a million finds them distinct in about
    a seventh of the time factorising them takes.
    """
    if (numbers[1:] > numbers[:-1]).all():
        return True
    lo, span = int(numbers.min()), int(numbers.max()) - int(numbers.min()) + 1
    if span <= 4 * len(numbers) + 1024:
        return bool(np.bincount(numbers - lo, minlength=span).max() <= 1)
    ordered = np.sort(numbers)
    return bool((ordered[1:] != ordered[:-1]).all())
