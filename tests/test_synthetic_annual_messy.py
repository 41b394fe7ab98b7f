"""Messy annual mode: every listed fault is in the files where the list says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from reunistat.synthetic import default_config, generate

FAULTS = {
    "stale_corrected_copy",
    "vanished_open_episode",
    "duplicate_row",
    "lowercase_code",
    "blank_la",
    "future_dec",
    "us_date_format",
    "cp1252_file",
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("messy")
    d = generate(default_config(), seed=6, scale=0.02, annual=True, messy=True)
    d.write(out)
    return d, out


def raw(out: Path, year: int, table: str = "episodes") -> pd.DataFrame:
    return pd.read_csv(out / str(year) / f"{table}.csv", dtype=str, keep_default_na=False)


def fmt(d: pd.Timestamp, us: bool = False) -> str:
    return d.strftime("%m/%d/%Y" if us else "%d/%m/%Y")


def test_every_kind_is_listed_once_per_child(written):
    d, out = written
    f = d.faults
    assert set(f["fault"]) == FAULTS
    kids = f.dropna(subset=["CHILD"])
    assert not kids.duplicated(["LA", "CHILD"]).any()
    assert (f.loc[f["CHILD"].isna(), "fault"].isin(["us_date_format", "cp1252_file"])).all()
    assert pd.read_parquet(out / "faults.parquet").shape == f.shape


def _us_years(d) -> set[int]:
    return set(d.faults.loc[d.faults["fault"] == "us_date_format", "collection_year"])


def test_child_faults_are_in_the_files(written):
    d, out = written
    us = _us_years(d)
    for r in d.faults.dropna(subset=["CHILD"]).itertuples(index=False):
        y = int(r.collection_year)
        e = raw(out, y)
        decom = fmt(r.DECOM, us=y in us)
        same = (e["CHILD"] == r.CHILD) & (e["DECOM"] == decom)
        if r.fault == "duplicate_row":
            rows = e[same]
            assert len(rows) == 2 and rows.iloc[0].equals(rows.iloc[1]), r
        elif r.fault == "lowercase_code":
            row = e[same].iloc[0]
            assert row["RNE"].islower() and row["PLACE"].islower(), r
        elif r.fault == "blank_la":
            assert (e.loc[same, "LA"] == "").all() and same.sum() == 1, r
        elif r.fault == "future_dec":
            dec = pd.to_datetime(e.loc[same, "DEC"], format="%d/%m/%Y")
            assert (dec > pd.Timestamp(d.truth["data_end"])).all() and same.sum() == 1, r
        elif r.fault == "vanished_open_episode":
            before = raw(out, y - 1)
            was = (before["CHILD"] == r.CHILD) & (before["DECOM"] == fmt(r.DECOM, y - 1 in us))
            assert (before.loc[was, "DEC"] == "").all() and was.sum() == 1, r
            assert not same.any(), r
        elif r.fault == "stale_corrected_copy":
            assert (e["CHILD"] == r.CHILD).any()
            c = d.truth_tables["corrections"]
            assert ((c["CHILD"] == r.CHILD) & (c["DECOM"] == r.DECOM)).sum() == 1


def test_file_faults_are_in_the_files(written):
    d, out = written
    for y in _us_years(d):
        text = raw(out, y)["DECOM"]
        as_us = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
        as_uk = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
        assert as_us.notna().all() and as_uk.isna().any()
    blob = (out / "la.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        blob.decode("utf-8")
    name = d.faults.loc[d.faults["fault"] == "cp1252_file", "detail"].iloc[0]
    la = pd.read_csv(out / "la.csv", dtype=str, encoding="cp1252")
    assert any(n in name for n in la["LA_NAME"] if not n.isascii())


def test_clean_children_are_untouched(written):
    d, _ = written
    clean = generate(default_config(), seed=6, scale=0.02, annual=True)
    hit = set(d.faults["CHILD"].dropna())
    for y in d.returns:
        a, b = clean.returns[y]["episodes"], d.returns[y]["episodes"]
        ka, kb = ~a["CHILD"].isin(hit), ~b["CHILD"].isin(hit)
        pd.testing.assert_frame_equal(
            a.loc[ka].reset_index(drop=True), b.loc[kb].reset_index(drop=True)
        )
