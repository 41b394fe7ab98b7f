"""The one-way flow of ARCHITECTURE.md, checked on the import graph of the whole package.

Every ``import`` in ``src/reunistat`` (module level, inside functions and under
``TYPE_CHECKING`` alike) is read with the standard library's ``ast``. Layers,
lowest first; a module may import its own layer or lower ones only:

0. ``codes``, ``dates``, ``spells``, ``errors``, ``horizons`` (and the package root, with
   ``_lazy``: how a package imports its names on use);
1. ``tables``; ``synthetic`` (which never imports ``cohort``: the two are
   checked against each other); ``results``: the frozen result objects the
   models fill in and return, and the data hash every stage records as
   provenance. It imports nothing of the package but ``errors``, so the
   models (and the cohort's provenance record) can use it; "results" in the
   flow is what the models hand on, and the report reads it;
2. ``cohort``;
4. ``models`` and ``costs`` (ARCHITECTURE.md's "fit models ... costs" stage);
5. ``report``;
6. ``pipeline``;
7. ``cli``.

Also: no cycle between packages (the models' sub-packages count as packages),
and no private name (``_x``) imported across packages; a private module
(``models._formula``) is shared only inside the package that holds it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "reunistat"

LAYERS = {
    "__init__": 0,
    "codes": 0,
    "dates": 0,
    "spells": 0,
    "errors": 0,
    "horizons": 0,
    "_rowhash": 0,
    "_lazy": 0,
    "kernels": 0,
    "tables": 1,
    "synthetic": 1,
    "results": 1,
    "replicates": 1,
    "cohort": 2,
    "models": 4,
    "costs": 4,
    "report": 5,
    "pipeline": 6,
    "cli": 7,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Return (module imported, names imported from it, line) for every import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((mod, [a.name for a in node.names], node.lineno))
    return out


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


MODULES = _modules()


def _resolve(mod: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """Turn ``from a.b import c`` into the module ``a.b.c`` when ``c`` is a module.

    Returns (module, names taken from it that are not modules) pairs.
    """
    out = []
    for n in names or [None]:
        full = f"{mod}.{n}" if n else mod
        out.append((full, []) if full in MODULES else (mod, [n] if n else []))
    return out


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _package(module: str) -> str:
    """The package a module belongs to for the cycle check: models' sub-packages count."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "models":
        return ".".join(parts[:3]) if f"{'.'.join(parts[:3])}" in MODULES else "reunistat.models"
    return ".".join(parts[:2])


FROM: dict[tuple[str, str, int], str] = {}  # the module named in each import statement


def _edges() -> list[tuple[str, str, int, list[str]]]:
    edges = []
    for me, path in MODULES.items():
        for mod, names, line in _imports(path):
            if not mod.startswith("reunistat"):
                continue
            for target, taken in _resolve(mod, names):
                edges.append((me, target, line, taken))
                FROM[(me, target, line)] = mod
    return edges


EDGES = _edges()


def test_every_package_has_a_layer() -> None:
    assert {_top(m) for m in MODULES} <= set(LAYERS), set(map(_top, MODULES)) - set(LAYERS)


def _upward() -> list[str]:
    bad = []
    for src, dst, line, _ in EDGES:
        a, b = _top(src), _top(dst)
        if a == b:
            continue
        if LAYERS[b] > LAYERS[a] or (a == "synthetic" and b == "cohort"):
            bad.append(f"{src}:{line} imports {dst} ({a} layer {LAYERS[a]} -> {b} {LAYERS[b]})")
    return sorted(set(bad))


def test_no_upward_import() -> None:
    assert _upward() == []


def test_results_imports_only_the_bottom() -> None:
    bad = [f"{s} -> {d}" for s, d, _, _ in EDGES if _top(s) == "results" and LAYERS[_top(d)] > 0]
    assert bad == []


def test_synthetic_never_imports_cohort() -> None:
    bad = [f"{s}:{n}" for s, d, n, _ in EDGES if _top(s) == "synthetic" and _top(d) == "cohort"]
    assert bad == []


def _cycles() -> list[list[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst, _, _ in EDGES:
        a, b = _package(src), _package(dst)
        if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
            graph[a].add(b)
    cycles, state, stack = [], {}, []

    def visit(v: str) -> None:
        state[v] = 1
        stack.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                cycles.append([*stack[stack.index(w) :], w])
            elif w not in state:
                visit(w)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v)
    return cycles


def test_no_cycle_between_packages() -> None:
    assert _cycles() == []


def _private_imports() -> list[str]:
    bad = []
    for src, dst, line, names in EDGES:
        src_pkg = src if MODULES[src].name == "__init__.py" else src.rsplit(".", 1)[0]
        dst_pkg = (
            dst if MODULES.get(dst, Path("x")).name == "__init__.py" else dst.rsplit(".", 1)[0]
        )
        # a private module is shared inside the package that holds it
        private_mod = [p for p in dst.split(".")[1:] if p.startswith("_") and p != "__init__"]
        if private_mod:
            holder = dst.split("." + private_mod[0])[0]
            if not (src == holder or src.startswith(holder + ".")):
                bad.append(f"{src}:{line} imports the private module {dst}")
        # a private name is shared only between modules of one (sub-)package
        priv = [n for n in names if n.startswith("_") and n != "__version__"]
        if priv and (src_pkg != dst_pkg or dst_pkg == "reunistat"):
            bad.append(f"{src}:{line} imports private name(s) {priv} from {dst}")
    return sorted(set(bad))


def test_no_private_import_across_packages() -> None:
    assert _private_imports() == []


@pytest.mark.parametrize("needle", ["reunistat.models", "reunistat.report", "reunistat.pipeline"])
def test_cohort_imports_no_later_stage(needle: str) -> None:
    """The cohort summary moved out: nothing in cohort/ reaches a later stage."""
    bad = [f"{s}:{n}" for s, d, n, _ in EDGES if _top(s) == "cohort" and d.startswith(needle)]
    assert bad == []


def _internal_model_imports() -> list[str]:
    """Imports of a models sub-package's inner module from outside that sub-package."""
    bad = []
    for src, dst, line, _ in EDGES:
        parts = FROM[(src, dst, line)].split(".")
        if len(parts) < 4 or parts[1] != "models":  # reunistat.models.<sub>.<module>
            continue
        sub = ".".join(parts[:3])
        if src == sub or src.startswith(sub + "."):
            continue
        bad.append(f"{src}:{line} imports {'.'.join(parts)}: use the public {sub}")
    return sorted(set(bad))


def test_models_are_used_through_their_public_packages() -> None:
    """``from reunistat.models.logistic import irls``, not ``...logistic.fit``: no inner paths."""
    assert _internal_model_imports() == []
