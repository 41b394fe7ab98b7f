"""analyses/04_cox.py reports the concordance at any size (10x national once lost it)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from reunistat.pipeline import load_config, reproduce

ROOT = Path(__file__).parents[1]
# the module (the package exports the function of the same name)
cox_module = importlib.import_module("reunistat.models.survival.cox")


def test_concordance_reported_above_the_automatic_limit(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # the sample is far below 250,000 returns home: lower the limit so it is above it
    monkeypatch.setattr(cox_module, "CONCORDANCE_AUTO_ROWS", 10)
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=ROOT / "data/synthetic/sample",
        outputs_dir=tmp_path / "outputs",
        analyses_dir=ROOT / "analyses",
        paper_template=ROOT / "paper/paper.md",
    )
    res = reproduce(cfg, only=["04"], paper=False, log=lambda s: None)
    assert res.breaches == []
    values = json.loads((tmp_path / "outputs/values.json").read_text())
    assert values["cox_concordance"]["value"] == pytest.approx(0.6, abs=0.1)
