"""Identifiers numbered by their digits are the dictionary Arrow's hashing gives.

:func:`reunistat.tables.digits.by_digits` encodes text of one length, one
prefix, then digits by those numbers, not by hashing the text; anything else
is left to Arrow (None). Where it encodes, the dictionary and the indices
must equal ``dictionary_encode``'s exactly.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from reunistat.tables.digits import by_digits


def _same_as_arrow(values: list[str | None]) -> bool:
    arr = pa.array(values, type=pa.string())
    got = by_digits(arr)
    if got is None:
        return False
    want = arr.dictionary_encode()
    assert got.dictionary.equals(want.dictionary)
    assert got.indices.equals(want.indices)
    return True


def test_identifiers_in_runs_or_one_row_each_are_encoded_as_arrow_does():
    assert _same_as_arrow(["C0003", "C0003", None, "C0001", "C0002", "C0002", None])
    assert _same_as_arrow([f"A{n:012d}" for n in (9, 3, 7, 1)])  # one row each, any order
    assert _same_as_arrow(["000123", "000124"])  # digits only
    assert _same_as_arrow(["C07", "C10", None, "C07", "C99", "C10"])  # in several runs
    assert _same_as_arrow([f"A{n:012d}" for n in (10**11, 5, 10**11, 7)])  # sparse, repeated


@pytest.mark.parametrize(
    "values",
    [
        ["C07", "C7"],  # two lengths: "07" and "7" are different text
        ["C07", "D08"],  # two prefixes
        ["C0x", "C01"],  # not digits
        ["C٣4", "C01"],  # a digit outside ASCII
        [None, None],  # blanks only
        ["C" + "1" * 19],  # more digits than an int64 holds
    ],
)
def test_other_text_is_left_to_arrow(values):
    assert by_digits(pa.array(values, type=pa.string())) is None


def test_random_identifiers_match_arrow():
    rng = np.random.default_rng(7)
    encoded = skipped = 0
    for trial in range(500):
        n, width = int(rng.integers(1, 40)), int(rng.integers(1, 4))
        runs = rng.integers(0, 10**width, size=n)
        if trial % 2:  # grouped: each value once, repeated in its run
            runs = np.unique(runs)
            rng.shuffle(runs)
        values: list[str | None] = []
        for v in runs:
            values += [f"C{v:0{width}d}"] * int(rng.integers(1, 4))
        values = [None if rng.random() < 0.1 else v for v in values]
        if all(v is None for v in values):
            skipped += 1
            continue
        encoded += _same_as_arrow(values)
    assert encoded == 500 - skipped


def test_sparse_identifiers_in_any_order_match_arrow():
    # numbers spread too wide for a table of counts (as UPNs): seen distinct by a sort
    rng = np.random.default_rng(11)
    for trial in range(300):
        n = int(rng.integers(2, 2_000))
        numbers = rng.choice(10**12, size=n, replace=False)
        if trial % 3 == 0:  # some repeated apart: factorised
            numbers = numbers[rng.integers(0, max(n // 2, 1), size=n)]
        if trial % 2:
            numbers = np.repeat(numbers, rng.integers(1, 3, size=n))  # runs of a child's rows
        values = [None if rng.random() < 0.05 else f"A{v:012d}" for v in numbers]
        if all(v is None for v in values):
            continue
        assert _same_as_arrow(values)


def _numbers_by_text(values: list[str | None]) -> list[int]:
    return [-1 if v is None else int(v[1:]) for v in values]


def test_numbers_read_from_blanks_holding_bytes_and_from_slices():
    from reunistat.tables.digits import prefixed_numbers

    # a blank whose slot holds bytes ("C99" under the null), as Arrow allows
    offsets = pa.array([0, 3, 6, 9], type=pa.int32()).buffers()[1]
    data = pa.py_buffer(b"C07C99C10")
    validity = pa.array([True, False, True]).buffers()[1]
    arr = pa.StringArray.from_buffers(3, offsets, data, validity, 1)
    assert arr.to_pylist() == ["C07", None, "C10"]
    prefix, width, numbers = prefixed_numbers(arr)
    assert (prefix, width, numbers.tolist()) == ("C", 2, [7, -1, 10])
    values = ["C1234", None, "C0042", "C9999", None, "C0001"]
    whole = pa.array(values, type=pa.string())
    for start in range(len(values)):
        for stop in range(start + 1, len(values) + 1):
            part = values[start:stop]
            found = prefixed_numbers(whole.slice(start, stop - start))
            if all(v is None for v in part):
                assert found is None
            else:
                assert found is not None and found[2].tolist() == _numbers_by_text(part)


def test_eighteen_digits_make_their_number():
    from reunistat.tables.digits import prefixed_numbers

    values = ["X" + "9" * 18, "X" + "0" * 17 + "1"]
    found = prefixed_numbers(pa.array(values))
    assert found is not None and found[2].tolist() == [10**18 - 1, 1]
