"""``reunistat synth``: the command line, the committed sample, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from reunistat.cli import app

SAMPLE = Path(__file__).parents[1] / "data/synthetic/sample"
runner = CliRunner()


def test_synth_writes_tables_truth_and_checksums(tmp_path):
    res = runner.invoke(
        app, ["synth", "--out", str(tmp_path), "--scale", "0.003", "--seed", "2", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert "returns home" in res.output and "6 years" in res.output
    for name in ("header", "episodes", "cin", "npd", "postcodes", "la", "truth_returns"):
        assert (tmp_path / f"{name}.parquet").exists()
    assert not (tmp_path / "episodes.csv").exists()
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["seed"] == 2 and truth["scale"] == 0.003


def test_synth_reports_a_bad_config_by_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[reentry.hazard_ratios]\nsection_20 = 1.3\n")
    res = runner.invoke(app, ["synth", "--out", str(tmp_path / "o"), "--config", str(bad)])
    assert res.exit_code != 0
    assert "reentry.hazard_ratios.section_20" in res.output


def test_committed_sample_is_reproduced_byte_for_byte(tmp_path):
    """The sample in data/synthetic/sample is exactly what its seed regenerates."""
    truth = json.loads((SAMPLE / "truth.json").read_text())
    res = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path),
            "--scale",
            str(truth["scale"]),
            "--seed",
            str(truth["seed"]),
            "--csv",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "SHA256SUMS").read_text() == (SAMPLE / "SHA256SUMS").read_text()


def test_committed_sample_matches_its_checksums():
    from reunistat.synthetic.dataset import file_sha256

    for line in (SAMPLE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert file_sha256(SAMPLE / name) == digest, name


def test_dfe_csv_format():
    head = (SAMPLE / "episodes.csv").read_text().splitlines()[:50]
    assert head[0].split(",")[:4] == ["LA", "CHILD", "DECOM", "RNE"]
    decom = [row.split(",")[2] for row in head[1:]]
    assert all(len(d) == 10 and d[2] == "/" and d[5] == "/" for d in decom)
