"""Reading the paper's Markdown with raw HTML off where no ``<`` can start it: the same
document as pandoc's read with every option of :data:`READ_ARGS`, else that read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reunistat.report import paper as paper_mod
from reunistat.report.paper import READ_ARGS, read_args

ROOT = Path(__file__).resolve().parents[1]

#: ``<`` as the paper's tables and text hold it: p-values, comparisons, in YAML too.
NO_HTML = """---
title: "Re-entry <1 year"
abstract: |
  Fewer than half (p <0.001) re-entered; <= 5 cells were
  suppressed, and < 10 < 20 at the end <
bibliography: references.bib
link-citations: true
---

# Results {#results}

Re-entry was higher after an unplanned return (p <0.001) [@cox1972], and x <
y; see [the methods](#methods).

| term | HR | p |
|:-----|---:|---:|
| previous periods | 1.26 | <0.001 |
| unplanned | 1.40 | <0.001 |
| age < 1 | 0.91 | <=0.05 |

Table: Table 1. Ratios <0.001.

- a list item <0.001
  <2 on its next line

> a quote <
> 3

`code <0.001` and $x <1$.[^1]

[^1]: A note <0.001.

# Methods {#methods}

::: {#refs}
:::
"""

#: What could start raw HTML (a tag, a comment, a processing instruction, a YAML escape).
HTML = [
    "a <span>b</span> c",
    "a <b>bold</b>",
    "a<br/>b",
    "text <!-- a comment --> more",
    "x </div> y",
    "<?php echo 1; ?>",
    "<div class='x'>\n\nblock\n\n</div>",
    "a <é> b",
    "a <_x> b",
    '---\ntitle: "a \\x3cb>bold\\x3c/b>"\n---\n\ntext',
    '---\ntitle: "a \\u003cb>bold"\n---\n\ntext',
    "a <\\\nb",
]


def _read(tmp_path: Path, text: str, args: list[str], name: str) -> bytes:
    md = tmp_path / "paper.md"
    md.write_text(text, encoding="utf-8")
    (tmp_path / "references.bib").write_text((ROOT / "paper/references.bib").read_text())
    out = tmp_path / f"{name}.json"
    paper_mod.pandoc(md, out, args)
    return out.read_bytes()


def test_a_document_whose_lt_signs_cannot_start_html_reads_the_same_without_raw_html(tmp_path):
    args = read_args(NO_HTML)
    assert args != READ_ARGS and "markdown-raw_html" in args
    assert [a for a in args if a != "markdown-raw_html"] == [
        a for a in READ_ARGS if a != "markdown"
    ]
    fast = _read(tmp_path, NO_HTML, args, "fast")
    assert fast == _read(tmp_path, NO_HTML, READ_ARGS, "full")
    assert b"<0.001" in fast and b"Cox" in fast  # the text kept, the citation resolved


@pytest.mark.parametrize("text", HTML)
def test_a_document_that_could_hold_html_is_read_with_every_option(text):
    assert read_args(text) == READ_ARGS


def test_the_fallback_matters_raw_html_read_otherwise(tmp_path):
    text = "a <span class='x'>b</span> <!-- c --> d"
    off = [a if a != "markdown" else "markdown-raw_html" for a in READ_ARGS]
    assert _read(tmp_path, text, READ_ARGS, "full") != _read(tmp_path, text, off, "off")


def test_the_build_reads_the_paper_with_these_options(tmp_path, monkeypatch):
    started: list[list[str]] = []
    start = paper_mod._start_pandoc

    def seen(source: Path, target: Path, extra: list[str]) -> subprocess.Popen[str]:
        started.append(extra)
        return start(source, target, extra)

    monkeypatch.setattr(paper_mod, "_start_pandoc", seen)
    out = tmp_path / "out"
    (out / "paper").mkdir(parents=True)
    md = out / "paper/paper.md"
    md.write_text(NO_HTML, encoding="utf-8")
    (out / "paper/references.bib").write_text((ROOT / "paper/references.bib").read_text())
    build = paper_mod.PaperBuild(out, md, [md], [], read_args(NO_HTML))
    build.finish()
    assert started[0] == paper_mod.read_to_typst(read_args(NO_HTML))
    # every format the same bytes as pandoc's own run from the Markdown
    for ext in ("html", "docx"):
        alone = out / f"paper/alone.{ext}"
        paper_mod.pandoc(md, alone, paper_mod.PANDOC_ARGS[ext])
        assert alone.read_bytes() == (out / f"paper/paper.{ext}").read_bytes()
