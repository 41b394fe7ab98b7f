"""Messy mode: inject the faults real 903 extracts have, and list each one.

Each faulty child has exactly one fault, so a validator's findings can be
matched to the list one to one. Two kinds are not errors but the marks of
stacked annual returns, which a reader must de-duplicate without losing the
child: ``duplicate_row`` (an identical episode row repeated) and
``stale_open_copy`` (a closed episode also present, open, as an earlier
year's return showed it). The others make a child's record invalid:

- ``missing_ethnicity``: header ETHNIC blank;
- ``open_episode``: an episode with blank DEC although a later one exists;
- ``overlapping_episode``: DEC pushed past the next episode's DECOM;
- ``impossible_date``: DEC before DECOM, or DOB after the first DECOM;
- ``unknown_code``: PLACE, LS or REC not in the SSDA903 lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat.synthetic._draw import stable_order

FAULT_COLUMNS = ["fault", "table", "column", "CHILD", "DECOM", "detail"]
#: Faults that a reader should repair (de-duplicate) rather than exclude.
REPAIRABLE = ("duplicate_row", "stale_open_copy")


class _Picker:
    """Draw episode rows for faults, never two faults for one child."""

    def __init__(self, rng: np.random.Generator, ep: pd.DataFrame) -> None:
        self.rng = rng
        self.child, names = pd.factorize(ep["CHILD"].to_numpy())
        self.used = np.zeros(len(names) + 1, dtype=bool)  # by child; the last: no CHILD

    def rows(self, eligible: np.ndarray, rate: float) -> np.ndarray:
        """Draw ``k ~ Binomial(eligible rows, rate)`` rows, a child at most once over all calls.

        In a random order of the eligible rows: the first ``k`` that are their
        child's first there and whose child has no fault yet.
        """
        cand = np.flatnonzero(eligible)
        k = self.rng.binomial(cand.size, rate) if cand.size else 0
        rows = self.rng.permutation(cand)  # drawn even if k is 0: the stream stays as it was
        child = self.child[rows]
        by_child = stable_order(child + 1)  # in this order within a child
        grouped = child[by_child]
        starts = np.ones(rows.size, dtype=bool)
        starts[1:] = grouped[1:] != grouped[:-1]
        first = np.zeros(rows.size, dtype=bool)
        first[by_child[starts]] = True  # a child's first row in this order
        picked = rows[first & ~self.used[child]][:k]
        self.used[self.child[picked]] = True
        return np.sort(picked)


def inject_faults(
    rng: np.random.Generator, rates: dict[str, float], tables: dict[str, pd.DataFrame]
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Return faulty copies of the tables and the list of injected faults."""
    ep = tables["episodes"].copy()
    header = tables["header"].copy()
    pick = _Picker(rng, ep)
    faults: list[pd.DataFrame] = []
    child = ep["CHILD"].to_numpy()
    has_next = np.concatenate([child[1:] == child[:-1], [False]])
    closed = ep["DEC"].notna().to_numpy()

    def log(rows: np.ndarray, fault: str, table: str, column: str, detail: Any) -> None:
        faults.append(
            pd.DataFrame(
                {
                    "fault": fault,
                    "table": table,
                    "column": column,
                    "CHILD": ep["CHILD"].to_numpy()[rows],
                    "DECOM": ep["DECOM"].to_numpy()[rows],
                    "detail": detail,
                }
            )
        )

    # header: blank ethnicity (logged against the child's first episode)
    first = np.concatenate([[True], child[1:] != child[:-1]])
    r = pick.rows(first, rates["missing_ethnicity"])
    log(r, "missing_ethnicity", "header", "ETHNIC", "ETHNIC blank")
    header.loc[header["CHILD"].isin(child[r]), "ETHNIC"] = None
    # an episode left open although a later one follows
    r = pick.rows(has_next & closed, rates["open_episode"])
    log(r, "open_episode", "episodes", "DEC", "DEC and REC blank before a later episode")
    ep.loc[r, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = [pd.NaT, None, None]
    # DEC pushed past the next DECOM
    r = pick.rows(has_next & closed, rates["overlapping_episode"])
    nxt = ep["DECOM"].to_numpy()[r + 1]
    push = rng.integers(1, 31, r.size).astype("timedelta64[D]")
    log(r, "overlapping_episode", "episodes", "DEC", "DEC after the next episode's DECOM")
    ep.loc[r, "DEC"] = nxt + push
    # impossible dates: half DEC before DECOM, half DOB after the first DECOM
    r = pick.rows(closed, rates["impossible_date"])
    dec_rows, dob_rows = r[::2], r[1::2]
    log(dec_rows, "impossible_date", "episodes", "DEC", "DEC before DECOM")
    ep.loc[dec_rows, "DEC"] = ep.loc[dec_rows, "DECOM"] - pd.Timedelta(days=5)
    # the rows are in (LA, CHILD, DECOM) order: a child's first DECOM is its earliest
    first_decom = pd.Series(ep["DECOM"].to_numpy()[first], index=child[first])
    dob_child = child[dob_rows]
    log(dob_rows, "impossible_date", "header", "DOB", "DOB after the first DECOM")
    late = header["CHILD"].isin(dob_child)
    header.loc[late, "DOB"] = (
        header.loc[late, "CHILD"].map(first_decom) + pd.Timedelta(days=30)
    ).to_numpy()
    # codes not in the lists
    r = pick.rows(closed, rates["unknown_code"])
    col = np.array(["PLACE", "LS", "REC"])[rng.integers(0, 3, r.size)]
    bad = {"PLACE": "Q9", "LS": "V9", "REC": "E99"}
    for c in ("PLACE", "LS", "REC"):
        rows = r[col == c]
        log(rows, "unknown_code", "episodes", c, f"{c} = {bad[c]}")
        ep.loc[rows, c] = bad[c]
    # stacked annual returns: exact duplicates and stale open copies
    dup = pick.rows(np.ones(len(ep), dtype=bool), rates["duplicate_row"])
    log(dup, "duplicate_row", "episodes", "", "identical row repeated")
    stale = pick.rows(closed, rates["stale_open_copy"])
    log(stale, "stale_open_copy", "episodes", "DEC", "open copy of a closed episode")
    copies = ep.loc[stale].copy()
    copies[["DEC", "REC", "REASON_PLACE_CHANGE"]] = [pd.NaT, None, None]
    ep = pd.concat([ep, ep.loc[dup], copies], ignore_index=True)
    # back in (LA, CHILD, DECOM) order, stably: the rows' keys are distinct and in order,
    # so each copy goes after the row it copies (a duplicate before an open copy)
    source = np.concatenate([np.arange(len(tables["episodes"])), dup, stale])
    ep = ep.iloc[stable_order(source)].reset_index(drop=True)
    out = dict(tables, episodes=ep, header=header)
    listed = pd.concat(faults, ignore_index=True) if faults else pd.DataFrame(columns=FAULT_COLUMNS)
    return out, listed.sort_values(["fault", "CHILD"], ignore_index=True)
