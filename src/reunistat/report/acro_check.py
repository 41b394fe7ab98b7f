"""ACRO, the SACRO project's output checker used by UK trusted research environments.

:func:`run_acro` re-derives the release's frequency tables, survival tables
and the fixed-horizon logistic regression from the exact spells in an ACRO
session (threshold, zeros, p-ratio and nk-dominance where magnitudes are
shown, residual degrees of freedom of regressions, survival tables), and
writes ACRO's results folder (``results.json``, its outputs, ``config.json``)
where the SACRO viewer opens it: by convention beside the outputs folder
(``<outputs>-acro``), since it holds ACRO's own unsuppressed review copies and
is for the environment's output checkers, never for release.

``acro`` (1.0.2) pins ``pandas<=2.3.3`` and brings rdflib and lxml, so it is
not a dependency of reunistat: the session runs in the Python named by
``REUNISTAT_ACRO_PYTHON`` (e.g. a virtual environment with ``pip install
acro==1.0.2``), or in this Python if it can import ``acro``. Our own checks
of the same rules (:mod:`reunistat.report.release_tables`, the checker) do
not need it. :func:`summarise_acro` reads a results file back into one row
per output with the number of cells each ACRO check flagged.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from reunistat.errors import DisclosureError

ACRO_PYTHON_ENV = "REUNISTAT_ACRO_PYTHON"
_SESSION = Path(__file__).with_name("_acro_session.py")


def acro_python() -> str:
    """Return the Python that runs ACRO (``$REUNISTAT_ACRO_PYTHON``, else this one)."""
    exe = os.environ.get(ACRO_PYTHON_ENV)
    if exe:
        return exe
    if importlib.util.find_spec("acro") is not None:
        return sys.executable
    raise DisclosureError(
        "ACRO is not installed: install it in its own environment (python -m venv VENV; "
        f"VENV/bin/pip install acro==1.0.2) and set {ACRO_PYTHON_ENV}=VENV/bin/python"
    )


def logit_design(spells: pd.DataFrame, covariates: str, horizon_days: int) -> pd.DataFrame:
    """The fixed-horizon logistic design (no intercept) with the outcome as ``__outcome__``."""
    from formulaic import model_matrix

    from reunistat.models.logistic import horizon_outcome, outcome_name

    used, _ = horizon_outcome(
        spells, horizon_days, potential_followup_col="days_potential_followup"
    )
    x = pd.DataFrame(model_matrix("0 + " + covariates, used)).astype(float)
    x["__outcome__"] = used[outcome_name(horizon_days)].to_numpy()
    return x.reset_index(drop=True)


def run_acro(
    spells: pd.DataFrame,
    out_dir: str | Path,
    *,
    crosstabs: Sequence[str],
    survival: Mapping[str, str | None],
    logit: pd.DataFrame | None = None,
    status_col: str = "reentered",
    duration_col: str = "days_followed",
    python: str | None = None,
) -> Path:
    """Run an ACRO session over the spells and write its results folder; return results.json.

    Parameters
    ----------
    spells : DataFrame
        The exact spells, with the label columns named in ``crosstabs`` and ``survival``.
    out_dir : path
        ACRO's results folder (must not exist yet: ACRO refuses to overwrite).
    crosstabs : sequence of str
        Columns tabulated against ``status_col`` (Table 1).
    survival : mapping
        Grouping name → label column (None: all spells): one survival table per group.
    logit : DataFrame, optional
        :func:`logit_design`: the fixed-horizon logistic regression to check.
    status_col, duration_col : str
        Event indicator and follow-up time.
    python : str, optional
        The Python with ``acro`` (default :func:`acro_python`).
    """
    out = Path(out_dir)
    if out.exists():
        raise DisclosureError(f"ACRO results folder {out} exists: remove it or choose another")
    cols = sorted({status_col, duration_col, *crosstabs, *(c for c in survival.values() if c)})
    with tempfile.TemporaryDirectory(prefix="reunistat-acro-") as tmp:
        data = Path(tmp) / "spells.csv"
        spells[cols].reset_index(drop=True).to_csv(data, index=False)
        spec = {
            "data": str(data),
            "out": str(out.resolve()),
            "status": status_col,
            "duration": duration_col,
            "crosstabs": list(crosstabs),
            "survival": dict(survival),
            "logit": None,
        }
        if logit is not None:
            logit_path = Path(tmp) / "logit.csv"
            logit.to_csv(logit_path, index=False)
            spec["logit"] = str(logit_path)
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        res = subprocess.run(
            [python or acro_python(), str(_SESSION), str(spec_path)],
            capture_output=True,
            text=True,
            cwd=tmp,
        )
    if res.returncode != 0:
        raise DisclosureError(f"the ACRO session failed: {res.stderr.strip()[-2000:]}")
    return out / "results.json"


def summarise_acro(results_json: str | Path) -> pd.DataFrame:
    """One row per ACRO output: ``output, method, status`` and the cells each check flagged.

    Check columns (e.g. ``MinimumThresholdCheck``, ``PresenceOfZeroCheck``,
    ``PRatioCheck``, ``NKDominanceCheck``) hold the number of cells ACRO
    flagged; ``summary`` holds ACRO's one-line verdict (degrees of freedom for
    regressions).
    """
    doc = json.loads(Path(results_json).read_text("utf-8"))
    rows = []
    for uid, r in doc.get("results", {}).items():
        if not isinstance(r, dict) or "DONT_RELEASE" in uid:
            continue
        row: dict[str, object] = {
            "output": uid,
            "method": r.get("properties", {}).get("method", r.get("type", "")),
            "status": r.get("status", ""),
        }
        for f in r.get("files", []):
            for check, n in ((f.get("sdc") or {}).get("summary") or {}).items():
                if isinstance(n, (int, float)):
                    row[check] = int(row.get(check, 0) or 0) + int(n)  # type: ignore[call-overload]
        row["summary"] = " ".join(str(r.get("summary", "")).split())
        rows.append(row)
    return pd.DataFrame(rows)
