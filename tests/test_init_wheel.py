"""The built package outside the repository: wheel -> fresh venv -> init -> reproduce -> paper.

Marked ``wheel`` and run by ``make test`` as its own step (``make wheel-test``),
not by a plain ``pytest``: it builds the sdist and, from it, the wheel with
``uv build``, installs the wheel with its dependencies (pinned by
``requirements/lock.txt``) into a new virtual environment made by ``uv venv``
(no system site packages, no repository on the path), starts a study with
``reunistat init`` and runs ``reunistat reproduce`` on the committed sample
from the study folder. ``uv`` (a dev dependency) keeps it fast: packages come
from its cache, hard-linked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import reunistat
from reunistat import kernels

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "synthetic" / "sample"

pytestmark = pytest.mark.wheel


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is needed (pip install -e '.[dev]' installs it)"
    return found


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_in_a_fresh_venv_inits_a_study_and_reproduces_the_paper(tmp_path: Path) -> None:
    uv = _uv()
    # a clean environment: nothing of the repository or its venv on the path
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    timings: dict[str, float] = {}

    t = time.perf_counter()
    dist = tmp_path / "dist"
    _run([uv, "build", "--quiet", "--out-dir", str(dist), str(REPO)], tmp_path, env)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    assert wheel.name.startswith(f"reunistat-{reunistat.__version__}-")
    assert sdist.name == f"reunistat-{reunistat.__version__}.tar.gz"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for f in ("analyses/config.toml", "analyses/04_cox.py", "paper/paper.md"):
        assert f"reunistat/study/{f}" in names
    assert "reunistat/data/england.toml" in names
    assert not any("__pycache__" in n for n in names)
    timings["build"] = time.perf_counter() - t

    t = time.perf_counter()
    venv = tmp_path / "venv"
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path, env)
    py = venv / "bin" / "python"
    lock = REPO / "requirements" / "lock.txt"
    _run(
        [uv, "pip", "install", "--quiet", "--python", str(py), "-c", str(lock), str(wheel)],
        tmp_path,
        env,
    )
    timings["install"] = time.perf_counter() - t

    cli = str(venv / "bin" / "reunistat")
    where = _run([str(py), "-c", "import reunistat; print(reunistat.__file__)"], tmp_path, env)
    assert Path(where.strip()).is_relative_to(venv), where
    isolated = "import importlib.util as u; print(u.find_spec('pytest') is None)"
    assert _run([str(py), "-c", isolated], tmp_path, env).strip() == "True"  # no dev venv
    assert _run([cli, "--version"], tmp_path, env).strip() == f"reunistat {reunistat.__version__}"

    t = time.perf_counter()  # the generator's config ships in the package
    _run([cli, "synth", "--out", "synth", "--scale", "0.002", "--quiet"], tmp_path, env)
    assert "no problems found" in _run([cli, "validate", "synth"], tmp_path, env)
    assert "291,927,132" in _run([cli, "costs"], tmp_path, env)  # Holmes (2014)
    timings["synth+validate+costs"] = time.perf_counter() - t

    t = time.perf_counter()
    _run([cli, "init", "study", "--mode", "synthetic"], tmp_path, env)
    study = tmp_path / "study"
    assert (study / "analyses" / "01_cohort_flow.py").is_file()
    _run([cli, "reproduce", "--data", str(SAMPLE)], study, env)
    timings["init+reproduce"] = time.perf_counter() - t

    out = study / "outputs"
    html = (out / "paper" / "paper.html").read_text("utf-8")
    assert "Re-entry to care after a return home" in html and "{{" not in html
    assert (out / "paper" / "paper.docx").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert manifest["status"] == "passed"
    assert manifest["versions"]["reunistat"] == reunistat.__version__
    # the CLI chose the AVX2 kernels before numpy loaded (on an x86-64 CPU with AVX2 and FMA)
    assert manifest["kernels"]["portable"] is kernels.avx2_cpu()
    assert manifest["config_file"] == "analyses/config.toml"
    print("wheel test timings (s):", {k: round(v, 1) for k, v in timings.items()})
