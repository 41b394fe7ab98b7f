"""The cohort derived in a process forked from the run is the cohort the run would derive.

The run's process forks, once the extract is read, a process that derives the
cohort and sends it back (:mod:`reunistat.pipeline.forked_cohort`): it must be
what the run's process would have derived itself, and a forked process that
fails leaves the work to it.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from pathlib import Path

import pandas as pd
import pytest

from reunistat.cohort import CohortConfig, build_cohort
from reunistat.pipeline import finish, load_config
from reunistat.pipeline.context import Context
from reunistat.pipeline.finish import WhileScriptsRun
from reunistat.pipeline.forked_cohort import (
    TheExtracts,
    messages,
    portable,
    receive_cohort,
    received,
    restored,
    send_cohort,
)
from reunistat.pipeline.verify import release_identifiers
from reunistat.results import data_hash

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forked processes (Linux)")

ROOT = Path(__file__).parents[1]


def _context(tmp: Path) -> Context:
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=ROOT / "data/synthetic/sample", outputs_dir=tmp / "out"
    )
    ctx = Context(cfg, lambda s: None)
    _ = ctx.extract
    return ctx


def _same_cohort(got, here, tables) -> None:
    for name in ("spells", "flow", "periods"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(here, name), check_exact=True)
    assert data_hash(got.spells) == data_hash(here.spells)
    assert (got.data_end, got.config, got.extent) == (here.data_end, here.config, here.extent)
    assert got.tables_used == here.tables_used
    v, w = got.validated, here.validated
    assert list(v.tables) == list(w.tables)
    for k, df in v.tables.items():
        pd.testing.assert_frame_equal(df, w.tables[k], check_exact=True)
        assert (df is tables.get(k)) == (w.tables[k] is tables.get(k))  # the run's own frames
    for f in ("problems", "excluded_children", "excluded_rows", "warnings", "repairs"):
        pd.testing.assert_frame_equal(getattr(v, f), getattr(w, f), check_exact=True)
    assert (v.mode, v.notes) == (w.mode, w.notes)


def _derived_here(ctx: Context):
    return build_cohort(ctx.extract, CohortConfig.from_mapping(ctx.config.cohort))


def test_the_forked_process_sends_the_cohort_the_run_would_make(tmp_path):
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort()
        assert early._forked is not None
        early.take_cohort()
        assert "cohort" in vars(ctx) and early._forked is None
        early.run()  # the identifiers and hash, here
    assert early._ending is None  # the forked process was joined with the run
    assert "periods" not in vars(ctx.cohort)  # not sent: derived here when first read
    here = _derived_here(ctx)
    _same_cohort(ctx.cohort, here, ctx.extract.tables)
    assert early.identifiers == release_identifiers(ctx.extract.tables, here.data_end.date())
    assert early.spells_sha256 == data_hash(here.spells.reset_index(drop=True))


@pytest.mark.parametrize("sent_first", [False, True])
def test_a_forked_process_that_fails_leaves_the_cohort_to_the_run(
    tmp_path, monkeypatch, sent_first
):
    def fails(send, cohort, tables):
        if sent_first:  # the spells sent, then it fails: the receiver meets the pipe's end
            send.send(cohort.spells)
        raise RuntimeError("cannot send")

    monkeypatch.setattr(finish, "send_cohort", fails)  # the forked process inherits it
    ctx = _context(tmp_path)
    with WhileScriptsRun(ctx) as early:
        early.start_cohort()
        early.take_cohort()
        assert early._forked is None  # it sent nothing and has ended
        early.run(final=True)
    here = _derived_here(ctx)
    _same_cohort(ctx.cohort, here, ctx.extract.tables)
    assert early.spells_sha256 == data_hash(here.spells.reset_index(drop=True))


def test_only_the_tables_that_are_not_the_extracts_own_frames_are_sent(tmp_path):
    ctx = _context(tmp_path)
    cohort = _derived_here(ctx)
    tables = ctx.extract.tables
    changed = {k: df.copy() for k, df in cohort.validated.tables.items()}
    changed["episodes"] = tables["episodes"]  # one table the extract's own, one not
    changed["header"] = tables["header"].copy()
    cohort = dataclasses.replace(
        cohort, validated=dataclasses.replace(cohort.validated, tables=changed)
    )
    sent = portable(cohort, tables)
    assert sent.validated.tables["episodes"] == TheExtracts("episodes")
    assert isinstance(sent.validated.tables["header"], pd.DataFrame)
    got = restored(pickle.loads(pickle.dumps(sent)), tables)
    assert got.validated.tables["episodes"] is tables["episodes"]
    assert got.validated.tables["header"] is not tables["header"]
    _same_cohort(got, cohort, tables)


def test_the_cohort_sent_in_two_messages_is_received_whole(tmp_path):
    import multiprocessing
    import threading

    ctx = _context(tmp_path)
    cohort, tables = _derived_here(ctx), ctx.extract.tables
    receive, send = multiprocessing.Pipe(duplex=False)
    sender = threading.Thread(target=send_cohort, args=(send, cohort, tables))
    sender.start()  # a pipe holds little: the sender waits for the receiver
    got = receive_cohort(receive, ctx.extract)
    sender.join()
    assert "periods" not in vars(got)  # not sent, derived from the extract when read:
    _same_cohort(got, cohort, tables)
    assert vars(got)["periods"] is got.periods  # once

    def stops(send):  # the sender stops after the spells
        for message in messages(cohort.spells):
            send.send_bytes(message)
        send.close()

    sender = threading.Thread(target=stops, args=(send,))
    sender.start()
    with pytest.raises(EOFError):
        receive_cohort(receive, ctx.extract)
    sender.join()


def test_arrays_sent_out_of_band_come_back_writable_and_equal():
    import multiprocessing
    import threading

    import numpy as np
    import pyarrow as pa

    frame = pd.DataFrame(
        {
            "n": np.arange(5, dtype=np.int64),
            "x": [0.5, np.nan, 2.0, -1.0, 3.25],
            "k": pd.array([1, None, 3, 4, None], dtype="Int64"),
            "d": pd.to_datetime(["2020-01-02", None, "2021-03-31", "2019-12-31", "2020-06-01"]),
            "c": pd.Categorical(["a", "b", None, "a", "b"]),
            "s": ["p", None, "q", "r", "s"],
        }
    )
    sent = {"frame": frame, "text": pa.array(["A1", None, "B2"]), "n": 7}
    receive, send = multiprocessing.Pipe(duplex=False)
    written = messages(sent)
    assert len(written) > 2  # the arrays out of band
    sender = threading.Thread(target=lambda: [send.send_bytes(m) for m in written])
    sender.start()
    got = received(receive)
    sender.join()
    pd.testing.assert_frame_equal(got["frame"], frame, check_exact=True)
    assert got["text"].equals(sent["text"]) and got["n"] == 7
    for block in got["frame"]._mgr.blocks:
        values = getattr(block.values, "_ndarray", block.values)
        assert getattr(values, "_data", values).flags.writeable
    got["frame"].loc[0, "n"] = 9  # changed in place, as a frame unpickled in-band
    assert got["frame"]["n"].tolist() == [9, 1, 2, 3, 4]
