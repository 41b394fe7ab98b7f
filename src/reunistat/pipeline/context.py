"""What an analysis script sees: the :class:`Context` that registers every output."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reunistat.cohort import Cohort
    from reunistat.report.release_tables import Release
    from reunistat.report.tables import CountTable

from reunistat.pipeline.config import PipelineConfig, PipelineError


@dataclass
class Output:
    """One registered output file."""

    path: str
    script: str
    function: str
    kind: str
    title: str
    disclosure: dict[str, Any] = field(default_factory=lambda: {"type": "none"})


class Context:
    """What an analysis script sees: the config, the cohort, and writers that register outputs.

    Every file a script writes goes through a ``write_*`` method, which records
    the script and the package function that made it and what the disclosure
    checker must verify.
    """

    def __init__(self, config: PipelineConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.rules = config.disclosure
        self.out = config.outputs_dir
        self.outputs: dict[str, Output] = {}
        self.values: dict[str, dict[str, Any]] = {}
        self.skipped: list[dict[str, str]] = []
        self.failed: list[dict[str, str]] = []
        self.suppression_logs: dict[str, pd.DataFrame] = {}
        #: Seconds the release-wide suppression took (set when :attr:`release` is built).
        self.release_seconds: float | None = None
        #: The release built already by the run's process (in a worker forked from it).
        self.release_ready: Release | None = None
        #: In a worker forked before the run's process built the release: where it
        #: receives that release the first time it is asked for (None: it has it, or none).
        self.release_from_run: Callable[[], Release] | None = None
        #: Fitted results shared between scripts (e.g. the pilot effect used by the costs).
        self.results: dict[str, Any] = {}
        self.script = "reunistat.pipeline"
        self.log = log

    # --- data ------------------------------------------------------------
    @cached_property
    def extract(self) -> Any:
        """The linked tables read from ``data_dir``."""
        from reunistat.tables import read_extract

        return read_extract(self.config.data_dir)

    @cached_property
    def cohort(self) -> Cohort:
        """The derived cohort (spells, flow, periods), built once per run."""
        from reunistat.cohort import CohortConfig, build_cohort

        return build_cohort(self.extract, CohortConfig.from_mapping(self.config.cohort))

    @cached_property
    def release(self) -> Release:
        """Every count this run publishes, suppressed jointly across tables (built once).

        Declared by :func:`reunistat.report.release_plan.standard_release` from
        the cohort and the config before any script reads it, so a script run
        on its own shows exactly the cells the full run shows. Built here, once;
        a worker has the one the run's process built (:attr:`release_ready`, or
        :attr:`release_from_run` when the worker started before it was built:
        the seconds it waited for it are then :attr:`release_seconds`, not its
        script's).
        """
        import time

        if self.release_ready is None and self.release_from_run is not None:
            t0 = time.perf_counter()
            self.release_ready = self.release_from_run()
            self.release_from_run = None
            self.release_seconds = round(time.perf_counter() - t0, 2)
        if self.release_ready is not None:
            return self.release_ready
        return self.adopt_release(*self.build_release())

    def adopt_release(self, rel: Release, seconds: float) -> Release:
        """Make ``rel``, built in ``seconds`` (here or forked from here), this run's release.

        Logged, timed and its tables' suppression logs kept, as when
        :attr:`release` builds it.
        """
        self.release_seconds = seconds
        self.log(
            f"  release-wide suppression: {rel.n_cells} cells, {rel.n_suppressed} "
            f"suppressed, audit {'passed' if rel.audit_passed else 'FAILED'} "
            f"({self.release_seconds} s)"
        )
        for name, table in rel.registry.tables.items():
            if not table.latent:  # latent cells are never published, so never suppressed
                self.suppression_logs.setdefault(name, rel.log(name).drop(columns="table"))
        self.__dict__["release"] = rel
        return rel

    def build_release(self) -> tuple[Release, float]:
        """Build the release-wide suppression; return it and its seconds (nothing recorded)."""
        import time

        from reunistat.report.release_plan import standard_release

        t0 = time.perf_counter()
        la = self.extract.tables.get("la") if hasattr(self.extract, "tables") else None
        rel = standard_release(
            self.spells,
            self.cohort.flow,
            self.rules,
            horizons_days=self.config.horizons_days,
            logistic_horizon_days=self.config.logistic_horizon_days,
            la=la,
            covariates=self.config.covariates,
        )
        return rel, round(time.perf_counter() - t0, 2)

    @property
    def spells(self) -> pd.DataFrame:
        """The spells table (one row per return home)."""
        return self.cohort.spells

    def identifiers(self) -> set[str]:
        """Identifiers in the input (CHILD, UPN, LAchildID, MOTHER) no output may hold."""
        ids: set[str] = set()
        for table in self.extract.tables.values():
            for col in ("CHILD", "UPN", "LAchildID", "MOTHER"):
                if col in table.columns:
                    ids.update(table[col].dropna().astype(str).tolist())
        return ids

    # --- writers ---------------------------------------------------------
    def _register(
        self, path: Path, function: str, kind: str, title: str, disclosure: dict[str, Any]
    ) -> None:
        rel = path.relative_to(self.out).as_posix()
        if rel in self.outputs:
            raise PipelineError(
                f"output {rel} is written twice ({self.outputs[rel].script}, {self.script})"
            )
        self.outputs[rel] = Output(rel, self.script, function, kind, title, disclosure)

    def write_counts(
        self, name: str, counts: CountTable, *, title: str, function: str, notes: Sequence[str] = ()
    ) -> None:
        """Write a table of counts already through disclosure control (CSV, Markdown, HTML)."""
        from reunistat.report.tables import write_table

        spec = {
            "type": "counts",
            "count_cols": list(counts.count_cols),
            "row_key": counts.row_key,
            "lines": [[[str(r), str(c)] for r, c in line] for line in counts.lines],
        }
        readable = counts.table.drop(columns=["key"], errors="ignore")
        paths = write_table(
            counts.table, self.out / "tables" / name, title, _notes(self, notes), readable
        )
        self.suppression_logs[name] = counts.log
        self._register(paths[0], function, "table", title, spec)
        for p in paths[1:]:
            self._register(
                p, function, "table", title, {"type": "same_as", "of": f"tables/{name}.csv"}
            )

    def write_frame(
        self,
        name: str,
        df: pd.DataFrame,
        *,
        title: str,
        function: str,
        disclosure: dict[str, Any],
        notes: Sequence[str] = (),
        readable: pd.DataFrame | None = None,
        digits: int = 2,
    ) -> None:
        """Write a table of estimates (CSV, Markdown, HTML) with what the checker verifies.

        ``disclosure`` is a model's spec (best from
        :func:`reunistat.report.tables.model_spec` with ``release=`` and
        ``counts=``: its ``n_obs`` and ``n_events`` are then cells of
        :attr:`release`, quoted as released), ``{"type": "curve",
        "estimate_cols": [...]}``, ``{"type": "counts", ...}`` or ``{"type":
        "none"}`` (nothing counted).
        """
        from reunistat.report.tables import write_table

        counted = disclosure.get("type") in ("counts", "curve")
        paths = write_table(
            df, self.out / "tables" / name, title, _notes(self, notes, counted), readable, digits
        )
        self._register(paths[0], function, "table", title, _jsonable(disclosure))
        for p in paths[1:]:
            self._register(
                p, function, "table", title, {"type": "same_as", "of": f"tables/{name}.csv"}
            )

    def write_figure(
        self,
        name: str,
        fig: Figure,
        *,
        alt: str,
        title: str,
        function: str,
        counted: bool = False,
    ) -> None:
        """Write a figure as PNG and SVG with alt text and a source/version line.

        ``counted``: the figure shows counts or curves from the data (the
        source line then states the disclosure rule).
        """
        from reunistat.report.figures import save_figure

        version = _versions()["reunistat"]
        source = (
            f"Source: reunistat {version}, {self.script} ({function}); "
            f"{_data_label(self.config)}"
            + (
                f"; counts below {self.rules.threshold} suppressed"
                if self.rules.apply and counted
                else ""
            )
        )
        for p in save_figure(fig, self.out / "figures" / name, alt, source):
            self._register(p, function, "figure", title, {"type": "figure"})

    def value(self, key: str, value: Any, *, function: str, fmt: str = "{}") -> None:
        """Record a number for the paper (never a count: use :meth:`count`)."""
        self._value(key, value, fmt.format(value), function, "value")

    def count(
        self,
        key: str,
        n: int | None = None,
        *,
        function: str,
        cell: tuple[str, str, str] | None = None,
    ) -> None:
        """Record a count for the paper, through disclosure control (``c`` if suppressed).

        ``cell`` names the count in the release (``(table, row, column)`` of
        :attr:`release`, e.g. ``("cohort_flow", "step23", "children")``): the
        paper then shows exactly what that table shows, suppressed with it, so
        a number quoted in the paper can never reveal a cell hidden in a table.
        ``n``, if given too, must equal the cell's count. A count with no cell
        is checked against the threshold on its own: quote only counts that
        are no cell of any published table.
        """
        import numpy as np

        if cell is not None:
            rel = self.release
            if n is not None and rel.value(*cell) != n:
                raise PipelineError(
                    f"paper count {key!r} is not the count of release cell {cell}; "
                    "declare it in reunistat.report.release_plan"
                )
            text = rel.text(*cell)
            shown = text if text == "c" else f"{int(text):,}"
            self._value(key, shown, shown, function, "count")
            self.values[key]["cell"] = list(cell)
            return
        if n is None:
            raise PipelineError(f"paper count {key!r} needs a count or a release cell")
        small = bool(self.rules.is_small(np.array([n]))[0])
        shown = "c" if small else f"{int(self.rules.round(np.array([n]))[0]):,}"
        self._value(key, shown, shown, function, "count")

    def _value(self, key: str, value: Any, text: str, function: str, kind: str) -> None:
        if key in self.values:
            raise PipelineError(f"paper value {key!r} is recorded twice")
        self.values[key] = {
            "value": _jsonable(value),
            "text": text,
            "type": kind,
            "script": self.script,
            "function": function,
        }

    def skip(self, output: str, reason: str) -> None:
        """Record an output that could not be made in this run, and why."""
        self.skipped.append({"output": output, "script": self.script, "reason": reason})
        self.log(f"  skipped {output}: {reason}")


def _notes(ctx: Context, notes: Sequence[str], counted: bool = True) -> list[str]:
    out = list(notes)
    if ctx.rules.apply and counted:
        r = ctx.rules
        out.append(
            f"c: suppressed (fewer than {r.threshold}, or would reveal such a count)"
            + (f"; counts rounded to the nearest {r.rounding}" if r.rounding else "")
            + "."
        )
    out.append(f"Source: {ctx.script}; {_data_label(ctx.config)}.")
    return out


def _data_label(cfg: PipelineConfig) -> str:
    if cfg.mode == "synthetic":
        return "synthetic SSDA903 data (not real children)"
    return "SSDA903 extract"


def _jsonable(v: Any) -> Any:
    from reunistat.results import jsonable as j

    if hasattr(v, "item") and callable(v.item):
        try:
            return v.item()
        except (ValueError, TypeError):
            pass
    return j(v)


def _versions() -> dict[str, str]:
    """:func:`reunistat.results.package_versions`, imported when first needed.

    ``reunistat.results`` imports scipy.stats (about a second): importing it
    lazily keeps it off the start of ``reunistat reproduce``, where nothing
    runs beside it; the run imports it beside the cohort (``import_for``).
    """
    from reunistat.results import package_versions

    return package_versions()
