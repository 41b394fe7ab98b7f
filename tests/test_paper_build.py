"""The paper's build: numbered captions on their own tables and figures, resolved
cross-references, citations, a PDF through Typst, and tables that fit the page."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reunistat.report import paper as paper_mod
from reunistat.report.figures import new_figure, save_figure
from reunistat.report.paper import PaperError, build_paper, fill_template, fit_table
from reunistat.report.paper_check import PAGE_WIDTH_EM, caption_problems, parse_paper, table_widths

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Out:
    title: str
    script: str = "analyses/99_test.py"
    function: str = "reunistat.test.fn"


@dataclass
class _Run:
    out: Path
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, _Out] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def _run(tmp_path: Path) -> _Run:
    run = _Run(tmp_path / "outputs")
    tables = run.out / "tables"
    tables.mkdir(parents=True)
    # each table file ends with notes, as write_table writes them: the caption must
    # still sit on its own table, not on the next one
    (tables / "alpha.md").write_text(
        "| level | n |\n|:---|---:|\n| a | 12 |\n\n*Note on alpha.*  \n*Source: x.*  \n"
    )
    (tables / "beta.md").write_text("| term | HR |\n|:---|---:|\n| b | 1.10 |\n\n*Note on beta.*\n")
    run.outputs["tables/alpha.md"] = _Out("Alpha counts")
    run.outputs["tables/beta.md"] = _Out("Beta ratios")
    fig = new_figure(3, 2)
    fig.add_axes((0.1, 0.1, 0.8, 0.8)).plot([0, 1], [0, 1])
    save_figure(fig, run.out / "figures/gamma", "A line going up.", "Source: test")
    run.outputs["figures/gamma.png"] = _Out("Gamma line")
    run.values["n"] = {"text": "1,234"}
    return run


TEMPLATE = """---
title: Test paper
bibliography: references.bib
---

See @tbl:beta, @tbl:alpha and @fig:gamma [@cox1972]; n = {{ n }}.

{{ table:alpha }}

{{ figure:gamma }}

{{ table:beta }}

## References

::: {#refs}
:::
"""


def _template(tmp_path: Path, text: str = TEMPLATE) -> Path:
    t = tmp_path / "paper" / "paper.md"
    t.parent.mkdir(exist_ok=True)
    t.write_text(text)
    (t.parent / "references.bib").write_text((ROOT / "paper/references.bib").read_text())
    return t


def test_tables_and_figures_are_numbered_in_order_and_references_read_their_numbers(tmp_path):
    run = _run(tmp_path)
    text = fill_template(run, TEMPLATE)
    assert "Table: Table 1. Alpha counts." in text and "Table: Table 2. Beta ratios." in text
    assert "[Table 2](#tbl:beta), [Table 1](#tbl:alpha) and [Figure 1](#fig:gamma)" in text
    # the caption comes straight before its own table, the notes after it
    alpha = text[text.index("Table: Table 1.") :]
    assert alpha.split("\n\n")[1].startswith("| level | n |")
    assert alpha.index("| a | 12 |") < alpha.index("Note on alpha")


def test_a_reference_to_a_table_not_made_stops_the_build(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(PaperError, match="@tbl:missing"):
        fill_template(run, TEMPLATE + "\nAs @tbl:missing shows.\n")


def test_built_html_has_each_caption_on_its_own_table_and_the_pdf_builds(tmp_path):
    run = _run(tmp_path)
    paths = build_paper(run, _template(tmp_path))
    html = (run.out / "paper/paper.html").read_text()
    assert caption_problems(html) == []
    tables = parse_paper(html).tables
    assert [t.caption for t in tables] == [
        "Table 1. Alpha counts.",
        "Table 2. Beta ratios.",
    ]
    assert tables[0].rows[0] == ["level", "n"] and tables[1].rows[0] == ["term", "HR"]
    flat = " ".join("".join(parse_paper(html).body_text).split())
    assert "(Cox 1972)" in flat and "Regression Models and Life-Tables" in flat  # citeproc
    pdf = run.out / "paper/paper.pdf"
    assert pdf in paths and pdf.read_bytes()[:5] == b"%PDF-"
    from pypdf import PdfReader

    text = " ".join(p.extract_text() for p in PdfReader(pdf).pages)
    assert "Table 1. Alpha counts." in text and "Figure 1. Gamma line." in text
    assert "Table 1: Table 1" not in text  # Typst adds no second number
    assert not (run.out / "paper/paper.typ").exists()


def test_the_pdf_is_byte_reproducible(tmp_path):
    run = _run(tmp_path)
    t = _template(tmp_path)
    build_paper(run, t)
    first = (run.out / "paper/paper.pdf").read_bytes()
    build_paper(run, t)
    assert (run.out / "paper/paper.pdf").read_bytes() == first


def test_the_formats_built_at_once_are_those_built_one_after_another(tmp_path):
    run = _run(tmp_path)
    build_paper(run, _template(tmp_path))
    out = run.out / "paper"
    for ext in ("html", "docx"):  # each pandoc run on its own, as before
        paper_mod.pandoc(out / "paper.md", out / f"alone.{ext}", paper_mod.PANDOC_ARGS[ext])
        assert (out / f"alone.{ext}").read_bytes() == (out / f"paper.{ext}").read_bytes()


def test_the_read_writes_the_typst_source_and_the_document_of_two_runs(tmp_path):
    """One pandoc reads and writes Typst, its filter saving the JSON: the bytes of two runs."""
    run = _run(tmp_path)
    build_paper(run, _template(tmp_path))  # the paper's Markdown and bibliography
    out = run.out / "paper"
    (out / paper_mod.TYPST_HEADER_FILE).write_text(paper_mod.TYPST_HEADER, encoding="utf-8")
    (out / paper_mod.JSON_FILTER_FILE).write_text(paper_mod.JSON_FILTER, encoding="utf-8")
    text = (out / "paper.md").read_text(encoding="utf-8")
    reading = paper_mod.read_args(text)
    paper_mod.pandoc(out / "paper.md", out / "paper.typ", paper_mod.read_to_typst(reading))
    both = (out / "paper.typ").read_bytes(), (out / "paper.json").read_bytes()
    paper_mod.pandoc(out / "paper.md", out / "alone.json", reading)
    paper_mod.pandoc(out / "alone.json", out / "alone.typ", paper_mod.WRITE_ARGS["typ"])
    assert both == ((out / "alone.typ").read_bytes(), (out / "alone.json").read_bytes())
    paper_mod.pandoc(out / "paper.md", out / "md.typ", paper_mod.PANDOC_ARGS["typ"])
    assert both[0] == (out / "md.typ").read_bytes()


def test_a_failing_format_stops_the_build_naming_it_and_leaves_no_pandoc_running(
    tmp_path, monkeypatch
):
    run = _run(tmp_path)
    started = []

    def start(*args):
        started.append(start_pandoc(*args))
        return started[-1]

    start_pandoc, good = paper_mod._start_pandoc, paper_mod.WRITE_ARGS
    monkeypatch.setattr(paper_mod, "_start_pandoc", start)
    bad = {**good, "docx": [*good["docx"], "--no-such-option"]}
    monkeypatch.setattr(paper_mod, "WRITE_ARGS", bad)
    with pytest.raises(PaperError, match=r"to \.docx: .*no-such-option"):
        build_paper(run, _template(tmp_path))
    # the Markdown read once (writing the Typst source), then HTML and DOCX
    assert len(started) == 3 and all(p.poll() is not None for p in started)
    assert not (run.out / "paper/paper.typ").exists()
    assert not (run.out / "paper/paper.json").exists()

    def typst_fails(source: Path, target: Path, root: Path) -> None:
        raise PaperError("Typst failed compiling paper.typ to PDF: test")

    monkeypatch.setattr(paper_mod, "WRITE_ARGS", good)
    monkeypatch.setattr(paper_mod, "typst_pdf", typst_fails)
    with pytest.raises(PaperError, match="Typst failed"):
        build_paper(run, _template(tmp_path))
    assert len(started) == 6 and all(p.poll() is not None for p in started)

    monkeypatch.setattr(paper_mod, "READ_ARGS", [*paper_mod.READ_ARGS, "--no-such-option"])
    with pytest.raises(PaperError, match=r"to \.typ: .*no-such-option"):
        build_paper(run, _template(tmp_path))
    assert len(started) == 7 and started[-1].poll() is not None
    assert not (run.out / "paper/paper.json").exists()


def test_the_pdf_with_its_figures_read_ahead_is_the_same(tmp_path, monkeypatch):
    run = _run(tmp_path)
    t = _template(tmp_path)
    monkeypatch.setattr(paper_mod, "warm_typst", lambda root, figures: None)
    build_paper(run, t)
    cold = (run.out / "paper/paper.pdf").read_bytes()
    monkeypatch.undo()
    seen, warm = [], paper_mod.warm_typst
    warm(run.out, ["figures/gamma.png"])  # read ahead, as the pipeline does while scripts run
    monkeypatch.setattr(
        paper_mod, "warm_typst", lambda root, figures: seen.append(figures) or warm(root, figures)
    )
    build_paper(run, t)
    assert seen == [["figures/gamma.png"]]
    assert (run.out / "paper/paper.pdf").read_bytes() == cold


def test_a_table_wider_than_the_page_is_turned_and_headers_can_wrap():
    head = [f"column_number_{i}_long_name" for i in range(12)]
    table = "\n".join(
        [
            "| " + " | ".join(head) + " |",
            "|" + "|".join(["---:"] * 12) + "|",
            "| " + " | ".join(["0.1234"] * 12) + " |",
        ]
    )
    html_before = _html_table(table)
    assert table_widths(html_before)[0][1] > PAGE_WIDTH_EM
    fitted = fit_table(table)
    assert "_" not in fitted.splitlines()[0]
    assert table_widths(_html_table(fitted))[0][1] <= PAGE_WIDTH_EM


def _html_table(md: str) -> str:
    rows = [[c.strip() for c in x.strip().strip("|").split("|")] for x in md.splitlines()]
    body = [rows[0], *rows[2:]]
    return (
        "<table><caption>Table 1. X.</caption>"
        + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
        + "</table>"
    )


def test_pandoc_args_build_every_format():
    assert set(paper_mod.PANDOC_ARGS) == {"html", "docx", "typ"}
    assert all("--citeproc" in a for a in paper_mod.PANDOC_ARGS.values())


TABLE1 = (
    "| variable | level | re-entered | re-entered % | not re-entered | not re-entered % | all "
    "| all % |\n|:---|:---|---:|---:|---:|---:|---:|---:|\n"
    "| All spells |  | 530 | 100.0 | 1,165 | 100.0 | 1,695 | 100.0 |\n"
    "| Section 20 accommodation at return | to relatives without parental responsibility (E13) "
    "| 73 | 13.8 | 188 | 16.1 | 261 | 15.4 |\n\n*Note.*\n"
)


def _pdf_words(pdf: Path) -> list[tuple[float, float, str]]:
    """Each piece of text of the PDF's first page with its position (x, y in points)."""
    from pypdf import PdfReader

    runs: list[tuple[float, float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            runs.append((tm[4] * cm[0] + cm[4], tm[5] * cm[3] + cm[5], text))

    PdfReader(pdf).pages[0].extract_text(visitor_text=visit)
    # a word Typst draws in pieces (kerned around a joined hyphen) is one word: join runs on
    # the same line with no space between them
    found: list[tuple[float, float, str]] = []
    for x, y, text in runs:
        if found and found[-1][1] == y and not text[0].isspace() and not found[-1][2][-1].isspace():
            found[-1] = (found[-1][0], y, found[-1][2] + text)
        else:
            found.append((x, y, text))
    return [(x, y, t.replace("\u2060", "").strip()) for x, y, t in found]  # less word joiners


def test_pdf_table1_counts_are_narrow_and_neither_cells_nor_header_words_break(tmp_path):
    run = _Run(tmp_path / "outputs")
    (run.out / "tables").mkdir(parents=True)
    (run.out / "tables/table1.md").write_text(TABLE1)
    run.outputs["tables/table1.md"] = _Out("Returns home")
    build_paper(run, _template(tmp_path, "---\ntitle: T\n---\n\n{{ table:table1 }}\n"))
    words = _pdf_words(run.out / "paper/paper.pdf")
    texts = [w for _, _, w in words]
    # a header wraps only between words, never inside a word nor at its hyphen
    # ("not re-entered" on two lines is "not" above "re-entered", never "re-" above "entered")
    assert texts.count("re-entered") >= 1 and "all %" in texts
    top = words[texts.index("variable")][1]
    header = {t for _, y, w in words if top - 12 <= y <= top + 1 for t in w.split()}
    assert header <= {"variable", "level", "re-entered", "%", "not", "all"}, header
    # each count on one line, the row's cells apart (no cell drawn over the next)
    row_y = words[texts.index("All spells")][1]
    cells = sorted((x, w) for x, y, w in words if y == row_y and w != "All spells")
    assert [w for _, w in cells] == ["530", "100.0", "1,165", "100.0", "1,695", "100.0"]
    for (x0, w0), (x1, _) in itertools.pairwise(cells):
        assert x1 - x0 > 0.5 * 7 * len(w0), cells  # 7 pt type: half an em a character at least
    # the text columns get the room: the level column is wider than any count column
    x = {w: x for x, _, w in words}
    assert x["re-entered"] - x["level"] > 2 * (x["all %"] - x["all"])


def test_html_written_from_the_figures_when_a_stand_in_is_not_found(tmp_path, monkeypatch):
    run = _run(tmp_path)
    made = paper_mod.stand_in_figures

    def lost(out, figures):  # a stand-in's base64 pandoc will not have written
        return {rel: code + "x" for rel, code in made(out, figures).items()}

    monkeypatch.setattr(paper_mod, "stand_in_figures", lost)
    build_paper(run, _template(tmp_path))
    out = run.out / "paper"
    paper_mod.pandoc(out / "paper.md", out / "alone.html", paper_mod.PANDOC_ARGS["html"])
    assert (out / "alone.html").read_bytes() == (out / "paper.html").read_bytes()
    assert b"base64," in (out / "paper.html").read_bytes()
    assert not (out / paper_mod.STAND_INS).exists()


def test_html_and_docx_are_written_at_a_lower_priority_with_the_same_bytes(tmp_path, monkeypatch):
    run = _run(tmp_path)
    lowered: list[str] = []
    background = paper_mod._in_background

    def seen(proc):
        background(proc)
        lowered.append(Path(proc.args[3]).suffix)
        if proc.poll() is None:  # still running: its priority is lower than this process's
            assert os.getpriority(os.PRIO_PROCESS, proc.pid) > os.getpriority(os.PRIO_PROCESS, 0)

    monkeypatch.setattr(paper_mod, "_in_background", seen)
    build_paper(run, _template(tmp_path))
    assert lowered == [".html", ".docx"]
    out = run.out / "paper"
    for ext in ("html", "docx"):
        paper_mod.pandoc(out / "paper.md", out / f"alone.{ext}", paper_mod.PANDOC_ARGS[ext])
        assert (out / f"alone.{ext}").read_bytes() == (out / f"paper.{ext}").read_bytes()
