"""Above national size the generator works in blocks of local authorities.

Small configs (fewer children a year) reach ``scale > 1`` cheaply; the block
size is lowered so that they make several blocks. The cohort derived from the
blocks' tables must still equal the generator's truth, row for row.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.synthetic import blocks, default_config, generate
from reunistat.synthetic.population import n_children
from test_cohort_synthetic import assert_equal_to_truth
from test_synthetic_national import assert_published_figures


def small_config(children_a_year: int = 500):
    return default_config().with_overrides({"dataset.children_per_year": children_a_year})


@pytest.fixture(scope="module")
def blocked():
    limit = blocks.BLOCK_CHILDREN
    blocks.BLOCK_CHILDREN = 3_000
    try:
        return generate(small_config(), seed=21, scale=2.0)
    finally:
        blocks.BLOCK_CHILDREN = limit


def test_scale_up_to_one_is_one_stream():
    d = generate(small_config(), seed=21, scale=1.0)
    assert "generator_blocks" not in d.truth


def test_blocks_are_several_and_hold_every_child(blocked):
    about = blocked.truth["generator_blocks"]
    assert about["blocks"] >= 4
    assert about["block_children_max"] == 3_000
    n = n_children(small_config().values, 2.0)
    assert blocked.truth["realised"]["children"] == n == len(blocked.tables["header"])


def test_identifiers_unique_and_tables_sorted_over_all_blocks(blocked):
    t = blocked.tables
    h, ep, cin, npd = t["header"], t["episodes"], t["cin"], t["npd"]
    assert h["CHILD"].is_unique and h["UPN"].dropna().is_unique
    for df, key in (
        (h, ["LA", "CHILD"]),
        (ep, ["LA", "CHILD", "DECOM"]),
        (cin, ["LA", "LAchildID"]),
        (blocked.truth_returns, ["LA", "CHILD", "spell_number"]),
    ):
        want = df.sort_values(key, kind="stable", ignore_index=True)
        pd.testing.assert_frame_equal(df, want)
    assert npd["UPN"].is_monotonic_increasing and npd["UPN"].is_unique
    assert set(npd["UPN"]) == set(h["UPN"].dropna())
    assert set(ep["CHILD"]) <= set(h["CHILD"])
    # an authority's children are all in one block: each LA's rows are one run
    la = h["LA"].to_numpy()
    runs = la[np.r_[True, la[1:] != la[:-1]]]
    assert len(runs) == len(set(runs))


def test_authorities_are_those_of_the_one_stream(blocked):
    one = generate(small_config(), seed=21, scale=0.05)
    pd.testing.assert_frame_equal(blocked.tables["la"], one.tables["la"])
    pd.testing.assert_frame_equal(blocked.tables["postcodes"], one.tables["postcodes"])


def test_same_seed_same_data_in_blocks(blocked):
    limit = blocks.BLOCK_CHILDREN
    blocks.BLOCK_CHILDREN = 3_000
    try:
        again = generate(small_config(), seed=21, scale=2.0)
    finally:
        blocks.BLOCK_CHILDREN = limit
    for name, df in blocked.tables.items():
        pd.testing.assert_frame_equal(df, again.tables[name])
    pd.testing.assert_frame_equal(blocked.truth_returns, again.truth_returns)
    assert blocked.truth == again.truth


def test_cohort_from_blocks_equals_the_truth(blocked):
    c = build_cohort(blocked.tables, CohortConfig(data_end=blocked.truth["data_end"]))
    assert_equal_to_truth(c.spells, blocked.truth_returns)
    check_flow(c.flow)
    assert c.validated.problems.empty


def test_messy_faults_over_all_blocks():
    limit = blocks.BLOCK_CHILDREN
    blocks.BLOCK_CHILDREN = 3_000
    try:
        d = generate(small_config(), seed=22, scale=1.5, messy=True)
    finally:
        blocks.BLOCK_CHILDREN = limit
    assert d.truth["generator_blocks"]["blocks"] >= 3
    assert d.faults["CHILD"].is_unique  # one fault a child, over the whole table
    c = build_cohort(d.tables, CohortConfig(data_end=d.truth["data_end"], validation="lenient"))
    bad = d.faults[~d.faults.fault.isin(["duplicate_row", "stale_open_copy"])]
    assert set(c.validated.excluded_children["CHILD"]) == set(bad.CHILD)
    kept = d.truth_returns[~d.truth_returns.CHILD.isin(set(bad.CHILD))]
    assert_equal_to_truth(c.spells, kept)


@settings(max_examples=200, deadline=None)
@given(
    counts=st.lists(st.integers(0, 50), min_size=1, max_size=40),
    limit=st.integers(1, 120),
)
def test_la_blocks_cover_the_authorities_in_runs_within_the_limit(counts, limit):
    c = np.array(counts, dtype=np.int64)
    runs = blocks.la_blocks(c, limit)
    assert runs[0][0] == 0 and runs[-1][1] == c.size
    for (_, hi), (lo, _) in itertools.pairwise(runs):
        assert hi == lo
    for lo, hi in runs:
        assert hi > lo
        assert c[lo:hi].sum() <= limit or hi - lo == 1
    # greedy: no run could take the next authority without passing the limit
    for (lo, hi), (nlo, _) in itertools.pairwise(runs):
        assert c[lo:hi].sum() + c[nlo] > limit


@pytest.mark.slow
def test_twice_national_in_blocks_recovers_the_truth():
    """Scale 2 of the default config: the cohort equals the truth, calibration holds."""
    d = generate(default_config(), seed=20240331, scale=2.0)
    assert d.truth["generator_blocks"]["blocks"] >= 4
    assert_published_figures(d.truth["realised"], 300_000)
    c = build_cohort(d.tables, CohortConfig(data_end=d.truth["data_end"]))
    assert_equal_to_truth(c.spells, d.truth_returns)
    check_flow(c.flow)
