"""Messy annual mode: the faults of stacked returns as the sector meets them.

Each fault is listed in ``faults`` (one row per fault; file-level faults name
the file, the others the child, and no child carries two listed faults):

- ``stale_corrected_copy``: an episode whose DECOM or PLACE a later return
  corrected, the earlier return keeping the stale copy (every correction of
  ``truth_corrections``);
- ``vanished_open_episode``: an episode open at 31 March missing from the next
  return (it closed in that year; the later return forgot it);
- ``duplicate_row``: an episode row repeated in one return's file;
- ``lowercase_code``: RNE, LS, PLACE and REC of an episode row in lower case;
- ``blank_la``: an episode row with its LA cell blank;
- ``future_dec``: a DEC typed ten years late in the last return;
- ``us_date_format``: one return's episodes written with DECOM as mm/dd/YYYY
  (a file-level fault; the writer applies it);
- ``cp1252_file``: ``la.csv`` written in cp1252 with non-ASCII characters in
  one LA_NAME (a file-level fault; the writer applies it).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd

FAULT_COLUMNS = [
    "fault",
    "collection_year",
    "table",
    "column",
    "LA",
    "CHILD",
    "DECOM",
    "detail",
]
#: Codes written in lower case by ``lowercase_code``.
LOWERED = ("RNE", "LS", "PLACE", "REC")
NON_ASCII_NAME = " – Sainte-Hélène"


class _Faults:
    """Collect listed faults; never two child faults for one child."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[tuple[str, str]] = set()
        self.rows: list[dict[str, Any]] = []

    def pick(self, df: pd.DataFrame, candidates: np.ndarray, rate: float, count: int = -1):
        """Rows (positions) drawn from ``candidates``: each at ``rate``, or ``count`` of them."""
        cand = self.rng.permutation(candidates)
        want = self.rng.binomial(cand.size, rate) if count < 0 else count
        la, child = df["LA"].to_numpy(), df["CHILD"].to_numpy()
        out: list[int] = []
        for i in cand:
            if len(out) >= want:
                break
            key = (str(la[i]), str(child[i]))
            if key not in self.used:
                self.used.add(key)
                out.append(int(i))
        return np.sort(np.array(out, dtype=np.int64))

    def log(self, fault: str, year: int, table: str, column: str, df: pd.DataFrame, rows, detail):
        for i in rows:
            r = df.iloc[int(i)]
            self.rows.append(
                {
                    "fault": fault,
                    "collection_year": year,
                    "table": table,
                    "column": column,
                    "LA": r.get("LA"),
                    "CHILD": r.get("CHILD"),
                    "DECOM": r.get("DECOM", pd.NaT),
                    "detail": detail,
                }
            )

    def table(self) -> pd.DataFrame:
        out = pd.DataFrame(self.rows, columns=FAULT_COLUMNS)
        out["DECOM"] = pd.to_datetime(out["DECOM"])
        out["collection_year"] = out["collection_year"].astype("Int64")
        return out.sort_values(["fault", "collection_year", "LA", "CHILD"], ignore_index=True)


def _keys(df: pd.DataFrame) -> pd.Series:
    return df["LA"].astype(str) + "|" + df["CHILD"].astype(str) + "|" + df["DECOM"].astype(str)


def inject_annual_faults(
    rng: np.random.Generator,
    rates: dict[str, Any],
    returns: dict[int, dict[str, pd.DataFrame]],
    tables: dict[str, pd.DataFrame],
    corrections: pd.DataFrame,
) -> tuple[dict[int, dict[str, pd.DataFrame]], dict[str, pd.DataFrame], pd.DataFrame]:
    """Return faulty copies of the returns and linked tables, and the list of faults."""
    f = _Faults(rng)
    years = sorted(returns)
    ep = {y: returns[y]["episodes"].copy() for y in years}
    for c in corrections.itertuples(index=False):
        f.used.add((str(c.LA), str(c.CHILD)))
        f.rows.append(
            {
                "fault": "stale_corrected_copy",
                "collection_year": c.stale_collection_year,
                "table": "episodes",
                "column": c.column,
                "LA": c.LA,
                "CHILD": c.CHILD,
                "DECOM": c.DECOM,
                "detail": f"{c.column} {c.stale_value} in {c.stale_collection_year}, "
                f"{c.true_value} from {c.corrected_collection_year}",
            }
        )
    _vanish(f, rates["vanished_open_episode"], years, ep)
    for y in years:
        ep[y] = _row_faults(f, rates, y, ep[y])
    _one_off_faults(f, rates, years, ep)
    out = {y: dict(returns[y], episodes=ep[y]) for y in years}
    tables = dict(tables)
    if rates["cp1252_file"]:
        la = tables["la"].copy()
        la.loc[0, "LA_NAME"] = f"{la.loc[0, 'LA_NAME']}{NON_ASCII_NAME}"
        tables["la"] = la
        f.rows.append(
            {
                "fault": "cp1252_file",
                "collection_year": None,
                "table": "la",
                "column": "LA_NAME",
                "LA": la.loc[0, "LA"],
                "CHILD": None,
                "DECOM": pd.NaT,
                "detail": f"la.csv in cp1252; LA_NAME {la.loc[0, 'LA_NAME']!r}",
            }
        )
    return out, tables, f.table()


def _vanish(f: _Faults, rate: float, years: list[int], ep: dict[int, pd.DataFrame]) -> None:
    """Drop from the next return some episodes shown open at 31 March (closed in that year)."""
    for y, nxt in itertools.pairwise(years):
        cur = ep[y]
        open_rows = np.flatnonzero(cur["DEC"].isna().to_numpy())
        k_next = _keys(ep[nxt])
        closed_next = k_next[ep[nxt]["DEC"].notna().to_numpy()].to_numpy()
        k_cur = _keys(cur).to_numpy()
        cand = open_rows[np.isin(k_cur[open_rows], closed_next)]
        rows = f.pick(cur, cand, rate)
        detail = f"open in {y}, absent from {nxt}"
        f.log("vanished_open_episode", nxt, "episodes", "", cur, rows, detail)
        gone = set(k_cur[rows])
        ep[nxt] = ep[nxt].loc[~k_next.isin(gone).to_numpy()].reset_index(drop=True)


def _row_faults(f: _Faults, rates: dict[str, Any], y: int, df: pd.DataFrame) -> pd.DataFrame:
    """Duplicate rows and lower-case codes in one return's episodes."""
    all_rows = np.arange(len(df))
    dup = f.pick(df, all_rows, rates["duplicate_row"])
    f.log("duplicate_row", y, "episodes", "", df, dup, "identical row repeated in the file")
    low = f.pick(df, all_rows, rates["lowercase_code"])
    f.log("lowercase_code", y, "episodes", ",".join(LOWERED), df, low, "codes in lower case")
    if low.size:
        df = df.copy()
        for c in LOWERED:
            v = df[c].to_numpy(dtype=object).copy()
            v[low] = [s.lower() if isinstance(s, str) else s for s in v[low]]
            df[c] = v
    if dup.size:
        order = np.sort(np.concatenate([all_rows, dup]), kind="stable")
        df = df.iloc[order].reset_index(drop=True)
    return df


def _one_off_faults(
    f: _Faults, rates: dict[str, Any], years: list[int], ep: dict[int, pd.DataFrame]
) -> None:
    """Blank LA cells, a future DEC, a US-format date column (file-level)."""
    y = years[len(years) // 2]
    df = ep[y].copy()
    rows = f.pick(df, np.arange(len(df)), 0.0, int(rates["blank_la"]))
    f.log("blank_la", y, "episodes", "LA", df, rows, "LA cell blank")
    df.loc[rows, "LA"] = None
    ep[y] = df
    last = years[-1]
    df = ep[last].copy()
    closed = np.flatnonzero(df["DEC"].notna().to_numpy())
    rows = f.pick(df, closed, 0.0, int(rates["future_dec"]))
    f.log("future_dec", last, "episodes", "DEC", df, rows, "DEC ten years late")
    df.loc[rows, "DEC"] = df.loc[rows, "DEC"] + pd.DateOffset(years=10)
    ep[last] = df
    n_us = min(int(rates["us_date_format"]), len(years))
    for y in years[:n_us]:
        f.rows.append(
            {
                "fault": "us_date_format",
                "collection_year": y,
                "table": "episodes",
                "column": "DECOM",
                "LA": None,
                "CHILD": None,
                "DECOM": pd.NaT,
                "detail": f"{y} episodes DECOM written mm/dd/YYYY",
            }
        )
