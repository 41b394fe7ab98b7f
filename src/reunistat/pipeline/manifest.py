"""The provenance manifest: hashes of every output and input, config, versions, commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reunistat import kernels
from reunistat.errors import PipelineError
from reunistat.pipeline.config import MANIFEST, PipelineConfig
from reunistat.report.checker import release_spec
from reunistat.report.disclosure import DisclosureRules


def sha256_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_commit(root: Path | None = None) -> dict[str, Any]:
    """Return the git commit of the working tree and whether it has uncommitted changes."""
    cwd = root or Path.cwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(dirty)}


def input_hashes(data_dir: Path) -> list[dict[str, Any]]:
    """Return the SHA-256 and size of every file under the data folder, sorted by path."""
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    return [
        {
            "path": p.relative_to(data_dir).as_posix(),
            "sha256": sha256_file(p),
            "bytes": p.stat().st_size,
        }
        for p in files
    ]


def output_rows(
    out_dir: Path, registry: Mapping[str, Mapping[str, Any]], rules: DisclosureRules
) -> list[dict[str, Any]]:
    """Return the manifest's row of each registered output (hashes from the files).

    A model's counts below the threshold are written ``c`` in its spec
    (:func:`reunistat.report.checker.release_spec`): the manifest leaves with
    the release.
    """
    rows = []
    for rel in sorted(registry):
        o, p = registry[rel], out_dir / rel
        rows.append(
            {
                "path": rel,
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
                "script": o["script"],
                "function": o["function"],
                "kind": o["kind"],
                "title": o["title"],
                "disclosure": release_spec(o["disclosure"], rules),
            }
        )
    return rows


@dataclass
class RunRecord:
    """What a run did, as the manifest records it (plain data)."""

    registry: dict[str, dict[str, Any]]
    breaches: list[str]
    failed: list[dict[str, str]]
    skipped: list[dict[str, str]]
    suppressed: dict[str, tuple[int, int]]
    timings: dict[str, float]
    partial: list[str] | None = None
    #: Resident memory (MiB) after each step of the run's process (``rss`` then, ``peak``
    #: so far) and, under ``scripts``, of the process that ran each script, after it.
    memory: dict[str, Any] | None = None
    #: A partial run's release: the kernels its manifest recorded (see :func:`run_kernels`).
    prior_kernels: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        """``passed``, ``failed`` (a step failed) or ``disclosure check failed``."""
        if self.failed:
            return "failed"
        return "disclosure check failed" if self.breaches else "passed"


def build_manifest(
    cfg: PipelineConfig,
    out_dir: Path,
    record: RunRecord,
    inputs: list[dict[str, Any]],
    cohort: dict[str, Any],
) -> dict[str, Any]:
    """Return the provenance manifest of a run (the only file with timestamps).

    ``cfg`` is the run's config with the final outputs folder; the files are
    read from ``out_dir`` (the folder being built).
    """
    truth = cfg.data_dir / "truth.json"
    data_seed = json.loads(truth.read_text("utf-8")).get("seed") if truth.exists() else None
    return {
        "manifest_version": 2,
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": record.status,
        "run": "partial" if record.partial is not None else "full",
        "partial_scripts": record.partial,
        "failed": record.failed,
        "command": "reunistat reproduce --config " + cfg.source,
        "config_file": cfg.source,
        "config_sha256": sha256_file(Path(cfg.source)) if Path(cfg.source).is_file() else None,
        "config": cfg.as_dict(),
        "seed": cfg.seed,
        "data_seed": data_seed,
        "mode": cfg.mode,
        "disclosure": cfg.disclosure.as_dict(),
        "disclosure_breaches": record.breaches,
        "suppressed_cells": {k: list(v) for k, v in sorted(record.suppressed.items())},
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": _versions() | _extra_versions(),
        "kernels": run_kernels(record.prior_kernels),
        "data_dir": cfg.data_dir.as_posix(),
        "inputs": inputs,
        "cohort": cohort,
        "outputs": output_rows(out_dir, record.registry, cfg.disclosure),
        "skipped": record.skipped,
        "timings_seconds": record.timings,
        "memory_mib": record.memory,
    }


def run_kernels(prior: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest's ``kernels``: what this run used (:func:`reunistat.kernels.in_effect`).

    For a partial run, ``prior`` is what the release it joins recorded: if that
    differs (or was already mixed), the release now holds outputs of both, so it
    is marked ``"mixed": true`` and not ``portable``.
    """
    now = kernels.in_effect()
    if prior is not None and (prior.get("mixed") or other_kernels(prior, now)):
        return now | {"portable": False, "mixed": True}
    return now


def other_kernels(prior: dict[str, Any] | None, now: dict[str, Any]) -> bool:
    """Whether a partial run on ``now``'s kernels is not of the kind its release recorded.

    ``prior`` is the release manifest's ``kernels`` (None for a release without that record).
    """
    was = None if prior is None else prior.get("portable")
    return was is not None and was != now["portable"]


def load_manifest(out_dir: Path) -> dict[str, Any] | None:
    """Return the manifest of a release folder (``None`` if it has none)."""
    path = out_dir / MANIFEST
    if not path.exists():
        return None
    try:
        manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise PipelineError(f"{path} is not valid JSON ({e}): not a complete release") from e
    return manifest


def _extra_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("matplotlib", "pypandoc-binary", "formulaic", "pyarrow"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def verify_manifest(outputs_dir: Path) -> list[str]:
    """Return every difference between the manifest and the files (empty if they match).

    Checks each listed file's SHA-256 and that no unlisted file sits beside them.
    """
    path = outputs_dir / MANIFEST
    manifest = load_manifest(outputs_dir)
    if manifest is None:
        return [f"{path} not found"]
    problems = []
    listed = set()
    for o in manifest["outputs"]:
        p = outputs_dir / o["path"]
        listed.add(o["path"])
        if not p.exists():
            problems.append(f"{o['path']}: missing")
        elif sha256_file(p) != o["sha256"]:
            problems.append(f"{o['path']}: SHA-256 differs from the manifest")
    for p in sorted(outputs_dir.rglob("*")):
        rel = p.relative_to(outputs_dir).as_posix()
        if p.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: not in the manifest")
    return problems


def _versions() -> dict[str, str]:
    """:func:`reunistat.results.package_versions`, imported when first needed.

    ``reunistat.results`` imports scipy.stats (about a second): importing it
    lazily keeps it off the start of ``reunistat reproduce``, where nothing
    runs beside it; the run imports it beside the cohort (``import_for``).
    """
    from reunistat.results import package_versions

    return package_versions()
