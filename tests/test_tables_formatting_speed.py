"""The readable tables worked out once per column give the same bytes as cell by cell."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import tables
from reunistat.report.tables import _cell, _looks_numeric, formatted_cells, to_html, to_markdown


def _markdown_by_row(df: pd.DataFrame, digits: int = 2) -> str:
    """The row-by-row Markdown of before (the reference)."""
    head = [str(c) for c in df.columns]
    body = [
        [_cell(v, c, digits).replace("|", "\\|") for v, c in zip(row, head, strict=True)]
        for row in df.itertuples(index=False)
    ]
    numeric = [all(_looks_numeric(r[j]) for r in body) and bool(body) for j in range(len(head))]
    out = ["| " + " | ".join(head) + " |"]
    out.append("|" + "|".join("---:" if n else ":---" for n in numeric) + "|")
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out) + "\n"


def _html_body_by_row(df: pd.DataFrame, digits: int = 2) -> str:
    return "\n".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_cell(v, str(c), digits))}</td>"
            for v, c in zip(row, df.columns, strict=True)
        )
        + "</tr>"
        for row in df.itertuples(index=False)
    )


floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, -0.0004, 0.005, -0.005, 1234567.891, 1e-12]),
)
texts = st.sampled_from(["c", "z", "a|b", "<0.001", "12345", "x & y", "1,234", "", "0.5"])


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    cols: dict[str, object] = {
        "estimate": draw(st.lists(floats, min_size=n, max_size=n)),
        "p_value": draw(st.lists(floats, min_size=n, max_size=n)),
        "n": draw(st.lists(st.integers(-(10**7), 10**7), min_size=n, max_size=n)),
        "label": draw(st.lists(texts, min_size=n, max_size=n)),
        "mixed": draw(st.lists(st.one_of(floats, texts), min_size=n, max_size=n)),
        "flag": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
    }
    df = pd.DataFrame(cols)
    with np.errstate(over="ignore"):
        df["f32"] = df["estimate"].astype(np.float32)
    df["cat"] = pd.Categorical(df["label"])
    df["Int"] = pd.array(df["n"], dtype="Int64")
    if n:
        df.loc[df.index[0], "Int"] = pd.NA
    return df


@settings(max_examples=150, deadline=None)
@given(frames(), st.integers(0, 4))
def test_markdown_and_html_as_row_by_row(df: pd.DataFrame, digits: int) -> None:
    assert to_markdown(df, digits) == _markdown_by_row(df, digits)
    assert f"<tbody>\n{_html_body_by_row(df, digits)}\n</tbody>" in to_html(df, "t", (), digits)
    cells = formatted_cells(df, digits)  # given as rows (no column known to be plain numbers)
    assert to_markdown(df, digits, cells=cells) == to_markdown(df, digits)
    assert to_html(df, "t", ("a & b",), digits, cells=cells) == to_html(df, "t", ("a & b",), digits)


def test_write_table_formats_once(tmp_path, monkeypatch) -> None:
    """write_table formats the cells once and gives the files of the two writers."""
    df = pd.DataFrame(
        {"time": [0.0, 1.5, np.nan], "p": [0.0001, 0.2, np.nan], "g": ["a", "b", "c"]}
    )
    calls = []
    real = tables._formatted_columns
    monkeypatch.setattr(tables, "_formatted_columns", lambda *a: calls.append(1) or real(*a))
    paths = tables.write_table(df, tmp_path / "t", "Title", notes=["n"], digits=3)
    assert len(calls) == 1
    assert paths[1].read_text() == _markdown_by_row(df, 3) + "\n*n*  \n"
    assert paths[2].read_text() == to_html(df, "Title", ["n"], 3)
    assert formatted_cells(df, 3)[0] == ["0.000", "<0.001", "a"]
