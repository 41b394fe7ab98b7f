"""Checks of the built paper: captions, numbering, cross-references and table widths.

:func:`caption_problems` reads the HTML paper (stdlib parser) and lists every
table without its own ``<caption>`` reading ``Table N. ...``, every figure
without a ``<figcaption>`` reading ``Figure N. ...``, numbers out of order,
links to an anchor the page does not hold, and caption text left in the
body (``Table:``, ``@tbl:``). :func:`table_widths` estimates each table's
narrowest possible width (its min-content width: the longest unbreakable word
of each column plus the cell padding) in ems, to compare with the page's
text width; :func:`chromium_overflow` measures it in a browser when one is
installed.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

#: Text width of the HTML paper (pandoc's ``maxwidth`` variable, set by the paper's build).
PAGE_WIDTH_EM = 72.0
#: Width of a character of the body font (serif, at most about 0.6 em for digits and
#: lower case; a generous bound: wide capitals are rare in table cells).
CHAR_EM = 0.6
#: Left plus right padding of a cell in pandoc's style sheet (0.5em each side).
CELL_PADDING_EM = 1.0


@dataclass
class _Table:
    caption: str = ""
    rows: list[list[str]] = field(default_factory=list)


class _PaperParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[_Table] = []
        self.figcaptions: list[str] = []
        self.figures = 0
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.body_text: list[str] = []
        self._in: list[str] = []
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and str(a.get("href", "")).startswith("#"):
            self.links.append(str(a["href"])[1:])
        if tag == "table":
            self.tables.append(_Table())
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
        elif tag == "figure":
            self.figures += 1
        if tag in ("caption", "figcaption", "td", "th"):
            self._in.append(tag)
            self._buf = []

    def handle_endtag(self, tag: str) -> None:
        if self._in and tag == self._in[-1]:
            self._in.pop()
            text = " ".join("".join(self._buf).split())
            if tag == "caption" and self.tables:
                self.tables[-1].caption = text
            elif tag == "figcaption":
                self.figcaptions.append(text)
            elif tag in ("td", "th") and self.tables and self.tables[-1].rows:
                self.tables[-1].rows[-1].append(text)

    def handle_data(self, data: str) -> None:
        if self._in:
            self._buf.append(data)
        self.body_text.append(data)


def parse_paper(html: str) -> _PaperParser:
    """Parse the HTML paper (its tables, captions, figures, anchors and links)."""
    p = _PaperParser()
    p.feed(html)
    return p


def _numbered(captions: list[str], word: str) -> list[str]:
    problems = []
    for i, cap in enumerate(captions, start=1):
        m = re.match(rf"{word} (\d+)\. \S", cap)
        if not m:
            problems.append(f"{word.lower()} {i} has no numbered caption: {cap[:60]!r}")
        elif int(m.group(1)) != i:
            problems.append(f"{word.lower()} {i} is captioned {word} {m.group(1)}")
    return problems


def caption_problems(html: str) -> list[str]:
    """Return what is wrong with the paper's captions and cross-references (empty: none).

    >>> ok = ("<div id='tbl:a'><table><caption>Table 1. A.</caption><tr><td>1</td></tr>"
    ...       "</table></div><a href='#tbl:a'>Table 1</a>")
    >>> caption_problems(ok)
    []
    >>> for p in caption_problems("<table><tr><td>1</td></tr></table><p>Table: A.</p>"
    ...                           "<a href='#x'>x</a>"):
    ...     print(p)
    table 1 has no numbered caption: ''
    link to #x: no such anchor
    caption text left in the body: 'Table:'
    """
    p = parse_paper(html)
    problems = _numbered([t.caption for t in p.tables], "Table")
    if len(p.figcaptions) != p.figures:
        problems.append(f"{p.figures} figures but {len(p.figcaptions)} figure captions")
    problems += _numbered(p.figcaptions, "Figure")
    problems += [f"link to #{x}: no such anchor" for x in p.links if x not in p.ids]
    body = "".join(p.body_text)
    for marker in ("Table:", "@tbl:", "@fig:", "{{", "[not shown]"):
        if marker in body:
            problems.append(f"caption text left in the body: {marker!r}")
    return problems


def table_widths(html: str) -> list[tuple[str, float]]:
    """Return each table's caption and its narrowest possible width in ems.

    The narrowest width of an HTML table (its min-content width) is the sum
    over columns of the widest unbreakable word in the column, plus the cells'
    padding: a browser can wrap a cell at spaces and hyphens but not inside a
    word. Characters are counted at :data:`CHAR_EM`.

    >>> table_widths("<table><caption>Table 1. A.</caption>"
    ...              "<tr><td>abc def</td><td>1,234</td></tr></table>")
    [('Table 1. A.', 6.8)]
    """
    out = []
    for t in parse_paper(html).tables:
        ncol = max((len(r) for r in t.rows), default=0)
        widest = [0] * ncol
        for r in t.rows:
            for j, cell in enumerate(r):
                words = re.split(r"[\s\-]+", cell)
                widest[j] = max(widest[j], max((len(w) for w in words), default=0))
        em = sum(w * CHAR_EM + CELL_PADDING_EM for w in widest)
        out.append((t.caption, round(em, 2)))
    return out


_MEASURE = """<script>
(function () {
  var out = [];
  document.querySelectorAll('table').forEach(function (t) {
    var c = t.querySelector('caption');
    out.push({caption: c ? c.textContent.slice(0, 60) : '', scroll: t.scrollWidth,
              client: t.clientWidth, right: t.getBoundingClientRect().right});
  });
  var pre = document.createElement('pre');
  pre.id = 'reunistat-layout';
  pre.textContent = JSON.stringify({viewport: window.innerWidth, tables: out});
  document.body.appendChild(pre);
})();
</script>"""


def chromium_overflow(html_path: Path, chromium: str, width: int = 1280) -> dict[str, object]:
    """Lay the paper out in headless Chromium at ``width`` px and measure every table.

    Returns ``{"viewport": px, "tables": [{"caption", "scroll", "client",
    "right"}]}``: a table is clipped when its ``scroll`` width exceeds its
    ``client`` width (pandoc's style sheet gives tables ``overflow-x: auto``)
    or its right edge passes the viewport.
    """
    html = html_path.read_text("utf-8").replace("</body>", _MEASURE + "</body>")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(html, encoding="utf-8")
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp}/profile",
            "--hide-scrollbars",
            f"--window-size={width},1400",
            "--dump-dom",
            page.as_uri(),
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    m = re.search(r'<pre id="reunistat-layout">(.*?)</pre>', res.stdout, re.S)
    if not m:
        raise RuntimeError(f"Chromium gave no layout: {res.stderr[-500:]}")
    return dict(json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")))
