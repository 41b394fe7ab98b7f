"""The version has one source, ``reunistat.__version__``, and everything else agrees with it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import reunistat
from reunistat.cli import main
from reunistat.results import package_versions

REPO = Path(__file__).resolve().parents[1]


def test_the_build_reads_the_version_from_the_package() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    path = project["tool"]["hatch"]["version"]["path"]
    assert (REPO / path).resolve() == Path(reunistat.__file__).resolve()
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc|\.dev)?\d*", reunistat.__version__)


def test_citation_changelog_manifest_and_cli_agree(capsys: pytest.CaptureFixture[str]) -> None:
    v = reunistat.__version__
    cff = (REPO / "CITATION.cff").read_text("utf-8")
    assert re.search(r"(?m)^version: (\S+)$", cff).group(1) == v  # type: ignore[union-attr]
    changelog = (REPO / "CHANGELOG.md").read_text("utf-8")
    assert f"## [{v}]" in changelog
    assert package_versions()["reunistat"] == v  # what manifest.json records
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"reunistat {v}"


def test_the_docs_never_type_the_version() -> None:
    # the site shows the version by running reunistat.__version__ at build time
    pages = {p: p.read_text("utf-8") for p in (REPO / "docs").rglob("*.md")}
    assert any("reunistat.__version__" in text for text in pages.values())
    typed = re.compile(rf"\b{re.escape(reunistat.__version__)}\b")
    assert [p.name for p, text in pages.items() if typed.search(text)] == []
