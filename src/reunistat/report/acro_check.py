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


_INSTALL = "python -m venv VENV; VENV/bin/pip install acro==1.0.2"


def find_acro(configured: str | None = None) -> tuple[str | None, str]:
    """Return the Python that runs ACRO, and where it came from or why there is none.

    In order: ``configured`` (the config's ``[disclosure] acro_python``),
    ``$REUNISTAT_ACRO_PYTHON``, this Python if it can import ``acro``.

    Returns
    -------
    (str or None, str)
        The Python (None when ACRO cannot run) and a sentence: where it was
        found, or why ACRO is not run and how to make it run.

    Examples
    --------
    >>> find_acro("/no/such/python")
    (None, 'the configured acro_python /no/such/python does not exist')
    """
    if configured:
        if not Path(configured).is_file():
            return None, f"the configured acro_python {configured} does not exist"
        return configured, f"[disclosure] acro_python = {configured}"
    exe = os.environ.get(ACRO_PYTHON_ENV)
    if exe:
        if not Path(exe).is_file():
            return None, f"{ACRO_PYTHON_ENV}={exe} does not exist"
        return exe, f"{ACRO_PYTHON_ENV}={exe}"
    if importlib.util.find_spec("acro") is not None:
        return sys.executable, "acro importable in this Python"
    return None, (
        "acro is not installed in this Python and none is configured (it pins pandas<=2.3.3, "
        f"so install it in its own environment: {_INSTALL}; then set [disclosure] "
        f'acro_python = "VENV/bin/python" or {ACRO_PYTHON_ENV})'
    )


def acro_python() -> str:
    """Return the Python that runs ACRO (see :func:`find_acro`), or raise if there is none."""
    exe, why = find_acro()
    if exe is None:
        raise DisclosureError(f"ACRO cannot run: {why}")
    return exe


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


def check_release_with_acro(
    spells: pd.DataFrame,
    out_dir: str | Path,
    *,
    covariates: str | None,
    horizon_days: int,
    python: str,
) -> Path:
    """ACRO's checks of what the standard release publishes; return ACRO's results.json.

    Table 1's crosstabs (the published levels against re-entry, with
    margins), one survival table per curve group of
    :data:`reunistat.report.release_plan.KM_GROUPINGS`, and the fixed-horizon
    logistic regression on ``covariates`` (none if None or it cannot be
    built on these spells).
    """
    from reunistat.report.release_plan import KM_GROUPINGS, curve_labels
    from reunistat.report.tables import table1_counts

    _, _, levels = table1_counts(spells)
    labelled = curve_labels(spells).assign(**{f"t1_{k}": v for k, v in levels.items()})
    logit = None
    if covariates:
        try:
            logit = logit_design(spells, covariates, horizon_days)
        except Exception:  # a design that cannot be built on these spells is not checked
            logit = None
    return run_acro(
        labelled,
        out_dir,
        crosstabs=[f"t1_{k}" for k in levels],
        survival={k: v[0] for k, v in KM_GROUPINGS.items()},
        logit=logit,
        python=python,
    )


def acro_report_lines(results_json: str | Path, shown_as: str) -> list[str]:
    """Lines of the disclosure report on ACRO's results: outputs, verdicts, cells flagged.

    Numbers of outputs and of flagged cells per check, never a count from the data.
    """
    doc = json.loads(Path(results_json).read_text("utf-8"))
    summary = summarise_acro(results_json)
    logit = (
        "and the fixed-horizon logistic regression"
        if summary["method"].astype(str).str.contains("logit").any()
        else "(the logistic regression could not be built on these data, so was not checked)"
    )
    lines = [
        f"ACRO {doc.get('version', '')} (the SACRO project's output checker) re-checked, from "
        "the exact data, Table 1's crosstabs, the survival table of every curve group "
        f"{logit}. Its results file is `{shown_as}`, to open in the "
        "SACRO viewer; that folder holds ACRO's own unsuppressed review copies, for the output "
        "checkers only: never release it.",
        "",
        "| ACRO output kind | outputs | status | cells flagged by check |",
        "|:---|---:|:---|:---|",
    ]
    checks = [c for c in summary.columns if c.endswith("Check")]
    for method, g in summary.groupby("method", sort=True):
        status = ", ".join(f"{k} {v}" for k, v in g["status"].value_counts().sort_index().items())
        flagged = ", ".join(
            f"{c} {int(g[c].fillna(0).sum())}" for c in checks if g[c].fillna(0).sum() > 0
        )
        lines.append(f"| {method} | {len(g)} | {status} | {flagged or 'none'} |")
    return lines
