"""`reunistat init`: a study folder from the template, set up to run on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from reunistat.cli import main
from reunistat.errors import PipelineError
from reunistat.pipeline import load_config
from reunistat.pipeline.study import EXTRACT_DIR, SYNTHETIC_DIR, init_study, template_root

REPO = Path(__file__).resolve().parents[1]


def test_template_is_the_repositorys_own_analyses_and_paper() -> None:
    # from a checkout (editable install) the template is the repository itself
    assert Path(str(template_root())).resolve() == REPO


def test_init_copies_every_script_and_sets_the_config_for_the_folder(tmp_path: Path) -> None:
    study = init_study(tmp_path / "study")
    root = study.root
    scripts = sorted(p.name for p in (REPO / "analyses").glob("[0-9][0-9]_*.py"))
    assert scripts and sorted(p.name for p in (root / "analyses").glob("*.py")) == scripts
    for name in scripts:
        assert (root / "analyses" / name).read_bytes() == (REPO / "analyses" / name).read_bytes()
    assert (root / "paper/paper.md").read_bytes() == (REPO / "paper/paper.md").read_bytes()
    for f in ("README.md", ".gitignore", "Makefile", "analyses/config.toml"):
        assert Path(f) in study.files and (root / f).is_file()
    cfg = load_config(root / "analyses/config.toml")
    assert cfg.mode == "real" and cfg.data_dir == Path(EXTRACT_DIR)
    # every other setting is the repository's
    repo = load_config(REPO / "analyses/config.toml")
    assert cfg.covariates == repo.covariates and cfg.threshold == repo.threshold
    assert cfg.analyses_dir == Path("analyses") and cfg.paper_template == Path("paper/paper.md")
    assert "(this study folder)" in (root / "analyses/config.toml").read_text()
    ignored = (root / ".gitignore").read_text().split()
    assert "/data/" in ignored and "/outputs/" in ignored and "/.outputs.lock" in ignored
    assert "reunistat reproduce --data $(DATA)" in (root / "Makefile").read_text()


def test_init_synthetic_mode(tmp_path: Path) -> None:
    study = init_study(tmp_path / "s", mode="synthetic", name="Pilot study")
    cfg = load_config(study.root / "analyses/config.toml")
    assert cfg.mode == "synthetic" and cfg.data_dir == Path(SYNTHETIC_DIR)
    assert (study.root / "README.md").read_text().startswith("# Pilot study\n")


def test_init_refuses_a_folder_in_use_and_writes_nothing(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    with pytest.raises(PipelineError, match="not an empty folder"):
        init_study(used)
    assert [p.name for p in used.iterdir()] == ["notes.txt"]
    with pytest.raises(PipelineError, match="mode must be"):
        init_study(tmp_path / "x", mode="national")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert init_study(empty).root == empty  # an empty folder is fine


def test_init_fails_when_the_template_config_cannot_be_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template"
    (template / "analyses").mkdir(parents=True)
    (template / "paper").mkdir()
    (template / "analyses/config.toml").write_text('[data]\n"mode" = "synthetic"\n')
    monkeypatch.setattr("reunistat.pipeline.study.template_root", lambda: template)
    with pytest.raises(PipelineError, match="could not be set"):
        init_study(tmp_path / "study")


def test_cli_init_and_its_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["init", str(tmp_path / "s"), "--mode", "synthetic"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert "analysis scripts" in out and "reunistat reproduce --data" in out
    with pytest.raises(SystemExit) as failed:
        main(["init", str(tmp_path / "s")])
    assert failed.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not an empty folder" in err
