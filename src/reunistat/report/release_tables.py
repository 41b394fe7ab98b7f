"""One registry of every count a release publishes, suppressed jointly across tables.

Every published count (the cohort flow, Table 1, the numbers at risk under
the curves, the horizon tables, exposure counts, counts quoted in the paper)
is a cell of a frequency table in a :class:`ReleaseTables`. Tables share
margins, and the registry is told which: a row adds to its total, a flow step
to the one before, Table 1's ethnic-group totals *are* the Kaplan-Meier
table's at-risk-at-0 per ethnic group, a number at risk never grows with
time. :meth:`ReleaseTables.solve` then

1. suppresses every count below the threshold (and zeros, where configured:
   a zero reveals a whole group's outcome), the *primary* cells;
2. suppresses complementary cells until no equality holds exactly one hidden
   cell (the quick pass);
3. audits every hidden cell by linear programming over all published cells
   and relations (:func:`reunistat.report.sdc_audit.audit_intervals`); where
   a reader could narrow a hidden cell to less than the protection width, it
   hides the cheapest published cell of a relation binding it, and repeats
   until the audit passes.

The result, :class:`Release`, gives the text to publish for each cell (``c``
where suppressed, rounded where the rules round), percentages that carry the
suppression of their numerator and denominator, the suppression log and the
audit (plain data a checker can re-verify with
:func:`reunistat.report.sdc_audit.audit_intervals`). The same inputs give
the same suppression, cell for cell.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import DisclosureError
from reunistat.report.disclosure import NOT_APPLICABLE, SUPPRESSED, DisclosureRules
from reunistat.report.sdc_audit import Relation, audit_intervals, failing_cells

#: A cell of the release: (table, row, column).
CellKey = tuple[str, str, str]


def _key(table: Hashable, row: Hashable, col: Hashable) -> CellKey:
    return (str(table), str(row), str(col))


@dataclass
class _Table:
    counts: pd.DataFrame
    zeros: bool
    floor: bool  # every count below the threshold is hidden, zeros included
    latent: bool = False  # never published: unknowns that link published tables
    cheap: bool = False  # hidden first when a complement is needed (e.g. a model's n)


class ReleaseTables:
    """A registry of frequency tables that share margins.

    Parameters
    ----------
    rules : DisclosureRules
        Threshold, rounding, zeros.
    protection : float, optional
        Width below which a hidden cell counts as recovered (default the threshold).

    Examples
    --------
    Table 1's ethnic groups and a curve's groups at time 0 are the same counts:

    >>> reg = ReleaseTables(DisclosureRules())
    >>> t1 = pd.DataFrame({"n": [140, 6, 146]}, index=["White", "Other", "all"])
    >>> reg.add_table("table1", t1, sums=[("n", ["White", "Other"], "all")])
    >>> reg.add_table("km", t1.rename(columns={"n": "0"}), sums=[("0", ["White", "Other"], "all")])
    >>> reg.link_equal([("table1", g, "n") for g in t1.index], [("km", g, "0") for g in t1.index])
    >>> rel = reg.solve()
    >>> rel.text("km", "Other", "0"), rel.text("km", "White", "0"), rel.text("km", "all", "0")
    ('c', 'c', '146')
    >>> rel.audit_passed
    True
    """

    def __init__(self, rules: DisclosureRules, protection: float | None = None) -> None:
        self.rules = rules
        self.protection = float(rules.threshold if protection is None else protection)
        self.tables: dict[str, _Table] = {}
        self._relations: list[tuple[list[CellKey], list[float], str, str]] = []
        self._forced: list[tuple[CellKey, str]] = []
        self._latent = np.zeros(0, dtype=bool)
        self._cheap = np.zeros(0, dtype=bool)

    # --- declaring -------------------------------------------------------
    def add_table(
        self,
        name: str,
        counts: pd.DataFrame,
        *,
        sums: Iterable[tuple[Hashable, Sequence[Hashable], Hashable]] = (),
        row_sums: Iterable[tuple[Hashable, Sequence[Hashable], Hashable]] = (),
        zeros: bool | None = None,
        floor: bool = False,
        latent: bool = False,
        cheap: bool = False,
    ) -> None:
        """Add a table of counts (NaN where a cell does not apply).

        Parameters
        ----------
        name : str
            Unique name (e.g. the output's name).
        counts : DataFrame
            Exact counts; unique row and column labels.
        sums : iterable of (column, parts, total)
            In ``column``, the rows ``parts`` add up to the row ``total``.
        row_sums : iterable of (row, parts, total)
            In ``row``, the columns ``parts`` add up to the column ``total``.
        zeros : bool, optional
            Whether a zero is disclosive in this table (default: the rules').
        floor : bool
            Hide every count below the threshold, zeros included (numbers at risk).
        latent : bool
            A table never published (e.g. the spells a model leaves out, per
            level): its cells are unknowns to the reader that carry the
            relations between published tables. They are not suppressed
            cells: nothing is hidden to protect them, the log does not list
            them and the audit does not bound them.
        cheap : bool
            Hide this table's cells first when a cell must be hidden beside a
            suppressed one (a count quoted beside a model costs readers less
            than a cell of Table 1 or the flow).
        """
        if name in self.tables:
            raise ValueError(f"release table {name!r} is declared twice")
        if not counts.index.is_unique or not counts.columns.is_unique:
            raise ValueError(f"release table {name!r} needs unique row and column labels")
        c = counts.copy()
        c.index = c.index.map(str)
        c.columns = c.columns.map(str)
        z = self.rules.zeros_disclosive if zeros is None else zeros
        self.tables[name] = _Table(c.astype(float), z, floor, latent, cheap)
        for col, parts, total in sums:
            self.add_sum((name, total, col), [(name, p, col) for p in parts], "within " + name)
        for row, parts, total in row_sums:
            self.add_sum((name, row, total), [(name, row, p) for p in parts], "within " + name)

    def add_sum(
        self, total: tuple[Hashable, ...], parts: Sequence[tuple[Hashable, ...]], why: str = ""
    ) -> None:
        """Declare that the cells ``parts`` add up to the cell ``total``."""
        cells = [_key(*total), *(_key(*p) for p in parts)]
        self._relations.append((cells, [-1.0] + [1.0] * len(parts), "eq", why or "sum"))

    def link_equal(
        self, a: Sequence[tuple[Hashable, ...]], b: Sequence[tuple[Hashable, ...]], why: str = ""
    ) -> None:
        """Declare that each cell of ``a`` is the same count as the cell of ``b`` beside it."""
        for x, y in zip(a, b, strict=True):
            self._relations.append(([_key(*x), _key(*y)], [1.0, -1.0], "eq", why or "same count"))

    def link_at_most(
        self, small: tuple[Hashable, ...], big: tuple[Hashable, ...], why: str = ""
    ) -> None:
        """Declare that the cell ``small`` is never more than the cell ``big``."""
        self._relations.append(([_key(*small), _key(*big)], [1.0, -1.0], "le", why or "at most"))

    def add_relation(
        self,
        cells: Sequence[tuple[Hashable, ...]],
        coefs: Sequence[float],
        kind: str = "eq",
        why: str = "",
    ) -> None:
        """Declare ``sum(coef * cell) == 0`` (``kind="eq"``) or ``<= 0`` (``"le"``)."""
        if kind not in ("eq", "le") or len(cells) != len(coefs):
            raise ValueError("a relation needs one coefficient per cell and kind 'eq' or 'le'")
        self._relations.append(([_key(*c) for c in cells], [float(a) for a in coefs], kind, why))

    def link_at_most_sum(
        self, small: tuple[Hashable, ...], parts: Sequence[tuple[Hashable, ...]], why: str = ""
    ) -> None:
        """Declare that the cell ``small`` is never more than the sum of the cells ``parts``."""
        cells = [_key(*small), *(_key(*p) for p in parts)]
        self._relations.append((cells, [1.0] + [-1.0] * len(parts), "le", why or "at most"))

    def hide(self, cell: tuple[Hashable, ...], why: str) -> None:
        """Suppress a cell whatever its value (e.g. a curve that cannot be shown)."""
        self._forced.append((_key(*cell), why))

    # --- solving -------------------------------------------------------------
    def _cells(self) -> tuple[list[CellKey], np.ndarray, np.ndarray, np.ndarray]:
        keys: list[CellKey] = []
        vals: list[float] = []
        primary: list[bool] = []
        latent: list[bool] = []
        r = self.rules
        for name, t in self.tables.items():
            arr = t.counts.to_numpy(dtype=float)
            for i, row in enumerate(t.counts.index):
                for j, col in enumerate(t.counts.columns):
                    v = arr[i, j]
                    if np.isnan(v):
                        continue
                    small = r.apply and ((0 < v < r.threshold) or (v == 0 and (t.zeros or t.floor)))
                    keys.append((name, row, col))
                    vals.append(v)
                    primary.append(bool(small) and not t.latent)
                    latent.append(t.latent)
        return keys, np.array(vals), np.array(primary, dtype=bool), np.array(latent, dtype=bool)

    def _relation_list(self, pos: dict[CellKey, int]) -> tuple[list[Relation], list[str]]:
        rels, why = [], []
        for cells, coefs, kind, w in self._relations:
            missing = [c for c in cells if c not in pos]
            if missing:
                if any(c[0] not in self.tables for c in missing):
                    raise ValueError(f"relation {w!r} names an undeclared table: {missing[0]}")
                # a relation over a not-applicable cell does not hold as declared
                raise ValueError(f"relation {w!r} names a cell that does not apply: {missing[0]}")
            rels.append(Relation(tuple(pos[c] for c in cells), tuple(coefs), kind))
            why.append(w)
        return rels, why

    def solve(self, max_rounds: int = 200) -> Release:
        """Suppress primary and complementary cells until the audit passes; return the release."""
        keys, vals, primary, latent = self._cells()
        pos = {k: i for i, k in enumerate(keys)}
        rels, _ = self._relation_list(pos)
        self._latent = latent
        self._cheap = np.array([self.tables[k[0]].cheap for k in keys], dtype=bool).reshape(
            len(keys)
        )
        hidden = primary | latent
        reason = {int(i): f"primary: below {self.rules.threshold}" for i in np.nonzero(primary)[0]}
        for i in np.nonzero(primary & (vals == 0))[0]:
            reason[int(i)] = "primary: zero"
        for cell, why in self._forced:
            if cell not in pos:
                raise ValueError(f"cannot hide {cell}: no such cell")
            if latent[pos[cell]]:
                raise ValueError(f"cannot hide {cell}: a latent cell is never published")
            if not hidden[pos[cell]]:
                hidden[pos[cell]] = True
                reason[pos[cell]] = f"primary: {why}"
        intervals: dict[int, tuple[float, float]] = {}
        if self.rules.apply and (hidden & ~latent).any():
            intervals = self._secondary(vals, hidden, rels, reason, max_rounds)
        return Release(self, keys, vals, hidden, reason, intervals, rels, latent=latent)

    def _secondary(
        self,
        vals: np.ndarray,
        hidden: np.ndarray,
        rels: list[Relation],
        reason: dict[int, str],
        max_rounds: int,
    ) -> dict[int, tuple[float, float]]:
        by_cell: dict[int, list[int]] = {}
        for k, rel in enumerate(rels):
            for c in rel.cells:
                by_cell.setdefault(c, []).append(k)
        cache: dict[tuple[int, ...], dict[int, tuple[float, float]]] = {}
        for _ in range(max_rounds):
            _singletons(vals, hidden, rels, reason, self._latent, self._cheap)
            intervals = self._audit(vals, hidden, rels, cache)
            bad = failing_cells(intervals, self.protection)
            if not bad:
                return self._prune(vals, hidden, rels, reason, intervals, cache)
            added = False
            for c in bad:
                pick = _complement(c, vals, hidden, rels, by_cell, self.protection, self._cheap)
                if pick is not None and not hidden[pick]:
                    hidden[pick] = True
                    reason[pick] = "secondary: a reader could narrow a hidden cell (audit)"
                    added = True
            if not added:
                raise DisclosureError(
                    "disclosure: a suppressed cell stays recoverable and no published cell "
                    "is left to hide beside it; merge categories or raise the threshold"
                )
        raise DisclosureError(f"disclosure: suppression did not settle in {max_rounds} rounds")

    def _audit(
        self,
        vals: np.ndarray,
        hidden: np.ndarray,
        rels: list[Relation],
        cache: dict[tuple[int, ...], dict[int, tuple[float, float]]],
        **kw: Any,
    ) -> dict[int, tuple[float, float]]:
        """The audit as the suppressing side runs it (true values known, components cached)."""
        return audit_intervals(
            vals,
            hidden,
            rels,
            rounding=self.rules.rounding,
            targets=[int(i) for i in np.nonzero(hidden & ~self._latent)[0]],
            protection=self.protection,
            cache=cache,
            **kw,
        )

    def _prune(
        self,
        vals: np.ndarray,
        hidden: np.ndarray,
        rels: list[Relation],
        reason: dict[int, str],
        intervals: dict[int, tuple[float, float]],
        cache: dict[tuple[int, ...], dict[int, tuple[float, float]]],
    ) -> dict[int, tuple[float, float]]:
        """Publish again every secondary cell the audit does not need hidden.

        The greedy choice hides cells one relation at a time, and a later
        choice can make an earlier one unnecessary. Each secondary cell, the
        largest first, is published again when no equality would then hold
        exactly one hidden cell and the audit (re-run only on the component
        the cell joins; the others are cached) still passes; otherwise it
        stays hidden. The result is a suppression in which no secondary cell
        can be published alone.
        """
        eq_of: dict[int, list[Relation]] = {}
        for rel in rels:
            if rel.kind == "eq":
                for c in rel.cells:
                    eq_of.setdefault(c, []).append(rel)
        secondary = [i for i, why in reason.items() if why.startswith("secondary")]
        latent = self._latent
        for i in sorted(secondary, key=lambda c: (-vals[c], c)):
            hidden[i] = False
            lone = any(
                sum(hidden[c] for c in r.cells) == 1 and not latent[list(r.cells)].any()
                for r in eq_of.get(i, [])
            )
            trial = None
            if not lone:
                near = [c for r in eq_of.get(i, []) for c in r.cells if hidden[c]]
                # the cells it most likely gives away are checked first
                trial = self._audit(vals, hidden, rels, cache, first=near, fail_fast=True)
            if trial is None or failing_cells(trial, self.protection):
                hidden[i] = True
            else:
                del reason[i]
                intervals = trial
        return intervals


def _cost(
    c: int, vals: np.ndarray, protection: float, cheap: np.ndarray
) -> tuple[bool, bool, float, int]:
    """Cheapest complement first: at least the protection width, of a cheap table, smallest."""
    return (bool(vals[c] < protection), not bool(cheap[c]), float(vals[c]), c)


def _singletons(
    vals: np.ndarray,
    hidden: np.ndarray,
    rels: list[Relation],
    reason: dict[int, str],
    latent: np.ndarray,
    cheap: np.ndarray,
) -> None:
    """Hide cells until no equality holds exactly one hidden cell.

    An equality through a latent cell is left to the audit: the latent cell
    is unknown, but a reader may bound it from other relations.
    """
    changed = True
    while changed:
        changed = False
        for rel in rels:
            if rel.kind != "eq" or any(latent[c] for c in rel.cells):
                continue
            h = [c for c in rel.cells if hidden[c]]
            free = [c for c in rel.cells if not hidden[c]]
            if len(h) != 1 or not free:
                continue
            pick = min(free, key=lambda c: (vals[c] <= 0, not cheap[c], vals[c], c))
            hidden[pick] = True
            reason[pick] = "secondary: protects a hidden cell in the same relation"
            changed = True


def _complement(
    c: int,
    vals: np.ndarray,
    hidden: np.ndarray,
    rels: list[Relation],
    by_cell: dict[int, list[int]],
    protection: float,
    cheap: np.ndarray,
) -> int | None:
    """The cheapest published cell of a relation reaching ``c`` through hidden cells.

    The nearest relations' cells first; but a cell of a cheap table (of at
    least the protection width) anywhere along the way is taken before them.
    """
    seen_cells, frontier, seen_rels = {c}, [c], set()
    nearest: int | None = None
    while frontier:
        candidates: set[int] = set()
        nxt: list[int] = []
        for x in frontier:
            for k in by_cell.get(x, []):
                if k in seen_rels:
                    continue
                seen_rels.add(k)
                for y in rels[k].cells:
                    if not hidden[y]:
                        candidates.add(y)
                    elif y not in seen_cells:
                        seen_cells.add(y)
                        nxt.append(y)
        if candidates:
            best = min(candidates, key=lambda y: _cost(y, vals, protection, cheap))
            if cheap[best] and vals[best] >= protection:
                return best
            nearest = best if nearest is None else nearest
            if not cheap.any():
                break
        frontier = nxt
    return nearest


@dataclass
class Release:
    """The release after joint suppression: what to publish, the log and the audit.

    Attributes
    ----------
    hidden : array of bool
        Per cell (in :attr:`keys` order), whether it is suppressed.
    intervals : dict
        Per hidden cell index, the interval a reader can infer (the audit); a
        NaN lower bound was not needed: the upper bound alone lies the
        protection width above the cell.
    """

    registry: ReleaseTables
    keys: list[CellKey]
    values: np.ndarray
    hidden: np.ndarray
    reasons: dict[int, str]
    intervals: dict[int, tuple[float, float]]
    relations: list[Relation]
    #: Anything the declaring code wants to keep beside the release (e.g. row keys).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Per cell, whether it belongs to a latent table (never published, never audited).
    latent: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _pos: dict[CellKey, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._pos = {k: i for i, k in enumerate(self.keys)}
        if len(self.latent) != len(self.keys):
            self.latent = np.zeros(len(self.keys), dtype=bool)

    @property
    def rules(self) -> DisclosureRules:
        """The disclosure rules applied."""
        return self.registry.rules

    @property
    def n_cells(self) -> int:
        """Cells of the published tables (latent cells aside)."""
        return int((~self.latent).sum())

    @property
    def n_suppressed(self) -> int:
        """Suppressed cells of the published tables."""
        return int((self.hidden & ~self.latent).sum())

    @property
    def audit_passed(self) -> bool:
        """Whether every hidden cell's inferable interval is at least the protection width."""
        return not failing_cells(self.intervals, self.registry.protection)

    def _index(self, table: str, row: Hashable, col: Hashable) -> int | None:
        return self._pos.get(_key(table, row, col))

    def is_hidden(self, table: str, row: Hashable, col: Hashable) -> bool:
        """Whether a cell is suppressed."""
        i = self._index(table, row, col)
        return bool(i is not None and self.hidden[i])

    def value(self, table: str, row: Hashable, col: Hashable) -> float:
        """The exact value of a cell (for computing, never for publishing)."""
        i = self._index(table, row, col)
        if i is None:
            raise KeyError(f"no cell {(table, row, col)} in the release")
        return float(self.values[i])

    def shown_number(self, table: str, row: Hashable, col: Hashable) -> float | None:
        """The published (rounded) value of a cell, or None if suppressed or not applicable."""
        i = self._index(table, row, col)
        if i is None or self.hidden[i]:
            return None
        return float(self.rules.round(np.array([self.values[i]]))[0])

    def text(self, table: str, row: Hashable, col: Hashable) -> str:
        """The cell as published: ``c`` if suppressed, ``z`` if not applicable, else the count."""
        i = self._index(table, row, col)
        if i is None:
            return NOT_APPLICABLE
        if self.hidden[i]:
            return SUPPRESSED
        return str(int(self.rules.round(np.array([self.values[i]]))[0]))

    def shown(self, table: str) -> pd.DataFrame:
        """The whole table as published (strings)."""
        t = self.registry.tables[table].counts
        return pd.DataFrame(
            [[self.text(table, r, c) for c in t.columns] for r in t.index],
            index=t.index,
            columns=t.columns,
            dtype=object,
        )

    def mask(self, table: str) -> pd.DataFrame:
        """True where a cell of the table is suppressed."""
        t = self.registry.tables[table].counts
        return pd.DataFrame(
            [[self.is_hidden(table, r, c) for c in t.columns] for r in t.index],
            index=t.index,
            columns=t.columns,
        )

    def percent(
        self,
        num: tuple[str, Hashable, Hashable],
        den: tuple[str, Hashable, Hashable],
        digits: int = 1,
    ) -> str:
        """A percentage of two published cells; ``c`` if either is suppressed.

        The percentage is computed from the published (rounded) counts, so it
        reveals nothing they do not.
        """
        n, d = self.shown_number(*num), self.shown_number(*den)
        if n is None or d is None:
            return SUPPRESSED
        if not d:
            return NOT_APPLICABLE
        return f"{100 * n / d:.{digits}f}"

    def log(self, table: str | None = None) -> pd.DataFrame:
        """One row per suppressed cell: ``table, row, column, reason`` (never the value)."""
        rows = [
            {"table": k[0], "row": k[1], "column": k[2], "reason": self.reasons.get(i, "")}
            for i, k in enumerate(self.keys)
            if self.hidden[i] and not self.latent[i] and (table is None or k[0] == table)
        ]
        return pd.DataFrame(rows, columns=["table", "row", "column", "reason"])

    def counts_by_reason(self) -> pd.DataFrame:
        """Suppressed cells per table and reason kind (primary below threshold, zero, secondary)."""
        log = self.log()
        if log.empty:
            return pd.DataFrame(columns=["table", "primary", "zero", "secondary"])
        kind = np.where(
            log["reason"].str.startswith("secondary"),
            "secondary",
            np.where(log["reason"] == "primary: zero", "zero", "primary"),
        )
        out = pd.crosstab(log["table"], kind).reindex(
            columns=["primary", "zero", "secondary"], fill_value=0
        )
        return out.reset_index().rename_axis(columns=None)

    def audit_record(self) -> dict[str, Any]:
        """The suppression as plain data, for the checker to re-verify.

        ``cells``: ``[table, row, column, shown text]`` for every cell;
        ``relations``: ``{"cells": [indices], "coefs": [...], "kind": "eq"|"le"}``;
        ``latent``: the indices of latent cells (unknown to a reader, shown
        as ``c``, never bounded); ``protection``, ``rounding``, and the
        audit's result (widths only, never a hidden value or a bound that
        equals one).
        """
        return {
            "protection": self.registry.protection,
            "rounding": self.rules.rounding,
            "cells": [[*k, self.text(*k)] for k in self.keys],
            "relations": [
                {"cells": list(r.cells), "coefs": list(r.coefs), "kind": r.kind}
                for r in self.relations
            ],
            "latent": [int(i) for i in np.nonzero(self.latent)[0]],
            "n_hidden": self.n_suppressed,
            "audit_passed": self.audit_passed,
        }


def verify_release(
    record: dict[str, Any], threshold: int, targets: Sequence[int] | None = None
) -> list[str]:
    """Re-check a release from what it published (the checker's entry point).

    Parameters
    ----------
    record : dict
        :meth:`Release.audit_record`, with the ``cells`` texts read back from
        the written outputs where possible.
    threshold : int
        The threshold; every shown count must be at least it (or 0 where zeros are shown).
    targets : sequence of int, optional
        The cells that must be protected (default: every cell shown as
        ``c``, latent cells aside).

    Returns
    -------
    list of str
        One message per hidden cell a reader could narrow to less than the
        protection width (none when the release is safe). Messages name the
        cell, never a value.
    """
    cells = record["cells"]
    hidden = np.array([str(c[3]) == SUPPRESSED for c in cells])
    vals = np.array(
        [0.0 if str(c[3]) in (SUPPRESSED, NOT_APPLICABLE) else float(c[3]) for c in cells]
    )
    rels = [Relation(tuple(r["cells"]), tuple(r["coefs"]), r["kind"]) for r in record["relations"]]
    rounding = record.get("rounding")
    protection = float(record.get("protection", threshold))
    latent = set(record.get("latent", []))
    hidden[list(latent)] = True
    if targets is None:
        targets = [int(i) for i in np.nonzero(hidden)[0] if int(i) not in latent]
    # published values are what the reader sees: already rounded, so undo nothing
    intervals = audit_intervals(vals, hidden, rels, rounding=rounding, targets=targets)
    out = []
    for i in failing_cells(intervals, protection):
        t, r, c = cells[i][:3]
        out.append(
            f"{t}: cell ({r}, {c}) is suppressed but can be narrowed to less than "
            f"{protection:g} from the published numbers"
        )
    return out
