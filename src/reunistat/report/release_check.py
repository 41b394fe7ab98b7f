"""Re-checking a written release against its suppression registry (for the output checker).

:func:`check_written_release` takes the plain record of a solved release
(:meth:`reunistat.report.release_tables.Release.audit_record`) and an
outputs folder, reads back every place a registry cell is published (the
flow, Table 1, the exposure and logistic outcome tables, the Cox model's n
and events in its fit table, each curve's size at time 0, the horizon
table's numbers at risk, the counts in ``values.json``),
reports any written cell that differs from the release (a table showing what
the release hides), then re-runs the linear-programming audit on what was
written (:func:`reunistat.report.release_tables.verify_release`). Messages
name the file and the cell, never a hidden value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from reunistat.report.release_plan import KM_GROUPINGS
from reunistat.report.release_tables import verify_release

#: Registry tables written as one CSV each: table → (file, row key column).
CSV_TABLES = {
    "cohort_flow": ("tables/cohort_flow.csv", "key"),
    "table1": ("tables/table1.csv", "key"),
    "logistic_outcome": ("tables/logistic_outcome.csv", "item"),
    "evaluation_counts": ("tables/evaluation_counts.csv", "item"),
}
#: Model fit tables quoting a model population's counts: file → (table, column → release column).
MODEL_FILES = {"tables/cox_fit.csv": ("model:cox", {"n_obs": "n", "n_events": "events"})}


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _norm(s: Any) -> str:
    return str(s).replace(",", "").strip()


Where = dict[tuple[str, ...], int]


def _from_csv_tables(out_dir: Path, where: Where, found: dict[int, str]) -> None:
    for table, (rel, key) in CSV_TABLES.items():
        df = _read(out_dir / rel)
        if df is None or key not in df.columns:
            continue
        for _, row in df.iterrows():
            for col in df.columns:
                i = where.get((table, str(row[key]), str(col)))
                if i is not None and _norm(row[col]) != "":
                    found[i] = _norm(row[col])


def _from_model_fits(out_dir: Path, where: Where, found: dict[int, str]) -> None:
    for rel, (table, cols) in MODEL_FILES.items():
        df = _read(out_dir / rel)
        if df is None or df.empty:
            continue
        for col, rcol in cols.items():
            i = where.get((table, "all", rcol))
            if i is not None and col in df.columns:
                found[i] = _norm(df[col].iloc[0])


def _from_curves(out_dir: Path, where: Where, found: dict[int, str]) -> None:
    hz = _read(out_dir / "tables/km_horizons.csv")
    for name, (_, label) in KM_GROUPINGS.items():
        curve = _read(out_dir / f"tables/km_{name}.csv")
        if curve is not None and {"group", "time", "n_risk"} <= set(curve.columns):
            start = curve.loc[pd.to_numeric(curve["time"], errors="coerce") == 0]
            for g, n in zip(start["group"], start["n_risk"], strict=True):
                i = where.get((f"at_risk:{name}", str(g), "0"))
                if i is not None:
                    found[i] = _norm(n)
        if hz is None or not {"variable", "group", "horizon_days", "n_risk"} <= set(hz.columns):
            continue
        part = hz.loc[hz["variable"] == label]
        for g, h, n in zip(part["group"], part["horizon_days"], part["n_risk"], strict=True):
            i = where.get((f"at_risk:{name}", str(g), str(h)))
            if i is not None and _norm(n) not in ("", "z"):
                found[i] = _norm(n)


def _from_values(out_dir: Path, where: Where, found: dict[int, str]) -> None:
    values = out_dir / "values.json"
    if not values.exists():
        return
    for v in json.loads(values.read_text("utf-8")).values():
        cell = v.get("cell") if isinstance(v, dict) else None
        i = where.get(tuple(str(x) for x in cell)) if cell else None
        if i is not None:
            found[i] = _norm(v.get("text", ""))


def _written_cells(out_dir: Path, cells: list[list[str]]) -> dict[int, str]:
    """Index of a registry cell → its text as written (where it is written)."""
    where: Where = {tuple(c[:3]): i for i, c in enumerate(cells)}
    found: dict[int, str] = {}
    _from_csv_tables(out_dir, where, found)
    _from_model_fits(out_dir, where, found)
    _from_curves(out_dir, where, found)
    _from_values(out_dir, where, found)
    return found


def check_written_release(record: dict[str, Any], out_dir: str | Path, threshold: int) -> list[str]:
    """Return every breach of the release-wide suppression in a written outputs folder.

    Parameters
    ----------
    record : dict
        :meth:`Release.audit_record` of the run (plain data).
    out_dir : path
        The outputs folder.
    threshold : int
        The run's threshold.

    Returns
    -------
    list of str
        A cell written differently from the release (e.g. shown where it is
        suppressed), and any hidden cell the published numbers narrow to less
        than the protection width. Empty when the release holds.
    """
    out = Path(out_dir)
    cells = [list(c) for c in record["cells"]]
    latent = set(record.get("latent", []))
    required = [i for i, c in enumerate(cells) if str(c[3]) == "c" and i not in latent]
    problems = []
    for i, text in sorted(_written_cells(out, cells).items()):
        if text == _norm(cells[i][3]):
            continue
        if text == "c":  # hidden where the release could show it: safe, and hidden from readers
            cells[i][3] = "c"
            continue
        t, r, c = cells[i][:3]
        shown = "suppressed" if cells[i][3] == "c" else "published"
        problems.append(
            f"{t}: cell ({r}, {c}) is written differently from the release (there {shown})"
        )
        cells[i][3] = text
    problems += verify_release({**record, "cells": cells}, threshold, targets=required)
    return problems
