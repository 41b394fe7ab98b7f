"""Which SIMD kernels numpy and OpenBLAS use: the same bytes on every recent x86-64 CPU.

numpy and the OpenBLAS builds inside numpy's and scipy's wheels pick their
kernels by the CPU they find: on a CPU with AVX-512 (recent Intel and AMD
EPYC servers) they use AVX-512 kernels, elsewhere AVX2 ones. Both are
correct, but they add in different orders, so the last bits of a sum or a
matrix product differ, and an iterative fit (the cross-validated logistic
model, the propensity weights) can carry that into the printed digits. Seen
here: the national release made on an AVX-512 machine differed from the one
made on an AVX2 machine in 8 of 188 files (two tables, the calibration
figure, ``values.json`` and the paper); with the AVX2 kernels chosen on the
AVX-512 machine all 188 were the same bytes.

:func:`choose` asks for those AVX2 kernels (OpenBLAS's ``Haswell`` kernels,
numpy's ``X86_V3`` level) on any x86-64 CPU that has AVX2 and FMA, which is
every x86-64 server and desktop CPU since about 2015. It works only before
numpy is imported (both libraries read their setting when they load), so
``reunistat reproduce`` calls it first; a setting already in the environment
is kept. :func:`in_effect` says, for the manifest, what the libraries
actually use.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

#: The variables that choose the kernels: OpenBLAS's core type, numpy's disabled levels.
VARIABLES = ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")

#: numpy's AVX-512 dispatch levels by the names of its release: from 2.4 on they are X86_V4,
#: AVX512_ICL and AVX512_SPR; before, AVX512F to AVX512_ICL (numpy warns of a name it lacks).
NUMPY_AVX512 = {
    (2, 4): "X86_V4 AVX512_ICL AVX512_SPR",
    (2, 0): "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL",
}


def portable_env() -> dict[str, str]:
    """The environment that makes numpy and OpenBLAS use their AVX2 kernels.

    numpy's levels are named as the installed release names them (its version is
    read from its metadata: numpy is not imported).
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(p) for p in version("numpy").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        major, minor = 2, 4
    names = next(v for k, v in NUMPY_AVX512.items() if (major, minor) >= k)
    return {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": names}


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def avx2_cpu() -> bool:
    """Whether this is an x86-64 CPU with AVX2 and FMA (where the portable kernels run)."""
    return platform.machine().lower() in ("x86_64", "amd64") and {"avx2", "fma"} <= _cpu_flags()


def _why_native(numpy_counts: bool = True) -> str | None:
    """Why the portable kernels are not set here (None: they can be).

    A variable the user set means the user chose; ``numpy_counts``: numpy
    already imported is a reason (not for :func:`restart_portable`, which starts
    a fresh process).
    """
    if any(k in os.environ for k in VARIABLES):
        return "set in the environment"
    if numpy_counts and "numpy" in sys.modules:
        return "numpy was imported before the kernels could be chosen"
    if not avx2_cpu():
        return "not an x86-64 CPU with AVX2 and FMA"
    return None


def choose(portable: bool = True) -> str:
    """Ask for the portable kernels (see the module); return what was chosen, and why not.

    Returns ``"portable"``, or ``"native"`` with the reason after a colon: not asked
    for, set in the environment (one of the variables set means the user chose),
    numpy already imported, not an x86-64 CPU with AVX2 and FMA.
    """
    why = "asked for" if not portable else _why_native()
    if why is not None:
        return f"native: {why}"
    os.environ.update(portable_env())
    return "portable"


def restart_portable(program: Path) -> None:
    """Start ``program`` again with the portable kernels if numpy already runs on others.

    For ``python analyses/NN_name.py``: the script's imports load numpy before
    anything runs, so the kernels can only be chosen by starting the same command
    again with the variables set (the process is replaced; nothing has been done
    yet). Only when ``program`` is the program this process runs (not a script
    called from Python or a test) and :func:`choose` would have set them.
    """
    if Path(sys.argv[0]).resolve() != Path(program).resolve():
        return
    if _why_native(numpy_counts=False) is not None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], os.environ | portable_env())


def in_effect() -> dict[str, Any]:
    """What numpy and each loaded BLAS use now (for the manifest).

    ``portable`` is true when every BLAS runs its ``Haswell`` kernels and numpy
    dispatches to no AVX-512 level: then the release's bytes do not depend on
    which x86-64 CPU made it.
    """
    from threadpoolctl import threadpool_info

    blas = [
        {
            "library": Path(i.get("filepath", "")).name,
            "api": i.get("internal_api"),
            "version": i.get("version"),
            "kernels": i.get("architecture"),
            "threads": i.get("num_threads"),
        }
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    numpy_levels = _numpy_levels()
    portable = (
        bool(blas)
        and all(b["kernels"] == "Haswell" for b in blas)
        and not any(level.startswith(("X86_V4", "AVX512")) for level in numpy_levels)
    )
    return {
        "portable": portable,
        "blas": blas,
        "numpy_dispatch": numpy_levels,
        "environment": {k: os.environ.get(k) for k in VARIABLES},
    }


def _numpy_levels() -> list[str]:
    """The dispatch levels numpy runs on this CPU (those not disabled, and supported)."""
    try:
        from numpy._core._multiarray_umath import (
            __cpu_dispatch__,
            __cpu_features__,
        )
    except ImportError:  # another numpy layout: say nothing rather than guess
        return []
    return [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
