"""The CONSORT-style flow: from rows read to spells analysed, every row accounted for.

The flow is a table with one row per step. ``stage`` is ``start`` (rows read),
``exclude`` (removed at this step, with its ``reason``), ``remaining`` (what
is left: the previous ``remaining`` or ``start`` minus the exclusions since)
or ``outcome`` (how the spells analysed ended; they add up to the spells),
or ``note`` (a fact about the rows above it, subtracting nothing: the data end
and extract start and how they were found, the other 903 tables read and
whether they are used, children in care when the data begin and their
returns home). Notes with counts come in pairs that split the ``remaining``
row just above them (``history_truncated`` + ``history_complete`` the periods
of care; ``history_truncated_returns`` + ``history_complete_returns``, and
``period_truncated_returns`` + ``period_complete_returns``, the spells), so
each pair adds up to that row and a release can protect it like the
exclusions (secondary suppression). Counts are ``children``, ``episodes``, ``periods`` and
``spells``; a blank means the step does not concern that unit. Until the
annual returns are stacked, ``children`` counts header rows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes, spells
from reunistat.cohort.extent import AFTER_DATA_END
from reunistat.tables.keys import CID
from reunistat.tables.rules import frame

#: Note rows that come in pairs splitting the ``remaining`` row above them.
NOTE_PAIRS: Final = (
    ("history_truncated", "history_complete"),
    ("history_truncated_returns", "history_complete_returns"),
    ("period_truncated_returns", "period_complete_returns"),
)
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


#: Flow text of exclusions that are not validation rules proper.
_RULE_TEXT: Final = {
    AFTER_DATA_END: "a DECOM or DEC after the data end (rule after_data_end)",
}


def validation_rows(excluded: pd.DataFrame) -> list[dict[str, object]]:
    """One exclusion row per first rule broken (children in the header, their episodes)."""
    rows = []
    for rule, g in excluded.groupby("rule", sort=False):
        rows.append(
            row(
                "exclude",
                _RULE_TEXT.get(str(rule), f"failed validation: {rule}"),
                f"validation:{rule}",
                children=int(g["n_header_rows"].sum()),
                episodes=int(g["n_episodes"].sum()),
            )
        )
    return rows


def extent_rows(
    extent_text: list[str], table_uses: dict[str, dict[str, object]]
) -> list[dict[str, object]]:
    """Notes: how the data end and extract start were found; other 903 tables and their use.

    The tables' row counts stay out of the step text (a released flow shows
    counts only where disclosure control sees them); ``Cohort.tables_used``
    and the provenance hold them.
    """
    rows = [row("note", text, "extent") for text in extent_text]
    used = [f"{k}: {v['use']}" for k, v in table_uses.items() if v["use"] != "not used"]
    unused = [k for k, v in table_uses.items() if v["use"] == "not used"]
    if used:
        rows.append(row("note", "other 903 tables used: " + "; ".join(used), "tables_used"))
    if unused:
        rows.append(
            row("note", "other 903 tables read, not used: " + ", ".join(unused), "tables_not_used")
        )
    return rows


def _keys(children: set[int]) -> np.ndarray:
    """A set of integer child keys as an array (for :func:`frame.key_isin`)."""
    return np.fromiter(children, np.int64, len(children))


def truncation_rows(care: pd.DataFrame, truncated: set[int]) -> list[dict[str, object]]:
    """Notes splitting the periods of care: children in care when the data begin, and others."""
    cid, n_episodes = care[CID].to_numpy(), care["n_episodes"].to_numpy()
    is_trunc = frame.key_isin(cid, _keys(truncated))
    parts = (
        ("of which children in care when the data begin (history truncated)", "history_truncated"),
        ("of which children who came into care in the data", "history_complete"),
    )
    return [
        row(
            "note",
            text,
            reason,
            children=frame.n_distinct(cid[m]),
            episodes=int(n_episodes[m].sum()),
            periods=int(m.sum()),
        )
        for (text, reason), m in zip(parts, (is_trunc, ~is_trunc), strict=True)
    ]


def truncated_spell_rows(
    spell_table: pd.DataFrame, children: pd.Series, truncated: set[int]
) -> list[dict[str, object]]:
    """Notes splitting the returns home analysed two ways: by child history, by period.

    ``children``: the integer child key (``_cid``) of every return home; ``truncated``:
    the children in care when the data begin (a spell's ``history_truncated``).
    """
    h = (spell_table["history_truncated"] == 1).to_numpy()
    p = (spell_table["period_truncated"] == 1).to_numpy()
    distinct = children.unique()
    n_truncated = int(np.isin(distinct, _keys(truncated)).sum())
    rows = [
        row("note", text, reason, children=n_children, spells=int(m.sum()))
        for text, reason, m, n_children in (
            (
                "of which returns home of children in care when the data begin",
                "history_truncated_returns",
                h,
                n_truncated,
            ),
            (
                "of which returns home of children who came into care in the data",
                "history_complete_returns",
                ~h,
                len(distinct) - n_truncated,
            ),
        )
    ]
    rows += [
        row("note", text, reason, spells=int(m.sum()))
        for text, reason, m in (
            (
                "of which returns home ending a period begun before the data "
                "(its start, length and moves are lower bounds)",
                "period_truncated_returns",
                p,
            ),
            (
                "of which returns home ending a period begun in the data",
                "period_complete_returns",
                ~p,
            ),
        )
    ]
    return rows


def _by(reason: str, step: str) -> str:
    """Name an exclusion in a sentence: ``rule 357``, ``uasc``, or its step text."""
    if reason.startswith("validation:"):
        return "rule " + reason.split(":", 1)[1]
    return reason or step


def why_empty(flow: pd.DataFrame) -> str:
    """Return why no return home is left: the children read, and who was excluded by what."""
    n_read = int(flow.loc[flow["stage"] == "start", "children"].iloc[0])
    ex = flow.loc[(flow["stage"] == "exclude") & (flow["reason"] != "no_return")]
    ex = ex.loc[ex["children"].fillna(0).astype(int) > 0]
    parts = [
        f"{int(n):,} by {_by(str(reason), str(step))}"
        for n, reason, step in zip(ex["children"], ex["reason"], ex["step"], strict=True)
    ]
    care = flow.loc[flow["reason"].eq("") & flow["step"].eq("periods of care")]
    left = ""
    if not care.empty:
        n_children, n_periods = (int(care[c].iloc[0]) for c in ("children", "periods"))
        left = (
            f"; {n_children:,} children remain with {n_periods:,} periods of care, "
            "none ending in a return home"
        )
    excluded = "; children excluded: " + ", ".join(parts) if parts else "; no child excluded"
    return (
        f"lenient mode left no return home to analyse (0 spells): "
        f"{n_read:,} children (header rows) read{excluded}{left}. "
        "See the flow (--flow-out) and the problems (reunistat validate --problems-out)"
    )


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
    other = ~returned.to_numpy()
    end_rec = care["end_rec"].to_numpy()[other]  # two columns only, as arrays
    n_episodes = care["n_episodes"].to_numpy()[other]
    rows = []
    is_open = pd.isna(end_rec)
    if is_open.any():
        rows.append(
            row(
                "exclude",
                "period still open at the data end",
                "open",
                periods=int(is_open.sum()),
                episodes=int(n_episodes[is_open].sum()),
            )
        )
    closed = ~is_open
    # each distinct REC counted once (codes, no label per row), then summed by its label
    rec_code, recs = pd.factorize(end_rec[closed])
    n_periods = np.bincount(rec_code, minlength=len(recs))
    n_eps = np.bincount(rec_code, weights=n_episodes[closed], minlength=len(recs))
    by_label: dict[tuple[str, str], list[int]] = {}
    for rec, p, ep in zip(recs, n_periods.tolist(), n_eps.tolist(), strict=True):
        counts = by_label.setdefault(_exit_label(str(rec)), [0, 0])
        counts[0] += p
        counts[1] += int(ep)
    for (reason, text), (p, ep) in sorted(by_label.items()):
        rows.append(row("exclude", text, reason, periods=p, episodes=ep))
    n_children = frame.n_distinct(care[CID])
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


def _check_note_pairs(flow: pd.DataFrame) -> None:
    """Raise unless each pair of notes adds up to the ``remaining`` row above it."""
    f = flow.reset_index(drop=True)
    for a, b in NOTE_PAIRS:
        ia = f.index[(f["stage"] == "note") & (f["reason"] == a)]
        ib = f.index[(f["stage"] == "note") & (f["reason"] == b)]
        if len(ia) == 0 and len(ib) == 0:
            continue
        if len(ia) != 1 or len(ib) != 1:
            raise AssertionError(f"flow notes {a!r} and {b!r} must come as one pair")
        above = f.index[(f["stage"] == "remaining") & (f.index < min(ia[0], ib[0]))]
        if len(above) == 0:
            raise AssertionError(f"flow notes {a!r}/{b!r} follow no remaining row")
        counts = f[list(COUNTS)].astype("Float64")
        for c in COUNTS:
            va, vb, vbase = (counts[c].iloc[i] for i in (ia[0], ib[0], above[-1]))
            if pd.isna(va) and pd.isna(vb):
                continue
            if float(va) + float(vb) != float(vbase):
                raise AssertionError(
                    f"flow notes {a!r} + {b!r} do not add up to {f.at[above[-1], 'step']!r}: "
                    f"{c} {va} + {vb} != {vbase}"
                )


def check_flow(flow: pd.DataFrame) -> None:
    """Raise ``AssertionError`` unless every ``remaining`` row is the last one minus exclusions.

    Also checks that the outcomes add up to the spells analysed and that each
    pair of notes (:data:`NOTE_PAIRS`) adds up to the ``remaining`` row above.
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
    _check_note_pairs(flow)
    outcomes = flow.loc[flow["stage"] == "outcome", "spells"].sum()
    if "spells" in base and int(outcomes) != base["spells"]:
        raise AssertionError(f"outcomes {outcomes} do not add up to spells {base['spells']}")
