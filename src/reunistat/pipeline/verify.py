"""Checking a release folder again: ``reunistat reproduce --verify``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from reunistat.pipeline.config import MANIFEST
from reunistat.pipeline.manifest import load_manifest, verify_manifest
from reunistat.report import checker
from reunistat.report.disclosure import DisclosureRules

#: The date reproducible documents carry (pandoc's SOURCE_DATE_EPOCH, the workbook's zip dates).
FIXED_DOCUMENT_DATE = dt.date(2024, 1, 1)


def release_identifiers(
    tables: dict[str, pd.DataFrame], data_end: dt.date | None
) -> checker.Identifiers:
    """Return the identifiers of an extract, with the dates an output may show.

    Public dates: the data end, the fixed date of reproducible documents and
    the pilot start dates of the ``la`` table.
    """
    public = {FIXED_DOCUMENT_DATE} | ({data_end} if data_end is not None else set())
    la = tables.get("la")
    if la is not None and "PILOT_START" in la.columns:
        starts = pd.to_datetime(la["PILOT_START"], errors="coerce", dayfirst=True).dropna()
        public |= {d.date() for d in starts}
    return checker.Identifiers.from_tables(tables, public)


def verify_release(out_dir: Path, data_dir: Path | None = None) -> list[str]:
    """Return why a release folder cannot be sent out (empty if it can).

    Every file must match the manifest's SHA-256 (no file missing, changed or
    added), the manifest's status must be ``passed``, and the checker, run
    again over the whole folder with the manifest's rules and the identifiers
    of the input (``data_dir``, default the manifest's ``data_dir``), must
    find no breach.
    """
    manifest = load_manifest(out_dir)
    if manifest is None:
        return [f"{out_dir / MANIFEST} not found: not a reunistat release"]
    problems = verify_manifest(out_dir)
    status = manifest.get("status")
    if status != "passed":
        problems.append(f"the manifest's status is {status!r}, not 'passed'")
    data = Path(data_dir or manifest.get("data_dir", ""))
    if not data.is_dir():
        return [
            *problems,
            f"the input data {data} are not here, so identifiers cannot be checked again "
            "(pass --data)",
        ]
    from reunistat.tables import read_extract

    end = manifest.get("cohort", {}).get("data_end")
    ids = release_identifiers(
        read_extract(data).tables, dt.date.fromisoformat(end) if end else None
    )
    rules = DisclosureRules(**manifest["disclosure"])
    specs = {o["path"]: o["disclosure"] for o in manifest.get("outputs", [])}
    problems += [f"check: {b}" for b in checker.check_folder(out_dir, specs, rules, ids)]
    return problems
