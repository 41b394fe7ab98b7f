"""The ACRO step of ``reproduce``: the SACRO output checker's results beside the release.

When ACRO can run (:func:`reunistat.report.acro_check.find_acro`: the
config's ``[disclosure] acro_python``, ``$REUNISTAT_ACRO_PYTHON``, or ``acro``
importable here), a whole run re-checks what it publishes in an ACRO session
and writes ACRO's results folder beside the outputs folder, as
``<outputs>-acro/`` (``results.json`` and ACRO's files, which the SACRO
viewer opens). It is kept out of the release folder because it holds ACRO's
own unsuppressed review copies: it is for the environment's output checkers,
never for release. The folder is built under a temporary name and renamed
into place once the release itself is in place.

When ACRO cannot run, or the run is partial, the disclosure report says so
("ACRO not run: ...") and why; it never passes over ACRO silently.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reunistat.errors import DisclosureError


def acro_folder(out: Path) -> Path:
    """Where ACRO's results of the release in ``out`` go: ``<out>-acro`` beside it.

    >>> acro_folder(Path("outputs")).as_posix()
    'outputs-acro'
    """
    return out.with_name(f"{out.name}-acro")


@dataclass
class AcroStep:
    """What the ACRO step did: the disclosure report's lines and the folder to put in place."""

    lines: list[str]
    stage: Path | None = None
    seconds: float | None = None


def run_acro_step(
    out: Path,
    spells: pd.DataFrame,
    *,
    configured: str | None,
    covariates: str | None,
    horizon_days: int,
    partial: bool,
    log: Callable[[str], None],
) -> AcroStep:
    """Run ACRO over the release of a whole run, or say why not.

    Parameters
    ----------
    out : Path
        The release folder (its final name).
    spells : DataFrame
        The exact spells.
    configured : str, optional
        ``[disclosure] acro_python``.
    covariates : str, optional
        Right-hand side of the logistic regression ACRO checks.
    horizon_days : int
        Its horizon.
    partial : bool
        A partial run (``--only`` or one script): ACRO is not run.
    log : callable
        Progress lines.
    """
    from reunistat.report import acro_check

    final = acro_folder(out)
    shown = f"../{final.name}/results.json"
    if partial:
        return AcroStep(
            [
                "ACRO not run: a partial run re-checks the folder with reunistat's checker only; "
                f"ACRO's results of the last whole run, if any, are in `{shown}`."
            ]
        )
    exe, why = acro_check.find_acro(configured)
    if exe is None:
        log(f"ACRO not run: {why}")
        return AcroStep([f"ACRO not run: {why}."])
    for stale in out.parent.glob(f".{final.name}.tmp-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    stage = out.parent / f".{final.name}.tmp-{os.getpid()}"
    t0 = time.perf_counter()
    try:
        res = acro_check.check_release_with_acro(
            spells, stage, covariates=covariates, horizon_days=horizon_days, python=exe
        )
    except DisclosureError as e:
        shutil.rmtree(stage, ignore_errors=True)
        log(f"ACRO failed ({why}): {e}")
        return AcroStep(["ACRO not run: its session failed (the error is in the run's log)."])
    secs = round(time.perf_counter() - t0, 2)
    log(f"ACRO ({why}): results for the output checkers in {final} ({secs} s)")
    return AcroStep(acro_check.acro_report_lines(res, shown), stage, secs)


def publish_acro(step: AcroStep, out: Path) -> None:
    """Put ACRO's results folder in place beside the release (the previous one replaced)."""
    if step.stage is None:
        return
    final = acro_folder(out)
    if final.exists():
        shutil.rmtree(final)
    step.stage.rename(final)
