"""Rules between consecutive annual returns (DfE 502, 202, 203, 204).

They compare the rows of one return with those of the return before it, so
they need every return's rows before stacking: a frame per table with the
rows of all returns and a column ordering them (the collection year,
:data:`reunistat.tables.keys.YEAR_COL`). DfE checks a return against last
year's only; so does reunistat (years ``y - 1`` and ``y``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.tables.keys import UID
from reunistat.tables.rules import frame


def _pairs(df: pd.DataFrame, order: str, cols: list[str]) -> pd.DataFrame:
    """Rows of return ``y`` joined to the same child's rows of return ``y - 1``."""
    now = df[[UID, order, *cols]].reset_index(names="_row")
    last = df[[UID, order, *cols]].assign(**{order: df[order] + 1})
    return now.merge(last, on=[UID, order], how="inner", suffixes=("", "_last"))


def check_header_changes(header: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 202-204: SEX, DOB or ETHNIC differ from last year's return (named in this year's).

    SEX is compared by group, so 1 and M (the codes before and after 2024-25)
    agree: DfE's 202 compares the codes and would flag every child across the
    change.
    """
    h = header.dropna(subset=[order])
    if h.empty:
        return frame.empty()
    h = h.assign(**{order: h[order].astype(np.int64)}).drop_duplicates([UID, order], keep="last")
    h = h.reset_index(drop=True)
    m = _pairs(h, order, ["SEX", "DOB", "ETHNIC"])
    sex = m["SEX"].map(codes.SEX_GROUP).fillna(m["SEX"])
    sex_last = m["SEX_last"].map(codes.SEX_GROUP).fillna(m["SEX_last"])
    checks = {
        "202": (sex.astype(str) != sex_last.astype(str)).to_numpy(),
        "203": (m["DOB"].astype(str) != m["DOB_last"].astype(str)).to_numpy(),
        "204": (m["ETHNIC"].astype(str) != m["ETHNIC_last"].astype(str)).to_numpy(),
    }
    out = []
    for rule, mask in checks.items():
        if mask.any():
            col = {"202": "SEX", "203": "DOB", "204": "ETHNIC"}[rule]
            p = m.loc[mask].copy()
            p["CHILD"] = h["CHILD"].to_numpy()[p["_row"].to_numpy()]
            if "LA" in h.columns:
                p["LA"] = h["LA"].to_numpy()[p["_row"].to_numpy()]
            last = p[f"{col}_last"].astype(str)
            detail = "last year's return: " + last
            pr = frame.problems(p, np.ones(len(p), bool), rule)
            pr["detail"] = detail.to_numpy()
            out.append(pr)
    return frame.concat(out)


def check_continuity(episodes: pd.DataFrame, order: str) -> pd.DataFrame:
    """DfE 502: a child's first episode in return ``y`` starts when last year's open one did.

    For each child in returns ``y - 1`` and ``y``, every episode open (blank
    DEC) in return ``y - 1`` must have the DECOM of the child's first episode
    in return ``y``; the first episode is named.
    """
    e = episodes.dropna(subset=[order])
    if e.empty:
        return frame.empty()
    e = e.assign(**{order: e[order].astype(np.int64)}).reset_index(drop=True)
    first = e.sort_values([UID, order, "DECOM"], kind="stable").drop_duplicates([UID, order])
    open_last = e.loc[e["DEC"].isna(), [UID, order, "DECOM"]]
    open_last = open_last.assign(**{order: open_last[order] + 1})
    m = first.reset_index(names="_row").merge(
        open_last, on=[UID, order], how="inner", suffixes=("", "_open")
    )
    bad = (m["DECOM"] != m["DECOM_open"]).to_numpy()
    if not bad.any():
        return frame.empty()
    rows = np.unique(m.loc[bad, "_row"].to_numpy())
    p = e.loc[rows]
    opened = m.loc[bad].groupby("_row")["DECOM_open"].first()
    pr = frame.problems(p, np.ones(len(p), bool), "502")
    pr["detail"] = [
        f"last year's open episode started {str(d)[:10]}" for d in opened.loc[rows].to_numpy()
    ]
    return pr
