"""Validate the linked tables as DfE's validator does: every problem found at once.

:func:`validate_tables` first normalises coded values as DfE's validator reads
them (trimmed and upper-cased; each change counted in ``repairs``), then
applies the rules of :mod:`reunistat.tables.rules` (the registry gives each
its DfE number, scope, table, columns and message): codes by collection year,
dates against the collection year, the chain of episodes (DfE 142, 357,
431-437, 501...), ages at exits (302, 352, 386-389, 407, 460), changes between
annual returns (202-204, 502) and header/episode linkage. All checks are
vectorised (2M episode rows take a few seconds).

Two modes: ``strict`` raises :class:`ValidationError` listing the problems of
severity ``error``; ``lenient`` excludes every child with an error (all their
rows in every table) and records each exclusion with its reasons. Warnings
(DfE's plausibility queries) are reported in ``problems`` and exclude no one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from reunistat import codes
from reunistat.errors import DataValidationError, InputError
from reunistat.tables import schema
from reunistat.tables.io import Extract, prepare_tables
from reunistat.tables.keys import (
    CID,
    UID,
    YEAR_COL,
    child_uid,
    has_la,
    sort_by_child,
    with_child_keys,
)
from reunistat.tables.rules import frame, registry
from reunistat.tables.rules.ages import check_ages
from reunistat.tables.rules.columns import check_columns, years_of
from reunistat.tables.rules.exclude import exclude
from reunistat.tables.rules.returns import (
    check_continuity,
    check_first_matches_open,
    check_header_changes,
)
from reunistat.tables.rules.sequence import (
    check_adopted_before,
    check_chain,
    check_episode,
    data_start_of,
)

Mode = Literal["strict", "lenient"]
#: Tables holding 903 codes that DfE's validator upper-cases before checking.
_CODED_TABLES = ("header", "episodes", "cin")
_REPAIR_COLS = ("table", "column", "repair", "n_values")


class ValidationError(DataValidationError):
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
        rule = registry.RULES.get(str(r.rule))
        what = rule.message if rule else ""
        tag = f"DfE rule {r.rule}" if rule and rule.dfe else f"rule {r.rule}"
        sev = " (warning)" if rule and rule.severity == "warning" else ""
        lines.append(f"  {r.n:>8,}  table {r.table}, column {r.column}, {tag}{sev}: {what}")
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
    """Tables that passed validation, and what was found, repaired and excluded.

    Attributes
    ----------
    tables : dict of str to DataFrame
        The tables (codes normalised), without the excluded children (lenient mode).
    problems : DataFrame
        Every error found (:data:`~reunistat.tables.schema.PROBLEM_COLUMNS`):
        problems of rules of severity ``error``.
    excluded_children : DataFrame
        One row per excluded child: ``LA, CHILD, rule`` (the first rule broken,
        in the order of :data:`~reunistat.tables.rules.RULES`), ``rules`` (all
        of them), ``n_problems``, ``n_episodes`` and ``n_header_rows`` (rows
        removed from episodes and header) and ``in_header``. Rows without a
        CHILD are removed too and recorded in one row with a blank CHILD.
    excluded_rows : DataFrame
        Tables not about one child (npd, postcodes, la): ``table, rows_dropped``
        (a required value blank), ``values_blanked`` (a code not allowed).
    stacking : DataFrame
        From :class:`~reunistat.tables.io.Extract`.
    mode : str
    repairs : DataFrame
        ``table, column, repair, n_values``: coded values changed before
        checking (``repair = "trim_upper"``: trimmed and upper-cased as DfE's
        validator reads them). No row is dropped by a repair.
    warnings : DataFrame
        Problems of rules of severity ``warning`` (DfE's plausibility queries),
        in the same form; they exclude no one.
    notes : list of str
        How the collection years were known (code sets, DfE 357's scope).
    """

    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame
    excluded_children: pd.DataFrame
    excluded_rows: pd.DataFrame
    stacking: pd.DataFrame
    mode: Mode
    repairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_REPAIR_COLS))
    warnings: pd.DataFrame = field(default_factory=frame.empty)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# steps


def normalise_tables(
    tables: Mapping[str, pd.DataFrame], categories: bool = False
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Trim and upper-case coded values as DfE's validator does; count changes per column.

    ``categories``: give every code column of objects as a ``category`` column
    (:func:`reunistat.codes.normalise_to_categories`), so the rules look each
    distinct code up once; :func:`as_text` turns the tables back.
    """
    out = dict(tables)
    rows = []
    normalise = codes.normalise_to_categories if categories else codes.normalise_codes
    for name in _CODED_TABLES:
        if name not in out:
            continue
        df = out[name]
        for c in schema.TABLES[name]:
            if c.kind != "code" or c.name not in df.columns:
                continue
            clean, n = normalise(df[c.name])
            if clean is not df[c.name]:
                if df is out[name]:
                    df = df.copy(deep=False)  # columns replaced, none copied
                df[c.name] = clean
            if n:
                rows.append(
                    {"table": name, "column": c.name, "repair": "trim_upper", "n_values": n}
                )
        out[name] = df
    return out, pd.DataFrame(rows, columns=list(_REPAIR_COLS))


def as_text(
    tables: Mapping[str, pd.DataFrame],
    like: Mapping[str, pd.DataFrame],
    repairs: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables with each code column and each ``category`` column not so in ``like`` as objects.

    Blanks are None.

    A column normalising did not change (not in ``repairs``) of a table that
    lost no rows is ``like``'s own column again (no copy); the others are made
    from their codes (:func:`reunistat.codes.category_values`). Every column
    stays a block of its own, as the reader made them.
    """
    changed = set()
    if repairs is not None:
        changed = set(zip(repairs["table"], repairs["column"], strict=True))
    out = dict(tables)
    for name, df in out.items():
        was = like.get(name, df)
        # the reader's code categories stay categories (derivation works on their codes)
        cats = {
            c
            for c in df.columns
            if isinstance(df[c].dtype, pd.CategoricalDtype)
            and not isinstance(was.dtypes.get(c), pd.CategoricalDtype)
        }
        if not cats:
            continue
        same_rows = len(was) == len(df)  # exclusion only drops rows: the same rows
        cols = {
            c: (
                was[c].to_numpy()
                if same_rows and (name, c) not in changed and was[c].dtype == object
                else codes.category_values(df[c])
            )
            if c in cats
            else df[c]
            for c in df.columns
        }
        out[name] = pd.DataFrame(cols, index=df.index, columns=df.columns, copy=False)
    return out


def _structure(
    header: pd.DataFrame, eps: pd.DataFrame, use_la: bool
) -> tuple[list[pd.DataFrame], str]:
    """Episode rules: one episode, the chain, ages, linkage."""
    header, eps = with_child_keys(header, eps, use_la)
    e = sort_by_child(eps, use_la)
    h = frame.first_per_key(header, CID)
    rows = frame.rows_of(h[CID].to_numpy(), e[CID].to_numpy())  # each episode's header row
    start, how = data_start_of(e, years_of(e))
    found = [
        check_episode(e),
        check_chain(e, start),
        check_ages(e, h["DOB"], rows),
        check_adopted_before(e),
        _linkage(h, e),
    ]
    return found, f"DfE 357 checks first episodes starting on or after {how}"


def _linkage(header: pd.DataFrame, e: pd.DataFrame) -> pd.DataFrame:
    """Every episode's child has a header row, every header child an episode."""
    m = ~frame.key_isin(e[CID].to_numpy(), header[CID].to_numpy())
    m2 = ~frame.key_isin(header[CID].to_numpy(), e[CID].to_numpy())
    return frame.concat(
        [frame.problems(e, m, "no_header"), frame.problems(header, m2, "no_episodes")]
    )


def between_returns(returns: Mapping[str, pd.DataFrame], use_la: bool) -> pd.DataFrame:
    """DfE 502, 503A-J and 202-204 on the rows of every return before stacking (``YEAR_COL``)."""
    found = []
    checks = (
        ("episodes", check_continuity),
        ("episodes", check_first_matches_open),
        ("header", check_header_changes),
    )
    for name, check in checks:
        df = returns.get(name)
        if df is None or YEAR_COL not in df.columns or df[YEAR_COL].isna().all():
            continue
        key = (  # the reader's integer child key: fast to sort and match
            df[CID]
            if CID in df.columns
            else child_uid(df.drop(columns=UID, errors="ignore"), use_la)
        )
        df = df.copy(deep=False)  # the key added, no column copied (assign copies them all)
        df[UID] = key
        found.append(check(df, YEAR_COL))
    return frame.concat(found)


def find_problems(
    extract: Extract,
    data_end: pd.Timestamp | None = None,
    returns: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, bool]:
    """Return every problem in the extract (reading problems included) and whether LA keys.

    ``returns``: rows of every annual return before stacking (``header``,
    ``episodes``, with ``YEAR_COL``), for the rules between returns; without
    it they are not checked.
    """
    tabs = extract.tables
    header, eps = tabs["header"], tabs["episodes"]
    use_la = has_la(header, eps)
    found = [extract.problems]
    for name, df in tabs.items():
        if name in schema.TABLES:
            found.append(check_columns(df, name, data_end))
    structure, _ = _structure(header, eps, use_la)
    found += structure
    if returns:
        found.append(between_returns(returns, use_la))
    problems = frame.concat(found)
    order = {r: i for i, r in enumerate(registry.RULES)}
    problems["_o"] = problems["rule"].map(order).fillna(len(order))
    by = ["_o", "table", "LA", "CHILD"]
    if not frame.in_order(problems, by):  # found in that order already: nothing to move
        problems = problems.sort_values(by, kind="stable")
    return problems.drop(columns="_o").reset_index(drop=True), use_la


# ---------------------------------------------------------------------------
# entry point


def _returns_of(tables: Mapping[str, object]) -> dict[str, pd.DataFrame] | None:
    """Rows of each return, parsed, when raw tables come as one frame per return."""
    h, e = tables.get("header"), tables.get("episodes")
    if isinstance(h, pd.DataFrame) or isinstance(e, pd.DataFrame) or h is None or e is None:
        return None
    hs, es = list(h), list(e)  # type: ignore[call-overload]
    if len(hs) != len(es) or len(hs) < 2:
        return None
    parts: dict[str, list[pd.DataFrame]] = {"header": [], "episodes": []}
    for i, (hi, ei) in enumerate(zip(hs, es, strict=True)):
        one = prepare_tables({"header": hi, "episodes": ei}).tables
        for name in parts:
            df = one[name]
            if YEAR_COL not in df.columns or df[YEAR_COL].isna().all():
                df = df.assign(**{YEAR_COL: pd.array([i] * len(df), dtype="Int64")})
            df = df.drop(columns=[UID, CID], errors="ignore")
            cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
            # the reader's code categories as objects, as the rules between returns take them
            parts[name].append(df.assign(**{c: codes.category_values(df[c]) for c in cats}))
    return {name: pd.concat(p, ignore_index=True) for name, p in parts.items()}


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
        From :func:`~reunistat.tables.io.read_extract`, or raw frames by table
        name (parsed and de-duplicated first); a list of frames per table, one
        per annual return, earliest first, also gets the rules between returns
        (DfE 502, 202-204). An ``Extract`` with a ``returns`` attribute (rows
        of every return before stacking) gets them too.
    mode : {"strict", "lenient"}
        ``strict`` raises :class:`ValidationError` if an error is found;
        ``lenient`` excludes each child with an error and records why.
    data_end : date, optional
        Dates after it are errors (rule ``date_range``).
    ignore_rules : iterable of str
        Rules (keys of :data:`~reunistat.tables.rules.RULES`, or an old name of
        :data:`~reunistat.tables.rules.RENAMED`) not to apply.

    Returns
    -------
    Validated
    """
    if mode not in ("strict", "lenient"):
        raise InputError(f"mode must be 'strict' or 'lenient', got {mode!r}")
    ignore = {registry.RENAMED.get(str(r), str(r)) for r in ignore_rules}
    unknown = ignore - set(registry.RULES)
    if unknown:
        raise InputError(f"unknown rule(s) {sorted(unknown)}; rules: {list(registry.RULES)}")
    returns = getattr(tables, "returns", None)
    if not isinstance(returns, Mapping):
        returns = None
    if not isinstance(tables, Extract):
        returns = _returns_of(tables)
        tables = prepare_tables(tables)
    end = None if data_end is None else pd.Timestamp(data_end)
    tabs, repairs = normalise_tables(tables.tables, categories=True)
    extract = Extract(tables=tabs, problems=tables.problems, stacking=tables.stacking)
    if returns is not None:
        returns, _ = normalise_tables(returns)
    problems, use_la = find_problems(extract, end, returns)
    problems = problems[~problems["rule"].isin(ignore)]
    rules = problems["rule"]
    is_error = rules.map({r: registry.severity(r) for r in rules.unique()}).to_numpy() == "error"
    errors = problems[is_error].reset_index(drop=True)
    warnings = problems[~is_error].reset_index(drop=True)
    if mode == "strict" and not errors.empty:
        raise ValidationError(errors)
    kept, ex_children, ex_rows = exclude(extract.tables, errors, use_la)
    return Validated(
        as_text(kept, tables.tables, repairs),
        errors,
        ex_children,
        ex_rows,
        extract.stacking,
        mode,
        repairs,
        warnings,
        _notes(extract),
    )


def _notes(extract: Extract) -> list[str]:
    eps = extract.tables["episodes"]
    years = years_of(eps)
    if years is None:
        return [
            "collection year unknown for every row: codes checked against every code some "
            "year allows; DfE 357 scoped from the earliest DEC; 354/385 and rules between "
            "returns not checked"
        ]
    n_unknown = int(years.isna().sum())
    known = sorted(int(y) for y in years.dropna().unique())
    note = [f"collection years read: {', '.join(str(y) for y in known)}"]
    if n_unknown:
        note.append(f"{n_unknown:,} episode rows of unknown collection year: any year's codes")
    return note
