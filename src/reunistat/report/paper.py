"""Build the paper from its Markdown template and the run's outputs, with pandoc.

The template (``paper/paper.md``) holds no number typed by hand. It pulls:

* ``{{ key }}``: a number recorded by a script (``outputs/values.json``);
* ``{{ table:name }}``: the Markdown of ``outputs/tables/name.md``, captioned;
* ``{{ figure:name }}``: ``outputs/figures/name.png`` with its alt text and
  the script and function that made it;
* ``{{ skipped }}``: the outputs this run could not make, and why.

A block between ``<!-- if:name1,name2 -->`` and ``<!-- endif -->`` is kept
only when every named value, table or figure exists. Any other placeholder
that cannot be filled stops the build, unless the run recorded outputs it
left out (``skipped``: a model that cannot be shown for a small extract):
the paper then says "not shown" in their place and lists why. The filled Markdown is converted to
HTML (self-contained) and DOCX by the pandoc that ``pypandoc-binary`` ships,
with ``SOURCE_DATE_EPOCH`` fixed so the files are byte-reproducible.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from reunistat.errors import ReunistatError

_PLACEHOLDER = re.compile(r"\{\{\s*(?:(table|figure):)?([A-Za-z0-9_.-]+)\s*\}\}")
_IF = re.compile(r"<!--\s*if:([A-Za-z0-9_.,\s-]+?)\s*-->(.*?)<!--\s*endif\s*-->", re.S)
_COMMENT = re.compile(r"<!--(?!\s*(?:if:|endif)).*?-->\n?", re.S)
#: 2024-01-01 00:00 UTC: the date pandoc writes into DOCX metadata and zip entries.
SOURCE_DATE_EPOCH = "1704067200"


_COMMON = ["--from", "markdown", "--resource-path", "."]
#: pandoc options per output format: self-contained HTML, and DOCX.
PANDOC_ARGS = {
    # wide enough for the flow table and Table 1 (pandoc's default page is 36em)
    "html": [
        *_COMMON,
        "--standalone",
        "--embed-resources",
        "--to",
        "html5",
        "--variable",
        "maxwidth=72em",
    ],
    "docx": [*_COMMON, "--to", "docx"],
}


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


def _exists(ctx: RunOutputs, name: str) -> bool:
    return (
        name in ctx.values
        or f"tables/{name}.md" in ctx.outputs
        or f"figures/{name}.png" in ctx.outputs
        or name == "skipped"
    )


def fill_template(ctx: RunOutputs, template: str) -> str:
    """Return the template with every placeholder filled from the run's outputs."""

    def keep_block(m: re.Match[str]) -> str:
        names = [n.strip() for n in m.group(1).split(",") if n.strip()]
        return m.group(2) if all(_exists(ctx, n) for n in names) else ""

    text = _COMMENT.sub("", template)
    text = _IF.sub(keep_block, text)
    missing: list[str] = []

    def fill(m: re.Match[str]) -> str:
        kind, name = m.group(1), m.group(2)
        if kind == "table":
            return _table(ctx, name, missing)
        if kind == "figure":
            return _figure(ctx, name, missing)
        if name == "skipped":
            return _skipped(ctx)
        if name not in ctx.values:
            missing.append(name)
            return m.group(0)
        return str(ctx.values[name]["text"])

    text = _PLACEHOLDER.sub(fill, text)
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


def _table(ctx: RunOutputs, name: str, missing: list[str]) -> str:
    rel = f"tables/{name}.md"
    if rel not in ctx.outputs:
        missing.append(f"table:{name}")
        return f"\x00missing:table:{name}\x00"
    o = ctx.outputs[rel]
    body = (ctx.out / rel).read_text("utf-8")
    return f"{body}\nTable: {o.title} (made by `{o.script}`, `{o.function}`)\n"


def _figure(ctx: RunOutputs, name: str, missing: list[str]) -> str:
    rel = f"figures/{name}.png"
    if rel not in ctx.outputs:
        missing.append(f"figure:{name}")
        return f"\x00missing:figure:{name}\x00"
    o = ctx.outputs[rel]
    alt = (ctx.out / f"figures/{name}.alt.txt").read_text("utf-8").strip().replace('"', "'")
    caption = f"{o.title}. Made by `{o.script}` (`{o.function}`)."
    return f'![{caption}](../{rel}){{#fig:{name} alt="{alt}" width="100%"}}'


def _skipped(ctx: RunOutputs) -> str:
    if not ctx.skipped and not ctx.failed:
        return "Every planned output was made in this run."
    lines = [f"- {s['output']} (`{s['script']}`): {s['reason']}" for s in ctx.skipped]
    lines += [f"- `{f['script']}` failed: {f['error']}" for f in ctx.failed]
    return "\n".join(lines)


def pandoc(source: Path, target: Path, extra: list[str]) -> None:
    """Convert ``source`` to ``target`` with the pandoc of ``pypandoc-binary``."""
    import pypandoc

    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    cmd = [pypandoc.get_pandoc_path(), str(source.name), "-o", str(target.resolve()), *extra]
    res = subprocess.run(cmd, cwd=source.parent, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise PaperError(f"pandoc failed converting {source} to {target.suffix}: {res.stderr}")


def build_paper(ctx: RunOutputs, template_path: Path) -> list[Path]:
    """Fill the template and write ``paper/paper.md``, ``.html`` and ``.docx`` under outputs.

    Returns the paths written; the caller registers them (the report layer
    does not know the pipeline's registry).
    """
    text = fill_template(ctx, template_path.read_text("utf-8"))
    out = ctx.out / "paper"
    out.mkdir(parents=True, exist_ok=True)
    md = out / "paper.md"
    md.write_text(text, encoding="utf-8")
    for ext, args in PANDOC_ARGS.items():
        pandoc(md, out / f"paper.{ext}", args)
    return [md, out / "paper.html", out / "paper.docx"]
