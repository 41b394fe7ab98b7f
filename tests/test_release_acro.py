"""ACRO run by ``reproduce`` (issue 11, item 2): its results beside the release, or why not.

A whole run with ACRO available writes ACRO's results folder beside the
outputs (``<outputs>-acro/results.json``, as the SACRO viewer opens it) and
the disclosure report says what ACRO checked and flagged; a run without it,
or a partial run, says "ACRO not run: ..." and why, never nothing. ACRO pins
``pandas<=2.3.3``, so it runs from its own virtual environment
(``/work/venvs/acro`` on the development machine).
"""

from __future__ import annotations

import json
import types
from pathlib import Path

from reunistat.pipeline import load_config, reproduce
from reunistat.pipeline.acro_step import acro_folder
from reunistat.report import acro_check

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/synthetic/sample"
ACRO_VENV_PYTHON = Path("/work/venvs/acro/bin/python")
SCRIPT = """
import pandas as pd


def run(ctx):
    ctx.write_frame("fine", pd.DataFrame({"x": [1.5]}), title="t", function="f",
                    disclosure={"type": "none"})
"""


def _cfg(tmp: Path, **changes):
    data = tmp / "extract"
    data.mkdir()
    for t in ("header", "episodes", "la"):
        (data / f"{t}.csv").write_bytes((SAMPLE / f"{t}.csv").read_bytes())
    analyses = tmp / "analyses"
    analyses.mkdir()
    (analyses / "01_fine.py").write_text(SCRIPT)
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        mode="real",
        data_dir=data,
        outputs_dir=tmp / "outputs",
        analyses_dir=analyses,
        paper_template=None,
    )
    return cfg.with_changes(**changes)


def _report(tmp: Path) -> str:
    return (tmp / "outputs" / "disclosure_report.md").read_text("utf-8")


def test_without_acro_the_report_says_it_was_not_run_and_why(tmp_path, monkeypatch):
    monkeypatch.delenv(acro_check.ACRO_PYTHON_ENV, raising=False)
    no_acro = types.SimpleNamespace(util=types.SimpleNamespace(find_spec=lambda name: None))
    monkeypatch.setattr(acro_check, "importlib", no_acro)
    cfg = _cfg(tmp_path)
    assert cfg.acro_python is None
    reproduce(cfg, paper=False, log=lambda s: None)
    report = _report(tmp_path)
    assert "## ACRO, the SACRO output checker" in report
    assert "ACRO not run: acro is not installed in this Python and none is configured" in report
    assert "acro_python" in report  # how to make it run
    assert not acro_folder(tmp_path / "outputs").exists()
    # a configured Python that is not there: said so, the release is still checked
    missing = str(tmp_path / "no-venv" / "bin" / "python")
    reproduce(cfg.with_changes(acro_python=missing), paper=False, log=lambda s: None)
    assert f"ACRO not run: the configured acro_python {missing} does not exist" in _report(tmp_path)
    assert json.loads((tmp_path / "outputs" / "manifest.json").read_text())["status"] == "passed"


def test_the_config_key_is_read(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('[disclosure]\nacro_python = "/opt/acro/bin/python"\n')
    assert load_config(toml).acro_python == "/opt/acro/bin/python"
    toml.write_text('[disclosure]\nacro_python = ""\n')
    assert load_config(toml).acro_python is None


def test_acro_results_beside_the_release_and_summarised_in_the_report(tmp_path, monkeypatch):
    """With ACRO's venv (the development machine): its results file beside the outputs.

    Where the venv is absent (CI), the configured Python is missing and the report
    must say so: the run never passes over ACRO silently.
    """
    monkeypatch.delenv(acro_check.ACRO_PYTHON_ENV, raising=False)
    cfg = _cfg(tmp_path, acro_python=str(ACRO_VENV_PYTHON))
    reproduce(cfg, paper=False, log=lambda s: None)
    out = tmp_path / "outputs"
    report = _report(tmp_path)
    if not ACRO_VENV_PYTHON.is_file():
        assert "ACRO not run: the configured acro_python" in report
        return
    results = acro_folder(out) / "results.json"
    assert results.is_file() and results.parent.parent == out.parent  # beside, not inside
    doc = json.loads(results.read_text("utf-8"))
    assert doc["tool"]["name"] == "ACRO"
    summary = acro_check.summarise_acro(results)
    assert {"crosstab", "surv func"} <= set(summary["method"])
    assert "ACRO not run" not in report
    assert f"`../{acro_folder(out).name}/results.json`" in report
    assert "| crosstab | 11 |" in report
    # ACRO's unsuppressed review copies never enter the release folder
    assert not any("acro" in p.name.lower() for p in out.rglob("*"))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "passed"
    # a partial run leaves ACRO's results of the whole run and says why it did not run ACRO
    reproduce(cfg, only=["01"], paper=False, log=lambda s: None)
    assert "ACRO not run: a partial run" in _report(tmp_path)
    assert results.is_file()
    # a second whole run replaces the folder (no stale temporary folder left beside it)
    reproduce(cfg, paper=False, log=lambda s: None)
    assert results.is_file()
    assert not list(out.parent.glob(f".{acro_folder(out).name}.tmp-*"))


def test_acro_folders_are_byte_identical_with_source_date_epoch(tmp_path, monkeypatch):
    """ACRO stamps outputs with the time; SOURCE_DATE_EPOCH makes two sessions write the same."""
    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.tables import read_extract

    if not ACRO_VENV_PYTHON.is_file():  # CI: no ACRO venv; the stamp is tested on its own
        from reunistat.report._acro_session import fixed_time

        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        assert fixed_time() == "2023-11-14T22:13:20"
        return
    spells = build_cohort(read_extract(SAMPLE).tables, CohortConfig()).spells
    spells = spells.loc[spells["LA"].astype(str).isin(["312", "701"])]

    def folder(name: str) -> dict[str, bytes]:
        out = tmp_path / name
        acro_check.check_release_with_acro(
            spells,
            out,
            covariates="sex + section20 + prior_periods",
            horizon_days=365,
            python=str(ACRO_VENV_PYTHON),
        )
        return {
            p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()
        }

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    a, b = folder("a"), folder("b")
    assert a == b and "results.json" in a and "logistic_0.csv" in a
    assert b'"timestamp": "2023-11-14T22:13:20"' in a["results.json"]
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    c = folder("c")
    assert set(c) == set(a) and c["results.json"] != a["results.json"]  # the clock's time
