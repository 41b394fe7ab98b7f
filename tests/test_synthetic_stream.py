"""Above national size the CLI writes the blocks as they are made (``generate_into``).

The files must be those of generating in memory and writing the whole tables:
the same bytes (Parquet cut into the same row groups; CSV; truth.json), with
the blocks' episodes made as Arrow from the generator's codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.synthetic import blocks, default_config, generate, generate_into, stream, writer
from reunistat.synthetic.messy import _Picker


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 3,000 children and row groups of 5,000 rows: several of each."""
    monkeypatch.setattr(blocks, "BLOCK_CHILDREN", 3_000)
    monkeypatch.setattr(writer, "ROW_GROUP_ROWS", 5_000)
    monkeypatch.setattr(stream, "ROW_GROUP_ROWS", 5_000)
    return default_config().with_overrides({"dataset.children_per_year": 500})


@pytest.mark.parametrize("csv", [False, True])
def test_streamed_files_are_those_of_the_whole_tables(small_blocks, tmp_path, csv):
    streamed, whole = tmp_path / "streamed", tmp_path / "whole"
    truth = generate_into(streamed, small_blocks, seed=21, scale=2.0, csv=csv)
    data = generate(small_blocks, seed=21, scale=2.0)
    data.write(whole, csv=csv)
    assert truth == data.truth and truth["generator_blocks"]["blocks"] >= 4
    assert (streamed / "SHA256SUMS").read_text() == (whole / "SHA256SUMS").read_text()
    groups = pq.ParquetFile(streamed / "episodes.parquet").metadata.num_row_groups
    assert groups == -(-len(data.tables["episodes"]) // 5_000) >= 3


def test_up_to_national_size_and_messy_are_written_whole(small_blocks, tmp_path):
    for scale, messy in ((1.0, False), (1.5, True)):
        out = tmp_path / f"{scale}{messy}"
        truth = generate_into(out, small_blocks, seed=5, scale=scale, messy=messy)
        assert truth == generate(small_blocks, seed=5, scale=scale, messy=messy).truth
        assert (out / "faults.parquet").exists() == messy


def test_a_table_file_keeps_text_columns_text(tmp_path):
    """A first block whose text column has no value does not make the column null-typed."""
    f = stream.TableFile(tmp_path / "t.parquet")
    a = pd.DataFrame({"x": [None, None], "n": np.array([1, 2], dtype=np.int8)})
    b = pd.DataFrame({"x": ["u", None], "n": np.array([3, 4], dtype=np.int8)})
    f.write(a)
    f.write(b)
    f.close()
    back = pd.read_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(back, pd.concat([a, b], ignore_index=True))


def picked_by_loop(rng, child, used, eligible, rate):
    """The picker as it was: a Python loop over a random order of the candidates."""
    cand = np.flatnonzero(eligible)
    k = rng.binomial(cand.size, rate) if cand.size else 0
    picked = []
    for i in rng.permutation(cand):
        if len(picked) == k:
            break
        if child[i] not in used:
            used.add(child[i])
            picked.append(i)
    return np.sort(np.array(picked, dtype=np.int64))


@settings(max_examples=100, deadline=None)
@given(
    kids=st.lists(st.integers(0, 30), min_size=1, max_size=200),
    calls=st.lists(st.tuples(st.integers(0, 2**32), st.floats(0, 1)), min_size=1, max_size=4),
    seed=st.integers(0, 2**32),
)
def test_picker_draws_as_the_loop_did(kids, calls, seed):
    child = np.array([f"C{k:03d}" for k in sorted(kids)], dtype=object)
    ep = pd.DataFrame({"CHILD": child})
    fast = _Picker(np.random.default_rng(seed), ep)
    slow_rng, used = np.random.default_rng(seed), set()
    for mask_seed, rate in calls:
        eligible = np.random.default_rng(mask_seed).random(child.size) < 0.7
        got = fast.rows(eligible, rate)
        want = picked_by_loop(slow_rng, child, used, eligible, rate)
        np.testing.assert_array_equal(got, want)
    assert fast.rng.random() == slow_rng.random()  # the stream is where the loop left it
