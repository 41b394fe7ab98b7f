"""benchmarks/bench_reproduce.py: a new render goes on top of reproduce.md and keeps the rest."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_reproduce", ROOT / "benchmarks/bench_reproduce.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_new_render_keeps_the_notes_below_it(tmp_path: Path) -> None:
    page = tmp_path / "reproduce.md"
    bench = _bench()
    bench.write_page(page, ["# first render", "", "| a | 1 |"])
    page.write_text(page.read_text() + "\n**Notes by hand.** kept\n")
    bench.write_page(page, ["# second render", "", "| a | 2 |"])
    text = page.read_text()
    assert text.startswith("# second render\n")
    assert text.count("\n# ") == 0  # one title: the earlier one became a section
    assert "## Earlier on this page: first render" in text
    assert text.index("| a | 2 |") < text.index("| a | 1 |") < text.index("**Notes by hand.** kept")


def test_the_first_render_writes_only_itself(tmp_path: Path) -> None:
    page = tmp_path / "reproduce.md"
    _bench().write_page(page, ["# only", "x"])
    assert page.read_text() == "# only\nx\n"
