"""Progress of a command's long steps: one line per step with its elapsed time, on stderr.

On a terminal each step shows a spinner and its running time (rich), and stays
on screen with its final time when the next step starts; when stderr is not a
terminal (a log file, CI, a test) or with ``--quiet`` nothing is drawn, so
piped output holds only the command's results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Steps:
    """Show the steps of a long command, each with its elapsed time, on stderr.

    Parameters
    ----------
    quiet : bool
        Draw nothing (``--quiet``).
    stream : file, optional
        Where to draw (default ``sys.stderr``); nothing is drawn unless it is a
        terminal.
    echo : callable, optional
        Where :meth:`log` sends a message that is not a step (default: print to
        stdout), and every message when nothing is drawn.

    Examples
    --------
    Off the terminal it only passes messages on:

    >>> import io
    >>> with Steps(stream=io.StringIO()) as steps:
    ...     with steps.step("reading"):
    ...         pass
    ...     steps.log("running analyses/01_cohort_flow.py")
    running analyses/01_cohort_flow.py
    >>> steps.done
    ['reading', 'running analyses/01_cohort_flow.py']
    """

    #: Log messages starting with these begin a new step (the pipeline's own log lines).
    STEP_PREFIXES = ("running ", "generating ", "reading ", "building ", "checking ", "writing ")

    def __init__(
        self,
        quiet: bool = False,
        stream: TextIO | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = not quiet and _is_terminal(self.stream)
        self.quiet = quiet
        self.echo = echo or print
        self.done: list[str] = []
        self._progress: Any = None
        self._task: Any = None
        self._t0 = 0.0

    def __enter__(self) -> Steps:
        """Start drawing (on a terminal)."""
        if self.enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(file=self.stream)
            self._progress = Progress(
                SpinnerColumn(finished_text="[green]✓[/green]"),
                TextColumn("{task.description}", markup=False),
                TimeElapsedColumn(),
                console=console,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Finish the last step and stop drawing."""
        self._finish()
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _finish(self) -> None:
        if self._task is not None and self._progress is not None:
            self._progress.update(self._task, total=1, completed=1)
            self._progress.stop_task(self._task)
        self._task = None

    def start(self, description: str) -> None:
        """End the current step (if any) and begin ``description``."""
        self._finish()
        self.done.append(description)
        self._t0 = time.perf_counter()
        if self._progress is not None:
            self._task = self._progress.add_task(description, total=None)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Show ``description`` with its elapsed time while the block runs."""
        self.start(description)
        try:
            yield
        finally:
            self._finish()

    def log(self, message: str) -> None:
        """A log line of the pipeline: a step when it names one, else printed.

        On a terminal a step's message becomes the step's line (with its time)
        and any other message is printed above the steps; off the terminal
        every message is passed to ``echo`` unless ``quiet``.
        """
        is_step = message.startswith(self.STEP_PREFIXES)
        if is_step:
            self.start(message)
        if self._progress is not None:
            if not is_step:
                self._progress.console.print(message, markup=False, highlight=False)
        elif not self.quiet:
            self.echo(message)
