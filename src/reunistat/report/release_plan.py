"""The frequency tables of the standard release, declared with the margins they share.

:func:`standard_release` declares every count the numbered analyses publish,
before any of them runs, and solves the suppression once over all of them:

* ``cohort_flow``: the flow (each ``remaining`` = the step before less the
  exclusions; the outcomes add up to the spells analysed);
* ``table1``: spells by characteristic and re-entry status (rows add to their
  total, levels to ``all``); its totals *are* the flow's spells and re-entries;
* ``at_risk:<grouping>`` for each curve grouping of :data:`KM_GROUPINGS`: the
  spells still followed at the fixed times (the at-risk rows under the
  figures and the horizons), groups adding to ``all``, which is the overall
  curve's; at time 0 each group's size *is* its Table 1 total (or the sum of
  the Table 1 levels it merges); a number at risk never grows with time;
* ``logistic_outcome``: spells offered (= the flow's spells), used, excluded;
* ``evaluation_counts``: returns exposed to the pilot and their re-entries;
* ``paper``: other counts quoted in the paper.

Curves read which of their groups and times may be shown from the solved
release (:func:`curve_limits`): a group whose size is suppressed has no
curve, and a curve stops at the last fixed time whose number at risk is
published before one that is not.

Limits of the audit, stated: the numbers at risk are audited at the fixed
times (the at-risk rows and horizons). A published curve's own rows between
two fixed times only bound the published numbers either side; where several
groups' curves have rows at the same day, their difference from the overall
curve reveals the combined number still followed in the groups left out,
never one hidden group's. Event and censoring counts are never published
(:func:`reunistat.report.disclosure.cut_curve` drops them; each step rests
on at least the threshold of events).

The models' counts (:func:`declare_model_counts`): ``model:cox`` (the
models on every spell: Cox, Fine-Gray, recurrent, the model checks) and
``model:logistic`` (the fixed-horizon models) hold each model's ``n`` and
events; latent cells (the spells a model leaves out and those it drops for a
missing covariate) tie them to Table 1 (and the logistic ones to the outcome
table), so a model's ``n`` beside Table 1's total can no more reveal a
suppressed ``missing`` cell than Table 1 itself can.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reunistat.horizons import AT_RISK_DAYS
from reunistat.report.disclosure import DisclosureRules
from reunistat.report.release_tables import Release, ReleaseTables

#: Curve groupings published by ``analyses/03_curves.py``: name → (label column or None, label).
KM_GROUPINGS: dict[str, tuple[str | None, str]] = {
    "overall": (None, "all returns home"),
    "age_band": ("age_band", "age at return"),
    "section20": ("section20_label", "Section 20 at return"),
    "return_type": ("return_type", "planned (E4A), unplanned (E4B) or E13 return"),
    "prior_periods": ("prior_periods_band", "previous periods of care"),
    "placement_moves": ("placement_moves_band", "placement moves in the period"),
    "ethnic_group": ("ethnic_group", "ethnic group"),
    "disability": ("disability_label", "disability"),
}
#: The Table 1 variable each curve label column merges levels of.
_TABLE1_OF = {
    "age_band": "age_band",
    "section20_label": "section20",
    "return_type": "return_type",
    "prior_periods_band": "prior_periods",
    "placement_moves_band": "placement_moves",
    "ethnic_group": "ethnic_group",
    "disability_label": "disability",
}
#: Times (days) of the at-risk rows under the curve figures.
MISSING_ROW = "(missing)"
LOGISTIC_SHORT = "excluded: could not be followed to the horizon (data end or 18th birthday)"
LOGISTIC_ENDED = "excluded: ended before the horizon by death or another exit"
EVALUATION_ROWS = ("returns after adoption in pilot LAs", "of which re-entered")


def curve_labels(spells: pd.DataFrame) -> pd.DataFrame:
    """Return the spells with the label columns the curve groupings use.

    >>> sp = pd.DataFrame({"section20": [1, 0], "disability": [0, 1],
    ...                    "prior_periods": [0, 4], "placement_moves": [1, 3]})
    >>> curve_labels(sp)["prior_periods_band"].tolist()
    ['0', '2+']
    """
    return spells.assign(**_label_columns(spells))


def _label_columns(spells: pd.DataFrame) -> dict[str, pd.Series]:
    """The label columns :func:`curve_labels` adds (without a copy of the spells)."""
    from reunistat.report.tables import capped

    return {
        "section20_label": spells["section20"].map({1: "Section 20", 0: "other legal status"}),
        "disability_label": spells["disability"].map({1: "disabled", 0: "not disabled"}),
        "prior_periods_band": capped(spells["prior_periods"], 2),
        "placement_moves_band": capped(spells["placement_moves"], 3),
    }


def fixed_times(
    horizons_days: Sequence[int], at_risk_days: Sequence[int] = AT_RISK_DAYS
) -> list[int]:
    """The times at which numbers at risk are published (at-risk rows and horizons).

    >>> fixed_times([91, 365])
    [0, 91, 365, 730, 1096, 1461, 1826, 2191]
    """
    return sorted({0, *map(int, at_risk_days), *map(int, horizons_days)})


def declare_flow(reg: ReleaseTables, flow: pd.DataFrame) -> dict[str, str]:
    """Declare the cohort flow; return the keys of its last base row and its re-entry row."""
    cols = ["children", "episodes", "periods", "spells"]
    f = flow.reset_index(drop=True)
    keys = [f"step{i + 1:02d}" for i in range(len(f))]
    counts = pd.DataFrame(
        {c: pd.to_numeric(f[c], errors="coerce").astype(float).to_numpy() for c in cols},
        index=keys,
    )
    # The flow's notes (children with a truncated history and the rest, ...) split a
    # row above them: not published as counts, so no hidden note can be recovered by
    # subtraction and no total has to be hidden to protect one (the spells table and
    # the cohort's own flow keep them for analysis)
    counts.loc[(f["stage"] == "note").to_numpy(), :] = np.nan
    reg.add_table("cohort_flow", counts)
    last_base: str | None = None
    since: list[str] = []
    for key, stage in zip(keys, f["stage"], strict=True):
        if stage in ("start", "remaining"):
            if last_base is not None:
                for c in cols:
                    _flow_sum(reg, counts, c, last_base, [*since, key])
            last_base, since = key, []
        elif stage == "exclude":
            since.append(key)
    out = {"base": last_base or keys[-1]}
    outcomes = [k for k, s in zip(keys, f["stage"], strict=True) if s == "outcome"]
    if outcomes and last_base is not None:
        _flow_sum(reg, counts, "spells", last_base, outcomes)
    for k, reason in zip(keys, f["reason"], strict=True):
        if reason == "reentry" and k in outcomes:
            out["reentry"] = k
    return out


def _flow_sum(
    reg: ReleaseTables, counts: pd.DataFrame, col: str, total: str, parts: list[str]
) -> None:
    if pd.isna(counts.at[total, col]):
        return
    present = [p for p in parts if not pd.isna(counts.at[p, col])]
    if present:
        reg.add_sum(("cohort_flow", total, col), [("cohort_flow", p, col) for p in present], "flow")


def declare_table1(
    reg: ReleaseTables, spells: pd.DataFrame, status_labels: tuple[str, str]
) -> dict[str, pd.Series]:
    """Declare Table 1; return each variable's level per spell (for linking)."""
    from reunistat.report.tables import table1_counts

    counts, blocks, levels = table1_counts(spells, status_labels=status_labels)
    yes, no = status_labels
    reg.add_table(
        "table1",
        counts[[yes, no, "all"]],
        row_sums=[(k, [yes, no], "all") for k in counts.index],
        sums=[(c, block, "all") for block in blocks for c in (yes, no, "all")],
    )
    return levels


def declare_curves(
    reg: ReleaseTables,
    spells: pd.DataFrame,
    times: Sequence[int],
    table1_levels: Mapping[str, pd.Series],
    groupings: Mapping[str, tuple[str | None, str]] = KM_GROUPINGS,
    total: tuple[str, str, str] = ("table1", "all", "all"),
) -> None:
    """Declare the numbers at risk of every curve grouping at the fixed times.

    ``total`` is the cell the overall curve's number at risk at 0 equals (all
    spells); every other grouping's ``all`` row equals the overall curve's.
    """
    added = _label_columns(spells)
    days = pd.to_numeric(spells["days_followed"], errors="coerce").to_numpy(dtype=float)
    tcols = [str(t) for t in times]
    at_risk = _AtRisk(days, times)
    for name, (col, _) in groupings.items():
        table = f"at_risk:{name}"
        labels = (
            pd.Series("all", index=spells.index)
            if col is None
            else added[col]
            if col in added
            else spells[col]
        )
        missing = labels.isna().to_numpy()
        known = labels[~missing] if missing.any() else labels
        groups = [] if col is None else sorted(pd.unique(known).astype(str), key=str)
        masks = _group_masks(labels, groups, ~missing)
        if col is not None and missing.any():
            masks[MISSING_ROW] = missing
        masks["all"] = np.ones(len(spells), dtype=bool)
        counts = pd.DataFrame(
            [at_risk.counts(m) for m in masks.values()], index=list(masks), columns=tcols
        )
        parts = [g for g in masks if g != "all"]
        reg.add_table(
            table, counts, floor=True, sums=[(t, parts, "all") for t in tcols] if parts else ()
        )
        if MISSING_ROW in masks:
            reg.hide((table, MISSING_ROW, "0"), "not published (missing group)")
        for g in masks:
            for a, b in itertools.pairwise(tcols):
                reg.link_at_most((table, g, b), (table, g, a), "at risk never grows")
        if name != "overall":
            reg.link_equal(
                [(table, "all", t) for t in tcols], [("at_risk:overall", "all", t) for t in tcols]
            )
        else:
            reg.link_equal([(table, "all", "0")], [total], "all spells")
        if col is not None and _TABLE1_OF.get(col) in table1_levels:
            _link_table1(reg, table, masks, table1_levels[_TABLE1_OF[col]], _TABLE1_OF[col])


class _AtRisk:
    """The spells still followed at each of some times, counted for any group of spells.

    ``counts(m)`` is ``[float(((days >= t) & m).sum()) for t in times]``, from
    one count of the group's spells by how many of the times they reach.

    >>> _AtRisk(np.array([0.0, 5, 9, np.nan]), [5, 0, 10]).counts(np.ones(4, bool))
    [2.0, 3.0, 0.0]
    """

    def __init__(self, days: np.ndarray, times: Sequence[int]) -> None:
        self.ordered = np.unique(np.asarray(times, dtype=float))
        #: per spell, how many of the ordered times it is followed at (none when NaN)
        self.reach = np.searchsorted(self.ordered, days, side="right")
        self.reach[np.isnan(days)] = 0
        self.where = np.searchsorted(self.ordered, np.asarray(times, dtype=float)) + 1

    def counts(self, mask: np.ndarray) -> list[float]:
        reached = np.bincount(self.reach[mask], minlength=len(self.ordered) + 1)
        at_least = np.cumsum(reached[::-1])[::-1]  # [j]: spells reaching j times or more
        return [float(n) for n in at_least[self.where]]


def _group_masks(
    labels: pd.Series, groups: Sequence[str], present: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """For each group, the rows whose label, as text, is the group's (missing labels: none).

    The same masks as ``(labels.astype(str) == g) & labels.notna()`` for each
    ``g``, from one conversion of the labels to text (none when they are all
    text already) and one factorisation. ``present``: ``labels.notna()``, if known.
    """
    values = labels.to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=False) == "string":
        present = np.ones(len(values), dtype=bool)  # text, none missing: as its text
    else:
        present = labels.notna().to_numpy() if present is None else present
        values = labels.astype(str).to_numpy()
    codes, uniques = pd.factorize(values)
    code_of = {str(u): i for i, u in enumerate(uniques)}
    return {
        g: (codes == code_of[g]) & present if g in code_of else np.zeros(len(labels), dtype=bool)
        for g in groups
    }


def _link_table1(
    reg: ReleaseTables, table: str, masks: Mapping[str, np.ndarray], levels: pd.Series, var: str
) -> None:
    """At time 0 a curve group is the sum of the Table 1 levels it merges."""
    lev = levels.to_numpy()
    codes, uniques = pd.factorize(lev)
    if (codes < 0).any():  # a missing level: compared value by value
        _link_table1_values(reg, table, masks, lev, var)
        return
    everywhere = np.bincount(codes, minlength=len(uniques))
    for g, m in masks.items():
        if g == "all":
            continue
        within = np.bincount(codes[m], minlength=len(uniques))
        seen = within > 0
        inside = sorted(uniques[seen].tolist())
        if inside and (within[seen] == everywhere[seen]).all():  # no level of g outside it
            _add_group_size(reg, table, g, var, inside)


def _link_table1_values(
    reg: ReleaseTables, table: str, masks: Mapping[str, np.ndarray], lev: np.ndarray, var: str
) -> None:
    for g, m in masks.items():
        if g == "all":
            continue
        inside = sorted(set(lev[m]))
        if all(not (lev[~m] == x).any() for x in inside) and inside:
            _add_group_size(reg, table, g, var, inside)


def _add_group_size(
    reg: ReleaseTables, table: str, group: str, var: str, levels: Sequence[Any]
) -> None:
    """Declare curve group ``group``'s number at risk at 0 the sum of its Table 1 ``levels``."""
    reg.add_sum(
        (table, group, "0"), [("table1", f"{var}={x}", "all") for x in levels], "group size"
    )


def declare_logistic(
    reg: ReleaseTables, spells: pd.DataFrame, horizon_days: int, base: str
) -> tuple[np.ndarray, np.ndarray]:
    """Declare the fixed-horizon outcome counts (offered = the flow's spells analysed).

    Returns, per spell, whether its outcome at the horizon is known (the
    spells the logistic models use) and whether it re-entered within it.
    """
    from reunistat.models.logistic import horizon_outcome, outcome_name

    sp = spells.reset_index(drop=True)
    used, o = horizon_outcome(sp, horizon_days, potential_followup_col="days_potential_followup")
    known = np.zeros(len(sp), dtype=bool)
    known[used.index.to_numpy()] = True
    within = np.zeros(len(sp), dtype=bool)
    within[used.index.to_numpy()] = used[outcome_name(horizon_days)].to_numpy() == 1
    rows = {
        "offered": o.n_spells,
        "used": o.n_used,
        "re-entered within horizon": o.n_events,
        LOGISTIC_SHORT: o.n_excluded_potential,
        LOGISTIC_ENDED: o.n_excluded_censored,
    }
    reg.add_table(
        "logistic_outcome", pd.DataFrame({"spells": list(rows.values())}, index=list(rows))
    )
    t = "logistic_outcome"
    reg.add_sum(
        (t, "offered", "spells"),
        [(t, "used", "spells"), (t, LOGISTIC_SHORT, "spells"), (t, LOGISTIC_ENDED, "spells")],
    )
    reg.link_at_most((t, "re-entered within horizon", "spells"), (t, "used", "spells"))
    reg.link_equal([(t, "offered", "spells")], [("cohort_flow", base, "spells")])
    excluded = o.n_excluded_potential + o.n_excluded_censored
    reg.add_table("paper:logistic", pd.DataFrame({"n": [excluded]}, index=["logit_n_excluded"]))
    reg.add_sum(
        ("paper:logistic", "logit_n_excluded", "n"),
        [(t, LOGISTIC_SHORT, "spells"), (t, LOGISTIC_ENDED, "spells")],
        "excluded = both exclusions",
    )
    return known, within


def declare_evaluation(reg: ReleaseTables, spells: pd.DataFrame, la: pd.DataFrame | None) -> bool:
    """Declare the pilot exposure counts when the la table dates adoption; return whether."""
    if la is None or "PILOT_START" not in la.columns or la["PILOT_START"].isna().all():
        return False
    from reunistat.models.evaluation import mark_adoption

    try:
        marked = mark_adoption(spells, la)
    except ValueError:  # no pilot authority in these spells: nothing to publish
        return False
    treated = marked["treated"].to_numpy()
    n, e = int(treated.sum()), int((treated * marked["reentered"].to_numpy()).sum())
    t = "evaluation_counts"
    reg.add_table(t, pd.DataFrame({"spells": [n, e]}, index=list(EVALUATION_ROWS)))
    reg.link_at_most((t, EVALUATION_ROWS[1], "spells"), (t, EVALUATION_ROWS[0], "spells"))
    return True


@dataclass
class ModelCounts:
    """What :func:`declare_model_counts` declared for one model population.

    Attributes
    ----------
    table : str
        The published table (``model:<name>``: row ``all``, columns ``n`` and ``events``).
    n_obs, n_events : int
        The exact counts (what the fitted model must report).
    small_cell : bool
        Whether the model rests on a count below the threshold: its ``n``,
        its events, or the spells or events at a level of a categorical
        covariate (see :func:`reunistat.report.tables.smallest_cell`).
    """

    table: str
    n_obs: int
    n_events: int
    small_cell: bool


def declare_model_counts(
    reg: ReleaseTables,
    name: str,
    spells: pd.DataFrame,
    covariates: str,
    events: np.ndarray,
    table1_levels: Mapping[str, pd.Series],
    *,
    offered: np.ndarray | None = None,
    population: tuple[tuple[str, str, str], tuple[str, str, str]] | None = None,
    same_outcome: bool = True,
    status_labels: tuple[str, str] = ("re-entered", "not re-entered"),
) -> ModelCounts:
    """Declare a model's ``n`` and events, tied to Table 1's margins.

    Published: ``model:<name>`` (row ``all``; columns ``n`` and ``events``),
    the same counts as the spells offered (``population``) when no spell
    misses a covariate. Otherwise, never published: ``model:<name>:latent``,
    the spells of Table 1 the model leaves out (a latent cell: an unknown a
    reader may bound), and ``model:<name>:dropped``, the spells offered but
    dropped for a missing covariate, with their events: latent too, unless
    fewer than the threshold, when it is a suppressed cell the audit protects
    (``n_obs`` = the spells offered less a few dropped would give their
    number away). The relations are what a reader knows:

    * Table 1's total = the model's ``n`` + the left out (events likewise);
    * the spells offered (``population``: Table 1's total, or e.g. the
      logistic outcome's ``used``) = the model's ``n`` + the dropped;
    * the model has no spell at a ``missing`` level of a covariate, so each
      such Table 1 cell is at most the left out (per status column);
    * a dropped spell has a missing value, so the dropped are at most the
      ``missing`` cells together (declared only when it is true: every
      dropped spell is missing a Table 1 variable of the formula).

    These are exactly what the model's spells and events per level would
    tell a reader (per variable, the levels' possible counts add up to
    these bounds), so the per-level counts need no cells of their own while
    they are not published. Hidden cells are then audited, and protected,
    against the model's ``n`` too: ``n_obs`` = Table 1's total less a
    suppressed ``missing`` cell is caught.

    Parameters
    ----------
    reg : ReleaseTables
        The registry (Table 1 declared).
    name : str
        The model population's name (``cox``, ``logistic``).
    spells : DataFrame
        Table 1's spells (in the order of ``table1_levels``).
    covariates : str
        The formula's right side; a spell with a missing value in any
        variable it names is dropped.
    events : array of bool
        The model's event per spell: a subset of Table 1's re-entries.
    table1_levels : mapping
        Table 1's level per spell of each variable (:func:`declare_table1`).
    offered : array of bool, optional
        The spells offered to the model (default all: Table 1's).
    population : ((table, row, col), (table, row, col)), optional
        The published cells counting the offered spells and their events
        (default Table 1's ``all`` row).
    same_outcome : bool
        Whether the model's event is Table 1's re-entry itself (its
        non-events are then Table 1's other status).
    status_labels : (str, str)
        Table 1's status columns.

    Returns
    -------
    ModelCounts
    """
    from reunistat.report.tables import formula_variables, smallest_cell

    status = spells["reentered"].to_numpy() == 1
    ev = np.asarray(events, dtype=bool)
    if (ev & ~status).any():
        raise ValueError(f"model {name!r}: an event that is not a re-entry in Table 1")
    offer = np.ones(len(spells), dtype=bool) if offered is None else np.asarray(offered, bool)
    variables = formula_variables(covariates, spells)
    complete = offer.copy()
    for v in variables:
        complete &= spells[v].notna().to_numpy()
    dropped = offer & ~complete
    n, e = int(complete.sum()), int((complete & ev).sum())
    t, lat, drop = (f"model:{name}{x}" for x in ("", ":latent", ":dropped"))
    reg.add_table(t, pd.DataFrame({"n": [n], "events": [e]}, index=["all"]), cheap=True)
    yes, no = status_labels
    pop = population or (("table1", "all", "all"), ("table1", "all", yes))
    r = reg.rules
    sub = spells.loc[complete, variables].assign(_model_event=ev[complete].astype(int))
    least = min(smallest_cell(sub, variables, "_model_event"), e) if n else 0
    out = ModelCounts(t, n, e, bool(r.apply and least < r.threshold))
    if not dropped.any():  # the model's spells are those offered: the same counts
        reg.link_equal([(t, "all", "n"), (t, "all", "events")], pop, "every spell offered")
        return out
    left = pd.DataFrame({"n": [len(spells) - n], "events": [int(status.sum()) - e]}, ["left out"])
    reg.add_table(lat, left, latent=True)
    # the dropped are a group of spells: protected when fewer than the threshold (a zero or
    # a large count reveals nothing of a child), so a model's n cannot give away their number
    gone = pd.DataFrame({"n": [dropped.sum()], "events": [(dropped & ev).sum()]}, ["all"])
    small = reg.rules.apply and 0 < int(dropped.sum()) < reg.rules.threshold
    reg.add_table(drop, gone, latent=not small, zeros=small)
    cols = {"n": "all", "events": yes}
    for (c, t1c), cell in zip(cols.items(), pop, strict=True):
        reg.add_sum(
            ("table1", "all", t1c), [(t, "all", c), (lat, "left out", c)], "model + left out"
        )
        reg.add_sum(cell, [(t, "all", c), (drop, "all", c)], "offered = model + dropped")
        reg.link_at_most((drop, "all", c), (lat, "left out", c), "the dropped are left out")
    for tab, row in [(t, "all"), (drop, "all")] + ([(lat, "left out")] if same_outcome else []):
        reg.link_at_most((tab, row, "events"), (tab, row, "n"), "events among the spells")
    missing: list[str] = []
    seen = np.zeros(len(spells), dtype=bool)
    for v in (v for v in variables if v in table1_levels):
        at = table1_levels[v].to_numpy().astype(str) == "missing"
        if not at.any() or (at & complete).any():
            continue
        seen |= at
        k = f"{v}=missing"
        missing.append(k)
        # the model has no spell at a missing level: all of Table 1's there are left out
        for c, t1c in cols.items():
            reg.link_at_most(("table1", k, t1c), (lat, "left out", c), "missing: left out")
        if same_outcome:
            reg.add_relation(
                [("table1", k, no), (lat, "left out", "n"), (lat, "left out", "events")],
                [1.0, -1.0, 1.0],
                "le",
                "missing: left out without re-entry",
            )
    if not (dropped & ~seen).any():
        for c, t1c in cols.items():
            reg.link_at_most_sum(
                (drop, "all", c),
                [("table1", k, t1c) for k in missing],
                "a dropped spell has a missing value",
            )
    return out


def standard_release(
    spells: pd.DataFrame,
    flow: pd.DataFrame,
    rules: DisclosureRules,
    *,
    horizons_days: Sequence[int],
    logistic_horizon_days: int | None = None,
    la: pd.DataFrame | None = None,
    status_labels: tuple[str, str] = ("re-entered", "not re-entered"),
    covariates: str | None = None,
) -> Release:
    """Declare and jointly suppress every count the standard analyses publish.

    Parameters
    ----------
    spells, flow : DataFrame
        The cohort's spells and flow.
    rules : DisclosureRules
        The run's rules.
    horizons_days : sequence of int
        Horizons of the curve tables.
    logistic_horizon_days : int, optional
        Horizon of the logistic outcome counts (none declared if None).
    la : DataFrame, optional
        The la table (pilot adoption) for the evaluation's exposure counts.
    status_labels : (str, str)
        Table 1's status columns.
    covariates : str, optional
        The models' formula right side (``[analysis] covariates``): declares
        the models' counts (:func:`declare_model_counts`), ``model:cox`` and,
        with ``logistic_horizon_days``, ``model:logistic``; their
        :class:`ModelCounts` are in ``release.extra["models"]``.

    Returns
    -------
    Release
    """
    reg = ReleaseTables(rules)
    keys = declare_flow(reg, flow)
    levels = declare_table1(reg, spells, status_labels)
    reg.link_equal(
        [("table1", "all", "all")], [("cohort_flow", keys["base"], "spells")], "spells analysed"
    )
    if "reentry" in keys:
        reg.link_equal(
            [("table1", "all", status_labels[0])],
            [("cohort_flow", keys["reentry"], "spells")],
            "re-entries",
        )
    declare_curves(reg, spells, fixed_times(horizons_days), levels)
    models: dict[str, ModelCounts] = {}
    if covariates is not None:
        reentered = spells["reentered"].to_numpy() == 1
        models["cox"] = declare_model_counts(
            reg, "cox", spells, covariates, reentered, levels, status_labels=status_labels
        )
    if logistic_horizon_days is not None:
        known, within = declare_logistic(reg, spells, logistic_horizon_days, keys["base"])
        if covariates is not None:
            t = "logistic_outcome"
            models["logistic"] = declare_model_counts(
                reg,
                "logistic",
                spells,
                covariates,
                within,
                levels,
                offered=known,
                population=((t, "used", "spells"), (t, "re-entered within horizon", "spells")),
                same_outcome=False,
                status_labels=status_labels,
            )
    declare_evaluation(reg, spells, la)
    n_la = float(spells["LA"].nunique()) if "LA" in spells.columns else np.nan
    reg.add_table("paper", pd.DataFrame({"n": [n_la]}, index=["n_la"]))
    rel = reg.solve()
    rel.extra["flow_keys"] = keys
    rel.extra["models"] = models
    return rel


def curve_limits(release: Release, name: str, times: Sequence[int]) -> dict[str, float | None]:
    """Per group of a curve grouping: the last time its curve may reach (None: no curve).

    A group whose size (at risk at 0) is suppressed has no curve; otherwise
    its curve stops before the last fixed time whose number at risk is
    published ahead of the first that is not (``inf`` when all are).
    """
    table = f"at_risk:{name}"
    shown = release.registry.tables[table].counts
    out: dict[str, float | None] = {}
    for g in shown.index:
        hidden = [release.is_hidden(table, g, str(t)) for t in times]
        if hidden[0]:
            out[g] = None
        elif any(hidden):
            k = hidden.index(True)
            out[g] = float(times[k - 1])
        else:
            out[g] = float("inf")
    return out


def release_summary(release: Release) -> dict[str, Any]:
    """Counts of suppressed cells per table and kind, as plain data."""
    t = release.counts_by_reason()
    return {
        "tables": t.to_dict(orient="records"),
        "audit_passed": release.audit_passed,
        "n_cells": release.n_cells,
        "n_hidden": release.n_suppressed,
    }
