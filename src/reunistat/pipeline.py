"""The reproducible pipeline: config, the registry of outputs, and the provenance manifest.

``reunistat reproduce`` calls :func:`reproduce`: it generates the default
synthetic dataset if it is missing, derives the cohort once, runs every
numbered script in ``analyses/`` (each a thin ``run(ctx)`` that calls the
package and writes named outputs through the :class:`Context`), builds the
paper, checks every output against the disclosure rules and writes
``outputs/manifest.json``: for each output its SHA-256, the script and the
package function that made it, and for the run the input data hashes, the
config, the seed, package versions and the git commit. Outputs are
byte-identical between runs; only the manifest holds timestamps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import runpy
import shutil
import subprocess
import time
import tomllib
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from reunistat.report.disclosure import DisclosureBreach, DisclosureRules
from reunistat.results import package_versions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reunistat.cohort import Cohort
    from reunistat.report.tables import CountTable

MANIFEST = "manifest.json"
DEFAULT_CONFIG = Path("analyses/config.toml")
SAMPLE_DIR = Path("data/synthetic/sample")
Mode = Literal["synthetic", "real"]
#: Covariates of the models when the config names none (formula right-hand side).
DEFAULT_COVARIATES = (
    "C(age_band, contr.treatment('5-9')) + sex + C(ethnic_group, contr.treatment('White'))"
    " + disability + section20 + prior_periods + placement_moves"
    " + C(return_type, contr.treatment('planned'))"
    " + C(last_placement_type, contr.treatment('foster')) + np.log1p(period_length_days)"
)


class PipelineError(RuntimeError):
    """The pipeline cannot run: a config error, missing data, a failed script."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run depends on, read from ``analyses/config.toml``.

    Relative paths are relative to the directory ``reunistat reproduce`` runs
    in (the repository root). See ``analyses/config.toml`` for each key.
    """

    mode: Mode = "synthetic"
    data_dir: Path = Path("data/synthetic/england")
    seed: int = 20240331
    scale: float = 1.0
    generator_config: Path | None = None
    cohort: dict[str, Any] = field(default_factory=lambda: {"validation": "lenient"})
    horizons_days: tuple[int, ...] = (91, 365, 730, 1826, 2191)
    logistic_horizon_days: int = 365
    power_replicates: int = 200
    covariates: str = DEFAULT_COVARIATES
    disclosure_apply: bool | Literal["auto"] = "auto"
    threshold: int = 10
    rounding: int | None = None
    zeros_disclosive: bool = False
    outputs_dir: Path = Path("outputs")
    analyses_dir: Path = Path("analyses")
    paper_template: Path | None = Path("paper/paper.md")
    source: str = "defaults"

    def __post_init__(self) -> None:
        if self.mode not in ("synthetic", "real"):
            raise PipelineError(f"data.mode must be 'synthetic' or 'real', got {self.mode!r}")
        if self.scale <= 0:
            raise PipelineError(f"data.scale must be positive, got {self.scale}")
        if self.power_replicates < 1:
            raise PipelineError("analysis.power_replicates must be at least 1")

    @property
    def disclosure(self) -> DisclosureRules:
        """The disclosure rules of this run (``auto``: off only for the committed sample)."""
        apply = self.disclosure_apply
        if apply == "auto":
            apply = not (self.mode == "synthetic" and _is_sample(self.data_dir))
        return DisclosureRules(
            apply=bool(apply),
            threshold=self.threshold,
            rounding=self.rounding,
            zeros_disclosive=self.zeros_disclosive,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-ready dictionary (paths as given)."""
        return {
            "mode": self.mode,
            "data_dir": self.data_dir.as_posix(),
            "seed": self.seed,
            "scale": self.scale,
            "generator_config": None
            if self.generator_config is None
            else str(self.generator_config),
            "cohort": dict(sorted(self.cohort.items())),
            "horizons_days": list(self.horizons_days),
            "logistic_horizon_days": self.logistic_horizon_days,
            "power_replicates": self.power_replicates,
            "covariates": " ".join(self.covariates.split()),
            "disclosure": self.disclosure.as_dict(),
            "disclosure_apply_setting": self.disclosure_apply,
            "outputs_dir": self.outputs_dir.as_posix(),
            "analyses_dir": self.analyses_dir.as_posix(),
            "paper_template": None
            if self.paper_template is None
            else self.paper_template.as_posix(),
            "source": self.source,
        }

    def with_changes(self, **changes: Any) -> PipelineConfig:
        """Return a copy with some fields changed (command-line overrides)."""
        from dataclasses import replace

        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _is_sample(data_dir: Path) -> bool:
    try:
        return data_dir.resolve() == SAMPLE_DIR.resolve()
    except OSError:
        return False


_KEYS: dict[str, dict[str, str]] = {
    "data": {
        "mode": "mode",
        "dir": "data_dir",
        "seed": "seed",
        "scale": "scale",
        "generator_config": "generator_config",
    },
    "analysis": {
        "horizons_days": "horizons_days",
        "logistic_horizon_days": "logistic_horizon_days",
        "power_replicates": "power_replicates",
        "covariates": "covariates",
    },
    "disclosure": {
        "apply": "disclosure_apply",
        "threshold": "threshold",
        "rounding": "rounding",
        "zeros_disclosive": "zeros_disclosive",
    },
    "outputs": {"dir": "outputs_dir", "analyses_dir": "analyses_dir", "paper": "paper_template"},
}
_PATHS = ("data_dir", "generator_config", "outputs_dir", "analyses_dir", "paper_template")


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Read a pipeline config TOML (default ``analyses/config.toml``, else built-in defaults).

    Unknown tables or keys are errors, named with their table.
    """
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return PipelineConfig()
        path = DEFAULT_CONFIG
    p = Path(path)
    if not p.exists():
        raise PipelineError(f"config file {p} not found")
    try:
        doc = tomllib.loads(p.read_text("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise PipelineError(f"config file {p} is not valid TOML: {e}") from e
    kwargs = _config_kwargs(doc, p)
    try:
        return PipelineConfig(**kwargs)
    except TypeError as e:
        raise PipelineError(f"{p}: {e}") from e


def _config_kwargs(doc: dict[str, Any], p: Path) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"source": p.as_posix()}
    for table, values in doc.items():
        if table == "cohort":
            kwargs["cohort"] = dict(values)
            continue
        if table not in _KEYS:
            raise PipelineError(
                f"{p}: unknown table [{table}]; known: {sorted([*_KEYS, 'cohort'])}"
            )
        for key, value in values.items():
            if key not in _KEYS[table]:
                raise PipelineError(
                    f"{p}: unknown key {table}.{key}; known: {sorted(_KEYS[table])}"
                )
            kwargs[_KEYS[table][key]] = value
    for name in _PATHS:
        if name in kwargs:
            kwargs[name] = Path(kwargs[name]) if kwargs[name] not in ("", None) else None
    if "horizons_days" in kwargs:
        kwargs["horizons_days"] = tuple(int(h) for h in kwargs["horizons_days"])
    if kwargs.get("rounding") in (0, None):
        kwargs["rounding"] = None
    return kwargs


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

        ``disclosure`` is ``{"type": "model", "n_obs": ..., "n_events": ...}``,
        ``{"type": "curve", "estimate_cols": [...]}``, ``{"type": "counts", ...}``
        or ``{"type": "none"}`` (nothing counted).
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

    def write_figure(self, name: str, fig: Figure, *, alt: str, title: str, function: str) -> None:
        """Write a figure as PNG and SVG with alt text and a source/version line."""
        from reunistat.report.figures import save_figure

        version = package_versions()["reunistat"]
        source = (
            f"Source: reunistat {version}, {self.script} ({function}); "
            f"{_data_label(self.config)}"
            + (f"; counts below {self.rules.threshold} suppressed" if self.rules.apply else "")
        )
        for p in save_figure(fig, self.out / "figures" / name, alt, source):
            self._register(p, function, "figure", title, {"type": "figure"})

    def value(self, key: str, value: Any, *, function: str, fmt: str = "{}") -> None:
        """Record a number for the paper (never a count: use :meth:`count`)."""
        self._value(key, value, fmt.format(value), function, "value")

    def count(self, key: str, n: int, *, function: str) -> None:
        """Record a count for the paper, through disclosure control (``c`` if small)."""
        import numpy as np

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
    from reunistat.results import _jsonable as j

    if hasattr(v, "item") and callable(v.item):
        try:
            return v.item()
        except (ValueError, TypeError):
            pass
    return j(v)


# --- running -----------------------------------------------------------------


def ensure_data(cfg: PipelineConfig, log: Callable[[str], None] = print) -> None:
    """Generate the synthetic dataset into ``data_dir`` if it is missing (synthetic mode only)."""
    d = cfg.data_dir
    if d.is_dir() and any(d.iterdir()):
        return
    if cfg.mode != "synthetic":
        raise PipelineError(
            f"data.dir {d} holds no extract. In real mode point data.dir at the folder of the "
            "903 extract (header, episodes; cin, npd, postcodes, la optional)."
        )
    from reunistat.synthetic import generate
    from reunistat.synthetic import load_config as load_generator_config

    log(f"generating the synthetic dataset (seed {cfg.seed}, scale {cfg.scale}) into {d}")
    data = generate(
        load_generator_config(cfg.generator_config), seed=cfg.seed, scale=cfg.scale, progress=False
    )
    data.write(d)


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


def analysis_scripts(analyses_dir: Path, only: Sequence[str] | None = None) -> list[Path]:
    """Return the scripts ``NN_name.py`` in order (or those whose number or name is given)."""
    scripts = sorted(analyses_dir.glob("[0-9][0-9]_*.py"))
    if only:
        scripts = [s for s in scripts if s.name[:2] in only or s.stem in only or s.name in only]
    return scripts


def _prepare_outputs(out: Path) -> None:
    if out.exists():
        if any(out.iterdir()) and not (out / MANIFEST).exists():
            raise PipelineError(
                f"{out} exists, is not empty and has no {MANIFEST}: not a reunistat outputs "
                "folder, so it is left alone. Choose another outputs.dir."
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def run_scripts(ctx: Context, scripts: Sequence[Path]) -> dict[str, float]:
    """Run each script's ``run(ctx)``; return the seconds each took.

    A script that raises is recorded in ``ctx.failed`` (with its error) and the
    others still run, so one failing analysis does not hide the rest; the
    run then ends with an error (see :func:`reproduce`).
    """
    timings = {}
    for path in scripts:
        ctx.script = f"{ctx.config.analyses_dir.as_posix()}/{path.name}"
        ctx.log(f"running {ctx.script}")
        t0 = time.perf_counter()
        try:
            module = runpy.run_path(str(path), run_name="reunistat_analysis")
            if "run" not in module:
                raise PipelineError(f"{path} defines no run(ctx) function")
            module["run"](ctx)
        except Exception as e:  # recorded; the run fails at its end
            ctx.failed.append({"script": ctx.script, "error": f"{type(e).__name__}: {e}"})
            ctx.log(f"  FAILED {ctx.script}:\n{traceback.format_exc()}")
        timings[ctx.script] = round(time.perf_counter() - t0, 2)
    return timings


@dataclass
class RunResult:
    """What :func:`reproduce` did."""

    manifest: dict[str, Any]
    manifest_path: Path
    breaches: list[str]


def reproduce(
    cfg: PipelineConfig,
    *,
    only: Sequence[str] | None = None,
    paper: bool = True,
    log: Callable[[str], None] = print,
    command: str | None = None,
) -> RunResult:
    """Run the whole pipeline; raise :class:`DisclosureBreach` if any output breaks the rules.

    The manifest is written even when the disclosure check fails (its
    ``status`` says so), so the breach can be inspected.
    """
    from reunistat.report import checker
    from reunistat.report import paper as paper_mod

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    ensure_data(cfg, log)
    _prepare_outputs(cfg.outputs_dir)
    t0 = time.perf_counter()
    inputs = input_hashes(cfg.data_dir)
    timings["hash inputs"] = round(time.perf_counter() - t0, 2)
    ctx = Context(cfg, log)
    t0 = time.perf_counter()
    _ = ctx.cohort
    timings["read and derive cohort"] = round(time.perf_counter() - t0, 2)
    _run_values(ctx)
    timings.update(run_scripts(ctx, analysis_scripts(cfg.analyses_dir, only)))
    t0 = time.perf_counter()
    build_workbook(ctx)
    timings["workbook"] = round(time.perf_counter() - t0, 2)
    if paper and cfg.paper_template is not None:
        t0 = time.perf_counter()
        ctx.script = cfg.paper_template.as_posix()
        try:
            paper_mod.build_paper(ctx, cfg.paper_template)
        except paper_mod.PaperError as e:
            ctx.failed.append({"script": ctx.script, "error": str(e)})
            ctx.log(f"  FAILED the paper: {e}")
        timings["paper"] = round(time.perf_counter() - t0, 2)
    _write_values(ctx)
    t0 = time.perf_counter()
    breaches = checker.check_outputs(ctx)
    checker.write_report(ctx, breaches)
    timings["disclosure check"] = round(time.perf_counter() - t0, 2)
    timings["total"] = round(time.perf_counter() - t_start, 2)
    manifest = build_manifest(ctx, inputs, breaches, timings)
    if command is not None:
        manifest["command"] = command
    path = cfg.outputs_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    if ctx.failed:
        raise PipelineError(
            f"{len(ctx.failed)} step(s) failed (their other outputs were written and "
            "checked; see the manifest):\n"
            + "\n".join(f"  - {f['script']}: {f['error']}" for f in ctx.failed)
        )
    if breaches:
        raise DisclosureBreach(
            f"{len(breaches)} disclosure breach(es); see "
            f"{cfg.outputs_dir / 'disclosure_report.md'}:\n"
            + "\n".join(f"  - {b}" for b in breaches[:50])
        )
    return RunResult(manifest, path, breaches)


#: Tables copied into the Excel workbook, in order, when the run made them.
WORKBOOK_TABLES = (
    "table1",
    "cohort_flow",
    "km_horizons",
    "cox",
    "logistic",
    "logistic_margins",
    "logistic_outcome",
    "fine_gray",
    "recurrent",
    "evaluation",
    "power",
    "costs_national",
    "costs",
)


def build_workbook(ctx: Context) -> None:
    """Write ``reunistat_tables.xlsx``: cover, notes and a sheet per main table (copies)."""
    from reunistat.report.workbook import write_workbook

    sheets = []
    for name in WORKBOOK_TABLES:
        rel = f"tables/{name}.csv"
        if rel in ctx.outputs:
            o = ctx.outputs[rel]
            df = pd.read_csv(ctx.out / rel, dtype=str, keep_default_na=False)
            sheets.append((name, o.title, f"{o.script} ({o.function})", df))
    if not sheets:
        return
    v = {k: x["text"] for k, x in ctx.values.items()}
    cover = [
        v.get("data_label", ""),
        v.get("data_description", ""),
        f"Made by reunistat {package_versions()['reunistat']} (`reunistat reproduce`). "
        "outputs/manifest.json records this file's SHA-256, the input data hashes, the "
        "configuration, the seed, the software versions and the git commit.",
        "The paper (outputs/paper) describes the definitions, methods and limitations.",
    ]
    notes = [
        "Symbols: c = suppressed (a small count, or a cell that would reveal one); "
        "z = not applicable; k = rounds to zero.",
        v.get("disclosure_statement", ""),
        "A return home: a period of care ending with REC E4A (planned), E4B (unplanned) or "
        "E13; time zero is its end date. Re-entry: the start of the child's next period of care.",
        "Follow-up ends at re-entry, the data end, the 18th birthday, death or another "
        "permanent exit.",
        "Ratios (HR, OR, SHR) describe associations in populations of children; they are not "
        "tools for decisions about an individual child.",
    ]
    path = ctx.out / "reunistat_tables.xlsx"
    write_workbook(
        path,
        title="Re-entry to care after a return home: tables",
        cover=cover,
        notes=notes,
        sheets=sheets,
    )
    ctx.script = "reunistat.pipeline"
    ctx._register(
        path,
        "reunistat.report.workbook.write_workbook",
        "workbook",
        "Excel workbook of the main tables",
        {"type": "same_as", "of": [f"tables/{s[0]}.csv" for s in sheets]},
    )


def _run_values(ctx: Context) -> None:
    """Record the paper's statements about the run itself (data, disclosure, version)."""
    cfg, fn = ctx.config, "reunistat.pipeline.reproduce"
    ctx.script = "reunistat.pipeline"
    truth = cfg.data_dir / "truth.json"
    if cfg.mode == "synthetic":
        seed = json.loads(truth.read_text("utf-8")).get("seed") if truth.exists() else cfg.seed
        ctx.value("data_label", "Synthetic data: no real children", function=fn)
        ctx.value(
            "data_description",
            "The data are synthetic: linked SSDA903 tables simulated by reunistat's generator "
            f"(seed {seed}) with re-entry calibrated to published English figures. No real "
            "child is described; the numbers show what the analysis produces, not findings.",
            function=fn,
        )
    else:
        ctx.value("data_label", "SSDA903 children-looked-after data, England", function=fn)
        ctx.value(
            "data_description",
            "The data are the children-looked-after return (SSDA903) for England, read from "
            "the extract named in the manifest.",
            function=fn,
        )
    r = ctx.rules
    ctx.value(
        "disclosure_statement",
        (
            f"Counts below {r.threshold} are shown as c, with secondary suppression so that "
            "no total reveals them"
            + (f", and counts are rounded to the nearest {r.rounding}" if r.rounding else "")
            + f"; curves stop where fewer than {r.threshold} remain at risk and each step "
            f"rests on at least {r.threshold} re-entries."
        )
        if r.apply
        else "Disclosure control was not applied: the input is the committed synthetic sample.",
        function=fn,
    )
    ctx.value(
        "curve_disclosure_note",
        "Curves and horizon figures are read from the published, disclosure-controlled "
        f"curves, whose steps each rest on at least {r.threshold} re-entries, so they can lag "
        "the exact estimate in small groups."
        if r.apply
        else "",
        function=fn,
    )
    ctx.value("reunistat_version", package_versions()["reunistat"], function=fn)


def _write_values(ctx: Context) -> None:
    path = ctx.out / "values.json"
    path.write_text(json.dumps(dict(sorted(ctx.values.items())), indent=2) + "\n", encoding="utf-8")
    ctx.script = "reunistat.pipeline"
    ctx._register(
        path,
        "reunistat.pipeline.Context.value",
        "values",
        "numbers quoted in the paper",
        {"type": "values"},
    )


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


def run_script(path: str | Path, config: str | Path | None = None) -> None:
    """Run one analysis script on its own (``python analyses/04_cox.py``).

    Writes that script's outputs under the outputs folder; only ``reunistat
    reproduce`` writes the manifest and the paper.
    """
    cfg = load_config(config)
    ensure_data(cfg)
    cfg.outputs_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(cfg)
    run_scripts(ctx, [Path(path)])
    for rel in sorted(ctx.outputs):
        print(f"wrote {cfg.outputs_dir / rel}")
