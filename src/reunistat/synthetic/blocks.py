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

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

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


def generate_blocks(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    seed: int,
    scale: float,
    auth: Authorities,
    posts: np.ndarray,
    step: Callable[[int], None],
    limit: int | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, Any]]:
    """The header, episodes, CIN and NPD tables and the returns home, block by block.

    ``rng`` has drawn the authorities ``auth``; it is not used here (the
    caller draws the faults from it). Returns the tables, the truth record
    of returns home (both sorted as :func:`~reunistat.synthetic.generate`
    sorts them) and a description of the blocks for truth.json.
    """
    from reunistat.synthetic.dataset import _days, _episodes_table, _truth_returns

    limit = BLOCK_CHILDREN if limit is None else limit
    n = n_children(cfg, scale)
    seq = np.random.SeedSequence(seed)
    shared = np.random.default_rng(seq.spawn(1)[0])
    la = shared.choice(len(auth.weight), size=n, p=auth.weight)
    perm = shared.permutation(n).astype(np.int64)
    runs = la_blocks(np.bincount(la, minlength=len(auth.weight)), limit)
    streams = seq.spawn(len(runs))
    width = id_width(n)
    la_codes = auth.table["LA"].to_numpy(dtype=object)
    data_end = day(cfg["dataset"]["data_end"])
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in ("header", "episodes", "cin", "npd")}
    returns, npd_keys = [], []
    for (lo, hi), stream in zip(runs, streams, strict=True):
        b_rng = np.random.default_rng(stream)
        rows = np.flatnonzero((la >= lo) & (la < hi))
        kids = make_children(b_rng, cfg, scale, auth, la=la[rows])
        bday18 = _days(eighteenth_birthday(to_datetime(kids.dob)))
        careers = simulate_careers(b_rng, cfg, kids, auth, posts, bday18)
        b_perm = perm[rows]
        child_id, upn = id_strings(b_perm, kids.la, width)
        child_key = kids.la.astype(np.int64) * n + b_perm
        header = header_table(b_rng, cfg, kids, la_codes, child_id, upn, data_end)
        child_la = la_codes[kids.la]
        parts["episodes"].append(_episodes_table(careers, child_la, child_id, child_key))
        parts["header"].append(header.iloc[stable_order(child_key)].reset_index(drop=True))
        parts["cin"].append(cin_table(b_rng, kids, header, sort_key=child_key))
        parts["npd"].append(npd_table(b_rng, kids, header))
        npd_keys.append(upn_numbers(b_perm)[header["UPN"].notna().to_numpy()])
        returns.append(_truth_returns(careers.returns, child_la, child_id, child_key))
        del careers, header
        step(1)
    tables = {}
    for name in list(parts):  # each table's blocks freed once joined: one extra copy at a time
        tables[name] = pd.concat(parts.pop(name), ignore_index=True)
    order = stable_order(np.concatenate(npd_keys))  # UPNs are distinct: sorted by UPN
    tables["npd"] = tables["npd"].iloc[order].reset_index(drop=True)
    about = {
        "blocks": len(runs),
        "block_children_max": limit,
        "streams": "authorities: the seed's own stream; each child's authority and "
        "identifier: SeedSequence(seed).spawn(1)[0]; block i: the next spawn, i-th",
    }
    return tables, pd.concat(returns, ignore_index=True), about
