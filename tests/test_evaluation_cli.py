"""``reunistat evaluate``, ``power`` and ``costs`` on generated data through the cohort."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reunistat.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from reunistat.cohort import CohortConfig, derive_cohort
    from reunistat.synthetic import default_config, generate

    cfg = default_config().with_overrides({"pilot.n_authorities": 30})
    g = generate(cfg, seed=4, scale=0.05, progress=False)
    spells = derive_cohort(g.tables, CohortConfig(data_end=g.truth["data_end"]))
    out = tmp_path_factory.mktemp("ev")
    spells.to_parquet(out / "spells.parquet")
    g.tables["la"].to_parquet(out / "la.parquet")
    return out / "spells.parquet", out / "la.parquet"


def test_evaluate_comparison_and_did(files: tuple[Path, Path]) -> None:
    spells, la = files
    for design, expect in (("comparison", "Cox (HR)"), ("did", "pre-trend test")):
        res = runner.invoke(app, ["evaluate", str(spells), "--la", str(la), "--design", design])
        assert res.exit_code == 0, res.output
        assert expect in res.output


def test_evaluate_weighting_and_bad_horizon(files: tuple[Path, Path]) -> None:
    spells, la = files
    res = runner.invoke(
        app,
        ["evaluate", str(spells), "--la", str(la), "--design", "weighting", "--n-boot", "5"],
    )
    assert res.exit_code == 0, res.output
    assert "rd_365d" in res.output and "smd_weighted" in res.output
    bad = runner.invoke(
        app, ["evaluate", str(spells), "--la", str(la), "--design", "did", "--horizon", "9000"]
    )
    assert bad.exit_code == 2 and "beyond follow-up" in bad.output


def test_weighting_that_cannot_be_made_is_a_line_in_all_and_an_error_alone(
    files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --design all, a weighting the data cannot support does not sink the other designs."""
    from reunistat.errors import EvaluationError
    from reunistat.models import evaluation as ev

    def separates(*args: object, **kwargs: object) -> None:
        raise EvaluationError("the pilot and comparison groups do not overlap")

    monkeypatch.setattr(ev, "propensity_weighting", separates)
    spells, la = files
    every = runner.invoke(app, ["evaluate", str(spells), "--la", str(la), "--design", "all"])
    assert every.exit_code == 0, every.output
    assert "pre-trend test" in every.output and "Cox (HR)" in every.output
    assert "Overlap-weighted comparison: not estimable on this data: the pilot" in every.output
    alone = runner.invoke(app, ["evaluate", str(spells), "--la", str(la), "--design", "weighting"])
    assert alone.exit_code == 2 and "do not overlap" in alone.output


def test_power_and_costs() -> None:
    res = runner.invoke(
        app, ["power", "--replicates", "4", "--returns-per-year", "1500", "--jobs", "1", "-q"]
    )
    assert res.exit_code == 0, res.output
    assert "simulated power" in res.output and "Schoenfeld" in res.output
    c = runner.invoke(app, ["costs", "--ci", "0.6", "0.94", "--sensitivity"])
    assert c.exit_code == 0, c.output
    assert "291,927,132" in c.output and "56,720,160" in c.output and "2012/13" in c.output
    r = runner.invoke(
        app,
        [
            "costs",
            "--price-index",
            "2012/13=100",
            "--price-index",
            "2020/21=110",
            "--to-year",
            "2020/21",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2020/21 prices" in r.output and f"{round(10_080 * 5_627 * 1.1):,}" in r.output
    nope = runner.invoke(app, ["costs", "--to-year", "2020/21"])
    assert nope.exit_code == 2 and "no value for '2012/13'" in nope.output
    bad = runner.invoke(app, ["power", "--pilots", "0"])
    assert bad.exit_code == 2 and "n_pilot" in bad.output


def test_costs_without_ci_says_not_estimated_and_names_its_baseline() -> None:
    res = runner.invoke(app, ["costs"])
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "not estimated" in out and "0.00" not in out
    assert "Baseline: 20.0% of 10,080 returns home" in out and "Goldacre" in out
    assert "Not Holmes" in out
    assert not re.search(r"\d[eE][+-]?\d|\d,\d{3}\.\d", out)  # whole numbers, no exponent
    mine = runner.invoke(app, ["costs", "--baseline-risk", "0.3", "--ci", "0.6", "0.94"])
    assert mine.exit_code == 0, mine.output
    assert "Baseline: 30.0%" in mine.output and "of 10,000 simulation draws" in mine.output
