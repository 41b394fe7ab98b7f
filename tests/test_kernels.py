"""The SIMD kernels a release is made with (reunistat.kernels): chosen before numpy loads.

The portable choice makes numpy and OpenBLAS use their AVX2 kernels on any x86-64 CPU
with AVX2 and FMA, so a release's bytes do not depend on whether the CPU also has
AVX-512 (measured: benchmarks/results/kernels.md). Choosing works only in a process
that has not imported numpy, so those cases run in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reunistat import kernels

SRC = Path(__file__).resolve().parents[1] / "src"

PROBE = """
import json, sys
from reunistat import kernels
chosen = kernels.choose(portable=sys.argv[1] == "portable")
import numpy, scipy.linalg  # both OpenBLAS builds load after the choice
print(json.dumps({"chosen": chosen, "in_effect": kernels.in_effect()}))
"""


def _fresh(arg: str, **env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if k not in kernels.VARIABLES}
    clean.update(env, PYTHONPATH=str(SRC))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, arg], capture_output=True, text=True, env=clean, check=True
    )
    out: dict = json.loads(done.stdout)
    return out


def test_a_fresh_process_gets_the_avx2_kernels_where_the_cpu_has_them() -> None:
    """Every BLAS on Haswell kernels and numpy below its AVX-512 levels; on a CPU
    without AVX2 and FMA (or not x86-64), nothing set and the reason given."""
    got = _fresh("portable")
    eff = got["in_effect"]
    if not kernels.avx2_cpu():
        assert got["chosen"] == "native: not an x86-64 CPU with AVX2 and FMA"
        assert eff["environment"] == dict.fromkeys(kernels.VARIABLES)
        return
    assert got["chosen"] == "portable"
    assert eff["portable"] is True
    assert len(eff["blas"]) >= 2  # numpy's OpenBLAS and scipy's
    assert {b["kernels"] for b in eff["blas"]} == {"Haswell"}
    levels = eff["numpy_dispatch"]
    assert levels and not any("512" in lv or "V4" in lv for lv in levels)
    assert eff["environment"] == kernels.portable_env()


def test_asking_for_native_kernels_sets_nothing() -> None:
    got = _fresh("native")
    assert got["chosen"] == "native: asked for"
    assert got["in_effect"]["environment"] == dict.fromkeys(kernels.VARIABLES)


def test_a_users_own_setting_is_kept() -> None:
    got = _fresh("portable", OPENBLAS_CORETYPE="Sandybridge")
    assert got["chosen"] == "native: set in the environment"
    assert got["in_effect"]["environment"]["OPENBLAS_CORETYPE"] == "Sandybridge"
    assert got["in_effect"]["environment"]["NPY_DISABLE_CPU_FEATURES"] is None
    if kernels.avx2_cpu():
        assert got["in_effect"]["portable"] is False


def test_too_late_once_numpy_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy  # noqa: F401  (this process has it already: pytest imported it)

    for k in kernels.VARIABLES:
        monkeypatch.delenv(k, raising=False)
    assert kernels.choose() == "native: numpy was imported before the kernels could be chosen"
    assert all(k not in os.environ for k in kernels.VARIABLES)


@pytest.mark.parametrize(
    ("numpy_version", "first_name"),
    [("2.0.2", "AVX512F"), ("2.3.5", "AVX512F"), ("2.4.6", "X86_V4"), ("3.1.0", "X86_V4")],
)
def test_numpys_levels_by_the_names_of_its_release(
    monkeypatch: pytest.MonkeyPatch, numpy_version: str, first_name: str
) -> None:
    """Each numpy release gets its own names for its AVX-512 levels (2.4 renamed them).

    They are read from its metadata without importing it (numpy warns of a name it lacks).
    """
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "version", lambda name: numpy_version)
    env = kernels.portable_env()
    assert env["OPENBLAS_CORETYPE"] == "Haswell"
    assert env["NPY_DISABLE_CPU_FEATURES"].split()[0] == first_name


def test_a_script_run_as_a_program_starts_again_with_the_portable_kernels(tmp_path: Path) -> None:
    """``python analyses/NN.py`` loads numpy with its imports; run_script then starts the
    same command again with the kernels chosen (once: the variables are set then)."""
    script = tmp_path / "04_like.py"
    script.write_text(
        "import json\n"
        "import numpy\n"
        "from reunistat import kernels\n"
        "print('started', flush=True)\n"
        "kernels.restart_portable(__file__)\n"
        "print(json.dumps(kernels.in_effect()))\n",
        encoding="utf-8",
    )
    clean = {k: v for k, v in os.environ.items() if k not in kernels.VARIABLES}
    clean["PYTHONPATH"] = str(SRC)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=clean, check=True
    )
    lines = done.stdout.splitlines()
    eff = json.loads(lines[-1])
    if kernels.avx2_cpu():
        assert lines[:-1] == ["started", "started"]  # the first process was replaced
        assert eff["portable"] is True and eff["environment"] == kernels.portable_env()
    else:
        assert lines[:-1] == ["started"]
        assert eff["environment"] == dict.fromkeys(kernels.VARIABLES)


def test_a_script_called_from_python_is_not_restarted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the program this process runs is started again (not a test calling run_script)."""
    for k in kernels.VARIABLES:
        monkeypatch.delenv(k, raising=False)
    kernels.restart_portable(Path(__file__))  # this process runs pytest, not this file
    assert all(k not in os.environ for k in kernels.VARIABLES)


def test_a_partial_run_on_other_kernels_than_its_release_says_so() -> None:
    """The release's manifest records its kernels; a partial run on others is told."""
    from reunistat.pipeline.run import say_other_kernels

    now = kernels.in_effect()["portable"]
    said: list[str] = []
    assert say_other_kernels({"portable": not now}, said.append) is True
    assert len(said) == 1 and "last digits" in said[0] and "--native-kernels" in said[0]
    assert say_other_kernels({"portable": now}, said.append) is False
    assert say_other_kernels(None, said.append) is False  # a release from before the record
    assert len(said) == 1


def test_a_release_with_outputs_of_both_kinds_of_kernels_is_marked_mixed() -> None:
    from reunistat.pipeline.manifest import run_kernels

    now = kernels.in_effect()
    assert run_kernels() == now  # a whole run: what it used
    assert run_kernels({"portable": now["portable"]}) == now  # a partial run on the same
    other = run_kernels({"portable": not now["portable"]})
    assert other["mixed"] is True and other["portable"] is False
    again = run_kernels({"portable": False, "mixed": True})  # stays mixed once mixed
    assert again["mixed"] is True and again["portable"] is False
