"""The faster paths around the analysis scripts give what the slower ones gave.

Each new path is held against the code it replaced (kept here as the reference):
the rows a published curve keeps, the masks of the release's curve groups, the
identifiers taken beside the cohort, and the frozen heap, which changes only the
garbage collector's work.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.pipeline.finish import WhileScriptsRun
from reunistat.pipeline.verify import release_identifiers
from reunistat.pipeline.workers import collector_paused, frozen_heap
from reunistat.report.disclosure import DisclosureRules, _kept_rows
from reunistat.report.release_plan import _group_masks
from reunistat.results import data_hash


def _kept_rows_numpy(ev: np.ndarray, after: np.ndarray, rules: DisclosureRules) -> list[int]:
    """The rows kept, as computed before (numpy on each row)."""
    if not rules.apply:
        return list(range(len(after)))
    keep = []
    acc = np.zeros(ev.shape[1])
    for k in range(len(after)):
        if after[k] < rules.threshold:
            break
        acc += ev[k]
        if acc.sum() >= rules.threshold and np.all((acc == 0) | (acc >= rules.threshold)):
            keep.append(k)
            acc[:] = 0
    return keep


_counts = st.one_of(st.integers(0, 40).map(float), st.just(float("nan")))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    width=st.integers(1, 3),
    n=st.integers(0, 60),
    threshold=st.integers(1, 12),
    apply=st.booleans(),
)
def test_the_rows_a_curve_keeps_are_those_numpy_kept(data, width, n, threshold, apply):
    ev = np.array(
        data.draw(
            st.lists(st.lists(_counts, min_size=width, max_size=width), min_size=n, max_size=n)
        ),
        dtype=float,
    ).reshape(n, width)
    after = np.array(data.draw(st.lists(st.integers(0, 400).map(float), min_size=n, max_size=n)))
    after = np.sort(after)[::-1].copy()  # at risk never grows
    rules = DisclosureRules(threshold=threshold, apply=apply)
    assert _kept_rows(ev, after, rules) == _kept_rows_numpy(ev, after, rules)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.sampled_from(["a", "b", "nan", "10", "1"]), st.integers(0, 3)),
        max_size=40,
    ),
    categorical=st.booleans(),
)
def test_the_masks_of_a_curve_grouping_are_those_of_the_text_comparison(values, categorical):
    labels = pd.Series(values, dtype=object)
    if categorical:
        labels = labels.map(lambda v: v if v is None else str(v)).astype("category")
    groups = sorted(pd.unique(labels.dropna()).astype(str), key=str)
    masks = _group_masks(labels, groups)
    expected = {  # as declare_curves built them
        g: (labels.astype(str) == g).to_numpy() & labels.notna().to_numpy() for g in groups
    }
    assert list(masks) == list(expected)
    for g, mask in expected.items():
        assert masks[g].dtype == bool
        np.testing.assert_array_equal(masks[g], mask)


def _ctx() -> SimpleNamespace:
    tables = {
        "header": pd.DataFrame({"CHILD": ["C00000029", "C00000030"], "DOB": ["14/07/2009", ""]}),
        "la": pd.DataFrame({"LA": ["A"], "PILOT_START": ["01/04/2021"]}),
    }
    cohort = SimpleNamespace(data_end=pd.Timestamp("2024-03-31"))
    spells = pd.DataFrame({"x": [1, 2]}, index=[5, 6])
    return SimpleNamespace(extract=SimpleNamespace(tables=tables), cohort=cohort, spells=spells)


def test_the_identifiers_taken_while_the_workers_run_are_those_of_the_whole_extract():
    ctx = _ctx()
    early = WhileScriptsRun(ctx)  # type: ignore[arg-type]
    early.run()  # as the run's process does while the workers run
    assert early.identifiers == release_identifiers(ctx.extract.tables, dt.date(2024, 3, 31))
    assert dt.date(2024, 3, 31) in early.identifiers.public_dates
    assert dt.date(2009, 7, 14) in early.identifiers.dates_of_birth
    assert early.spells_sha256 == data_hash(ctx.spells.reset_index(drop=True))
    assert early.seconds is not None
    early.run(final=True)  # taken once
    assert early.identifiers == release_identifiers(ctx.extract.tables, dt.date(2024, 3, 31))


def test_the_frozen_heap_is_handed_back_by_the_outermost_block():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        outer = gc.get_freeze_count()
        assert outer > 0
        cycle: list[object] = []
        cycle.append(cycle)  # made in the block: still collected
        del cycle
        assert gc.collect() >= 1
        with frozen_heap():
            assert gc.get_freeze_count() >= outer
        assert gc.get_freeze_count() >= outer  # the inner block leaves it frozen
    assert gc.get_freeze_count() == 0


def test_the_collector_paused_for_the_start_is_on_again_after_it_even_on_error():
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        cycle: list[object] = []
        cycle.append(cycle)  # kept until a collection, which still finds it
        del cycle
        assert gc.collect() >= 1
    assert gc.isenabled()
    with pytest.raises(ValueError), collector_paused():
        raise ValueError
    assert gc.isenabled()
    with collector_paused(pause=False):  # one job: nothing changes
        assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # turned off by the caller: left so
    finally:
        gc.enable()


@pytest.mark.parametrize("background", [True, False])
def test_files_checked_in_the_run_beside_the_checking_process_give_the_same_verdict(
    tmp_path, background
):
    from reunistat.pipeline.checks import Checks
    from reunistat.report.checker import Identifiers, check_folder

    stage = tmp_path / "outputs"
    (stage / "tables").mkdir(parents=True)
    (stage / "paper").mkdir()
    (stage / "tables/small.csv").write_text("level,n\na,12\nb,3\n")  # a count below 10
    (stage / "tables/ok.csv").write_text("level,n\na,12\nb,30\n")
    (stage / "paper/paper.md").write_text("Child C00000029 was born on 14/07/2009.\n")
    (stage / "paper/paper.txt").write_text("nothing to see\n")
    counts = {"type": "counts", "count_cols": ["n"], "row_key": None, "lines": []}
    specs = {"tables/small.csv": counts, "tables/ok.csv": counts}
    ids = Identifiers(
        values=frozenset({"C00000029"}), dates_of_birth=frozenset({dt.date(2009, 7, 14)})
    )
    rules = DisclosureRules()
    with Checks(ids, rules, background) as checks:
        checks.check_files(stage, ["tables/small.csv", "tables/ok.csv"], specs)
        checks.check_here(stage, ["paper/paper.md"], specs)
        checks.check_files(stage, ["paper/paper.txt"], specs)
        found = checks.folder_breaches(stage, specs)
    expected = check_folder(stage, specs, rules, ids)
    assert found == expected
    assert any("paper/paper.md" in b for b in found) and any("small.csv" in b for b in found)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forked processes (Linux)")
def test_a_run_that_stops_early_ends_the_process_deriving_the_cohort():
    class Slow:  # a cohort that takes a minute to derive (in the forked process)
        extract = _ctx().extract

        @property
        def cohort(self) -> None:
            time.sleep(60)

    with pytest.raises(RuntimeError, match="the extract failed"):
        with WhileScriptsRun(Slow()) as early:  # type: ignore[arg-type]
            early.start_cohort()
            proc = early._forked[0]  # type: ignore[index]
            raise RuntimeError("the extract failed")
    assert not proc.is_alive()
    assert early._forked is None
