"""The release's checks beside the run's last steps, in a process of their own.

A run checks every file of its release (:func:`reunistat.report.checker.check_folder`)
and the written tables against the release-wide suppression
(:func:`reunistat.report.release_check.check_written_release`). Both only read
what was written, so neither has to wait for the whole folder: once the
analysis scripts are done, a process forked from the run checks their files
while the run's own process builds the workbook and the paper, then the
paper's files as soon as they are written (:class:`Checks`).

The run's process then puts the breaches together in the order
:func:`~reunistat.report.checker.check_folder` gives them (file by file, by
path), so the disclosure report and the manifest are the same bytes as with
every check made at the end. A file that was written again, removed, or
registered with another spec after it was checked is checked again then, and
a file no one asked about is checked then too: the verdict is always on the
folder as it is at the end.

Without ``fork`` (or with one job, :func:`background_checks`), or when the
checking process stops, the same checks run in the run's own process, when
their results are needed.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from reunistat.report import checker
from reunistat.report.disclosure import DisclosureRules
from reunistat.report.pdf_content import page_text

#: What a file was checked as: its size and modification time then, its spec, whether it
#: was checked as a file about the release, and the breaches found.
Checked = tuple[tuple[int, int], dict[str, Any] | None, bool, list[str]]


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _check_files(
    stage: str,
    files: Sequence[tuple[str, dict[str, Any] | None, bool]],
    rules: DisclosureRules,
    identifiers: checker.Identifiers,
    text_of: Callable[[Path], str | None] | None = None,
) -> dict[str, Checked]:
    """Check files of ``stage`` (``(rel, spec, about)`` each); a file not there is left out.

    ``text_of``: a file's text (:func:`~reunistat.report.checker.file_text`) read
    otherwise, or None to read it as the checker does.
    """
    out: dict[str, Checked] = {}
    for rel, spec, about in files:
        path = Path(stage) / rel
        sig = _signature(path)  # before reading: a later write changes it
        if sig is None:
            continue
        text = None if text_of is None else text_of(path)
        out[rel] = (
            sig,
            spec,
            about,
            checker.file_breaches(path, rel, spec, rules, identifiers, about, text),
        )
    return out


def check_one(
    stage: Path,
    rel: str,
    spec: dict[str, Any] | None,
    rules: DisclosureRules,
    identifiers: checker.Identifiers,
) -> dict[str, Checked]:
    """Check one file of ``stage`` as :class:`Checks` does (nothing if it is not there)."""
    return _check_files(str(stage), [(rel, spec, rel in checker.RELEASE_FILES)], rules, identifiers)


def _claim_pages(path: Path, n: int, next_page: Any, reader: Any = None) -> dict[int, str]:
    """Read the text of a PDF's pages not taken yet, one at a time, until none is left.

    ``next_page`` (a ``multiprocessing.Value`` both processes share) is the
    first page not taken: each process takes the next page when it is
    free, so the one that starts later, or is slower, reads fewer pages.
    ``reader``: the PDF open already (a ``PdfReader``), or None to open it
    when the first page is taken.
    """
    got: dict[int, str] = {}
    while True:
        with next_page.get_lock():
            i = next_page.value
            if i >= n:
                return got
            next_page.value = i + 1
        if reader is None:
            from pypdf import PdfReader

            reader = PdfReader(path)
        got[i] = page_text(reader.pages[i])


def _handle(
    message: tuple[Any, ...], identifiers: checker.Identifiers, next_page: Any = None
) -> Any:
    """Do what one request asks (in the checking process, or here when it cannot)."""
    if message[0] == "files":
        _, stage, files, rules = message
        return _check_files(stage, files, rules, identifiers)
    if message[0] == "pdf pages":  # here (the process stopped): the run reads what is left
        _, path, n = message
        return {} if next_page is None else _claim_pages(Path(path), n, next_page)
    if message[0] == "release":
        from reunistat.report.release_check import check_written_release

        _, record, stage, threshold = message
        return check_written_release(record, stage, threshold)
    raise ValueError(f"unknown request {message[0]!r}")  # pragma: no cover - a programming error


def _serve(conn: Connection, identifiers: checker.Identifiers, parent: int, next_page: Any) -> None:
    """The checking process: answer each request in turn until told to stop."""
    from reunistat.pipeline.workers import detach_from_run

    detach_from_run(parent)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        t0 = time.perf_counter()
        try:
            reply: tuple[str, Any, float] = ("ok", _handle(message, identifiers, next_page), 0.0)
        except Exception:  # done again in the run's process, which raises the error
            reply = ("again", None, 0.0)
        conn.send((*reply[:2], time.perf_counter() - t0))


def background_checks(jobs: int) -> bool:
    """Whether the checks run in a process of their own: with ``fork`` and more than one job.

    >>> background_checks(1)
    False
    """
    from reunistat.pipeline.workers import analysis_jobs

    return jobs != 1 and analysis_jobs(jobs, 2) > 1


class Checks:
    """The checks of one run's release, in a forked process when ``background``.

    Ask with :meth:`check_files` and :meth:`check_written_release` (both
    return at once); :meth:`folder_breaches` and :meth:`written_release_breaches`
    wait for the answers. Use as a context manager, so the process ends with
    the run.

    Parameters
    ----------
    identifiers : Identifiers
        What identifies a child of the input
        (:func:`reunistat.pipeline.verify.release_identifiers`).
    rules : DisclosureRules
        The release's rules.
    background : bool
        Check in a forked process (Linux); otherwise here, when asked.
    checked : mapping, optional
        Checks made already (with these identifiers and rules: while the
        scripts ran, :mod:`reunistat.pipeline.idle_core`); a file unchanged
        since, with the same spec, is not checked again.
    """

    def __init__(
        self,
        identifiers: checker.Identifiers,
        rules: DisclosureRules,
        background: bool,
        checked: Mapping[str, Checked] | None = None,
    ) -> None:
        self.identifiers = identifiers
        self.rules = rules
        #: Seconds the checking process spent on the answers received (None: no process).
        self.background_seconds: float | None = 0.0 if background else None
        self._conn: Connection | None = None
        self._proc: Any = None
        self._sent: deque[tuple[int, tuple[Any, ...]]] = deque()
        self._answers: dict[int, Any] = {}
        self._next = 0
        self._file_tickets: list[int] = []
        self._release_ticket: int | None = None
        self._checked: dict[str, Checked] = dict(checked or {})
        #: Files asked to be checked, whose answers are not in yet: their spec and ``about``.
        self._asked: dict[str, tuple[dict[str, Any] | None, bool]] = {}
        #: The first page of the PDF being read not taken yet (shared with the process).
        self._next_page: Any = None
        if background:
            mp = multiprocessing.get_context("fork")
            mine, theirs = mp.Pipe()
            self._next_page = mp.Value("i", 0)
            self._proc = mp.Process(
                target=_serve,
                args=(theirs, identifiers, os.getpid(), self._next_page),
                daemon=True,
            )
            self._proc.start()
            theirs.close()
            self._conn = mine

    def __enter__(self) -> Checks:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
        else:  # the run failed: nothing more to wait for
            self._lost()

    # --- requests -------------------------------------------------------------
    def _ask(self, message: tuple[Any, ...]) -> int:
        ticket, self._next = self._next, self._next + 1
        if self._conn is not None:
            try:
                self._conn.send(message)
                self._sent.append((ticket, message))
                return ticket
            except (OSError, ValueError):
                self._lost()
        self._sent.append((ticket, message))  # answered here when needed
        return ticket

    def _answer(self, ticket: int) -> Any:
        while ticket not in self._answers:
            t, message = self._sent.popleft()
            reply: tuple[str, Any, float] = ("again", None, 0.0)
            if self._conn is not None:
                try:
                    reply = self._conn.recv()
                except (EOFError, OSError):
                    self._lost()
            if self.background_seconds is not None:
                self.background_seconds = round(self.background_seconds + reply[2], 2)
            self._answers[t] = reply[1] if reply[0] == "ok" else _handle(message, self.identifiers)
        return self._answers.pop(ticket)

    def _lost(self) -> None:
        """The checking process stopped: what it had not answered is done here."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.kill()
            self._proc.join()
            self._proc = None

    def close(self) -> None:
        """End the checking process once it has answered what it was asked."""
        if self._conn is not None:
            try:
                self._conn.send(("stop",))
            except (OSError, ValueError):
                pass
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(timeout=30)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
            self._proc = None

    # --- the folder -------------------------------------------------------------
    def check_files(
        self, stage: Path, rels: Iterable[str], specs: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Ask for files of ``stage`` to be checked, each against its spec in ``specs``.

        A file checked already, unchanged since and with the same spec, is not asked
        again, nor one asked already with the same spec and not answered yet: its
        answer holds the file's size and modification time when it was checked, so
        that :meth:`folder_breaches` checks it again if it was written since.
        """
        files = [
            (rel, _spec(specs, rel), rel in checker.RELEASE_FILES)
            for rel in rels
            if not self._fresh(stage, rel, specs)
        ]
        files = [f for f in files if self._asked.get(f[0]) != f[1:]]
        if files:
            self._asked.update((rel, (spec, about)) for rel, spec, about in files)
            self._file_tickets.append(self._ask(("files", str(stage), files, self.rules)))

    def check_here(
        self, stage: Path, rels: Iterable[str], specs: Mapping[str, Mapping[str, Any]]
    ) -> None:
        """Check files of ``stage`` in this process, now (while the checking process works).

        For a file the run's process would otherwise wait for at the end (the
        paper's PDF, the longest to read): the checking process may still be
        working through the scripts' files, so two processes share the last
        checks instead of one. The answer counts as one :meth:`check_files` gives.
        A PDF's pages are read here and in the checking process, each taking
        the next page not read yet (:meth:`_pdf_text`).
        """
        files = [(rel, _spec(specs, rel), rel in checker.RELEASE_FILES) for rel in rels]
        found = _check_files(str(stage), files, self.rules, self.identifiers, self._pdf_text)
        self._checked.update(found)

    def _pdf_text(self, path: Path) -> str | None:
        """A PDF's text, its pages shared with the checking process (None: read it as usual).

        Each process reads the next page not read yet until none is left
        (:func:`_claim_pages`): the checking process may still be checking
        other files when asked, and pages differ in length. The text of a
        page depends on that page alone, so the text put together is what
        :func:`~reunistat.report.checker.file_text` reads; a page the checking
        process took but did not send (it stopped) is read here.
        """
        if self._conn is None:
            return None
        with open(path, "rb") as f:
            if f.read(5) != b"%PDF-":
                return None
        from pypdf import PdfReader

        reader = PdfReader(path)
        n = len(reader.pages)
        self._next_page.value = 0  # no request of the process reads pages now: it is free
        ticket = self._ask(("pdf pages", str(path), n))
        mine = _claim_pages(path, n, self._next_page, reader)
        theirs: dict[int, str] = self._answer(ticket)
        pages = [
            mine[i] if i in mine else theirs[i] if i in theirs else page_text(reader.pages[i])
            for i in range(n)
        ]
        return checker.pdf_text(path, pages, reader)

    def folder_breaches(self, stage: Path, specs: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """Return what :func:`~reunistat.report.checker.check_folder` returns for ``stage`` now.

        Every file in the folder is covered: the answers to :meth:`check_files`
        for files unchanged since, with the same spec, and a check now of
        the others.
        """
        for ticket in self._file_tickets:
            self._checked.update(self._answer(ticket))
        self._file_tickets.clear()
        self._asked.clear()
        listing = [p.relative_to(stage).as_posix() for p in sorted(stage.rglob("*")) if p.is_file()]
        stale = [rel for rel in listing if not self._fresh(stage, rel, specs)]
        if stale:
            self.check_files(stage, stale, specs)
            self._checked.update(self._answer(self._file_tickets.pop()))
            self._asked.clear()
        return [b for rel in listing if rel in self._checked for b in self._checked[rel][3]]

    def _fresh(self, stage: Path, rel: str, specs: Mapping[str, Mapping[str, Any]]) -> bool:
        done = self._checked.get(rel)
        return (
            done is not None
            and done[0] == _signature(stage / rel)
            and done[1] == _spec(specs, rel)
            and done[2] == (rel in checker.RELEASE_FILES)
        )

    def identifier_breaches(self, stage: Path, rel: str) -> list[str]:
        """Return :func:`~reunistat.report.checker.identifier_breaches` of one file, now."""
        self._file_tickets.append(self._ask(("files", str(stage), [(rel, None, True)], self.rules)))
        found = self._answer(self._file_tickets.pop())
        return found[rel][3] if rel in found else []

    # --- the release-wide suppression ---------------------------------------------
    def check_written_release(self, record: dict[str, Any], stage: Path, threshold: int) -> None:
        """Ask for :func:`~reunistat.report.release_check.check_written_release` of ``stage``."""
        self._release_ticket = self._ask(("release", record, str(stage), threshold))

    def written_release_breaches(self) -> list[str]:
        """The answer to :meth:`check_written_release` (empty if it was not asked)."""
        if self._release_ticket is None:
            return []
        ticket, self._release_ticket = self._release_ticket, None
        breaches: list[str] = self._answer(ticket)
        return breaches


def _spec(specs: Mapping[str, Mapping[str, Any]], rel: str) -> dict[str, Any] | None:
    spec = specs.get(rel)
    return None if spec is None else dict(spec)
