"""The CONSORT-style flow: from rows read to spells analysed, every row accounted for.

The flow is a table with one row per step. ``stage`` is ``start`` (rows read),
``exclude`` (removed at this step, with its ``reason``), ``remaining`` (what
is left: the previous ``remaining`` or ``start`` minus the exclusions since)
or ``outcome`` (how the spells analysed ended; they add up to the spells).
Counts are ``children``, ``episodes``, ``periods`` and ``spells``; a blank
means the step does not concern that unit. Until the annual returns are
stacked, ``children`` counts header rows.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from reunistat import codes, spells

FLOW_COLUMNS: Final = ("stage", "step", "reason", "children", "episodes", "periods", "spells")
COUNTS: Final = ("children", "episodes", "periods", "spells")


def row(stage: str, step: str, reason: str = "", **counts: int | None) -> dict[str, object]:
    """Return one flow row: its stage, step text, reason code and counts."""
    return {"stage": stage, "step": step, "reason": reason, **counts}


def stacking_rows(stacking: pd.DataFrame) -> list[dict[str, object]]:
    """Rows read, and every row dropped while stacking with its reason, for header and episodes.

    ``stacking`` is :attr:`reunistat.tables.Extract.stacking` (one row per file
    read); files of one table are summed.
    """
    from reunistat.tables.stack import REASONS

    s = stacking.groupby("table")[["rows_read", *REASONS, "rows_kept"]].sum()

    def get(table: str, col: str) -> int:
        return int(s[col].to_dict().get(table, 0))

    steps = {
        "identical_dropped": ("identical duplicate rows dropped", "identical_duplicate"),
        "superseded": (
            "rows superseded by a later annual return (or its closed version)",
            "superseded",
        ),
        "decom_corrected": (
            "stale copies of an episode whose DECOM a later return corrected",
            "decom_corrected",
        ),
        "deleted_in_next_return": (
            "open episodes the LA's next return no longer holds (the child's other episodes are)",
            "deleted_in_next_return",
        ),
    }
    rows = [
        row(
            "start",
            "rows read (children = header rows)",
            children=get("header", "rows_read"),
            episodes=get("episodes", "rows_read"),
        )
    ]
    for col in REASONS:
        text, reason = steps[col]
        rows.append(
            row(
                "exclude",
                text,
                reason,
                children=get("header", col),
                episodes=get("episodes", col),
            )
        )
    rows.append(
        row(
            "remaining",
            "after stacking annual returns",
            children=get("header", "rows_kept"),
            episodes=get("episodes", "rows_kept"),
        )
    )
    return rows


def validation_rows(excluded: pd.DataFrame) -> list[dict[str, object]]:
    """One exclusion row per first rule broken (children in the header, their episodes)."""
    rows = []
    for rule, g in excluded.groupby("rule", sort=False):
        rows.append(
            row(
                "exclude",
                f"failed validation: {rule}",
                f"validation:{rule}",
                children=int(g["n_header_rows"].sum()),
                episodes=int(g["n_episodes"].sum()),
            )
        )
    return rows


def _exit_label(rec: str) -> tuple[str, str]:
    if rec in codes.REC_ADOPTION:
        return "adopted", "adopted (E11, E12)"
    if rec in codes.REC_SGO:
        return "sgo", "special guardianship order (E45-E48)"
    if rec in codes.REC_RETURN_HOME:
        return "e13_not_counted", "E13 not counted as a return home (include_e13 = false)"
    return f"exit_{rec}", f"other exit {rec}: {codes.REC.get(rec, '')}"


def period_rows(
    care: pd.DataFrame, returned: pd.Series, n_children_with_spells: int
) -> list[dict[str, object]]:
    """Periods of care that did not end in a return home, by how they ended."""
    other = care.loc[~returned.to_numpy()]
    rows = []
    is_open = other["end_rec"].isna()
    if is_open.any():
        rows.append(
            row(
                "exclude",
                "period still open at the data end",
                "open",
                periods=int(is_open.sum()),
                episodes=int(other.loc[is_open, "n_episodes"].sum()),
            )
        )
    closed = other.loc[~is_open]
    labels = closed["end_rec"].map({r: _exit_label(str(r)) for r in closed["end_rec"].unique()})
    for (reason, text), g in closed.groupby(labels, sort=True):
        rows.append(
            row("exclude", text, reason, periods=len(g), episodes=int(g["n_episodes"].sum()))
        )
    n_children = care["_uid"].nunique()
    rows.append(
        row(
            "exclude",
            "children with no return home",
            "no_return",
            children=n_children - n_children_with_spells,
        )
    )
    return rows


def outcome_rows(spell_table: pd.DataFrame) -> list[dict[str, object]]:
    """How the spells analysed ended: re-entry or each censoring reason."""
    counts = spell_table["censor_reason"].value_counts()
    return [
        row("outcome", f"ended: {r}", r, spells=int(counts.get(r, 0)))
        for r in spells.CENSOR_REASONS
    ]


def as_table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Return the flow rows as a table with :data:`FLOW_COLUMNS`."""
    t = pd.DataFrame(rows)
    for c in FLOW_COLUMNS:
        if c not in t.columns:
            t[c] = None
    t = t[list(FLOW_COLUMNS)]
    for c in COUNTS:
        t[c] = t[c].astype("Int64")
    return t


def check_flow(flow: pd.DataFrame) -> None:
    """Raise ``AssertionError`` unless every ``remaining`` row is the last one minus exclusions.

    Also checks that the outcomes add up to the spells analysed.
    """
    base: dict[str, int] = {}
    pending: dict[str, int] = dict.fromkeys(COUNTS, 0)
    for r in flow.itertuples(index=False):
        if r.stage in ("start", "remaining"):
            for c in COUNTS:
                v = getattr(r, c)
                if pd.isna(v):
                    continue
                if r.stage == "remaining" and c in base and base[c] - pending[c] != v:
                    raise AssertionError(
                        f"flow does not add up at {r.step!r}: {c} {base[c]} - {pending[c]} != {v}"
                    )
                base[c] = int(v)
                pending[c] = 0
        elif r.stage == "exclude":
            for c in COUNTS:
                v = getattr(r, c)
                if not pd.isna(v):
                    pending[c] += int(v)
    outcomes = flow.loc[flow["stage"] == "outcome", "spells"].sum()
    if "spells" in base and int(outcomes) != base["spells"]:
        raise AssertionError(f"outcomes {outcomes} do not add up to spells {base['spells']}")
