"""Ending the process without freeing its heap (:mod:`reunistat.pipeline.fast_exit`).

Each case runs in a process of its own: :func:`end_process` ends the process.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

from reunistat.pipeline import fast_exit

SRC = Path(__file__).resolve().parents[1] / "src"


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_it_ends_with_the_code_after_what_an_ordinary_exit_does(tmp_path):
    done = _run(
        """
        import atexit, sys, tempfile
        from pathlib import Path
        from reunistat.pipeline import fast_exit

        atexit.register(lambda: print(" and the exit's callbacks", end=""))
        left = tempfile.TemporaryDirectory(dir=sys.argv[1])  # removed by its finalizer at exit
        Path(sys.argv[1], "where").write_text(left.name)
        print("printed, not flushed", end="")
        sys.stderr.write("to stderr")
        with fast_exit.keeping():
            fast_exit.keep([object() for _ in range(1000)])
            fast_exit.end_process(3)
        print("never")
        """,
        str(tmp_path),
    )
    assert done.returncode == 3
    assert done.stdout == "printed, not flushed and the exit's callbacks"
    assert done.stderr == "to stderr"
    assert not Path((tmp_path / "where").read_text()).exists()


def test_it_leaves_the_exit_to_the_interpreter_while_a_thread_runs():
    done = _run(
        """
        import threading, time
        from reunistat.pipeline import fast_exit

        t = threading.Thread(target=time.sleep, args=(0.5,))
        t.start()
        fast_exit.end_process(3)
        print("returned")
        """
    )
    assert (done.returncode, done.stdout) == (0, "returned\n")


def test_what_is_kept_lives_to_the_end_of_the_block_only():
    class Heap:
        pass

    kept, dropped = Heap(), Heap()
    alive = weakref.ref(kept)
    fast_exit.keep(dropped)  # no block: nothing held
    with fast_exit.keeping():
        fast_exit.keep(kept)
        del kept
        gc.collect()
        assert alive() is not None
        with fast_exit.keeping(False):  # an inactive block holds nothing of its own
            fast_exit.keep(dropped)
    del dropped
    gc.collect()
    assert alive() is None
    assert fast_exit._KEPT == []


def test_a_command_called_in_a_process_that_goes_on_does_not_end_it():
    from reunistat.cli import reproduce_cmd

    assert not reproduce_cmd._process_ends_with_command()  # pytest's process
