"""Safe release folders: one run at a time, built beside the target and renamed into place.

A run takes a lock beside the outputs folder (``.NAME.lock``: an operating
system lock on an open file, released by the system when the process ends,
however it ends, with the holder's pid written in it for the message), writes
into a temporary folder beside the target (``.NAME.tmp-PID``) and, when the
release is complete, renames it into place; the previous complete release
stays untouched until then. Leftovers of a killed run (temporary folders, a
previous release set aside during the final renames) are cleaned, or the set-
aside release restored, by the next run that takes the lock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from reunistat.errors import PipelineError

MANIFEST = "manifest.json"


def lock_path(out: Path) -> Path:
    """Return the lock file of an outputs folder (beside it)."""
    return out.parent / f".{out.name}.lock"


def _try_lock(fh: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


#: The lock files this process holds open (closed in a forked worker: see forget_locks).
_HELD: list[IO[str]] = []


def forget_locks() -> None:
    """In a process forked from a run: close its copies of the run's lock files.

    An ``flock`` belongs to the open file, which a fork shares: a worker that
    kept its copy would hold the lock after the run itself was killed.
    """
    for fh in _HELD:
        fh.close()
    _HELD.clear()


@contextlib.contextmanager
def locked(out: Path) -> Iterator[Path]:
    """Hold the lock of ``out`` for the block; raise :class:`PipelineError` if a run holds it.

    The lock is taken atomically by the operating system (``flock``), so of
    two runs started together exactly one gets it; a killed run's lock is
    released by the system, so it never blocks the next run.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    path = lock_path(out)
    while True:
        fh = open(path, "a+", encoding="utf-8")
        if not _try_lock(fh):
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise PipelineError(
                f"another reunistat run (pid {holder}) is writing {out}: wait for it to end, "
                "or choose another outputs folder"
            )
        try:  # the file may have been replaced between open and lock: lock the current one
            same = os.fstat(fh.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        fh.close()
    try:
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        _HELD.append(fh)
        yield path
    finally:
        if fh in _HELD:
            _HELD.remove(fh)
        fh.close()


def _set_aside(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.old-*"))


def clean_stale(out: Path) -> list[Path]:
    """Remove what killed runs left beside ``out`` (call while holding the lock).

    A previous release set aside during the final renames of a killed run is
    put back if ``out`` is missing. Returns the paths removed.
    """
    removed = []
    olds = _set_aside(out)
    if not out.exists() and olds:
        olds[-1].rename(out)
        olds = olds[:-1]
    for p in [*sorted(out.parent.glob(f".{out.name}.tmp-*")), *olds]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def check_ours(out: Path) -> None:
    """Refuse to replace a folder that is not a reunistat release."""
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise PipelineError(
            f"{out} exists, is not empty and has no {MANIFEST}: not a reunistat outputs "
            "folder, so it is left alone. Choose another outputs.dir."
        )


def new_stage(out: Path, *, copy_existing: bool) -> Path:
    """Create the temporary folder of a run beside ``out`` (a copy of ``out`` if asked)."""
    stage = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    if copy_existing and out.is_dir():
        shutil.copytree(out, stage)
    else:
        stage.mkdir(parents=True)
    return stage


def publish(stage: Path, out: Path) -> None:
    """Rename the complete ``stage`` into place as ``out`` (the old release removed after)."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(stage, out)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)
