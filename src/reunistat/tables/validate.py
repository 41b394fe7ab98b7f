"""Validate the linked tables: every problem found at once, each naming its row.

:func:`validate_tables` checks types and allowed codes (declared once in
:mod:`reunistat.tables.schema`), dates in range, the order of dates, the
episode structure (no overlaps, DfE rules 357 and 431-433, X1 continuity),
P1 with V2, starts at or after the 18th birthday, and header/episode linkage.
All checks are vectorised (2M episode rows take a few seconds).

Two modes: ``strict`` raises :class:`ValidationError` listing the problems;
``lenient`` excludes every child with a problem (all their rows in every
table) and records each exclusion with its reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.dates import eighteenth_birthday
from reunistat.tables import schema
from reunistat.tables.io import Extract, empty_problems, prepare_tables, problems_frame
from reunistat.tables.keys import CID, SEP, UID, child_uid, has_la, sort_by_child

Mode = Literal["strict", "lenient"]
EARLIEST_DATE = pd.Timestamp("1900-01-01")
_RNE_START = "S"  # codes.RNE: started to be looked after
_PLACED_WITH_PARENTS = "P1"  # codes.PLACE
assert _RNE_START in codes.RNE and _PLACED_WITH_PARENTS in codes.PLACE
_ROWS_COLS = ("table", "rows_dropped", "values_blanked")
#: Tables whose rows belong to a child (a problem there excludes the child).
_CHILD_TABLES = {"header": "CHILD", "episodes": "CHILD", "cin": "LAchildID", "exits": "CHILD"}


class ValidationError(ValueError):
    """The tables break validation rules; ``problems`` lists every one."""

    def __init__(self, problems: pd.DataFrame):
        self.problems = problems
        super().__init__(describe_problems(problems))


def describe_problems(problems: pd.DataFrame, show: int = 30) -> str:
    """Return a readable account: counts by table, column and rule, then examples."""
    if problems.empty:
        return "no problems found"
    counts = (
        problems.groupby(["table", "column", "rule"], sort=True).size().rename("n").reset_index()
    )
    lines = [f"{len(problems):,} problem(s) found in the linked tables:"]
    for r in counts.itertuples(index=False):
        lines.append(
            f"  {r.n:>8,}  table {r.table}, column {r.column}, rule {r.rule}: "
            f"{schema.RULES.get(str(r.rule), '')}"
        )
    lines.append("examples (up to two per table, column and rule):")
    examples = problems.groupby(["table", "column", "rule"], sort=True).head(2).head(show)
    for r in examples.itertuples(index=False):
        decom = "-" if r.DECOM is None or pd.isna(r.DECOM) else str(r.DECOM)[:10]
        lines.append(
            f"  table {r.table}, column {r.column}, LA {r.LA}, CHILD {r.CHILD}, "
            f"DECOM {decom}: rule {r.rule} ({r.detail}); value {_show(r.value)}"
        )
    return "\n".join(lines)


def _show(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return "(blank)"
    if isinstance(value, pd.Timestamp):
        return str(value.date())
    return repr(value)


@dataclass
class Validated:
    """Tables that passed validation, and what was found and excluded.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The tables, without the excluded children (lenient mode).
    problems : DataFrame
        Every problem found (:data:`~reunistat.tables.schema.PROBLEM_COLUMNS`).
    excluded_children : DataFrame
        One row per excluded child: ``LA, CHILD, rule`` (the first rule broken,
        in the order of :data:`~reunistat.tables.schema.RULES`), ``rules`` (all
        of them), ``n_problems``, ``n_episodes`` and ``n_header_rows`` (rows
        removed from episodes and header) and ``in_header``. Rows without a
        CHILD are removed too and recorded in one row with a blank CHILD.
    excluded_rows : DataFrame
        Tables not about one child (npd, postcodes, la): ``table, rows_dropped``
        (a required value blank), ``values_blanked`` (a code not allowed).
    stacking : DataFrame
        From :class:`~reunistat.tables.io.Extract`.
    mode : str
    """

    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame
    excluded_children: pd.DataFrame
    excluded_rows: pd.DataFrame
    stacking: pd.DataFrame
    mode: Mode


# ---------------------------------------------------------------------------
# column checks


def check_columns(df: pd.DataFrame, table: str, data_end: pd.Timestamp | None) -> pd.DataFrame:
    """Check required values, allowed codes and date ranges of one table."""
    out = []
    for c in schema.TABLES[table]:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        if c.required:
            m = s.isna().to_numpy()
            if m.any():
                out.append(problems_frame(df, m, table, c.name, "required"))
        if c.allowed is not None:
            m = (s.notna() & ~s.isin(c.allowed)).to_numpy()
            if m.any():
                out.append(problems_frame(df, m, table, c.name, "code"))
        if c.kind == "date" and c.name != "PILOT_START":
            rng = s < EARLIEST_DATE
            if data_end is not None:
                rng |= s > data_end
            m = rng.fillna(False).to_numpy(dtype=bool)
            if m.any():
                detail = f"before {EARLIEST_DATE.date()} or after the data end {_d(data_end)}"
                out.append(problems_frame(df, m, table, c.name, "date_range", detail=detail))
    return pd.concat(out, ignore_index=True) if out else empty_problems()


def _d(t: pd.Timestamp | None) -> str:
    return "(none given)" if t is None else str(t.date())


# ---------------------------------------------------------------------------
# episode structure


def check_episode_dates(e: pd.DataFrame, dob: pd.Series) -> pd.DataFrame:
    """Check each episode's own dates: DOB before DECOM, DEC/REC, 18th birthday.

    ``e`` is sorted with a ``_uid`` column; ``dob`` is the DOB of each row (NaT
    when the child has no header).
    """
    t = "episodes"
    b18 = eighteenth_birthday(dob)
    before_birth = (e["DECOM"] < dob).to_numpy(dtype=bool)
    out = []
    if before_birth.any():
        # a DOB problem: named in the header, with the DECOM it contradicts
        e_dob = e.assign(DOB=dob)
        out.append(problems_frame(e_dob, before_birth, "header", "DOB", "dob_after_decom"))
    checks = [
        ("DEC", "dec_before_decom", (e["DEC"] < e["DECOM"]).to_numpy(dtype=bool)),
        ("DEC", "dec_rec_pair", (e["DEC"].isna() != e["REC"].isna()).to_numpy(dtype=bool)),
        ("DECOM", "start_after_18", (e["DECOM"] >= b18).to_numpy(dtype=bool)),
        (
            "PLACE",
            "p1_v2",
            ((e["PLACE"] == _PLACED_WITH_PARENTS) & (e["LS"] == codes.SECTION20_LS)).to_numpy(
                dtype=bool
            ),
        ),
    ]
    out += [problems_frame(e, m, t, col, rule) for col, rule, m in checks if m.any()]
    return pd.concat(out, ignore_index=True) if out else empty_problems()


def check_episode_sequence(e: pd.DataFrame) -> pd.DataFrame:
    """Check the chain of a child's episodes: overlaps, DfE 357 and 431-433, X1.

    ``e`` is sorted by child and DECOM, with a ``_uid`` column.
    """
    t = "episodes"
    uid = e["_uid"].to_numpy()
    same_prev = np.r_[False, uid[1:] == uid[:-1]]
    same_next = np.r_[uid[:-1] == uid[1:], False]
    prev_dec = e["DEC"].shift(1)
    prev_rec = e["REC"].shift(1)
    next_rne = e["RNE"].shift(-1)
    next_decom = e["DECOM"].shift(-1)
    rne = e["RNE"]
    is_start = (rne == _RNE_START).to_numpy(dtype=bool)
    is_cont = rne.isin(codes.RNE_CONTINUATION).to_numpy(dtype=bool)
    prev_ended = prev_rec.isin(codes.REC_END).to_numpy(dtype=bool)
    same_day = (e["DECOM"] == prev_dec).to_numpy(dtype=bool)
    x1 = (e["REC"] == codes.REC_CONTINUE).to_numpy(dtype=bool)
    checks = [
        ("DEC", "overlap", same_next & (e["DEC"] > next_decom).to_numpy(dtype=bool)),
        ("DEC", "open_not_last", same_next & e["DEC"].isna().to_numpy()),
        ("RNE", "357", ~same_prev & ~is_start & rne.notna().to_numpy()),
        ("RNE", "431", same_prev & is_start & same_day),
        ("RNE", "432", same_prev & prev_ended & ~is_start & rne.notna().to_numpy()),
        ("DECOM", "433", same_prev & is_cont & ~same_day & prev_dec.notna().to_numpy()),
        ("REC", "x1_next", x1 & (~same_next | (next_rne == _RNE_START).to_numpy(dtype=bool))),
    ]
    out = [problems_frame(e, m, t, col, rule) for col, rule, m in checks if m.any()]
    return pd.concat(out, ignore_index=True) if out else empty_problems()


def check_linkage(header: pd.DataFrame, e: pd.DataFrame, use_la: bool) -> pd.DataFrame:
    """Check that every episode's child has a header row and every header child an episode."""
    out = []
    if CID in header.columns and CID in e.columns:  # shared integer keys: fast
        m = ~np.isin(e[CID].to_numpy(), header[CID].to_numpy())
        m2 = ~np.isin(header[CID].to_numpy(), e[CID].to_numpy())
    else:
        h_uid = child_uid(header, use_la)
        m = ~e[UID].isin(set(h_uid)).to_numpy()
        m2 = ~h_uid.isin(set(e[UID])).to_numpy()
    if m.any():
        out.append(problems_frame(e, m, "episodes", "CHILD", "no_header"))
    if m2.any():
        out.append(problems_frame(header, m2, "header", "CHILD", "no_episodes"))
    return pd.concat(out, ignore_index=True) if out else empty_problems()


# ---------------------------------------------------------------------------
# entry point


def _as_extract(tables: Extract | Mapping[str, pd.DataFrame]) -> Extract:
    if isinstance(tables, Extract):
        return tables
    return prepare_tables(tables)


def find_problems(
    extract: Extract, data_end: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, bool]:
    """Return every problem in the extract (reading problems included) and whether LA keys."""
    tabs = extract.tables
    header, eps = tabs["header"], tabs["episodes"]
    use_la = has_la(header, eps)
    found = [extract.problems]
    for name, df in tabs.items():
        found.append(check_columns(df, name, data_end))
    e = sort_by_child(eps, use_la)
    key = CID if CID in header.columns and CID in e.columns else UID
    h = header.assign(_uid=child_uid(header, use_la)).drop_duplicates(key)
    dob = e[key].map(h.set_index(key)["DOB"])
    found += [check_episode_dates(e, dob), check_episode_sequence(e), check_linkage(h, e, use_la)]
    nonempty = [f for f in found if not f.empty]
    problems = pd.concat(nonempty, ignore_index=True) if nonempty else empty_problems()
    order = {r: i for i, r in enumerate(schema.RULES)}
    problems["_o"] = problems["rule"].map(order)
    problems = problems.sort_values(["_o", "table", "LA", "CHILD"], kind="stable")
    return problems.drop(columns="_o").reset_index(drop=True), use_la


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
        known = pd.concat([tabs["episodes"][["CHILD", UID]], tabs["header"][["CHILD", UID]]])
        by_child = known.drop_duplicates("CHILD").set_index("CHILD")[UID]
        uid = uid.mask(no_la, child.map(by_child).fillna(SEP + child))
    return uid


_EX_COLS = ("LA", "CHILD", "rule", "rules", "n_problems", "n_episodes", "n_header_rows")


def _excluded_children(
    pc: pd.DataFrame, tabs: Mapping[str, pd.DataFrame], use_la: bool
) -> pd.DataFrame:
    """One row per child with a problem: first rule, all rules, rows it had."""
    bad = set(pc["_uid"])
    eps_uid = child_uid(tabs["episodes"], use_la)
    n_eps = eps_uid[eps_uid.isin(bad)].value_counts()
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
    h_uid = child_uid(tabs["header"], use_la)
    ex["n_header_rows"] = ex["_uid"].map(h_uid[h_uid.isin(bad)].value_counts()).fillna(0)
    # rows without a CHILD at all cannot belong to anyone: one record for them
    n_eps_blank = int(tabs["episodes"]["CHILD"].isna().sum())
    n_head_blank = int(tabs["header"]["CHILD"].isna().sum())
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
    tabs: dict[str, pd.DataFrame], bad: set[str], use_la: bool
) -> dict[str, pd.DataFrame]:
    """Remove every row of the children in ``bad`` (and rows without a child) from child tables."""
    for name, col in _CHILD_TABLES.items():
        if name not in tabs:
            continue
        df = tabs[name]
        if use_la and not has_la(df):  # e.g. CIN without LA: match the child by its id
            drop = df[col].astype(str).isin({u.split(SEP)[-1] for u in bad})
        else:
            drop = child_uid(df, use_la, col).isin(bad)
        drop |= df[col].isna()
        tabs[name] = df.loc[~drop.to_numpy()].reset_index(drop=True)
    return tabs


def _exclude(extract: Extract, problems: pd.DataFrame, use_la: bool) -> tuple:
    """Remove children with problems from every table; return tables and the records."""
    tabs = dict(extract.tables)
    if problems.empty:
        empty = pd.DataFrame(columns=[*_EX_COLS, "in_header"])
        return tabs, empty, pd.DataFrame(columns=list(_ROWS_COLS))
    pc = problems[problems["table"].isin(_CHILD_TABLES) & problems["CHILD"].notna()].copy()
    pc["_uid"] = _problem_uids(problems, use_la, tabs).to_numpy()
    ex = _excluded_children(pc, tabs, use_la)
    tabs = _drop_children(tabs, set(pc["_uid"]), use_la)
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


def validate_tables(
    tables: Extract | Mapping[str, pd.DataFrame],
    mode: Mode = "strict",
    data_end: pd.Timestamp | str | None = None,
    ignore_rules: Iterable[str] = (),
) -> Validated:
    """Validate the linked tables, in one pass reporting every problem.

    Parameters
    ----------
    tables : Extract or mapping of str to DataFrame
        From :func:`~reunistat.tables.io.read_extract`, or raw frames by table name
        (they are parsed and de-duplicated first).
    mode : {"strict", "lenient"}
        ``strict`` raises :class:`ValidationError` if anything is wrong;
        ``lenient`` excludes each child with a problem and records why.
    data_end : date, optional
        Dates after it are errors (rule ``date_range``).
    ignore_rules : iterable of str
        Rules (keys of :data:`~reunistat.tables.schema.RULES`) not to apply,
        e.g. ``("357",)`` for an extract whose history starts after some
        children entered care (their first episode is then taken as the start
        of a period, and ``prior_periods`` counts only periods in the data).

    Returns
    -------
    Validated
    """
    if mode not in ("strict", "lenient"):
        raise ValueError(f"mode must be 'strict' or 'lenient', got {mode!r}")
    extract = _as_extract(tables)
    end = None if data_end is None else pd.Timestamp(data_end)
    unknown = set(ignore_rules) - set(schema.RULES)
    if unknown:
        raise ValueError(f"unknown rule(s) {sorted(unknown)}; rules: {list(schema.RULES)}")
    problems, use_la = find_problems(extract, end)
    problems = problems[~problems["rule"].isin(set(ignore_rules))].reset_index(drop=True)
    if mode == "strict" and not problems.empty:
        raise ValidationError(problems)
    tabs, ex_children, ex_rows = _exclude(extract, problems, use_la)
    return Validated(tabs, problems, ex_children, ex_rows, extract.stacking, mode)
