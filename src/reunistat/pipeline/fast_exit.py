"""Ending a process that ran the pipeline without freeing its heap object by object.

At national size the run's process holds about 1.5 GB of Python objects to
its end (the extract, the cohort, the release-wide suppression, the modules
of every script). Freeing them one by one takes the interpreter about a
second once the last file is written: when the run's Context is dropped, as
the run returns, and at the interpreter's exit (its last garbage collection,
then the teardown of every module). The operating system takes a process's
memory back at once when it ends, so a command whose process ends with the
run need not free it:

* :func:`keeping`, around the run, holds what the run hands to :func:`keep`
  (its Context: :func:`reunistat.pipeline.finish.finish`) until the block ends,
  instead of its being freed as the run returns;
* :func:`end_process`, called in that block once the command is done, ends the
  process with ``os._exit`` after doing what an ordinary exit does that matters.

What an ordinary exit does, and where it is done on this path:

* non-daemon threads are waited for: with one still running, :func:`end_process`
  returns and the process exits as usual;
* the callbacks registered with :mod:`atexit` run (those of ``weakref.finalize``,
  hence any ``tempfile.TemporaryDirectory`` not cleaned up yet; multiprocessing's,
  which ends daemonic child processes and joins the others; logging's flush;
  coverage's data): :func:`end_process` runs them;
* ``sys.stdout`` and ``sys.stderr`` are flushed: here too, before anything else
  (if that fails, :func:`end_process` returns, and the ordinary exit reports it);
* the exit code: ``os._exit`` is given the one the command would exit with.

What the run itself leaves in order before its command ends, not at the exit: every
file written and closed, the release folder renamed into place and the temporary
ones removed, the outputs folder's lock released (an operating-system lock the
system releases anyway when a process ends), every child process joined. What is
not done: the objects' ``__del__`` methods and the final garbage collection,
which the language does not promise at exit either.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

#: What :func:`keep` was handed, one list per open :func:`keeping` block.
_KEPT: list[list[Any]] = []


@contextlib.contextmanager
def keeping(active: bool = True) -> Iterator[None]:
    """Hold what :func:`keep` is handed in the block until the block ends (if ``active``).

    For a caller that ends the process with :func:`end_process` in the block:
    what is kept is then never freed one object at a time. Left otherwise, the
    block drops it as the interpreter would have.
    """
    if not active:
        yield
        return
    _KEPT.append([])
    try:
        yield
    finally:
        _KEPT.pop()


def keep(*objects: object) -> None:
    """Hold ``objects`` to the end of the innermost :func:`keeping` block (none: nothing)."""
    if _KEPT:
        _KEPT[-1].extend(objects)


def _flushed() -> bool:
    """Flush ``sys.stdout`` and ``sys.stderr``; whether both were (or are absent)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            return False
    return True


def end_process(code: int) -> None:
    """End the process with exit code ``code`` now, without freeing its heap.

    Does what an ordinary exit does that matters (see the module's description)
    and calls ``os._exit``. Returns, doing nothing, when called from another
    thread than the main one, when another non-daemon thread runs, or when
    ``sys.stdout`` or ``sys.stderr`` cannot be flushed: the caller then ends
    as usual.
    """
    import atexit
    import threading

    me = threading.current_thread()
    if me is not threading.main_thread():
        return
    if any(t is not me and not t.daemon and t.is_alive() for t in threading.enumerate()):
        return
    if not _flushed():
        return
    atexit._run_exitfuncs()  # each once: the list is emptied
    _flushed()  # what the callbacks printed
    os._exit(code)
