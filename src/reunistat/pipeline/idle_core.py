"""Work of the run's last steps done early, on the core a finished worker leaves idle.

The workers rarely finish together: once no script is left to hand out and a
worker has nothing to do (:func:`reunistat.pipeline.workers.run_parallel`),
the run's process, which only waits for the last worker, does what the steps
after the scripts will need and can do already:

* Typst reads the figures the paper will show (:func:`reunistat.report.paper.warm_typst`:
  kept in the process's memory for the paper's PDF, the same bytes);
* the workbook is written, in memory (:func:`reunistat.pipeline.documents.prebuild_workbook`),
  once the scripts that made its tables have finished: the run writes those bytes
  at the end when it is made of the same tables and statements, else builds it again;
* the files of the scripts that have finished are checked
  (:func:`reunistat.report.checker.file_breaches`, as the checking process
  would check them after the scripts); a worker says when each script ends
  (:class:`reunistat.pipeline.workers.Finished`), so the files of the
  last worker's first scripts are checked while it runs its last.

One file at a time, stopping as soon as every worker is done. The checks are
handed to :class:`reunistat.pipeline.checks.Checks`, which uses each only for
a file unchanged since (its size, modification time and spec): a file
written again, or registered otherwise, by a script run again one after
another is checked again. Nothing here changes the Context or any file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reunistat.pipeline.checks import Checked, check_one
from reunistat.pipeline.documents import WORKBOOK_TABLES, Prebuilt, prebuild_workbook

if TYPE_CHECKING:
    from reunistat.pipeline.finish import WhileScriptsRun
    from reunistat.pipeline.workers import Finished
    from reunistat.report.disclosure import DisclosureRules

#: Typst compilations of figures at most (Typst drops what ten compilations did not use).
MAX_WARMS = 3


class IdleCore:
    """What the run's process does while a worker is idle and another still runs.

    Parameters
    ----------
    stage : Path
        The folder the release is built in.
    rules : DisclosureRules
        The release's rules.
    early : WhileScriptsRun
        Its identifiers (once taken) are those the checks use.
    paper : bool
        Whether the run builds the paper (and its PDF).
    values : dict, optional
        The run's values before the scripts (the workbook's statements); with
        them the workbook is written ahead.
    """

    def __init__(
        self,
        stage: Path,
        rules: DisclosureRules,
        early: WhileScriptsRun,
        paper: bool,
        values: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.stage, self.rules, self.early, self.paper = stage, rules, early, paper
        self.values = None if values is None else dict(values)
        #: The checks made, by file (see :data:`reunistat.pipeline.checks.Checked`).
        self.checked: dict[str, Checked] = {}
        #: The workbook written ahead (see :func:`reunistat.pipeline.documents.build_workbook`).
        self.workbook: Prebuilt | None = None
        self._registry: dict[str, dict[str, Any]] = {}
        #: Seconds spent here.
        self.seconds = 0.0
        self._todo: list[tuple[str, dict[str, object]]] = []
        self._figures: list[str] = []
        self._seen: set[str] = set()
        self._warms = 0

    def __call__(self, records: Sequence[Finished], busy: Callable[[], bool]) -> None:
        """Take the outputs of the scripts not seen yet; work while ``busy()``."""
        t0 = time.perf_counter()
        for r in records:
            if r.script in self._seen:
                continue
            self._seen.add(r.script)
            for o in r.outputs:
                self._todo.append((o.path, dict(o.disclosure)))
                self._registry[o.path] = {
                    "title": o.title,
                    "script": o.script,
                    "function": o.function,
                }
                if o.path.endswith(".png"):
                    self._figures.append(o.path)
        if self.paper and self._figures and self._warms < MAX_WARMS and busy():
            from reunistat.report.paper import warm_typst

            figures, self._figures = self._figures, []
            self._warms += 1
            warm_typst(self.stage, figures)
        if self.values is not None and self._tables_made() and busy():
            values, self.values = self.values, None  # once
            try:
                self.workbook = prebuild_workbook(self.stage, self._registry, values)
            except Exception:  # built at the end, where its error stops the run
                pass
        ids = self.early.identifiers
        while ids is not None and self._todo and busy():
            rel, spec = self._todo.pop(0)
            try:
                self.checked.update(check_one(self.stage, rel, spec, self.rules, ids))
            except Exception:  # checked again at the end, where its error stops the run
                continue
        self.seconds += time.perf_counter() - t0

    def _tables_made(self) -> bool:
        """Whether every table the workbook copies has been made by a finished script."""
        return all(f"tables/{name}.csv" in self._registry for name in WORKBOOK_TABLES)
