"""Lenient mode: remove the children with an error from every table, and record why.

Only rules of severity ``error`` (:mod:`reunistat.tables.rules.registry`)
exclude a child; warnings stay in the problems report.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from reunistat.tables import schema
from reunistat.tables.keys import SEP, child_uid, has_la, uid_by_child
from reunistat.tables.rules import frame
from reunistat.tables.rules.frame import uid_isin

_ROWS_COLS = ("table", "rows_dropped", "values_blanked")
#: Tables whose rows belong to a child (a problem there excludes the child).
CHILD_TABLES = {"header": "CHILD", "episodes": "CHILD", "cin": "LAchildID", "exits": "CHILD"}
_CHILD_TABLES = CHILD_TABLES


def _problem_uids(
    problems: pd.DataFrame, use_la: bool, tabs: Mapping[str, pd.DataFrame]
) -> pd.Series:
    """Child keys of the problems; a problem without LA (e.g. CIN without LA) finds it by CHILD."""
    p = problems[problems["table"].isin(_CHILD_TABLES) & problems["CHILD"].notna()]
    child = p["CHILD"].astype(str)
    if not use_la:
        return child
    uid = p["LA"].astype(str) + SEP + child
    no_la = p["LA"].isna()
    if no_la.any():
        known = pd.concat([tabs["episodes"][["LA", "CHILD"]], tabs["header"][["LA", "CHILD"]]])
        by_child = uid_by_child(known, use_la)
        uid = uid.mask(no_la, child.map(by_child).fillna(SEP + child))
    return uid


_EX_COLS = ("LA", "CHILD", "rule", "rules", "n_problems", "n_episodes", "n_header_rows")


def _excluded_children(
    pc: pd.DataFrame, tabs: Mapping[str, pd.DataFrame], use_la: bool, of_bad: dict[str, np.ndarray]
) -> pd.DataFrame:
    """One row per child with a problem: first rule, all rules, rows it had.

    ``of_bad``: the rows of episodes and header whose child has a problem.
    """
    eps, head = tabs["episodes"], tabs["header"]
    n_eps = child_uid(eps.loc[of_bad["episodes"]], use_la).value_counts()
    ex = (
        pc.groupby("_uid", sort=False)
        .agg(
            LA=("LA", "first"),
            CHILD=("CHILD", "first"),
            rule=("rule", "first"),
            rules=("rule", lambda s: ";".join(dict.fromkeys(s))),
            n_problems=("rule", "size"),
        )
        .reset_index()
    )
    ex["n_episodes"] = ex["_uid"].map(n_eps).fillna(0).astype(int)
    n_head = child_uid(head.loc[of_bad["header"]], use_la).value_counts()
    ex["n_header_rows"] = ex["_uid"].map(n_head).fillna(0)
    # rows without a CHILD at all cannot belong to anyone: one record for them
    n_eps_blank = int(frame.blank(eps["CHILD"]).sum())
    n_head_blank = int(frame.blank(head["CHILD"]).sum())
    if n_eps_blank or n_head_blank:
        blank: dict[str, object] = {"LA": None, "CHILD": None, "rule": "required"}
        blank["rules"] = "required"
        n = n_eps_blank + n_head_blank
        blank |= {"n_problems": n, "n_episodes": n_eps_blank, "n_header_rows": n_head_blank}
        ex = pd.concat([ex, pd.DataFrame([blank])], ignore_index=True)
    ex["n_header_rows"] = ex["n_header_rows"].astype(int)
    ex["in_header"] = ex["n_header_rows"] > 0
    return ex.drop(columns="_uid")


def _drop_children(
    tabs: dict[str, pd.DataFrame], bad: set[str], use_la: bool, of_bad: dict[str, np.ndarray]
) -> dict[str, pd.DataFrame]:
    """Remove every row of the children in ``bad`` (and rows without a child) from child tables.

    ``of_bad``: the rows of some tables whose child key is in ``bad`` (found once).
    """
    for name, col in _CHILD_TABLES.items():
        if name not in tabs:
            continue
        df = tabs[name]
        if use_la and not has_la(df):  # e.g. CIN without LA: match the child by its id
            drop = df[col].astype(str).isin({u.split(SEP)[-1] for u in bad}).to_numpy()
        elif name in of_bad:
            drop = of_bad[name].copy()
        else:
            drop = uid_isin(df, use_la, bad, col)
        drop |= frame.blank(df[col])
        out = df.take(np.flatnonzero(~drop))  # a new frame, as loc and reset_index
        out.index = pd.RangeIndex(len(out))
        tabs[name] = out
    return tabs


def exclude(
    tables: Mapping[str, pd.DataFrame], problems: pd.DataFrame, use_la: bool
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Remove children with problems from every table; return tables and the records."""
    tabs = dict(tables)
    if problems.empty:
        empty = pd.DataFrame(columns=[*_EX_COLS, "in_header"])
        return tabs, empty, pd.DataFrame(columns=list(_ROWS_COLS))
    pc = problems[problems["table"].isin(_CHILD_TABLES) & problems["CHILD"].notna()].copy()
    pc["_uid"] = _problem_uids(problems, use_la, tabs).to_numpy()
    bad = set(pc["_uid"])
    of_bad = {name: uid_isin(tabs[name], use_la, bad) for name in ("episodes", "header")}
    ex = _excluded_children(pc, tabs, use_la, of_bad)
    tabs = _drop_children(tabs, bad, use_la, of_bad)
    rows = []
    for name in set(tabs) - set(_CHILD_TABLES):
        tabs[name], dropped, blanked = _clean_other(tabs[name], name)
        if dropped or blanked:
            rows.append({"table": name, "rows_dropped": dropped, "values_blanked": blanked})
    ex_rows = pd.DataFrame(rows, columns=list(_ROWS_COLS))
    return tabs, ex, ex_rows


def _clean_other(df: pd.DataFrame, table: str) -> tuple[pd.DataFrame, int, int]:
    """Drop rows of a non-child table missing a required value; blank disallowed codes."""
    keep = np.ones(len(df), dtype=bool)
    blanked = 0
    df = df.copy()
    for c in schema.TABLES[table]:
        if c.name not in df.columns:
            continue
        if c.required:
            keep &= df[c.name].notna().to_numpy()
        if c.allowed is not None:
            bad = df[c.name].notna() & ~df[c.name].isin(c.allowed)
            blanked += int(bad.sum())
            df.loc[bad, c.name] = None
    return df.loc[keep].reset_index(drop=True), int((~keep).sum()), blanked
