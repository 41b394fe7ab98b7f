"""The model packages import each public name's module on first use (reunistat._lazy)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": SRC},
        check=True,
    )
    return done.stdout.strip()


def test_the_release_imports_no_model_engine():
    # what the release-wide suppression reads, in the process forked for the cohort
    out = _run(
        """
        import sys
        import reunistat.report.release_plan
        from reunistat.models.logistic import horizon_outcome, outcome_name
        from reunistat.models.evaluation import mark_adoption
        from reunistat.results import data_hash  # the spells' hash
        print("scipy.stats" in sys.modules, "sklearn" in sys.modules)
        """
    )
    assert out == "False False"


@pytest.mark.parametrize(
    ("package", "name"),
    [("reunistat.models.logistic", "multilevel"), ("reunistat.models.evaluation", "did")],
)
def test_a_name_shared_with_its_module_stays_the_function(package, name):
    # importing the submodule first binds it on the package: the function is kept instead
    out = _run(
        f"""
        import sys, importlib
        importlib.import_module("{package}.{name}")
        from {package} import {name}
        print(callable({name}), {name} is sys.modules["{package}.{name}"].{name})
        """
    )
    assert out == "True True"


@pytest.mark.parametrize("package", ["reunistat.models.logistic", "reunistat.models.evaluation"])
def test_every_public_name_is_there(package):
    import importlib

    pkg = importlib.import_module(package)
    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
        assert name in dir(pkg)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        pkg.nothing  # noqa: B018


def test_the_scripts_names_are_imported_before_the_workers_fork(tmp_path):
    # import_for reads each imported name, so a lazy package's modules are imported once,
    # in the run's process, not in each worker
    script = tmp_path / "01_x.py"
    script.write_text("from reunistat.models.logistic import prediction_checks\n", "utf-8")
    out = _run(
        f"""
        import sys
        from pathlib import Path
        from reunistat.pipeline.run import import_for
        print(import_for([Path({str(script)!r})]), "sklearn" in sys.modules)
        """
    )
    assert out == "[] True"
