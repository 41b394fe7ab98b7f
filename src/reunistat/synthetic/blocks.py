"""Generate above national size in blocks of local authorities (flat layout, ``scale > 1``).

Every step of the generator is a pass over all children or all episodes. At
national size its arrays (a few MB each) mostly fit in the machine's last-level
cache; at several times national they do not, and each pass costs 3-8 times
more an element (``benchmarks/bench_synth.py --cache-probe``). Above national
size the children are therefore simulated in blocks of at most
:data:`BLOCK_CHILDREN`, each a run of whole local authorities, so every
block's passes work on arrays of a national run's size or smaller.

What the blocks share, drawn once: the local authorities (the same draws, from
the seed's own stream, as at ``scale <= 1``: codes, sizes, true frailties,
pilots), the postcode districts, each child's authority and the permutation
behind the CHILD identifiers and UPNs (so both are unique over all blocks).
Each block draws the rest of its children (entry, age, sex, ...), their
careers, returns home and linked rows from its own stream,
``SeedSequence(seed).spawn``: the same seed gives the same data. Children are
independent of each other given their authority, as they are in one stream,
so the data have the same distribution; they are not the same draws as one
stream would make, which is why ``scale <= 1`` keeps the one stream (its data
stay byte-identical) and only larger scales use blocks.

The blocks are whole authorities in authority order, and a block's tables are
sorted by (LA, CHILD[, DECOM]), so the blocks' tables one after another are
the tables sorted; only the NPD rows (by UPN) are ordered again over all.
Faults (``messy``) and the truth are made once, from the whole tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from reunistat.dates import eighteenth_birthday
from reunistat.synthetic._draw import day, stable_order, to_datetime
from reunistat.synthetic.careers import simulate_careers
from reunistat.synthetic.linked import (
    cin_table,
    header_table,
    id_strings,
    id_width,
    npd_table,
    upn_numbers,
)
from reunistat.synthetic.population import Authorities, make_children, n_children

#: Most children a block holds (an authority with more is a block of its own).
BLOCK_CHILDREN = 130_000


def la_blocks(counts: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Runs ``[lo, hi)`` of consecutive authorities, each with at most ``limit`` children.

    An authority with more than ``limit`` children is a run of its own.

    >>> la_blocks(np.array([3, 3, 5, 1, 1]), limit=6)
    [(0, 2), (2, 4), (4, 5)]
    """
    runs: list[tuple[int, int]] = []
    lo, size = 0, 0
    for a, c in enumerate(counts.tolist()):
        if a > lo and size + c > limit:
            runs.append((lo, a))
            lo, size = a, 0
        size += c
    runs.append((lo, counts.size))
    return runs


@dataclass
class Block:
    """One block's tables in the tables' order (the NPD rows in the block's own)."""

    tables: dict[str, pd.DataFrame]  # header, cin, npd
    episodes: pd.DataFrame | pa.Table  # as Arrow if the blocks were asked for it
    npd_upn: np.ndarray  # the number in each NPD row's UPN (:func:`upn_numbers`)
    returns: pd.DataFrame  # the truth record of the block's returns home


class Blocks:
    """The blocks of a run above national size: what they share, drawn once; then each block.

    ``auth`` are the authorities drawn from the seed's own stream (by the
    caller) and ``posts`` their postcode districts. Iterating makes the
    blocks one by one, in authority order, each from its own stream; with
    ``arrow`` their episodes are an Arrow table, made from the generator's
    codes without a Python string a row (for writing them, not for pandas).
    """

    def __init__(
        self,
        cfg: dict[str, Any],
        seed: int,
        scale: float,
        auth: Authorities,
        posts: np.ndarray,
        limit: int | None = None,
        arrow: bool = False,
    ) -> None:
        self.cfg, self.auth, self.posts, self.scale = cfg, auth, posts, scale
        self.arrow = arrow
        self.limit = BLOCK_CHILDREN if limit is None else limit
        self.n = n = n_children(cfg, scale)
        seq = np.random.SeedSequence(seed)
        shared = np.random.default_rng(seq.spawn(1)[0])
        self.la = shared.choice(len(auth.weight), size=n, p=auth.weight)
        self.perm = shared.permutation(n).astype(np.int64)
        counts = np.bincount(self.la, minlength=len(auth.weight))
        self.runs = la_blocks(counts, self.limit)
        self.streams = seq.spawn(len(self.runs))
        # each block's children in index order, found in one pass (not one pass a block)
        block_of_la = np.repeat(np.arange(len(self.runs)), [hi - lo for lo, hi in self.runs])
        block = block_of_la[self.la]
        self.order = stable_order(block)
        self.bounds = np.concatenate([[0], np.cumsum(np.bincount(block, minlength=len(self.runs)))])

    @property
    def about(self) -> dict[str, Any]:
        """The blocks, for truth.json (``generator_blocks``)."""
        return {
            "blocks": len(self.runs),
            "block_children_max": self.limit,
            "streams": "authorities: the seed's own stream; each child's authority and "
            "identifier: SeedSequence(seed).spawn(1)[0]; block i: the next spawn, i-th",
        }

    def __len__(self) -> int:
        return len(self.runs)

    def __iter__(self) -> Iterator[Block]:
        from reunistat.synthetic.dataset import (
            _days,
            _episode_order,
            _episodes_table,
            _truth_returns,
            episode_columns,
        )

        cfg, auth = self.cfg, self.auth
        width = id_width(self.n)
        la_codes = auth.table["LA"].to_numpy(dtype=object)
        data_end = day(cfg["dataset"]["data_end"])
        for i, stream in enumerate(self.streams):
            b_rng = np.random.default_rng(stream)
            rows = self.order[self.bounds[i] : self.bounds[i + 1]]
            kids = make_children(b_rng, cfg, self.scale, auth, la=self.la[rows])
            bday18 = _days(eighteenth_birthday(to_datetime(kids.dob)))
            careers = simulate_careers(b_rng, cfg, kids, auth, self.posts, bday18)
            b_perm = self.perm[rows]
            child_id, upn = id_strings(b_perm, kids.la, width)
            child_key = kids.la.astype(np.int64) * self.n + b_perm
            header = header_table(b_rng, cfg, kids, la_codes, child_id, upn, data_end)
            child_la = la_codes[kids.la]
            if self.arrow:
                order = _episode_order(careers, child_key)
                columns = episode_columns(careers, order, child_la, child_id, arrow=True)
                episodes: pd.DataFrame | pa.Table = pa.table(columns)
            else:
                episodes = _episodes_table(careers, child_la, child_id, child_key)
            tables = {
                "header": header.iloc[stable_order(child_key)].reset_index(drop=True),
                "cin": cin_table(b_rng, kids, header, sort_key=child_key),
                "npd": npd_table(b_rng, kids, header),
            }
            npd_upn = upn_numbers(b_perm)[header["UPN"].notna().to_numpy()]
            returns = _truth_returns(careers.returns, child_la, child_id, child_key)
            del careers, header
            yield Block(tables, episodes, npd_upn, returns)


def npd_by_upn(parts: list[pd.DataFrame], upns: list[np.ndarray]) -> pd.DataFrame:
    """The blocks' NPD rows joined and sorted by UPN (``upns``: each row's UPN number)."""
    order = stable_order(np.concatenate(upns))  # UPNs are distinct: sorted by UPN
    return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)


def generate_blocks(
    cfg: dict[str, Any],
    seed: int,
    scale: float,
    auth: Authorities,
    posts: np.ndarray,
    step: Callable[[int], None],
    limit: int | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """The header, episodes, CIN and NPD tables and the returns home, joined in memory.

    Returns the tables, the truth record of returns home (both sorted as
    :func:`~reunistat.synthetic.generate` sorts them) and a description of
    the blocks for truth.json.
    """
    blocks = Blocks(cfg, seed, scale, auth, posts, limit)
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in ("header", "episodes", "cin", "npd")}
    returns, npd_upns = [], []
    for b in blocks:
        assert isinstance(b.episodes, pd.DataFrame)
        for name, df in {**b.tables, "episodes": b.episodes}.items():
            parts[name].append(df)
        npd_upns.append(b.npd_upn)
        returns.append(b.returns)
        step(1)
    tables = {}
    for name in ("header", "episodes", "cin"):  # each freed once joined: one extra copy at a time
        tables[name] = pd.concat(parts.pop(name), ignore_index=True)
    tables["npd"] = npd_by_upn(parts.pop("npd"), npd_upns)
    return tables, pd.concat(returns, ignore_index=True), blocks.about
