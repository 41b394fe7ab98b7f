"""Time the paper's build alone (``start_paper`` -> ``PaperBuild.finish``) on a run's outputs.

Run: ``.venv/bin/python benchmarks/bench_paper.py --src ROOT --outputs DIR --label NAME``,
one fresh process per measure; alternate trees (e.g. this worktree and main's copied to
/tmp) in a shell loop and take medians. ``ROOT`` holds a tree's ``src`` and
``paper/paper.md``; ``DIR`` is the outputs of a ``reunistat reproduce`` (its
``manifest.json``, ``values.json``, tables and figures), copied to a temporary
folder (its ``paper/`` left out). As in ``reproduce``, Typst reads the figures
first (:func:`reunistat.report.paper.warm_typst`, untimed). Prints one line:
the label, CPU seconds of the process and its children, of its children (pandoc), wall seconds
to the end, to the document read (the first format's pandoc started), to the PDF
compiled and to the HTML and DOCX written, and the SHA-256 (12 characters) of each
file of the paper, which must be the same before and after a change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class _Output:
    title: str
    script: str
    function: str


@dataclass
class _Run:
    out: Path
    values: dict[str, Any]
    outputs: dict[str, _Output]
    skipped: list[dict[str, str]]
    failed: list[dict[str, str]]


def _pandoc_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _cpu() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--outputs", type=Path, required=True)
    ap.add_argument("--label", required=True)
    a = ap.parse_args()
    sys.path.insert(0, str(a.src / "src"))
    from reunistat.report import paper as paper_mod

    tmp = Path(tempfile.mkdtemp(prefix="bench-paper-"))
    try:
        out = tmp / "outputs"
        shutil.copytree(a.outputs, out, ignore=shutil.ignore_patterns("paper"))
        manifest = json.loads((a.outputs / "manifest.json").read_text())
        outputs = {
            o["path"]: _Output(o["title"], o["script"], o["function"])
            for o in manifest["outputs"]
            if not o["path"].startswith("paper/")
        }
        values = json.loads((a.outputs / "values.json").read_text())
        run = _Run(out, values, outputs, manifest["skipped"], manifest["failed"])
        template = a.src / "paper/paper.md"
        text = paper_mod.fill_template(run, template.read_text())
        paper_mod.warm_typst(out, paper_mod.figures_in(text))
        marks: dict[str, float] = {}
        start = paper_mod._start_pandoc

        def spy(source: Path, target: Path, extra: list[str]) -> Any:
            if source.name == "paper.json":  # a format written from the document read
                marks.setdefault("read", time.perf_counter() - w0)
            return start(source, target, extra)

        compile_pdf = paper_mod.typst_pdf

        def timed_pdf(source: Path, target: Path, root: Path) -> None:
            compile_pdf(source, target, root)
            marks["pdf"] = time.perf_counter() - w0

        paper_mod._start_pandoc = spy  # type: ignore[assignment]
        paper_mod.typst_pdf = timed_pdf
        c0, p0, w0 = _cpu(), _pandoc_cpu(), time.perf_counter()
        build = paper_mod.start_paper(run, template)
        paths = build.finish(lambda ps: marks.setdefault("written", time.perf_counter() - w0))
        c1, p1, w1 = _cpu(), _pandoc_cpu(), time.perf_counter()
        sums = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in paths}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        a.label,
        f"cpu={c1 - c0:.3f} pandoc={p1 - p0:.3f} wall={w1 - w0:.3f}",
        f"read={marks.get('read', 0):.3f}",
        f"pdf={marks.get('pdf', 0):.3f} written={marks.get('written', 0):.3f}",
        " ".join(f"{k}={v}" for k, v in sorted(sums.items())),
    )


if __name__ == "__main__":
    main()
