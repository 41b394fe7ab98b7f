"""Screenshots of a built paper in headless Chromium, and its tables' layout at 1280 px.

Usage::

    python benchmarks/paper_screenshots.py OUTPUTS_DIR [--to docs/assets/screenshots]

Writes ``paper_first_page.png`` (the top of the HTML paper at 1280 x 1400 px),
``paper_table1.png`` (Table 1: the page with everything before it removed) and
``paper_layout.md`` (per table: the narrowest width by the min-content rule and the
width Chromium lays it out at; a table is clipped when its scroll width passes its box).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from reunistat.report.paper_check import PAGE_WIDTH_EM, chromium_overflow, table_widths

_SHOW_FROM = """<script>
(function () {{
  var keep = document.getElementById('{anchor}');
  var node = keep;
  while (node && node.parentNode !== document.body) node = node.parentNode;
  while (node && node.previousSibling) node.parentNode.removeChild(node.previousSibling);
}})();
</script>"""


def _shot(chromium: str, page: Path, png: Path, height: int = 1400) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp}",
                "--hide-scrollbars",
                f"--window-size=1280,{height}",
                f"--screenshot={png}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )


def main() -> None:
    """Take the screenshots and write the layout table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("outputs", type=Path)
    ap.add_argument("--to", type=Path, default=Path("docs/assets/screenshots"))
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Chromium (Debian package chromium)")
    html_path = args.outputs / "paper/paper.html"
    html = html_path.read_text("utf-8")
    args.to.mkdir(parents=True, exist_ok=True)
    _shot(chromium, html_path, args.to / "paper_first_page.png")
    page = html_path.with_name("paper_table1_view.html")
    page.write_text(
        html.replace("</body>", _SHOW_FROM.format(anchor="tbl:table1") + "</body>"), "utf-8"
    )
    try:
        _shot(chromium, page, args.to / "paper_table1.png", height=1600)
    finally:
        page.unlink()
    layout = chromium_overflow(html_path, chromium, width=1280)
    rows = [
        "| table | min-content width (em, rule) | scroll / box width (px, Chromium) | clipped |",
        "|---|---:|---:|---|",
    ]
    tables = layout["tables"]
    assert isinstance(tables, list)
    for (caption, em), t in zip(table_widths(html), tables, strict=True):
        clipped = t["scroll"] > t["client"] or t["right"] > 1280
        rows.append(
            f"| {caption[:70]} | {em:.1f} | {t['scroll']} / {t['client']} | "
            f"{'yes' if clipped else 'no'} |"
        )
    (args.to / "paper_layout.md").write_text(
        f"Layout of `{html_path}` at 1280 px (page text {PAGE_WIDTH_EM:g} em).\n\n"
        + "\n".join(rows)
        + "\n",
        "utf-8",
    )


if __name__ == "__main__":
    main()
