"""Statistical disclosure control of published outputs (DOMAIN.md §5).

Models see exact data; only what is written for publication passes through
here. The rules follow DfE children-looked-after publications and the ONS
Secure Research Service (ACRO) defaults:

* a count below the threshold (10 by default) is shown as ``c``;
* **secondary suppression**: every published additive relationship between
  cells (a row adding to its total, the levels of a variable adding to the
  number of spells, a flow step adding to the step before) is a *line*; no
  line may hold exactly one suppressed cell, or it could be recovered by
  subtraction, so the smallest other cell of such a line is suppressed too;
* optional rounding of the counts shown to the nearest 5 or 10;
* survival and cumulative-incidence curves are cut where fewer than the
  threshold remain at risk, and shown only at steps that each rest on at
  least the threshold of events; at-risk tables show ``c`` below it.

:func:`check_table` and :func:`check_curve` re-check written outputs; the
pipeline runs them over every output and fails on a breach.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

#: Symbols DfE uses: suppressed, not applicable, rounds to zero.
SUPPRESSED = "c"
NOT_APPLICABLE = "z"
ROUNDS_TO_ZERO = "k"
SYMBOLS = (SUPPRESSED, NOT_APPLICABLE, ROUNDS_TO_ZERO, "")

Cell = tuple[Hashable, Hashable]


class DisclosureBreach(RuntimeError):
    """An output breaks the disclosure rules; the message lists every breach."""


@dataclass(frozen=True)
class DisclosureRules:
    """The disclosure rules applied to published counts.

    Parameters
    ----------
    apply : bool
        Whether to apply them (off only for the committed synthetic sample).
    threshold : int
        Smallest count that may be shown (counts ``1 .. threshold - 1`` become ``c``).
    rounding : int or None
        Round the counts shown to this base (5 or 10); ``None`` shows exact counts.
    zeros_disclosive : bool
        Treat a zero as disclosive too (ACRO's default); DfE shows zeros.
    """

    apply: bool = True
    threshold: int = 10
    rounding: int | None = None
    zeros_disclosive: bool = False

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"disclosure threshold must be at least 1, got {self.threshold}")
        if self.rounding not in (None, 5, 10):
            raise ValueError(f"disclosure rounding must be 5, 10 or none, got {self.rounding}")

    def is_small(self, values: np.ndarray) -> np.ndarray:
        """Return which counts are disclosive on their own (primary suppression)."""
        v = np.asarray(values, dtype=float)
        small = (v > 0) & (v < self.threshold)
        if self.zeros_disclosive:
            small |= v == 0
        return small & self.apply

    def round(self, values: np.ndarray) -> np.ndarray:
        """Round counts half up to the rounding base (unchanged without rounding).

        >>> DisclosureRules(rounding=5).round(np.array([12, 13, 240])).astype(int).tolist()
        [10, 15, 240]
        """
        v = np.asarray(values, dtype=float)
        if not self.apply or self.rounding is None:
            return v
        return np.floor(v / self.rounding + 0.5) * self.rounding

    def as_dict(self) -> dict[str, Any]:
        """Return the rules as a JSON-ready dictionary."""
        return {
            "apply": self.apply,
            "threshold": self.threshold,
            "rounding": self.rounding,
            "zeros_disclosive": self.zeros_disclosive,
        }


@dataclass
class Suppressed:
    """A table of counts after disclosure control.

    Attributes
    ----------
    shown : DataFrame
        The counts as published: strings, ``c`` where suppressed.
    mask : DataFrame
        True where a cell is suppressed.
    log : DataFrame
        One row per suppressed cell: ``row, column, reason`` (primary or
        secondary); never the hidden value.
    lines : list of list of (row, column)
        The additive relationships respected (for the checker).
    """

    shown: pd.DataFrame
    mask: pd.DataFrame
    log: pd.DataFrame
    lines: list[list[Cell]] = field(default_factory=list)


def _positions(counts: pd.DataFrame) -> tuple[dict[Hashable, int], dict[Hashable, int]]:
    rows: dict[Hashable, int] = {r: i for i, r in enumerate(counts.index)}
    cols: dict[Hashable, int] = {c: j for j, c in enumerate(counts.columns)}
    return rows, cols


def _secondary(values: np.ndarray, mask: np.ndarray, lines: list[list[tuple[int, int]]]) -> list:
    """Suppress until no line has exactly one suppressed cell; return the cells added."""
    added: list[tuple[int, int]] = []
    changed = True
    while changed:
        changed = False
        for line in lines:
            cells = [c for c in line if not np.isnan(values[c])]
            hidden = [c for c in cells if mask[c]]
            if len(hidden) != 1:
                continue
            free = [c for c in cells if not mask[c]]
            if not free:
                continue
            # the smallest other cell; positive cells first (hiding a zero protects less)
            pick = min(free, key=lambda c: (values[c] <= 0, values[c], c))
            mask[pick] = True
            added.append(pick)
            changed = True
    return added


def suppress_counts(
    counts: pd.DataFrame,
    rules: DisclosureRules,
    lines: Iterable[Sequence[Cell]] = (),
) -> Suppressed:
    """Suppress small counts and every cell that would let one be recovered.

    Parameters
    ----------
    counts : DataFrame
        Numeric counts (NaN where a cell does not apply); unique index and columns.
    rules : DisclosureRules
        Threshold, rounding, zeros.
    lines : iterable of sequences of (row label, column label)
        The cells bound by one additive relationship each (e.g. a row and its
        total). No line is left with exactly one suppressed cell.

    Returns
    -------
    Suppressed

    Examples
    --------
    >>> t = pd.DataFrame({"yes": [3, 40], "no": [50, 60], "all": [53, 100]}, index=["a", "b"])
    >>> s = suppress_counts(t, DisclosureRules(), [[("a", "yes"), ("a", "no"), ("a", "all")]])
    >>> s.shown.loc["a"].tolist()
    ['c', 'c', '53']
    """
    if not counts.index.is_unique or not counts.columns.is_unique:
        raise ValueError("a table to suppress needs unique row and column labels")
    rpos, cpos = _positions(counts)
    values = counts.to_numpy(dtype=float)
    mask = rules.is_small(np.nan_to_num(values, nan=np.inf)) & ~np.isnan(values)
    line_list = [list(line) for line in lines]
    idx_lines = [[(rpos[r], cpos[c]) for r, c in line] for line in line_list]
    primary = list(zip(*np.nonzero(mask), strict=True))
    secondary = _secondary(values, mask, idx_lines) if rules.apply else []
    rounded = rules.round(values)
    shown = pd.DataFrame(
        [
            [_fmt(rounded[i, j], mask[i, j]) for j in range(values.shape[1])]
            for i in range(len(values))
        ],
        index=counts.index,
        columns=counts.columns,
        dtype=object,
    )
    log = pd.DataFrame(
        [
            {"row": counts.index[i], "column": counts.columns[j], "reason": reason}
            for cells, reason in (
                (primary, f"primary: below {rules.threshold}"),
                (secondary, "secondary: protects a suppressed cell in the same line"),
            )
            for i, j in cells
        ],
        columns=["row", "column", "reason"],
    )
    return Suppressed(
        shown, pd.DataFrame(mask, index=counts.index, columns=counts.columns), log, line_list
    )


def _fmt(v: float, hidden: bool) -> str:
    if np.isnan(v):
        return NOT_APPLICABLE
    if hidden:
        return SUPPRESSED
    return str(int(v))


def cut_curve(
    curve: pd.DataFrame,
    rules: DisclosureRules,
    *,
    event_cols: Sequence[str] = ("n_events",),
    n_risk_col: str = "n_risk",
    time_col: str = "time",
    group_col: str = "group",
    drop_cols: Sequence[str] = ("n_censored",),
    start: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Return a curve safe to publish: cut below the threshold at risk, coarse steps.

    Within each group (rows sorted by time, ``n_risk`` at risk just before
    each time), a row is kept only where the events of each type since the
    last kept row are none or at least the threshold, so no step of the curve
    rests on fewer, and only while at least the threshold remain at risk after
    it; a group with fewer than the threshold at the start is left out. The
    published ``n_risk`` is the number still at risk just *after* the
    kept time (so two published rows differ by at least the threshold); event
    and censoring counts are dropped. With ``start`` a row at time 0 holding
    those estimate values (and everyone at risk) begins each group.

    Parameters
    ----------
    curve : DataFrame
        A tidy curve: ``group, time, n_risk, n_event, ...estimates``.
    rules : DisclosureRules
        Threshold and rounding.
    event_cols : sequence of str
        Columns of event counts (one per event type).
    n_risk_col, time_col, group_col : str
        Column names.
    drop_cols : sequence of str
        Further count columns not to publish.
    start : dict, optional
        Estimate values at time 0, e.g. ``{"cumulative_incidence": 0.0}``.

    Returns
    -------
    DataFrame
        The kept rows, without ``event_cols`` and ``drop_cols``.
    """
    counts = [c for c in (*event_cols, *drop_cols) if c in curve.columns]
    parts = []
    for label, g in curve.groupby(group_col, sort=False):
        g = g.sort_values(time_col, kind="stable").reset_index(drop=True)
        risk = g[n_risk_col].to_numpy(dtype=float)
        if rules.apply and (len(risk) == 0 or risk[0] < rules.threshold):
            continue  # a group smaller than the threshold has no publishable curve
        after = np.append(risk[1:], 0.0)
        ev = g[list(event_cols)].to_numpy(dtype=float)
        keep = _kept_rows(ev, after, rules)
        part = g.loc[keep].copy()
        part[n_risk_col] = after[keep]
        if start is not None:
            first = {group_col: label, time_col: 0, n_risk_col: risk[0] if len(risk) else 0}
            part = pd.concat([pd.DataFrame([{**first, **start}]), part], ignore_index=True)
        parts.append(part)
    if not parts:
        return curve.iloc[:0].drop(columns=counts)
    out = pd.concat(parts, ignore_index=True).drop(columns=counts)
    out[n_risk_col] = rules.round(out[n_risk_col].to_numpy(dtype=float)).astype(np.int64)
    return out


def _kept_rows(ev: np.ndarray, after: np.ndarray, rules: DisclosureRules) -> list[int]:
    """The rows :func:`cut_curve` keeps (``ev``: events of each type per row, ``after``: at risk).

    A loop over Python floats: the same double-precision sums and comparisons
    as with numpy rows, without numpy's cost per call on a row of one or two
    values (half the time on the curves of a national run).
    """
    if not rules.apply:
        return list(range(len(after)))
    threshold = rules.threshold
    keep = []
    width = ev.shape[1]
    if (
        width == 1
    ):  # one event type: the sum is the count itself (``0 + a``), kept when >= threshold
        total = 0.0
        for k, (at_risk, e) in enumerate(zip(after.tolist(), ev[:, 0].tolist(), strict=False)):
            if at_risk < threshold:
                break
            total = total + e
            if total >= threshold:
                keep.append(k)
                total = 0.0
        return keep
    acc = [0.0] * width
    for k, (at_risk, row) in enumerate(zip(after.tolist(), ev.tolist(), strict=False)):
        if at_risk < threshold:
            break
        acc = [a + e for a, e in zip(acc, row, strict=True)]
        if sum(acc) >= threshold and all(a == 0 or a >= threshold for a in acc):
            keep.append(k)
            acc = [0.0] * width
    return keep


def at_risk_table(
    curve: pd.DataFrame,
    times: Sequence[float],
    rules: DisclosureRules,
    *,
    n_risk_col: str = "n_risk",
    time_col: str = "time",
    group_col: str = "group",
) -> pd.DataFrame:
    """Return the numbers still at risk at chosen times, one row per group.

    Counts below the threshold are ``c`` (the curve is cut there too); rounding
    applies if the rules round. ``n_risk`` at a time ``t`` is taken from the
    first curve row at or after ``t`` (0 beyond the last).
    """
    rows = {}
    for label, g in curve.groupby(group_col, sort=False):
        g = g.sort_values(time_col, kind="stable")
        t = g[time_col].to_numpy(dtype=float)
        n = g[n_risk_col].to_numpy(dtype=float)
        vals = []
        for x in times:
            i = int(np.searchsorted(t, x, side="left"))
            vals.append(float(n[i]) if i < len(n) else 0.0)
        rows[label] = vals
    table = pd.DataFrame.from_dict(rows, orient="index", columns=[str(int(x)) for x in times])
    small = rules.is_small(table.to_numpy()) | (rules.apply & (table.to_numpy() < rules.threshold))
    shown = rules.round(table.to_numpy())
    out = pd.DataFrame(
        np.where(small, SUPPRESSED, shown.astype(np.int64).astype(str)),
        index=table.index,
        columns=table.columns,
    )
    out.index.name = group_col
    return out.reset_index()


def check_table(
    table: pd.DataFrame,
    count_cols: Sequence[str],
    rules: DisclosureRules,
    lines: Iterable[Sequence[Cell]] = (),
    row_key: str | None = None,
) -> list[str]:
    """Return every breach of the rules in a published table of counts (empty if none).

    Parameters
    ----------
    table : DataFrame
        As written (strings or numbers).
    count_cols : sequence of str
        Columns holding counts.
    rules : DisclosureRules
        Threshold and rounding.
    lines : iterable of sequences of (row key, column)
        Additive relationships: none may hold exactly one suppressed cell.
    row_key : str, optional
        Column whose values name rows in ``lines`` (default: the row position).
    """
    if not rules.apply:
        return []
    problems = []
    base = rules.rounding
    for col in count_cols:
        if col not in table.columns:
            problems.append(f"count column {col!r} is missing")
            continue
        for i, raw in enumerate(table[col].tolist()):
            msg = _check_cell(raw, rules, base)
            if msg:
                problems.append(f"row {i + 1}, column {col!r}: {msg}")
    keyed = table.set_index(row_key) if row_key is not None else table
    for line in lines:
        hidden = [cell for cell in line if _cell(keyed, cell) == SUPPRESSED]
        if len(hidden) == 1:
            r, c = hidden[0]
            problems.append(
                f"cell ({r}, {c}) is the only suppressed cell of a line; it can be recovered"
            )
    return problems


def _cell(table: pd.DataFrame, cell: Cell) -> str:
    r, c = cell
    try:
        return str(table.at[r, c]).strip()
    except KeyError:
        return ""


def _check_cell(raw: Any, rules: DisclosureRules, base: int | None) -> str | None:
    s = "" if raw is None or (isinstance(raw, float) and np.isnan(raw)) else str(raw).strip()
    s = s.replace(",", "")
    if s in SYMBOLS or s.lower() == "nan" or s == "<NA>":
        return None
    try:
        v = float(s)
    except ValueError:
        return f"{raw!r} is neither a count nor a disclosure symbol"
    if v != round(v):
        return f"{raw!r} is not a whole count"
    if 0 < v < rules.threshold or (rules.zeros_disclosive and v == 0):
        return f"count {int(v)} is below the threshold {rules.threshold}"
    if base is not None and v % base:
        return f"count {int(v)} is not rounded to {base}"
    return None


def check_curve(
    curve: pd.DataFrame,
    rules: DisclosureRules,
    *,
    n_risk_col: str = "n_risk",
    estimate_cols: Sequence[str] = (),
    group_col: str = "group",
    forbidden: Sequence[str] = ("n_events", "n_censored"),
) -> list[str]:
    """Return every breach of the rules in a published curve (empty if none).

    Every row must have at least the threshold at risk; no event or censoring
    counts may be published; where an estimate changes between rows, the
    number at risk must have fallen by at least the threshold (less the
    rounding base, when counts are rounded).
    """
    if not rules.apply:
        return []
    problems = [
        f"curve publishes the count column {c!r}"
        for c in curve.columns
        if c in forbidden or c.startswith("n_event")
    ]
    if n_risk_col not in curve.columns:
        return [*problems, f"curve has no {n_risk_col!r} column"]
    groups = curve.groupby(group_col, sort=False) if group_col in curve.columns else [("", curve)]
    for label, g in groups:
        risk = pd.to_numeric(g[n_risk_col], errors="coerce").to_numpy(dtype=float)
        low = np.nonzero(risk < rules.threshold)[0]
        if low.size:
            problems.append(
                f"group {label!r}: {low.size} row(s) with fewer than {rules.threshold} at risk"
            )
        est = (
            g[list(estimate_cols)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            if estimate_cols
            else None
        )
        if est is None or len(g) < 2:
            continue
        moved = np.any(np.abs(np.diff(np.nan_to_num(est, nan=-1.0), axis=0)) > 0, axis=1)
        drop = -np.diff(risk)
        bad = moved & (drop < rules.threshold - (rules.rounding or 0))
        if bad.any():
            problems.append(
                f"group {label!r}: {int(bad.sum())} step(s) resting on fewer than "
                f"{rules.threshold} spells"
            )
    return problems
