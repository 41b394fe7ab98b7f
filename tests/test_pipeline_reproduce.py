"""The whole pipeline on the committed sample: outputs, manifest, reproducibility, disclosure.

One module-scoped run of ``reunistat reproduce`` on data/synthetic/sample is
shared; a second run checks byte-identical outputs; a run on data generated
with another seed checks that the outputs change; planted breaches in a
real-data-mode run must be caught.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reunistat.cli import app
from reunistat.pipeline import (
    PipelineConfig,
    PipelineError,
    load_config,
    reproduce,
    sha256_file,
    verify_manifest,
)
from reunistat.report.disclosure import DisclosureBreach
from reunistat.report.paper import PANDOC_ARGS, pandoc

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/synthetic/sample"
CONFIG = ROOT / "analyses/config.toml"


def _cfg(tmp: Path, **changes) -> PipelineConfig:
    base = load_config(CONFIG).with_changes(
        data_dir=SAMPLE,
        outputs_dir=tmp / "outputs",
        analyses_dir=ROOT / "analyses",
        paper_template=ROOT / "paper/paper.md",
        power_replicates=2,
    )
    return base.with_changes(**changes)


def _hashes(manifest: dict) -> dict[str, str]:
    return {o["path"]: o["sha256"] for o in manifest["outputs"]}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run1")
    return _cfg(tmp), reproduce(_cfg(tmp), log=lambda s: None)


def test_every_registered_output_exists_and_matches_the_manifest(first_run):
    cfg, result = first_run
    m = json.loads(result.manifest_path.read_text())
    assert m["status"] == "passed" and m["disclosure_breaches"] == []
    assert m["run"] == "full"
    assert verify_manifest(cfg.outputs_dir) == []
    paths = {o["path"] for o in m["outputs"]}
    for p in (
        "tables/table1.csv",
        "tables/cohort_flow.md",
        "tables/cox.html",
        "reunistat_tables.xlsx",
        "tables/logistic.csv",
        "figures/cox_forest.svg",
        "figures/cox_forest.png",
        "figures/cox_forest.alt.txt",
        "paper/paper.html",
        "paper/paper.docx",
        "values.json",
        "disclosure_report.md",
    ):
        assert p in paths, p
    for o in m["outputs"]:
        assert o["script"] and o["function"], o
    for key in ("inputs", "config", "seed", "versions", "git", "created_utc"):
        assert key in m
    assert any(i["path"] == "episodes.parquet" for i in m["inputs"])
    # disclosure control is off for the committed sample only
    assert m["disclosure"]["apply"] is False


def test_the_paper_quotes_outputs_and_names_the_scripts(first_run):
    cfg, _ = first_run
    paper = (cfg.outputs_dir / "paper/paper.md").read_text()
    values = json.loads((cfg.outputs_dir / "values.json").read_text())
    assert "{{" not in paper
    assert values["n_spells"]["text"] in paper
    assert "analyses/04_cox.py" in paper
    html = (cfg.outputs_dir / "paper/paper.html").read_text()
    assert "data:image/png;base64" in html and "alt=" in html


CORE = ["01", "02", "04", "05"]  # what the paper needs outside its optional blocks


def test_a_second_run_is_byte_identical(first_run, tmp_path):
    """Tables and figures (PNG, SVG) of a second run have the same bytes."""
    _, r1 = first_run
    r2 = reproduce(_cfg(tmp_path), only=CORE, paper=False, log=lambda s: None)
    h1, h2 = _hashes(r1.manifest), _hashes(r2.manifest)
    same = [p for p in h2 if p.startswith(("tables/", "figures/"))]
    assert {p.rsplit(".", 1)[1] for p in same} >= {"csv", "md", "html", "png", "svg"}
    assert {p: h1[p] for p in same} == {p: h2[p] for p in same}


def test_the_analyses_use_no_deprecated_spelling(tmp_path):
    """The shipped scripts (what ``reunistat init`` copies to a user) call the models in the
    current vocabulary: run in this process, they raise no DeprecationWarning of ours
    (04 once passed its outcome as a formula's left side)."""
    import warnings

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", DeprecationWarning)
        reproduce(_cfg(tmp_path, analysis_jobs=1), paper=False, log=lambda s: None)
    ours = [str(w.message) for w in seen if "will be removed in the next release" in str(w.message)]
    assert ours == []


def test_the_paper_build_is_byte_identical(first_run, tmp_path):
    """Rebuilding the paper from the same outputs gives the same HTML and DOCX bytes."""
    cfg, r1 = first_run
    out = tmp_path / "again"
    for ext in ("html", "docx"):
        pandoc(cfg.outputs_dir / "paper/paper.md", out.with_suffix(f".{ext}"), PANDOC_ARGS[ext])
        assert sha256_file(out.with_suffix(f".{ext}")) == _hashes(r1.manifest)[f"paper/paper.{ext}"]


def test_another_seed_changes_the_outputs(first_run, tmp_path):
    _, r1 = first_run
    cfg = _cfg(tmp_path, data_dir=tmp_path / "data", seed=7, scale=0.01, disclosure_apply=False)
    r2 = reproduce(cfg, only=CORE, paper=False, log=lambda s: None)
    assert (tmp_path / "data/truth.json").exists()  # generated because missing
    h1, h2 = _hashes(r1.manifest), _hashes(r2.manifest)
    tables = [p for p in h2 if p.endswith((".csv", ".png")) and "costs_national" not in p]
    assert tables and all(h1[p] != h2[p] for p in tables)
    assert r2.manifest["data_seed"] == 7


PLANTED = """
import pandas as pd
from reunistat.report.tables import CountTable


def run(ctx):
    t = pd.DataFrame({"key": ["a", "b", "all"], "n": ["3", "40", "43"]})
    lines = [[("a", "n"), ("b", "n"), ("all", "n")]]
    ctx.write_counts("planted", CountTable(t, ["n"], lines, "key"), title="planted",
                     function="tests.planted")
"""


def _planted_cfg(tmp: Path, script: str) -> PipelineConfig:
    analyses = tmp / "analyses"
    analyses.mkdir()
    (analyses / "01_planted.py").write_text(script)
    return _cfg(tmp, mode="real", analyses_dir=analyses)


def test_a_planted_small_cell_fails_a_real_data_run(tmp_path):
    cfg = _planted_cfg(tmp_path, PLANTED)
    assert cfg.disclosure.apply
    with pytest.raises(DisclosureBreach) as err:
        reproduce(cfg, paper=False, log=lambda s: None)
    msg = str(err.value)
    assert "tables/planted.csv" in msg and "a count below the threshold" in msg
    assert " 3 " not in msg  # the breach never quotes the small count
    report = (cfg.outputs_dir / "disclosure_report.md").read_text()
    assert "FAILED" in report
    m = json.loads((cfg.outputs_dir / "manifest.json").read_text())
    assert m["status"] == "disclosure check failed"


def test_identifiers_and_unregistered_files_fail_in_any_mode(tmp_path):
    script = """
import pandas as pd


def run(ctx):
    child = ctx.spells["CHILD"].iloc[0]
    ctx.write_frame("ids", pd.DataFrame({"who": [child]}), title="ids", function="t",
                    disclosure={"type": "none"})
    (ctx.out / "stray.txt").write_text("unchecked")
"""
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    (analyses / "01_ids.py").write_text(script)
    cfg = _cfg(tmp_path, analyses_dir=analyses)
    assert not cfg.disclosure.apply
    with pytest.raises(DisclosureBreach) as err:
        reproduce(cfg, paper=False, log=lambda s: None)
    msg = str(err.value)
    assert "child identifier" in msg and "stray.txt" in msg


def test_a_failing_script_does_not_stop_the_others_but_fails_the_run(tmp_path):
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    (analyses / "01_broken.py").write_text("def run(ctx):\n    raise ValueError('no luck')\n")
    (analyses / "02_fine.py").write_text(
        "import pandas as pd\n\n\ndef run(ctx):\n"
        "    ctx.write_frame('fine', pd.DataFrame({'x': [1.5]}), title='t', function='f',\n"
        "                    disclosure={'type': 'none'})\n"
    )
    cfg = _cfg(tmp_path, analyses_dir=analyses)
    with pytest.raises(PipelineError, match=r"01_broken\.py: ValueError: no luck"):
        reproduce(cfg, paper=False, log=lambda s: None)
    m = json.loads((cfg.outputs_dir / "manifest.json").read_text())
    assert m["status"] == "failed" and "tables/fine.csv" in {o["path"] for o in m["outputs"]}
    assert verify_manifest(cfg.outputs_dir) == []


def test_config_errors_name_the_key(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[data]\nmood = 'real'\n")
    with pytest.raises(PipelineError, match=r"data\.mood"):
        load_config(bad)
    bad.write_text("[data]\nmode = 'fake'\n")
    with pytest.raises(PipelineError, match="mode"):
        load_config(bad)
    res = CliRunner().invoke(app, ["reproduce", "--config", str(bad)])
    assert res.exit_code != 0


def test_real_mode_never_generates_data(tmp_path):
    cfg = _cfg(tmp_path, mode="real", data_dir=tmp_path / "none")
    with pytest.raises(PipelineError, match="holds no extract"):
        reproduce(cfg, paper=False, log=lambda s: None)


def test_outputs_folder_that_is_not_ours_is_left_alone(tmp_path):
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "precious.txt").write_text("keep")
    with pytest.raises(PipelineError, match="left alone"):
        reproduce(_cfg(tmp_path), paper=False, log=lambda s: None)
    assert (tmp_path / "outputs" / "precious.txt").exists()


def test_cli_verify_checks_files_against_the_manifest(first_run, tmp_path, capsys):
    import shutil

    from reunistat.cli import main

    cfg, _ = first_run
    copy = tmp_path / "copy"
    shutil.copytree(cfg.outputs_dir, copy)
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "--verify", "--out", str(copy), "--data", str(SAMPLE)])
    assert exit_.value.code == 0
    assert "every file matches the manifest" in capsys.readouterr().out
    (copy / "tables/table1.csv").write_text("tampered\n")
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "--verify", "--out", str(copy), "--data", str(SAMPLE)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "tables/table1.csv" in err and err.strip().endswith("listed above")


def test_one_script_on_its_own_updates_the_manifest(tmp_path, monkeypatch):
    from reunistat.pipeline import run_script

    monkeypatch.chdir(ROOT)
    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text(f"[data]\ndir = '{SAMPLE}'\n[outputs]\ndir = '{tmp_path / 'out'}'\n")
    run_script(ROOT / "analyses/02_table1.py", cfg_file)
    m = json.loads((tmp_path / "out/manifest.json").read_text())
    assert m["run"] == "partial" and verify_manifest(tmp_path / "out") == []
    assert m["partial_scripts"] == ["analyses/02_table1.py"]
    made = {o["path"] for o in m["outputs"] if o["script"] == "analyses/02_table1.py"}
    assert made == {f"tables/table1.{e}" for e in ("csv", "md", "html")}
    # the pipeline's own files are rewritten around it: checked and recorded
    assert {"values.json", "disclosure_report.md", "reunistat_tables.xlsx"} <= {
        o["path"] for o in m["outputs"]
    }
