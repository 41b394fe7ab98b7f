"""The paper's citations resolved apart from its Markdown (:mod:`reunistat.report.paper_cites`):
the same document as pandoc's read with ``--citeproc``, or no splice where that is not shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reunistat.report import paper as paper_mod
from reunistat.report.paper import READ_ARGS
from reunistat.report.paper_cites import citations_markdown, splice

ROOT = Path(__file__).resolve().parents[1]
WITHOUT = [a for a in READ_ARGS if a != "--citeproc"]

FRONT = """---
title: "Re-entry"
lang: en-GB
bibliography: references.bib
link-citations: true
abstract: |
  Returns home were followed.
---

"""

#: Citations as the template writes them: bracketed, several, in the text, with
#: prefixes, locators and suffixes, author suppressed, in a table, a list and a quote.
BODY = """# Methods

Re-entry is common [@homeagain2024; @goldacre2022], as @larsen2005 found
(see also @vancalster2019 [p. 3]) and [see @cox1972, pp. 187-9; @aalen1978, chap. 2].
Kaplan and Meier [-@kaplan1958] and *@finegray1999*.

| model | source |
|:--|:--|
| Cox | [@cox1972] |

- a list item [@liang1986]

> a quote [@white2009]

# References {.unnumbered}

::: {#refs}
:::
"""

#: A citation in a footnote: its note number is the note's, not the count of citations.
NOTE = "A note.[^1]\n\n[^1]: See [@pwp1981].\n\n# References"


def _json(tmp_path: Path, name: str, text: str, args: list[str]) -> bytes:
    md = tmp_path / f"{name}.md"
    md.write_text(text, encoding="utf-8")
    (tmp_path / "references.bib").write_text((ROOT / "paper/references.bib").read_text())
    paper_mod.pandoc(md, tmp_path / f"{name}.json", args)
    return (tmp_path / f"{name}.json").read_bytes()


def _spliced(tmp_path: Path, text: str) -> bytes | None:
    small = citations_markdown(text)
    assert small is not None
    cites = _json(tmp_path, "cites", small, READ_ARGS)
    return splice(_json(tmp_path, "read", text, WITHOUT), cites)


def test_the_citations_resolved_apart_make_the_document_read_with_citeproc(tmp_path):
    text = FRONT + BODY
    spliced = _spliced(tmp_path, text)
    assert spliced is not None
    whole = _json(tmp_path, "whole", text, READ_ARGS)
    assert json.loads(spliced) == json.loads(whole)
    assert b'"Cox"' in spliced and b"csl-bib-body" in spliced


def test_the_paper_template_is_spliced(tmp_path):
    # the template as filled: comments gone, optional blocks kept, cross-references links
    text = paper_mod._COMMENT.sub("", (ROOT / "paper/paper.md").read_text())
    text = paper_mod._IF.sub(lambda m: m.group(2), text)
    text = paper_mod._XREF.sub(lambda m: f"[X](#{m.group(1)}:{m.group(2)})", text)
    body = "\n".join(line for line in text.splitlines() if "{{" not in line)
    spliced = _spliced(tmp_path, body)
    assert spliced is not None
    assert json.loads(spliced) == json.loads(_json(tmp_path, "whole", body, READ_ARGS))


@pytest.mark.parametrize(
    ("text", "spliced"),
    [
        # a citation in the metadata
        (FRONT.replace("were followed.", "were followed [@cox1972].") + BODY, False),
        # a citation in a footnote: spliced only if citeproc's document
        (FRONT + BODY.replace("# References", NOTE), None),
        # not a citation where the small Markdown has one
        (FRONT + BODY.replace("item [@liang1986]", "item `[@liang1986]`"), False),
        # a span citeproc would rename
        (FRONT + BODY.replace("a quote", "a [quote]{.csl-quoted}"), False),
        # another style (here one that cannot be read: citeproc's error, at the end)
        (FRONT.replace("lang: en-GB", "csl: other.csl\nlang: en-GB") + BODY, False),
        # no div for the bibliography (pandoc adds one at the end)
        (FRONT + BODY.replace("::: {#refs}\n:::\n", ""), False),
    ],
)
def test_a_splice_is_citeprocs_document_or_none(tmp_path, text, spliced):
    small = citations_markdown(text)
    assert small is not None
    try:
        cites = _json(tmp_path, "cites", small, READ_ARGS)
    except paper_mod.PaperError:
        assert "csl:" in text
        return
    made = splice(_json(tmp_path, "read", text, WITHOUT), cites)
    if spliced is False:
        assert made is None
    if made is not None:
        assert json.loads(made) == json.loads(_json(tmp_path, "whole", text, READ_ARGS))


def test_no_citations_markdown_without_metadata_or_citations():
    assert citations_markdown("# Title\n\nText [@cox1972].\n") is None
    assert citations_markdown(FRONT + "# Methods\n\nNo citation here.\n") is None


def _build(tmp_path: Path, text: str) -> Path:
    out = tmp_path / "out"
    (out / "paper").mkdir(parents=True)
    md = out / "paper/paper.md"
    md.write_text(text, encoding="utf-8")
    (out / "paper/references.bib").write_text((ROOT / "paper/references.bib").read_text())
    build = paper_mod.PaperBuild(
        out, md, [md], [], paper_mod.read_args(text), citations_markdown(text)
    )
    build.finish()
    assert sorted(p.name for p in (out / "paper").iterdir()) == [
        "paper.docx",
        "paper.html",
        "paper.md",
        "paper.pdf",
        "references.bib",
    ]
    return out / "paper"


def _same_as_pandoc_alone(paper: Path) -> None:
    for ext in ("html", "docx"):
        alone = paper / f"alone.{ext}"
        paper_mod.pandoc(paper / "paper.md", alone, paper_mod.PANDOC_ARGS[ext])
        assert alone.read_bytes() == (paper / f"paper.{ext}").read_bytes()


def test_the_build_splices_the_citations_and_writes_pandocs_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(paper_mod, "CITE_ARGS", ["--no-such-option"])  # never run here
    _same_as_pandoc_alone(_build(tmp_path, FRONT + BODY))


def test_the_build_runs_citeproc_on_the_document_where_it_cannot_splice(tmp_path):
    text = FRONT + BODY.replace("::: {#refs}\n:::\n", "")  # the bibliography added at the end
    _same_as_pandoc_alone(_build(tmp_path, text))
