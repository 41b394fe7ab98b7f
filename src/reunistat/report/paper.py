"""Build the paper from its Markdown template and the run's outputs, with pandoc.

The template (``paper/paper.md``) holds no number typed by hand. It pulls:

* ``{{ key }}``: a number recorded by a script (``outputs/values.json``);
* ``{{ table:name }}``: the Markdown of ``outputs/tables/name.md``, numbered
  and captioned (``Table N. title``) directly above it, its notes below;
* ``{{ figure:name }}``: ``outputs/figures/name.png`` with its alt text and a
  numbered caption (``Figure N. title``) naming the script that made it;
* ``{{ skipped }}``: the outputs this run could not make, and why;
* ``{{ software }}``: the versions of the software that made the run.

Cross-references ``@tbl:name`` and ``@fig:name`` become links reading
``Table N`` / ``Figure N``; one to a table or figure the paper does not hold
stops the build. Citations ``[@key]`` are pandoc's, resolved by ``--citeproc``
from ``references.bib`` beside the template (copied beside the paper).

A block between ``<!-- if:name1,name2 -->`` and ``<!-- endif -->`` is kept
only when every named value, table or figure exists. Any other placeholder
that cannot be filled stops the build, unless the run recorded outputs it
left out (``skipped``: a model that cannot be shown for a small extract):
the paper then says "not shown" in their place and lists why. The filled
Markdown is converted to HTML (self-contained), DOCX and, through Typst, PDF
by the pandoc that ``pypandoc-binary`` ships and the ``typst`` package, with
``SOURCE_DATE_EPOCH`` fixed so the files are byte-reproducible.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from reunistat.errors import ReunistatError

_PLACEHOLDER = re.compile(r"\{\{\s*(?:(table|figure):)?([A-Za-z0-9_.-]+)\s*\}\}")
_IF = re.compile(r"<!--\s*if:([A-Za-z0-9_.,\s-]+?)\s*-->(.*?)<!--\s*endif\s*-->", re.S)
_COMMENT = re.compile(r"<!--(?!\s*(?:if:|endif)).*?-->\n?", re.S)
#: A cross-reference in the template: ``@tbl:name`` or ``@fig:name``.
_XREF = re.compile(r"@(tbl|fig):([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)")
#: 2024-01-01 00:00 UTC: the date pandoc writes into DOCX metadata and zip entries.
SOURCE_DATE_EPOCH = "1704067200"
#: The bibliography beside the template (and copied beside the paper).
BIBLIOGRAPHY = "references.bib"

_COMMON = ["--from", "markdown", "--resource-path", ".", "--citeproc"]
#: Typst set-up put in the PDF's header: our own numbers in captions (no second
#: "Table 1:"), long tables that break across pages, small type in tables (words not
#: hyphenated, lines not justified, a word joiner each side of a hyphen inside a word so
#: that "re-entered" does not break at it: a header wraps only between words; rows 3 pt
#: above and below their text), a fixed date.
TYPST_HEADER = (
    "#set figure(numbering: none)\n"
    "#show figure: set block(breakable: true)\n"
    "#show figure.where(kind: table): set figure.caption(position: top)\n"
    "#show table: set text(size: 7pt, hyphenate: false)\n"
    "#show table: set par(justify: false)\n"
    '#show table: it => { show regex("\\\\w+(-\\\\w+)+"): '
    'm => m.text.replace("-", "\\u{2060}-\\u{2060}"); it }\n'
    "#set table(inset: (x: 4pt, y: 3pt))\n"
    "#set document(date: datetime(year: 2024, month: 1, day: 1))\n"
)
TYPST_HEADER_FILE = "paper-header.typ"
#: What each output format adds to the reading options: self-contained HTML, DOCX and
#: Typst (for the PDF).
_WRITE_ARGS = {
    # wide enough for the flow table and Table 1 (pandoc's default page is 36em)
    "html": ["--standalone", "--embed-resources", "--to", "html5", "--variable", "maxwidth=72em"],
    "docx": ["--to", "docx"],
    "typ": [
        "--standalone",
        "--to",
        "typst",
        "--variable",
        "papersize=a4",
        "--variable",
        "margin.x=1.8cm",
        "--variable",
        "margin.y=2cm",
        "--variable",
        "fontsize=10pt",
        f"--include-in-header={TYPST_HEADER_FILE}",
    ],
}
#: pandoc options per output format, each from the Markdown (one pandoc run per format).
PANDOC_ARGS = {ext: [*_COMMON, *args] for ext, args in _WRITE_ARGS.items()}
#: The build reads the Markdown and resolves the citations once, into pandoc's own
#: document (JSON), and writes each format from that: the same bytes as
#: :data:`PANDOC_ARGS` (tested), with the Markdown read once instead of three times
#: (reading its tables is most of each run). Typst's own citations are turned off, so the
#: citations resolved by citeproc are written as text, as a run from the Markdown does.
#: (The build's read writes the Typst source too: :func:`read_to_typst`.)
_TO_JSON = ["--standalone", "--to", "json"]
READ_ARGS = [*_COMMON, *_TO_JSON]
#: A ``<`` that could start raw HTML (a tag, comment or processing instruction): any
#: ``<`` but one followed by a digit, a space, a line break or ``=`` (``<0.001``, ``< 5``,
#: ``<=``), or ending the text. The escapes a YAML string could turn into a ``<`` count too.
_HTML_START = re.compile(r"<(?![0-9 \t\r\n=]|\Z)|\\[xuU]0*3[cC]")


def read_args(text: str) -> list[str]:
    """The options reading this Markdown: :data:`READ_ARGS`, raw HTML off where none can be.

    pandoc's reader tries each ``<`` as the start of raw HTML, copying the rest of
    the document each time (most of reading the paper: the ``<0.001`` of its
    tables, about 0.6 s of 0.9). Where no ``<`` can start a tag (:data:`_HTML_START`),
    every such try fails without reading anything (its tag parser finds text, which
    no caller takes), as it does with ``raw_html`` off: the same document (tested).
    """
    if _HTML_START.search(text):
        return READ_ARGS
    return [a if a != "markdown" else "markdown-raw_html" for a in READ_ARGS]


WRITE_ARGS = {
    ext: ["--from", "json", "--resource-path", ".", *args] for ext, args in _WRITE_ARGS.items()
}
WRITE_ARGS["typ"] = [a if a != "typst" else "typst-citations" for a in WRITE_ARGS["typ"]]
#: A Lua filter run by the read after citeproc: it saves the document as pandoc's JSON
#: (the bytes of a read to JSON: the same writer) and leaves it as it is.
JSON_FILTER = (
    "function Pandoc(doc)\n"
    '  local json = assert(io.open("paper.json", "wb"))\n'
    '  json:write(pandoc.write(doc, "json"))\n'
    "  json:close()\n"
    "end\n"
)
JSON_FILTER_FILE = "paper-json.lua"


def read_to_typst(reading: list[str]) -> list[str]:
    """The options of the read (:func:`read_args`) writing the Typst source, the JSON saved too.

    One pandoc instead of a read to JSON then a run writing Typst from it: the
    document the filter (:data:`JSON_FILTER`) saves, after citeproc, is the one
    the Typst writer gets, so both files are the bytes of the two runs (tested),
    for one pandoc's start and no JSON read back (0.1 s CPU).
    """
    at = next(i for i in range(len(reading)) if reading[i : i + len(_TO_JSON)] == _TO_JSON)
    typ = WRITE_ARGS["typ"][WRITE_ARGS["typ"].index("--standalone") :]
    rest = reading[at + len(_TO_JSON) :]
    return [*reading[:at], "--lua-filter", JSON_FILTER_FILE, *typ, *rest]


#: A folder beside the paper holding a small stand-in for each figure (see
#: :func:`stand_in_figures`), removed with the build's other temporary files.
STAND_INS = "paper-stand-ins"


def stand_in_figures(out: Path, figures: Sequence[str]) -> dict[str, str]:
    """Write a stand-in for each figure; return the base64 of each stand-in by figure.

    pandoc embeds each figure in the HTML as ``data:`` text (``--embed-resources``),
    about half of writing the HTML: from the stand-ins (a few bytes each, named as
    the figures, under ``out/STAND_INS``, found first on pandoc's resource path) it
    writes the same page with the stand-ins' base64 where the figures' would be, and
    :func:`embed_figures` puts the figures' base64 there (the same bytes, tested).
    """
    codes = {}
    (out / STAND_INS / "paper").mkdir(parents=True, exist_ok=True)
    for rel in figures:
        stand_in = out / STAND_INS / rel
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        stand_in.write_bytes(f"<stand-in for {rel}>".encode())
        codes[rel] = base64.b64encode(stand_in.read_bytes()).decode("ascii")
    return codes


def embed_figures(html: Path, root: Path, codes: Mapping[str, str]) -> bool:
    """Put each figure's base64 where pandoc wrote its stand-in's; ``False`` if one is missing."""
    text = html.read_bytes()
    figure_of = {f';base64,{code}"'.encode("ascii"): rel for rel, code in codes.items()}
    held = re.compile(b"|".join(re.escape(k) for k in figure_of))
    found: dict[bytes, bytes] = {}

    def real(m: re.Match[bytes]) -> bytes:
        if m.group(0) not in found:
            data = base64.b64encode((root / figure_of[m.group(0)]).read_bytes())
            found[m.group(0)] = b";base64," + data + b'"'
        return found[m.group(0)]

    text = held.sub(real, text)
    if len(found) < len(figure_of):
        return False
    html.write_bytes(text)
    return True


def _html_args(stand_ins: bool) -> list[str]:
    """The options of pandoc for the HTML, finding the figures' stand-ins first if any."""
    args = WRITE_ARGS["html"]
    if not stand_ins:
        return args
    where = args.index("--resource-path") + 1
    paths = os.pathsep.join([f"{STAND_INS}/paper", args[where]])
    return [*args[:where], paths, *args[where + 1 :]]


class PaperError(ReunistatError):
    """The paper template refers to something the run did not produce."""


class Described(Protocol):
    """An output as the paper cites it: its title and what made it."""

    @property
    def title(self) -> str: ...  # noqa: D102

    @property
    def script(self) -> str: ...  # noqa: D102

    @property
    def function(self) -> str: ...  # noqa: D102


class RunOutputs(Protocol):
    """What the paper is filled from (plain data; the pipeline's run record satisfies it).

    Attributes
    ----------
    out : Path
        The folder the outputs were written to.
    values : mapping
        Numbers recorded for the paper: ``{key: {"text": ..., ...}}``.
    outputs : mapping
        Registered outputs by relative path, each with ``title``, ``script``, ``function``.
    skipped, failed : sequence of mapping
        Outputs not made (``output, script, reason``) and steps that failed (``script, error``).
    """

    @property
    def out(self) -> Path: ...  # noqa: D102

    @property
    def values(self) -> Mapping[str, Mapping[str, Any]]: ...  # noqa: D102

    @property
    def outputs(self) -> Mapping[str, Described]: ...  # noqa: D102

    @property
    def skipped(self) -> Sequence[Mapping[str, str]]: ...  # noqa: D102

    @property
    def failed(self) -> Sequence[Mapping[str, str]]: ...  # noqa: D102


_BUILTIN = ("skipped", "software")


def _exists(ctx: RunOutputs, name: str) -> bool:
    return (
        name in ctx.values
        or f"tables/{name}.md" in ctx.outputs
        or f"figures/{name}.png" in ctx.outputs
        or name in _BUILTIN
    )


def number_items(ctx: RunOutputs, text: str) -> dict[tuple[str, str], int]:
    """Number the tables and figures the text places, in order of appearance.

    Returns ``{("tbl" | "fig", name): number}`` for those the run made.
    """
    numbers: dict[tuple[str, str], int] = {}
    count = {"tbl": 0, "fig": 0}
    for m in _PLACEHOLDER.finditer(text):
        kind, name = m.group(1), m.group(2)
        if kind is None:
            continue
        tag = "tbl" if kind == "table" else "fig"
        rel = f"tables/{name}.md" if tag == "tbl" else f"figures/{name}.png"
        if rel in ctx.outputs and (tag, name) not in numbers:
            count[tag] += 1
            numbers[(tag, name)] = count[tag]
    return numbers


def fill_template(ctx: RunOutputs, template: str) -> str:
    """Return the template with every placeholder and cross-reference filled."""

    def keep_block(m: re.Match[str]) -> str:
        names = [n.strip() for n in m.group(1).split(",") if n.strip()]
        return m.group(2) if all(_exists(ctx, n) for n in names) else ""

    text = _COMMENT.sub("", template)
    text = _IF.sub(keep_block, text)
    numbers = number_items(ctx, text)
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        kind, name = m.group(1), m.group(2)
        if kind == "table":
            return _table(ctx, name, numbers, missing)
        if kind == "figure":
            return _figure(ctx, name, numbers, missing)
        if name == "skipped":
            return _skipped(ctx)
        if name == "software":
            return software_statement()
        if name not in ctx.values:
            missing.append(name)
            return m.group(0)
        return str(ctx.values[name]["text"])

    def xref(m: re.Match[str]) -> str:
        tag, name = m.group(1), m.group(2)
        n = numbers.get((tag, name))
        if n is None:
            missing.append(f"@{tag}:{name}")
            return "[not shown]"
        return f"[{'Table' if tag == 'tbl' else 'Figure'} {n}](#{tag}:{name})"

    text = _PLACEHOLDER.sub(fill, text)
    text = _XREF.sub(xref, text)
    if missing and ctx.skipped:
        # outputs left out of this release (a small extract): say so where they would be
        return _PLACEHOLDER.sub(_not_shown, _MISSING_TABLE.sub(_NOT_SHOWN, text))
    if missing:
        raise PaperError(
            "the paper template refers to outputs this run did not make: "
            + ", ".join(sorted(set(missing)))
            + " (wrap optional parts in <!-- if:name --> ... <!-- endif -->)"
        )
    return text


#: What the paper says where an output left out of the release would be.
_NOT_SHOWN = "*Not shown in this release: see the outputs not made.*"
_MISSING_TABLE = re.compile(r"\x00missing:(?:table|figure):[A-Za-z0-9_.-]+\x00")


def _not_shown(m: re.Match[str]) -> str:
    return "[not shown]"


def split_table_markdown(body: str) -> tuple[str, str]:
    r"""Split a table file's Markdown into the pipe table and the notes under it.

    >>> split_table_markdown("| a |\n|---|\n| 1 |\n\n*note*\n")
    ('| a |\n|---|\n| 1 |', '*note*')
    """
    lines = body.strip("\n").splitlines()
    n = 0
    while n < len(lines) and lines[n].startswith("|"):
        n += 1
    return "\n".join(lines[:n]), "\n".join(lines[n:]).strip()


#: The HTML paper's text width in ems (pandoc's ``maxwidth``, below) and the width of
#: a character and of a cell's padding, for the narrowest width a table can take.
PAGE_WIDTH_EM, _CHAR_EM, _PAD_EM = 72.0, 0.6, 1.0


_CELL_BAR = re.compile(r"(?<!\\)\|")
_WORD_BREAK = re.compile(r"[\s\-]+")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in _CELL_BAR.split(line.strip())[1:-1]]


def _min_width_em(rows: Sequence[Sequence[str]]) -> float:
    ncol = max(len(r) for r in rows)
    widest = [0] * ncol
    for r in rows:
        for j, cell in enumerate(r):
            widest[j] = max(widest[j], max(map(len, _WORD_BREAK.split(cell))))
    return sum(w * _CHAR_EM + _PAD_EM for w in widest)


def fit_table(table: str) -> str:
    r"""Return a pipe table that fits the page: readable headers, wide and short ones turned.

    Underscores in the header become spaces (a browser cannot wrap
    ``above_99.8_unadjusted``). A table whose narrowest width passes the
    page (:data:`PAGE_WIDTH_EM`) and that has fewer rows than columns is
    transposed: its columns become rows.

    >>> print(fit_table("| a_b | c |\n|:---|---:|\n| x | 1 |"))
    | a b | c |
    |:---|---:|
    | x | 1 |
    >>> print(fit_table("| variable | n |\n|:---|---:|\n| Sex | 1 |\n| Sex | 2 |"))
    | variable | n |
    |:--------|---:|
    | Sex | 1 |
    |  | 2 |
    """
    lines = table.splitlines()
    if len(lines) < 2:
        return table
    head = [c.replace("_", " ") for c in _cells(lines[0])]
    align = _cells(lines[1])
    body = [_cells(x) for x in lines[2:]]
    if _min_width_em([head, *body]) > PAGE_WIDTH_EM and len(body) < len(head) - 1:
        cols = list(zip(head, *body, strict=True))
        head = list(cols[0])
        body = [list(c) for c in cols[1:]]
        align = [":---"] + ["---:"] * (len(head) - 1)
    if head and head[0] in _GROUP_HEADERS:  # a variable's name once, on its first row
        shown = [r[0] for r in body]
        for i in range(len(body) - 1, 0, -1):
            if shown[i] == shown[i - 1]:
                body[i][0] = ""
    # relative column widths (pandoc reads them from the dashes when lines are long)
    widths = [
        _column_width(head[j], [r[j] for r in body if j < len(r)], align[j])
        for j in range(len(head))
    ]
    align = [_dashes(a, w) for a, w in zip(align, widths, strict=True)]
    out = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def _column_width(head: str, cells: Sequence[str], align: str) -> int:
    """Relative width of a column: its longest cell, text capped at :data:`TEXT_COLUMN_CHARS`.

    A right-aligned column (counts, percentages, estimates) is as wide as its
    longest cell or the longest word of its header, whichever is wider: its
    header wraps between words ("not re-entered %" on two lines) so that
    counts are not given the width of their header and the text columns the
    rest. Its cells never wrap.

    >>> _column_width("not re-entered %", ["1,165", "100.0"], "---:")
    12
    >>> _column_width("level", ["to relatives without parental responsibility (E13)"], ":---")
    24
    """
    if align.endswith(":") and not align.startswith(":"):
        words = [len(w) for w in head.split()] or [0]
        return max([max(words), *map(len, cells)]) + 2
    return min(TEXT_COLUMN_CHARS, max([len(head), *map(len, cells)]))


#: The relative width at which a text column stops growing (its cells then wrap).
TEXT_COLUMN_CHARS = 24

#: First columns naming the variable of a block of rows (shown on its first row only).
_GROUP_HEADERS = ("variable", "characteristic")


def _dashes(align: str, width: int) -> str:
    left, right = align.startswith(":"), align.endswith(":")
    return (":" if left else "") + "-" * max(3, width) + (":" if right else "")


def _caption_text(title: str) -> str:
    t = title.strip().replace("\n", " ")
    return t if t.endswith((".", "?", "!")) else t + "."


def _table(
    ctx: RunOutputs, name: str, numbers: Mapping[tuple[str, str], int], missing: list[str]
) -> str:
    rel = f"tables/{name}.md"
    if rel not in ctx.outputs:
        missing.append(f"table:{name}")
        return f"\x00missing:table:{name}\x00"
    o = ctx.outputs[rel]
    table, notes = split_table_markdown((ctx.out / rel).read_text("utf-8"))
    table = fit_table(table)
    made = f"*Made by `{o.script}` (`{o.function}`).*"
    notes = f"{notes}  \n{made}" if notes else made
    caption = f"Table {numbers[('tbl', name)]}. {_caption_text(o.title)}"
    return (
        f"\n::: {{#tbl:{name} .reunistat-table}}\nTable: {caption}\n\n{table}\n\n"
        f"::: {{.table-notes}}\n{notes}\n:::\n:::\n"
    )


def _figure(
    ctx: RunOutputs, name: str, numbers: Mapping[tuple[str, str], int], missing: list[str]
) -> str:
    rel = f"figures/{name}.png"
    if rel not in ctx.outputs:
        missing.append(f"figure:{name}")
        return f"\x00missing:figure:{name}\x00"
    o = ctx.outputs[rel]
    alt = (ctx.out / f"figures/{name}.alt.txt").read_text("utf-8").strip().replace('"', "'")
    caption = (
        f"Figure {numbers[('fig', name)]}. {_caption_text(o.title)} "
        f"Made by `{o.script}` (`{o.function}`)."
    )
    return f'![{caption}](../{rel}){{#fig:{name} alt="{alt}" width="100%"}}'


def _skipped(ctx: RunOutputs) -> str:
    if not ctx.skipped and not ctx.failed:
        return "Every planned output was made in this run."
    lines = ["Outputs not made in this run:", ""]
    lines += [f"- {s['output']} (`{s['script']}`): {s['reason']}" for s in ctx.skipped]
    lines += [f"- `{f['script']}` failed: {f['error']}" for f in ctx.failed]
    return "\n".join(lines)


def pandoc_version() -> str:
    """Return the version of the pandoc that builds the paper."""
    import pypandoc

    return str(pypandoc.get_pandoc_version())


def software_statement() -> str:
    """Return the sentence naming the software (with versions) that made the paper."""
    from importlib import metadata

    from reunistat.results import package_versions

    v = {k: x for k, x in package_versions().items() if x != "not installed"}
    try:
        v["typst"] = metadata.version("typst")
    except metadata.PackageNotFoundError:  # pragma: no cover - a dependency
        pass
    rest = ", ".join(f"{k} {x}" for k, x in sorted(v.items()) if k != "reunistat")
    return (
        f"The analysis ran in Python with reunistat {v.get('reunistat', '?')} ({rest}); "
        f"the paper was built by pandoc {pandoc_version()} with citeproc, and its PDF by Typst."
    )


def pandoc(source: Path, target: Path, extra: list[str]) -> None:
    """Convert ``source`` to ``target`` with the pandoc of ``pypandoc-binary``."""
    code, stderr = _ended(_start_pandoc(source, target, extra))
    _check_pandoc(stderr, source, target, code)


def _start_pandoc(source: Path, target: Path, extra: list[str]) -> subprocess.Popen[str]:
    """Start pandoc converting ``source`` to ``target`` (see :func:`pandoc`); do not wait."""
    import pypandoc

    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    cmd = [pypandoc.get_pandoc_path(), str(source.name), "-o", str(target.resolve()), *extra]
    return subprocess.Popen(
        cmd,
        cwd=source.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _check_pandoc(stderr: str, source: Path, target: Path, returncode: int) -> None:
    if returncode != 0:
        raise PaperError(f"pandoc failed converting {source} to {target.suffix}: {stderr}")


def typst_pdf(source: Path, target: Path, root: Path) -> None:
    """Compile a Typst file to PDF with the ``typst`` package (no TeX).

    ``root`` is the folder the Typst file may read from (its figures).
    """
    import typst

    try:
        # embedded fonts only: the same PDF on every machine
        typst.compile(str(source), output=str(target), root=str(root), ignore_system_fonts=True)
    except RuntimeError as e:
        raise PaperError(f"Typst failed compiling {source} to PDF: {e}") from e


def build_paper(ctx: RunOutputs, template_path: Path) -> list[Path]:
    """Fill the template and write ``paper/paper.md``, ``.html``, ``.docx`` and ``.pdf``.

    The bibliography beside the template is copied beside the paper. Returns
    the paths written; the caller registers them (the report layer does not
    know the pipeline's registry). :func:`start_paper` and
    :meth:`PaperBuild.finish` are the same build in two halves, for a caller
    with work to do while pandoc runs.
    """
    return start_paper(ctx, template_path).finish()


#: A figure as the filled template places it (:func:`_figure`): ``](../figures/name.png)``.
_FIGURE_REF = re.compile(r"\]\(\.\./(figures/[A-Za-z0-9_.-]+\.png)\)")


def figures_in(text: str) -> list[str]:
    """The figures (paths relative to the outputs folder) a filled paper places, in order.

    >>> figures_in("![Figure 1. A.](../figures/km.png){#fig:km}")
    ['figures/km.png']
    """
    return list(dict.fromkeys(_FIGURE_REF.findall(text)))


def warm_typst(root: Path, figures: Sequence[str]) -> None:
    """Have Typst read and encode these images now, ahead of the paper's PDF.

    The ``typst`` package keeps what it computed for an image (decoded, and
    encoded for PDF) in its process's memory, keyed on the image's bytes, for
    the next compilations: a compilation of the paper in the same process
    then takes them from there (the same PDF, tested), and the images are most
    of its time. A document of the images alone is compiled and thrown away;
    a failure here is left to the paper's own compilation to report. Later
    compilations in the process drop what the last ten did not use.
    """
    if not figures:
        return
    import typst

    doc: Any = "".join(f'#image("{rel}")\n' for rel in figures).encode("utf-8")
    try:
        typst.compile(doc, root=str(root), ignore_system_fonts=True)
    except Exception:  # only a head start: the paper's compilation reports it
        pass


def start_paper(ctx: RunOutputs, template_path: Path) -> PaperBuild:
    """Fill the template, write ``paper.md`` and start reading it with pandoc; do not wait.

    A :class:`PaperError` of the template (an output it names was not made)
    is raised here, before any process starts.
    """
    text = fill_template(ctx, template_path.read_text("utf-8"))
    out = ctx.out / "paper"
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    bib = template_path.parent / BIBLIOGRAPHY
    if bib.exists():
        shutil.copyfile(bib, out / BIBLIOGRAPHY)
        written.append(out / BIBLIOGRAPHY)
    md = out / "paper.md"
    md.write_text(text, encoding="utf-8")
    written.insert(0, md)
    return PaperBuild(ctx.out, md, written, figures_in(text), read_args(text))


class PaperBuild:
    """A paper being built (:func:`start_paper`); :meth:`finish` waits for it.

    pandoc reads the Markdown once (citations resolved) and writes the Typst
    source, the document saved beside it as JSON on the way
    (:func:`read_to_typst`); then HTML and DOCX are written from the JSON at
    once, while the ``typst`` package compiles the PDF: all started by a thread
    as soon as the read ends, while the caller works on (:meth:`finish` waits).
    Meanwhile a thread has Typst read the figures (:func:`warm_typst`).
    Temporary files: ``paper.json``, ``paper.typ``, the Typst header, the Lua
    filter and the figures' stand-ins for the HTML (:func:`stand_in_figures`),
    removed whatever happens.
    """

    def __init__(
        self,
        root: Path,
        md: Path,
        written: list[Path],
        figures: list[str],
        reading: list[str] | None = None,
    ) -> None:
        import threading

        self.root, self.md, self.written = root, md, written
        out = md.parent
        self.json, self.typ = out / "paper.json", out / "paper.typ"
        self.header = out / TYPST_HEADER_FILE
        self.header.write_text(TYPST_HEADER, encoding="utf-8")
        self.filter = out / JSON_FILTER_FILE
        self.filter.write_text(JSON_FILTER, encoding="utf-8")
        self.stand_ins = stand_in_figures(out, figures)
        reading = read_to_typst(READ_ARGS if reading is None else reading)
        self.reading = _start_pandoc(md, self.typ, reading)
        self.warming = threading.Thread(target=warm_typst, args=(root, figures), daemon=True)
        self.warming.start()
        self.targets = {ext: out / f"paper.{ext}" for ext in ("html", "docx")}
        self.runs: dict[str, subprocess.Popen[str]] = {}
        self.ended: dict[str, tuple[int, str]] = {}
        self.errors: list[Exception] = []
        self.started = threading.Event()
        self.ahead = threading.Thread(target=self._ahead, daemon=True)
        self.ahead.start()

    def _ahead(self) -> None:
        """Start HTML and DOCX as soon as the document is read; then compile the PDF.

        Not when :meth:`finish` is called: the caller builds the workbook meanwhile.
        """
        try:
            self.ended["typ"] = _ended(self.reading)
            _check_pandoc(self.ended["typ"][1], self.md, self.typ, self.ended["typ"][0])
            self.runs = self._start_formats(self.targets)
        except Exception as e:  # raised by finish
            self.errors.append(e)
            return
        finally:
            self.started.set()
        self.warming.join()
        self._compile(self.md.parent / "paper.pdf", self.errors)

    def finish(self, written: Callable[[list[Path]], None] | None = None) -> list[Path]:
        """Wait for pandoc and the PDF; return the paths written (raise a PaperError).

        ``written`` is called with the paper's other files (Markdown,
        bibliography, HTML, DOCX) as soon as they are final, while Typst
        (in a thread) may still be compiling the PDF.
        """
        out, targets, ended = self.md.parent, self.targets, self.ended
        try:
            self.started.wait()
            if self.runs:
                ended |= {ext: _ended(self.runs[ext]) for ext in ("html", "docx")}
                if (
                    ended["html"][0] == 0
                    and self.stand_ins
                    and not embed_figures(targets["html"], self.root, self.stand_ins)
                ):  # a stand-in not found where expected: the HTML written from the figures
                    ended["html"] = _ended(
                        _start_pandoc(self.json, targets["html"], WRITE_ARGS["html"])
                    )
                if written is not None and all(ended[ext][0] == 0 for ext in ended):
                    written([*self.written, targets["html"], targets["docx"]])
        except PaperError as e:
            self.errors.append(e)
        finally:
            self.ahead.join()
            self.warming.join()
            for ext, proc in self.runs.items():  # no pandoc left running, whatever happened
                if ext not in ended:
                    ended[ext] = _ended(proc)
            for tmp in (self.json, self.typ, self.header, self.filter):
                tmp.unlink(missing_ok=True)
            shutil.rmtree(out / STAND_INS, ignore_errors=True)
        for ext in ("html", "docx"):  # the first failure, in the order they were made
            if ext in ended:
                _check_pandoc(ended[ext][1], self.md, targets[ext], ended[ext][0])
        if self.errors:
            raise self.errors[0]
        return [*self.written, targets["html"], targets["docx"], out / "paper.pdf"]

    def _start_formats(self, targets: dict[str, Path]) -> dict[str, subprocess.Popen[str]]:
        """Start pandoc writing HTML and DOCX from the document, in the background."""
        args = {**WRITE_ARGS, "html": _html_args(bool(self.stand_ins))}
        runs = {ext: _start_pandoc(self.json, t, args[ext]) for ext, t in targets.items()}
        for proc in runs.values():  # the PDF and its check first
            _in_background(proc)
        return runs

    def _compile(self, pdf: Path, errors: list[Exception]) -> None:
        try:
            typst_pdf(self.typ, pdf, self.root)
        except PaperError as e:
            errors.append(e)


#: How much lower (``nice``) the HTML's and DOCX's pandoc run than the build's process.
BACKGROUND_NICE = 10


def _in_background(proc: subprocess.Popen[str]) -> None:
    """Lower a pandoc's priority: the cores go to the PDF's work first (POSIX; same bytes).

    The PDF is the end of the build's longest chain (the Typst source, its
    compilation, then its disclosure check), HTML and DOCX the others: with
    them at a lower priority the PDF is ready ~0.8 s sooner (benchmarks/results/paper_s30.md).
    """
    try:
        nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + BACKGROUND_NICE)
        os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
    except (AttributeError, OSError):  # no priorities here (Windows), or pandoc has ended
        pass


def _ended(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait for a pandoc run; return its exit code and what it wrote on stderr."""
    _, stderr = proc.communicate()
    return proc.returncode, stderr or ""
