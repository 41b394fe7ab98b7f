"""Write a dataset above national size block by block, as the blocks are made.

At ``scale > 1`` (flat layout, clean data) the children are simulated in
blocks (:mod:`reunistat.synthetic.blocks`), and a block's header, episodes,
CIN and truth rows are, in order, the next rows of the whole tables. Here each
block's rows are written as they are made (and appended to the CSV files), so
the whole tables are never in memory, nor joined, nor converted to Arrow at
once: only the block at hand, the rows of a Parquet row group not yet full,
the NPD rows (ordered by UPN over all children, so written last), and the few
columns of the returns home that truth.json needs.

The files are byte for byte those :func:`~reunistat.synthetic.generate` then
:meth:`~reunistat.synthetic.SyntheticData.write` give: the same rows in the
same order, cut into the same row groups (:class:`TableFile`), the same CSV.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reunistat.synthetic.blocks import Blocks, npd_by_upn
from reunistat.synthetic.config import SynthConfig
from reunistat.synthetic.dataset import (
    DISTRICTS_PER_LA,
    _bar,
    episode_counts,
    realised,
    truth_record,
)
from reunistat.synthetic.population import make_authorities, postcode_districts
from reunistat.synthetic.writer import (
    PARQUET_OPTIONS,
    ROW_GROUP_ROWS,
    write_csv,
    write_parquet,
    write_truth,
)

#: The columns of the returns home that truth.json's figures need.
TRUTH_COLUMNS = ["days_followed", "reentered", "censor_reason"]


class TableFile:
    """One table's Parquet file (and CSV), given its rows a block at a time.

    The rows are cut into row groups as :func:`~reunistat.synthetic.writer.write_parquet`
    cuts a whole table (every :data:`ROW_GROUP_ROWS` rows, each group's columns
    contiguous), so the file's bytes are those of the whole table written at once.
    """

    def __init__(self, path: Path, csv: Path | None = None) -> None:
        self.path, self.csv = path, csv
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, df: pd.DataFrame | pa.Table) -> None:
        """Add the rows of ``df`` (and write them to the CSV, if ``df`` is a DataFrame).

        An Arrow table is written as its pandas form would be: with the
        pandas metadata ``pa.Table.from_pandas`` gives it.
        """
        if isinstance(df, pa.Table):
            table = df
        else:
            table = pa.Table.from_pandas(df, preserve_index=False)
            if self.csv is not None:
                write_csv(df, self.csv, append=self.schema is not None)
        if self.schema is None:
            # the first block fixes the types; a text column with no value there is still text
            fields = [f.with_type(pa.string()) if f.type == pa.null() else f for f in table.schema]
            like = pa.Table.from_pandas(
                table.slice(0, 0).to_pandas(), schema=pa.schema(fields), preserve_index=False
            )
            self.schema = like.schema
            self.writer = pq.ParquetWriter(self.path, self.schema, **PARQUET_OPTIONS)
        self.pending.append(table.cast(self.schema))
        self.rows += len(table)
        if self.rows >= ROW_GROUP_ROWS:
            self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool) -> None:
        assert self.writer is not None
        rows = pa.concat_tables(self.pending)
        keep = rows.num_rows % ROW_GROUP_ROWS if whole_groups_only else 0
        done = rows.slice(0, rows.num_rows - keep).combine_chunks()
        self.writer.write_table(done, row_group_size=ROW_GROUP_ROWS)
        self.pending = [rows.slice(rows.num_rows - keep).combine_chunks()] if keep else []
        self.rows = keep

    def close(self) -> list[Path]:
        """Write the rows left and finish the files; return them."""
        if self.writer is not None:
            if self.rows:
                self._flush(whole_groups_only=False)
            self.writer.close()
        return [self.path] if self.csv is None else [self.path, self.csv]


def write_in_blocks(
    config: SynthConfig, out: Path, seed: int, scale: float, csv: bool, progress: bool
) -> dict[str, Any]:
    """Generate at ``scale > 1`` (flat, clean) and write into ``out`` block by block.

    Returns truth.json's record, with ``generator_blocks``.
    """
    cfg = config.values
    auth = make_authorities(np.random.default_rng(seed), cfg)
    districts = postcode_districts(auth)
    posts = districts["HOME_POST"].to_numpy(dtype=object).reshape(-1, DISTRICTS_PER_LA)
    blocks = Blocks(cfg, seed, scale, auth, posts, arrow=not csv)  # CSV: from pandas
    bar = _bar(progress, len(blocks))
    out.mkdir(parents=True, exist_ok=True)
    files = {
        name: TableFile(out / f"{name}.parquet", out / f"{name}.csv" if csv else None)
        for name in ("header", "episodes", "cin")
    }
    files["truth_returns"] = TableFile(out / "truth_returns.parquet")
    counts: Counter[str] = Counter()
    children = 0
    npd, npd_upns, returns = [], [], []
    for b in blocks:
        for name, df in {**b.tables, "episodes": b.episodes, "truth_returns": b.returns}.items():
            if name in files:
                files[name].write(df)
        counts.update(episode_counts(b.episodes))
        children += len(b.tables["header"])
        npd.append(b.tables["npd"])
        npd_upns.append(b.npd_upn)
        returns.append(b.returns[TRUTH_COLUMNS])
        bar(1)
    written = [p for f in files.values() for p in f.close()]
    whole = {"npd": npd_by_upn(npd, npd_upns), "postcodes": districts, "la": auth.table}
    for name, df in whole.items():
        written.append(write_parquet(df, out / f"{name}.parquet"))
        if csv:
            written.append(write_csv(df, out / f"{name}.csv"))
    figures = realised(dict(counts), children, pd.concat(returns, ignore_index=True))
    truth = truth_record(config, seed, scale, False, figures)
    truth["generator_blocks"] = blocks.about
    write_truth(truth, out, written)
    return truth
