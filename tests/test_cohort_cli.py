"""``reunistat cohort`` as a user runs it: the 0-spell error, --uasc, the data end reported."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from cohort_cases.sector import header_episodes_dir
from reunistat.cli import main
from reunistat.cohort.output import read_provenance

SAMPLE = Path("data/synthetic/sample")


def test_lenient_run_with_no_spell_left_exits_2_naming_the_rules(tmp_path, capsys):
    sector = header_episodes_dir()
    h = pd.read_csv(sector / "header.csv", dtype=str)
    e = pd.read_csv(sector / "episodes.csv", dtype=str)
    e["LS"] = "ZZ"
    h.to_csv(tmp_path / "header.csv", index=False)
    e.to_csv(tmp_path / "episodes.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        main(["cohort", str(tmp_path), "--out", str(tmp_path / "s.parquet"), "--mode", "lenient"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: lenient mode left no return home to analyse (0 spells)")
    assert re.search(r"children excluded: [\d,]+ by rule \S+", err) and "Traceback" not in err
    assert not (tmp_path / "s.parquet").exists()


def test_sample_run_records_how_the_data_end_was_found(tmp_path, capsys):
    data = tmp_path / "sample"
    shutil.copytree(SAMPLE, data)
    out = tmp_path / "s.parquet"
    args = ["cohort", str(data), "--out", str(out), "--uasc", "exclude", "--data-end", "2024-03-31"]
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())  # the flow's steps wrap at 100 columns
    assert "data end 2024-03-31: given in the configuration (data_end)" in printed
    prov = read_provenance(out)
    assert prov["config"]["uasc"] == "exclude"
    assert prov["extent"]["data_end_rule"] == "config"
    spells = pd.read_parquet(out)
    assert {"history_truncated", "period_truncated", "prior_returns_home", "uasc"} <= set(
        spells.columns
    )
