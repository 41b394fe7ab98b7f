"""The paper built by ``reunistat reproduce`` on the committed sample: captions, numbering,
cross-references, readable labels, a PDF, and no table wider than the page at 1280 px.

The width check is a rule that needs no browser: a table can be no narrower than the
sum over its columns of its longest unbreakable word (its min-content width), which
must fit the page's 72em text. Where Chromium is installed, the page is also laid out
at 1280 px and every table's scroll width is compared with its box (pandoc's style
sheet gives tables ``overflow-x: auto``, so a clipped table scrolls).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from reunistat.pipeline import load_config, reproduce
from reunistat.report.paper_check import (
    PAGE_WIDTH_EM,
    caption_problems,
    chromium_overflow,
    parse_paper,
    table_widths,
)

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    cfg = load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=ROOT / "data/synthetic/sample",
        outputs_dir=tmp / "outputs",
        analyses_dir=ROOT / "analyses",
        paper_template=ROOT / "paper/paper.md",
        power_replicates=2,
    )
    result = reproduce(cfg, log=lambda s: None)
    return cfg.outputs_dir, result


def test_every_table_and_figure_has_its_numbered_caption_and_every_reference_resolves(built):
    out, result = built
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["status"] == "passed"
    html = (out / "paper/paper.html").read_text()
    assert caption_problems(html) == []
    template = (ROOT / "paper/paper.md").read_text()
    made = {p for p in manifest["outputs"] for p in [p["path"]]}
    placed = re.findall(r"\{\{\s*table:([\w.-]+)\s*\}\}", template)
    shown = [n for n in dict.fromkeys(placed) if f"tables/{n}.md" in made]
    tables = parse_paper(html).tables
    assert len(tables) == len(shown) >= 15
    # each caption names its own table's title
    titles = {o["path"][7:-3]: o["title"] for o in manifest["outputs"] if o["path"].endswith(".md")}
    for n, (name, t) in enumerate(zip(shown, tables, strict=True), start=1):
        caption = t.caption.replace("\u2019", "'")  # pandoc's typographic apostrophe
        assert caption.startswith(f"Table {n}. {titles[name]}"), (name, t.caption)


def test_the_pdf_and_docx_are_built(built):
    out, _ = built
    from pypdf import PdfReader

    pdf = PdfReader(out / "paper/paper.pdf")
    text = " ".join(p.extract_text() for p in pdf.pages[:3])
    assert "Abstract" in text and "Introduction" in text
    assert (out / "paper/paper.docx").stat().st_size > 10_000


def test_no_raw_names_codes_or_negative_zeros_in_the_paper(built):
    out, _ = built
    md = (out / "paper/paper.md").read_text()
    prose = re.sub(r"`[^`]*`", "", md)  # script and function names are code
    prose = re.sub(r"\]\([^)]*\)|\{#[^}]*\}", "]", prose)  # file names and anchors
    for raw in (
        "section20",
        "log1p(",
        "C(",
        "contr.treatment",
        "childrens_home",
        "with_parents",
        "care_order",
        "| e13",
        "-0.00",
        "p_value",
    ):
        assert raw not in prose, raw
    assert "<0.001" in prose
    # p-value columns: "<0.001", never 0.000
    p_cells = []
    for block in re.findall(r"(?:^\|.*\|\n)+", md, re.M):
        rows = [[c.strip() for c in r.strip("|").split("|")] for r in block.splitlines()]
        for j, name in enumerate(rows[0]):
            if name in ("p", "p value"):
                p_cells += [r[j] for r in rows[2:] if j < len(r)]
    assert p_cells and "0.000" not in p_cells and "<0.001" in p_cells


def test_no_table_is_wider_than_the_page_at_1280px(built):
    out, _ = built
    html = (out / "paper/paper.html").read_text()
    widths = table_widths(html)
    assert widths and all(w <= PAGE_WIDTH_EM for _, w in widths), [
        (c[:40], w) for c, w in widths if w > PAGE_WIDTH_EM
    ]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:  # the layout itself, where a browser is installed
        layout = chromium_overflow(out / "paper/paper.html", chromium, width=1280)
        assert layout["viewport"] == 1280
        tables = layout["tables"]
        assert isinstance(tables, list) and len(tables) == len(widths)
        clipped = [t for t in tables if t["scroll"] > t["client"] or t["right"] > 1280]
        assert clipped == []
