"""Write a generated dataset: Parquet, DfE-style CSV, truth.json and checksums."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reunistat.synthetic.dataset import TABLES, file_sha256, truth_json

if TYPE_CHECKING:
    from reunistat.synthetic.dataset import SyntheticData

CSV_DATE_FORMAT = "%d/%m/%Y"
#: How every Parquet file is written (also block by block, :mod:`reunistat.synthetic.stream`).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "write_statistics": False}
#: Rows of a Parquet row group (pyarrow's default, made explicit for the block writer).
ROW_GROUP_ROWS = 1024 * 1024


def write_parquet(df: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame as Parquet, deterministically (same data, same bytes)."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table, path, row_group_size=ROW_GROUP_ROWS, **PARQUET_OPTIONS)
    return path


def format_dates(values: pd.Series, fmt: str = CSV_DATE_FORMAT) -> np.ndarray:
    """``values.dt.strftime(fmt)`` as an object array (None where NaT), each date formatted once.

    A table of millions of rows holds a few thousand distinct days: they are
    found by hashing and formatted, then gathered.

    >>> format_dates(pd.Series(pd.to_datetime(["2020-04-01", None, "2020-04-01"]))).tolist()
    ['01/04/2020', None, '01/04/2020']
    """
    idx, uniques = pd.factorize(values)
    text = np.empty(len(uniques) + 1, dtype=object)  # the last stays None: idx -1 is NaT
    text[:-1] = np.asarray(pd.DatetimeIndex(uniques).strftime(fmt), dtype=object)
    return text[idx]


def write_csv(df: pd.DataFrame, path: Path, append: bool = False) -> Path:
    """Write a DataFrame as DfE ships 903 CSVs: dd/mm/YYYY dates, blanks for nulls.

    ``append`` adds the rows to the end of ``path``, without the header line.
    """
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    out = df.assign(**{c: format_dates(df[c]) for c in dates})  # a new frame: df is kept
    out.to_csv(
        path,
        index=False,
        na_rep="",
        lineterminator="\n",
        mode="a" if append else "w",
        header=not append,
    )
    return path


def write_dataset(data: SyntheticData, out: Path, csv: bool = False) -> list[Path]:
    """Write all tables, the generator's record and SHA256SUMS into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [write_parquet(data.tables[name], out / f"{name}.parquet") for name in TABLES]
    if csv:
        written += [write_csv(data.tables[name], out / f"{name}.csv") for name in TABLES]
    written.append(write_parquet(data.truth_returns, out / "truth_returns.parquet"))
    if len(data.faults):
        written.append(write_parquet(data.faults, out / "faults.parquet"))
    return write_truth(data.truth, out, written)


def write_truth(truth: dict[str, Any], out: Path, written: list[Path]) -> list[Path]:
    """Write truth.json, then SHA256SUMS of it and the ``written`` files; return all of them."""
    path = out / "truth.json"
    path.write_text(truth_json(truth), encoding="utf-8")
    files = [*written, path]
    sums = "".join(f"{file_sha256(p)}  {p.name}\n" for p in sorted(files))
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return [*files, out / "SHA256SUMS"]
