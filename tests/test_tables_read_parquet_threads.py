"""Parquet files read two at a time (in threads) give what reading them one by one gives.

:func:`reunistat.tables.io.read_extract` reads the Parquet files of an
extract in two threads, largest first: the extract must be the one read file
by file (one core), and of several broken files the first in the files'
order names the error.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pytest

from reunistat.errors import ReadError
from reunistat.tables import read_extract

#: Its tables as Parquet files (CSV copies beside them are not read).
SAMPLE = Path(__file__).parents[1] / "data/synthetic/sample"


def _one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 1)


def _same(a: object, b: object) -> None:
    if isinstance(a, pd.DataFrame):
        assert isinstance(b, pd.DataFrame)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        for c in a.columns:
            if isinstance(a[c].dtype, pd.CategoricalDtype):
                assert list(a[c].cat.categories) == list(b[c].cat.categories)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    else:
        assert a == b


def test_the_extract_read_in_threads_is_the_one_read_file_by_file(monkeypatch: pytest.MonkeyPatch):
    threaded = read_extract(SAMPLE)
    _one_core(monkeypatch)
    serial = read_extract(SAMPLE)
    assert len(threaded.tables) > 2
    for f in dataclasses.fields(threaded):
        _same(getattr(threaded, f.name), getattr(serial, f.name))


def test_of_two_broken_files_the_first_in_order_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    folder = tmp_path / "x"
    folder.mkdir()
    for p in SAMPLE.glob("*.parquet"):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "cin.parquet").write_bytes(b"not parquet")
    (folder / "header.parquet").write_bytes(b"not parquet either")
    with pytest.raises(ReadError, match=r"cin\.parquet"):
        read_extract(folder)
    _one_core(monkeypatch)
    with pytest.raises(ReadError, match=r"cin\.parquet"):
        read_extract(folder)
