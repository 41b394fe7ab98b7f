"""The provenance manifest: hashes of every output and input, config, versions, commit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reunistat.results import package_versions

if TYPE_CHECKING:
    pass

from reunistat.pipeline.config import MANIFEST
from reunistat.pipeline.context import Context


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


def build_manifest(
    ctx: Context, inputs: list[dict[str, Any]], breaches: list[str], timings: dict[str, float]
) -> dict[str, Any]:
    """Return the provenance manifest of a run (the only place with timestamps)."""
    from reunistat.results import data_hash

    cfg = ctx.config
    outputs = []
    for rel in sorted(ctx.outputs):
        o = ctx.outputs[rel]
        p = cfg.outputs_dir / rel
        outputs.append(
            {
                "path": rel,
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
                "script": o.script,
                "function": o.function,
                "kind": o.kind,
                "title": o.title,
                "disclosure": o.disclosure,
            }
        )
    truth = cfg.data_dir / "truth.json"
    data_seed = json.loads(truth.read_text("utf-8")).get("seed") if truth.exists() else None
    return {
        "manifest_version": 1,
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": ("failed" if ctx.failed else "disclosure check failed" if breaches else "ok"),
        "failed": ctx.failed,
        "command": "reunistat reproduce --config " + cfg.source,
        "config_file": cfg.source,
        "config_sha256": sha256_file(Path(cfg.source)) if Path(cfg.source).is_file() else None,
        "config": cfg.as_dict(),
        "seed": cfg.seed,
        "data_seed": data_seed,
        "mode": cfg.mode,
        "disclosure": cfg.disclosure.as_dict(),
        "disclosure_breaches": breaches,
        "git": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions() | _extra_versions(),
        "data_dir": cfg.data_dir.as_posix(),
        "inputs": inputs,
        "cohort": {
            "spells_sha256": data_hash(ctx.spells.reset_index(drop=True)),
            "data_end": str(ctx.cohort.data_end.date()),
        },
        "outputs": outputs,
        "skipped": ctx.skipped,
        "timings_seconds": timings,
    }


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
    if not path.exists():
        return [f"{path} not found"]
    manifest = json.loads(path.read_text("utf-8"))
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


def update_manifest(ctx: Context, status: str) -> None:
    """Add or refresh the outputs of a partial run in the outputs folder's manifest."""
    path = ctx.out / MANIFEST
    manifest = json.loads(path.read_text("utf-8")) if path.exists() else {"outputs": []}
    rows = {o["path"]: o for o in manifest["outputs"]}
    for rel, o in ctx.outputs.items():
        p = ctx.out / rel
        rows[rel] = {
            "path": rel,
            "sha256": sha256_file(p),
            "bytes": p.stat().st_size,
            "script": o.script,
            "function": o.function,
            "kind": o.kind,
            "title": o.title,
            "disclosure": o.disclosure,
        }
    manifest["outputs"] = [rows[k] for k in sorted(rows)]
    manifest["status"] = status
    manifest["updated_utc"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
