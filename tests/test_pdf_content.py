"""The PDF's content streams read fast (reunistat.report.pdf_content): what pypdf reads.

Every stream read here gives the operations pypdf's own reading gives (the
same objects, of the same types), or is left to pypdf; either way the text
of a page is pypdf's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pypdf = pytest.importorskip("pypdf")
from pypdf.generic import ContentStream  # noqa: E402

from reunistat.report import pdf_content  # noqa: E402
from reunistat.report.pdf_content import operations, page_text  # noqa: E402


def _pypdf_operations(data: bytes) -> list[tuple[Any, bytes]]:
    stream = ContentStream(None, None, "bytes")
    stream.set_data(data)
    return stream.operations


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


READ = [
    b"BT /F1 12 Tf 72 712 Td (Hello) Tj ET",
    b"q 1 0 0 -1 89.5 732.12775 cm/c0 CS 0 SCN 4 M 0 0 m 416.19254 0 l\nS\nQ",
    b"[(\\000.\\000\\t\\0006)7(\\000.)-8.5(\\000\\006\\000\\017)]TJ",
    b"(a(b)c) Tj (x\\(y) Tj (\\n\\r\\t\\b\\f\\\\\\/\\ \\%\\<\\>\\[\\]\\#\\_\\&\\$) Tj",
    b"(\\0\\01\\012\\0123\\377) Tj ((nested (twice)) here) Tj",
    b"<48656C6C6F> Tj <4> Tj <> Tj [<41> 10 <42>] TJ",
    b"/Span<</ActualText<FEFF00652060>>>BDC EMC /P<</MCID 156/Lang(en-GB)>>BDC EMC",
    b"/Artifact<</Attached[/Bottom]/Subtype/Footer/Type/Pagination>>BDC EMC",
    b"1,5 +.5 - -.25 0. 7 w [[1 2] [3]] d0 (x) ' 1 2 (s) \" T* true false null",
    b"12Tf/F2 9Tf[(a)]TJ 1 2 3 re f* operands without an operator",
    b"",
]
LEFT_TO_PYPDF = [
    b"% a comment\nBT ET",
    b"BI /W 1 /H 1 /BPC 8 ID \x00 EI",
    b"(\\400) Tj",  # an octal escape above 255
    b"(line \\\ncontinued) Tj",
    b"(\\q) Tj",
    b"/A#20B gs",
    b"1 0 R Do",
    b"0 0 R1 Do",
    b"1\x002 Td",
    b"[1 2 true] d",
    b"(unclosed Tj",
    b"] Tj",
    b"<</A<</B 1>>>> BDC",
    b"<</A 1/A 2>> BDC",
    b"<</A>> BDC",
    b"<<>>stream\nxx\nendstream",
]


@pytest.mark.parametrize("data", READ)
def test_a_stream_read_here_gives_the_operations_pypdf_reads(data):
    mine = operations(data)
    assert mine is not None
    assert _same(mine, _pypdf_operations(data))


@pytest.mark.parametrize("data", LEFT_TO_PYPDF)
def test_what_this_reading_does_not_know_is_left_to_pypdf(data):
    assert operations(data) is None


def _typst_pdf(tmp_path: Path) -> Path:
    typst = pytest.importorskip("typst")
    doc = tmp_path / "doc.typ"
    doc.write_text(
        "#set document(date: datetime(year: 2024, month: 1, day: 1))\n"
        "= A (title) with \\\\ and (nested (parentheses))\n"
        "Child C00000029 born 14/07/2009, postcode AA7 7AB; 1,234 (12.5%) re-entered.\n\n"
        "#table(columns: 3, [level], [n], [%], [a (b)], [12], [3.4], [ünï], [ç], [—])\n"
        "#pagebreak()\n"
        "Second page: `code (x)` and $x^2 + (y)$ math.\n",
        encoding="utf-8",
    )
    pdf = tmp_path / "doc.pdf"
    typst.compile(str(doc), output=str(pdf), ignore_system_fonts=True)
    return pdf


def test_a_typst_pdf_reads_as_pypdf_reads_it(tmp_path):
    pdf = _typst_pdf(tmp_path)
    reader = pypdf.PdfReader(pdf)
    for page in reader.pages:
        data = ContentStream(page["/Contents"].get_object(), reader, "bytes").get_data()
        mine = operations(data)
        assert mine is not None
        assert _same(mine, _pypdf_operations(data))
    fast = [page_text(p) for p in pypdf.PdfReader(pdf).pages]
    assert fast == [p.extract_text() or "" for p in pypdf.PdfReader(pdf).pages]
    assert "C00000029" in "".join(fast)


def test_another_version_of_pypdf_reads_the_page_itself(tmp_path, monkeypatch):
    pdf = _typst_pdf(tmp_path)
    monkeypatch.setattr(pdf_content, "CHECKED_WITH", ("0.",))
    page = pypdf.PdfReader(pdf).pages[0]
    contents = page["/Contents"]
    text = page_text(page)
    assert page["/Contents"] is contents  # not read ahead
    assert text == (pypdf.PdfReader(pdf).pages[0].extract_text() or "")


#: Pieces of content streams, read here or left to pypdf, put together at random.
_PIECES = [
    b"0",
    b"-1",
    b"415.2756",
    b".5",
    b"1,5",
    b"/f0",
    b"/Span",
    b"/A#20B",
    b"(\\000\\016\\000.)",
    b"(a(b)c)",
    b"(x\\(y)",
    b"(\\n\\t\\\\)",
    b"(\\400)",
    b"<48656C>",
    b"<4>",
    b"<</MCID 3>>",
    b"<</A[/B 1]>>",
    b"<</A 1/A 2>>",
    b"[",
    b"]",
    b"Tj",
    b"TJ",
    b"Tf",
    b"BT",
    b"ET",
    b"cm",
    b"'",
    b"BI",
    b"1 0 R",
    b"%c",
    b"\x00",
]
_SPACE = [b"", b" ", b"\n", b"\r\n", b"\t"]
_STREAM = st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(_SPACE)), max_size=25).map(
    lambda parts: b"".join(p + s for p, s in parts)
)


@settings(max_examples=400, deadline=None)
@given(_STREAM)
def test_a_random_stream_is_read_as_pypdf_reads_it_or_left_to_pypdf(data: bytes) -> None:
    mine = operations(data)
    if mine is not None:
        assert _same(mine, _pypdf_operations(data))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_PIECES[:7] + _PIECES[8:12] + _PIECES[13:16]), max_size=20))
def test_a_stream_of_known_tokens_is_read_here(tokens: list[bytes]) -> None:
    data = b" ".join([*tokens, b"Tj", *tokens, b"[", *tokens, b"] TJ\n"])
    mine = operations(data)
    assert mine is not None and _same(mine, _pypdf_operations(data))
