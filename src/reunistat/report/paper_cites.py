"""The paper's citations resolved apart from its Markdown: the same document, sooner.

pandoc's ``--citeproc`` is about 0.28 s of reading the paper (0.64 s), most of it
the same work whatever the tables hold (the style, the locale, the bibliography).
:func:`citations_markdown` writes a small Markdown of the paper's metadata
block and its citations only, in order, and an empty bibliography (``#refs``):
pandoc resolves it (``--citeproc``) while it reads the paper without
``--citeproc``, and :func:`splice` puts each resolved citation and the
bibliography in the paper's document: what ``--citeproc`` makes of it when
:func:`splice` can show it (else ``None``, and the caller runs citeproc on the
document, the same bytes as a read with ``--citeproc``). pandoc's citeproc
(``Text.Pandoc.Citeproc.processCitations``, pandoc 3.9):

* resolves the citations of the metadata then of the blocks, in order, from
  the metadata (style, locale, bibliography) and each citation's items
  (key, prefix, suffix, mode, note number): the same metadata and the same
  items, in the same order, give the same citations (else ``None``; and
  ``None`` for a citation in the metadata, a style other than the default
  author-date one, or a section resetting positions);
* moves punctuation around a citation (``mvPunct``) only one ending in a
  note or superscript, starting with a superscript or whose text ends with
  ``.``: none of those (else ``None``);
* renames every span ``csl-quoted``: none in the paper (else ``None``);
* puts the bibliography in each div ``#refs`` (or ``...__refs``): as it put
  it in the small one's; with no such div it would be added at the end
  (``None``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

#: The metadata block opening the Markdown (pandoc's YAML front matter).
_FRONT = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*\n", re.S)
#: A citation: a bracketed group holding ``@``, or ``@key`` in the text (and its
#: bracketed suffix when one follows, not itself followed by a link's or span's bracket).
_CITATION = re.compile(
    r"\[[^\[\]]*@[^\[\]]*\]"
    r"|(?<![\w@\\])-?@\w(?:[\w:.#$%&+?<>~/-]*\w)?(?:[ \t]*\[[^\[\]]*\](?![\[({]))?"
)
#: What in the paper's document stops the splice (see the module's notes).
_UNSAFE = (b"csl-quoted", b"reset-citation-positions")
#: Metadata choosing a style other than the default or moving notes.
_STYLE_KEYS = ("csl", "citation-style", "notes-after-punctuation")


def citations_markdown(text: str) -> str | None:
    """The small Markdown whose citations pandoc resolves; None: no metadata or no citation."""
    front = _FRONT.match(text)
    if front is None:
        return None
    found = _CITATION.findall(text, front.end())
    if not found:
        return None
    body = "".join(f"{c}\n\n" for c in found)
    return f"{front.group(0)}\n{body}::: {{#refs}}\n:::\n"


def _nodes(x: Any, kind: str) -> Iterator[dict[str, Any]]:
    """Each node ``kind`` in pandoc's JSON, in document order (not inside one found)."""
    if isinstance(x, dict):
        if x.get("t") == kind:
            yield x
            return
        for v in x.values():
            yield from _nodes(v, kind)
    elif isinstance(x, list):
        for v in x:
            yield from _nodes(v, kind)


_CONTAINERS = {
    "Emph",
    "Underline",
    "Strong",
    "Strikeout",
    "Superscript",
    "Subscript",
    "SmallCaps",
}


def _text(inlines: list[dict[str, Any]]) -> str | None:
    """What pandoc's ``stringify`` makes of these inlines; None where it might differ."""
    out: list[str] = []
    for il in inlines:
        t, c = il["t"], il.get("c")
        if t == "Str":
            out.append(str(c))
        elif t in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
        elif t in _CONTAINERS or t in ("Span", "Link"):
            inner = _text(c if t in _CONTAINERS else c[1]) if c is not None else None
            if inner is None:
                return None
            out.append(inner)
        else:  # quotes, notes, code, math, raw: not in a resolved author-date citation
            return None
    return "".join(out)


def _moves_punctuation(inlines: list[dict[str, Any]]) -> bool:
    """Whether citeproc's ``mvPunct`` could change what is around this resolved citation."""
    if not inlines:
        return False
    if inlines[-1]["t"] in ("Note", "Superscript") or inlines[0]["t"] == "Superscript":
        return True
    text = _text(inlines)
    return text is None or text.endswith(".")


def _unique(xs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for x in xs:
        if x not in out:
            out.append(x)
    return out


def splice(doc_json: bytes, cites_json: bytes) -> bytes | None:
    """The paper's document (pandoc's JSON, read without citeproc) with its citations resolved.

    ``cites_json``: pandoc's JSON of :func:`citations_markdown` read with
    ``--citeproc``. Returns None where the result might not be what
    ``--citeproc`` makes of the document (see the module's notes).
    """
    if any(u in doc_json for u in _UNSAFE):
        return None
    doc, small = json.loads(doc_json), json.loads(cites_json)
    meta = doc["meta"]
    if (
        doc.get("pandoc-api-version") != small.get("pandoc-api-version")
        or meta != small["meta"]
        or any(k in meta for k in _STYLE_KEYS)
        or next(_nodes(meta, "Cite"), None) is not None
    ):
        return None
    *paragraphs, refs = small["blocks"]
    cites, resolved = list(_nodes(doc["blocks"], "Cite")), list(_nodes(paragraphs, "Cite"))
    if [c["c"][0] for c in cites] != [c["c"][0] for c in resolved]:
        return None
    if any(next(_nodes(c["c"], "Cite"), None) is not None for c in cites):
        return None  # a citation inside another
    if any(_moves_punctuation(r["c"][1]) for r in resolved):
        return None
    if refs["t"] != "Div" or refs["c"][0][0] != "refs":
        return None
    for c, r in zip(cites, resolved, strict=True):
        c["c"][1] = r["c"][1]
    if refs["c"] != [["refs", [], []], []]:  # a bibliography: in each div #refs
        (_, classes, kvs), entries = refs["c"]
        divs = [d for d in _nodes_all(doc["blocks"], "Div") if _is_refs(d["c"][0][0])]
        if not divs:
            return None
        for d in divs:
            (ident, cs, kv), xs = d["c"]
            d["c"] = [[ident, _unique(cs + classes), _unique(kv + kvs)], xs + entries]
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _is_refs(ident: str) -> bool:
    return ident == "refs" or ident.endswith("__refs")


def _nodes_all(x: Any, kind: str) -> Iterator[dict[str, Any]]:
    """Each node ``kind`` in pandoc's JSON, inside one found too."""
    if isinstance(x, dict):
        if x.get("t") == kind:
            yield x
        for v in x.values():
            yield from _nodes_all(v, kind)
    elif isinstance(x, list):
        for v in x:
            yield from _nodes_all(v, kind)
