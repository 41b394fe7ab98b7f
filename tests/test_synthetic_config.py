"""Generator configs: bad ones are refused with a message naming the key."""

from __future__ import annotations

import re

import pytest

from reunistat.synthetic import ConfigError, default_config, load_config


def write(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_default_config_loads_and_file_matches_package():
    from pathlib import Path

    repo_file = Path(__file__).parents[1] / "data/synthetic/england.toml"
    assert load_config(repo_file).values == default_config().values


def test_partial_override_keeps_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "[reentry.hazard_ratios]\nsection20 = 2.0\n"))
    assert cfg["reentry"]["hazard_ratios"]["section20"] == 2.0
    assert cfg["reentry"]["hazard_ratios"]["disability"] == 1.20
    assert cfg.sha256 != default_config().sha256


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[dataset]\nchildren_per_yeer = 5\n", "dataset.children_per_yeer"),
        ("[reentry.hazard_ratios]\nsectoin20 = 1.2\n", "reentry.hazard_ratios.sectoin20"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[population]\ndisability_rate = -0.1\n", "population.disability_rate"),
        ("[messy]\nduplicate_row = 1.5\n", "messy.duplicate_row"),
        ("[reentry.hazard_ratios]\nsection20 = 0\n", "reentry.hazard_ratios.section20"),
        ('[population.sex]\n"1" = 0.5\n"2" = 0.4\n', "population.sex"),
        ("[exits.return_home]\nE4A = 0.9\nE4B = 0.2\nE13 = 0.1\n", "exits.return_home"),
        ('[placements.types."16+"]\nU4 = 0.5\nQQ = 0.5\n', "QQ"),
        ('[dataset]\nchildren_per_year = "many"\n', "dataset.children_per_year"),
        ('[reentry]\nmodel = "weibull"\n', "reentry.model"),
        ("[reentry]\nbaseline_knots_days = [0, 30]\n", "reentry.baseline_knots_days"),
    ],
)
def test_bad_config_names_the_key(tmp_path, text, names):
    with pytest.raises(ConfigError, match=re.escape(names)):
        load_config(write(tmp_path, text))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[dataset\n"))
