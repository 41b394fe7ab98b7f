"""The CSV files of one extract read together, each text column's categories shared.

Read one by one (:func:`~reunistat.tables.formats.read_csv`), every file's
text columns get their own categories: stacking six annual returns then
numbers the six sets of child identifiers together again (hashing each
return's ``CHILD`` values as Python strings), and so do the child key (header
with episodes) and the dates parsed across returns. Read together, the
columns of one name in the files of one table are encoded once, by Arrow,
into one ``category`` dtype (:func:`~reunistat.codes.distinct_dtype`); the
identifiers (``CHILD``, ``UPN``...) share one dtype across every table. The
frames hold the same values as read one by one: only their categories may
include values of the other files, in the order first met across the files
(as :func:`~reunistat.tables.dates.joint_codes` orders them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reunistat.codes import categorical_of, distinct_dtype
from reunistat.errors import ReadError
from reunistat.tables.find import Found
from reunistat.tables.formats import (
    IDENTIFIERS,
    categorical_columns,
    coded_words,
    csv_table,
    is_arrow_text,
    is_coded,
    text_frame,
)


def read_csv_files(found: Sequence[Found]) -> dict[Path, tuple[pd.DataFrame, str]]:
    """Read CSV files of declared tables; return each one's frame and encoding, by path.

    As :func:`~reunistat.tables.formats.read_csv` reads each file, except
    that the ``category`` columns of one name (in one table; identifiers in
    any) share their categories. Empty when there are fewer than two files,
    or when a file cannot be read or repeats a column name: those are read
    one by one, and the first fault in the order read is reported.
    """
    found = [f for f in found if f.format == "csv" and f.table is not None]
    if len(found) < 2:
        return {}
    tables = []
    for f in found:
        try:
            tables.append(csv_table(f.path))
        except ReadError:
            return {}
    groups: dict[object, list[tuple[int, str]]] = {}
    wanted = [categorical_columns(str(f.table), text_dates=True) for f in found]
    for i, (f, (table, _)) in enumerate(zip(found, tables, strict=True)):
        names = [str(n) for n in table.column_names]  # type: ignore[attr-defined]
        upper = [n.strip().upper() for n in names]
        if len(set(upper)) < len(upper):
            return {}
        for name, up, col in zip(names, upper, table.columns, strict=True):  # type: ignore[attr-defined]
            if is_coded(name, wanted[i]) and is_arrow_text(col.type):
                key = up if up in IDENTIFIERS else (f.table, up)
                groups.setdefault(key, []).append((i, name))
    done: list[dict[str, pd.Categorical]] = [{} for _ in found]
    for members in groups.values():
        _share(tables, members, done)
    return {
        f.path: (text_frame(table, wanted[i], done[i]), encoding)
        for i, (f, (table, encoding)) in enumerate(zip(found, tables, strict=True))
    }


def _share(
    tables: list[tuple[object, str]],
    members: list[tuple[int, str]],
    done: list[dict[str, pd.Categorical]],
) -> None:
    """Encode the columns ``members`` (file, name) together; put them in ``done``."""
    import pyarrow as pa

    cols = [tables[i][0].column(name) for i, name in members]  # type: ignore[attr-defined]
    joint = pa.chunked_array([c for col in cols for c in col.chunks], type=pa.string())
    codes, words = coded_words(joint)
    dtype = distinct_dtype(words)
    bounds = np.cumsum([0, *(len(c) for c in cols)])
    for (i, name), a, b in zip(members, bounds[:-1], bounds[1:], strict=True):
        done[i][name] = categorical_of(codes[a:b], dtype)
