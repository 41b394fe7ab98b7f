"""Write the annual layout: CSV returns as DfE ships them, linked tables, truth, checksums.

Layout (``output.annual_names = "folder"``, the default)::

    DIR/2021/header.csv, DIR/2021/episodes.csv, DIR/2021/uasc.csv, ...   one folder per return
    DIR/cin.csv, npd.csv, postcodes.csv, la.csv                          linked tables, once
    DIR/truth.json, truth_returns.parquet, truth_corrections.parquet,
    DIR/truth_children.parquet, faults.parquet (messy), SHA256SUMS       the generator's record

With ``annual_names = "name"`` the returns are flat files with the year in the
name: ``DIR/2021_episodes.csv``. Dates are ``dd/mm/YYYY``; blanks are empty
cells; files are UTF-8 without BOM, Unix line ends, except where messy mode
says otherwise (a return with US-format dates in one column, ``la.csv`` in
cp1252).
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from reunistat.synthetic.annual_dataset import LINKED_TABLES, RETURN_TABLES
from reunistat.synthetic.dataset import file_sha256, truth_json
from reunistat.synthetic.writer import CSV_DATE_FORMAT, write_parquet

if TYPE_CHECKING:
    from reunistat.synthetic.dataset import SyntheticData

US_DATE_FORMAT = "%m/%d/%Y"


#: Days (since 1970) covered by the precomputed date texts: 1900-01-01 to 2100-01-01.
_TEXT_DAYS = (-25567, 47482)


@functools.lru_cache(maxsize=4)
def _date_texts(fmt: str) -> np.ndarray:
    """Every day of :data:`_TEXT_DAYS` as text in ``fmt`` (formatted once per process)."""
    days = np.arange(_TEXT_DAYS[0], _TEXT_DAYS[1] + 1).astype("datetime64[D]")
    if fmt not in (CSV_DATE_FORMAT, US_DATE_FORMAT):
        return pd.DatetimeIndex(days.astype("datetime64[ns]")).strftime(fmt).to_numpy(object)
    year = days.astype("datetime64[Y]")
    month = days.astype("datetime64[M]")
    dd = np.char.zfill(((days - month.astype("datetime64[D]")).astype(np.int64) + 1).astype(str), 2)
    mm = np.char.zfill(((month - year.astype("datetime64[M]")).astype(np.int64) + 1).astype(str), 2)
    yyyy = (year.astype(np.int64) + 1970).astype(str)
    first, second = (dd, mm) if fmt == CSV_DATE_FORMAT else (mm, dd)
    text = np.char.add(np.char.add(np.char.add(np.char.add(first, "/"), second), "/"), yyyy)
    return text.astype(object)


def format_dates(s: pd.Series, fmt: str = CSV_DATE_FORMAT) -> np.ndarray:
    """Return dates as text in ``fmt`` (None where missing), by table look-up.

    >>> format_dates(pd.Series(pd.to_datetime(["2021-03-31", None]))).tolist()
    ['31/03/2021', None]
    """
    v = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    nat = np.isnat(v)
    out = np.full(v.size, None, dtype=object)
    d = v[~nat].astype(np.int64)
    inside = (d >= _TEXT_DAYS[0]) & (d <= _TEXT_DAYS[1])
    text = np.empty(d.size, dtype=object)
    text[inside] = _date_texts(fmt)[d[inside] - _TEXT_DAYS[0]]
    if not inside.all():
        rare = pd.DatetimeIndex(v[~nat][~inside].astype("datetime64[ns]"))
        text[~inside] = rare.strftime(fmt).to_numpy(dtype=object)
    out[~nat] = text
    return out


def csv_bytes(df: pd.DataFrame, date_formats: dict[str, str] | None = None) -> bytes:
    """A frame as DfE-style CSV bytes (UTF-8): dates as text, blanks empty, no quoting."""
    cols = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            fmt = (date_formats or {}).get(c, CSV_DATE_FORMAT)
            cols[c] = pa.array(format_dates(s, fmt), type=pa.string())
        elif s.dtype == object:
            cols[c] = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        else:
            cols[c] = pa.array(s.to_numpy())
    table = pa.table(cols) if cols else pa.table({})
    buf = io.BytesIO()
    try:
        opts = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
        pacsv.write_csv(table, buf, opts)
    except pa.ArrowInvalid:  # a value with a comma or quote: quote where needed
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_header="none"))
    return buf.getvalue()


def return_path(out: Path, year: int, table: str, names: str) -> Path:
    """Where a table of one return goes: ``DIR/2021/episodes.csv`` or ``DIR/2021_episodes.csv``."""
    if names == "folder":
        return out / str(year) / f"{table}.csv"
    return out / f"{year}_{table}.csv"


def _file_faults(data: SyntheticData) -> tuple[dict[tuple[int, str], dict[str, str]], set[str]]:
    """Write-time faults: US-format date columns by (year, table), files in cp1252."""
    us: dict[tuple[int, str], dict[str, str]] = {}
    cp1252: set[str] = set()
    f = data.faults
    if len(f):
        us_rows = f.loc[f["fault"] == "us_date_format"]
        for year, table, column in zip(
            us_rows["collection_year"].tolist(),
            us_rows["table"].tolist(),
            us_rows["column"].tolist(),
            strict=True,
        ):
            us.setdefault((int(year), str(table)), {})[str(column)] = US_DATE_FORMAT
        cp1252 = set(f.loc[f["fault"] == "cp1252_file", "table"])
    return us, cp1252


def write_annual(data: SyntheticData, out: Path) -> list[Path]:
    """Write the returns, the linked tables, the truth and SHA256SUMS into ``out``."""
    assert data.returns is not None
    names = data.truth.get("annual_names", "folder")
    us, cp1252 = _file_faults(data)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for year, tables in data.returns.items():
        for table in RETURN_TABLES:
            path = return_path(out, year, table, names)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(csv_bytes(tables[table], us.get((year, table))))
            written.append(path)
    for table in LINKED_TABLES:
        blob = csv_bytes(data.tables[table])
        if table in cp1252:
            blob = blob.decode("utf-8").encode("cp1252")
        path = out / f"{table}.csv"
        path.write_bytes(blob)
        written.append(path)
    written.append(write_parquet(data.truth_returns, out / "truth_returns.parquet"))
    for name, df in data.truth_tables.items():
        written.append(write_parquet(df, out / f"truth_{name}.parquet"))
    if len(data.faults):
        written.append(write_parquet(data.faults, out / "faults.parquet"))
    truth = out / "truth.json"
    truth.write_text(truth_json(data.truth), encoding="utf-8")
    written.append(truth)
    rel = sorted(p.relative_to(out).as_posix() for p in written)
    sums = "".join(f"{file_sha256(out / r)}  {r}\n" for r in rel)
    (out / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return [*written, out / "SHA256SUMS"]
