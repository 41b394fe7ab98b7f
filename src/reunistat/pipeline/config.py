"""The pipeline's configuration: ``analyses/config.toml`` read into a :class:`PipelineConfig`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reunistat.errors import ConfigError, PipelineError
from reunistat.replicates import ParallelBackend
from reunistat.report.disclosure import DisclosureRules

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


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a run depends on, read from ``analyses/config.toml``.

    Relative paths are relative to the directory ``reunistat reproduce`` runs
    in: the repository root, or a study folder made by ``reunistat init``
    (:func:`reunistat.pipeline.study.init_study`), which runs on its own from
    there. See ``analyses/config.toml`` for each key.
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
    zeros_disclosive: bool | Literal["auto"] = "auto"
    acro_python: str | None = None
    parallel: ParallelBackend = field(default_factory=ParallelBackend)
    analysis_jobs: int = 0
    outputs_dir: Path = Path("outputs")
    analyses_dir: Path = Path("analyses")
    paper_template: Path | None = Path("paper/paper.md")
    source: str = "defaults"

    def __post_init__(self) -> None:
        if self.mode not in ("synthetic", "real"):
            raise PipelineError(f"data.mode must be 'synthetic' or 'real', got {self.mode!r}")
        if self.scale <= 0:
            raise PipelineError(f"data.scale must be positive, got {self.scale}")
        if isinstance(self.analysis_jobs, bool) or not isinstance(self.analysis_jobs, int):
            raise PipelineError(
                f"parallel.analysis_jobs must be a whole number, got {self.analysis_jobs!r}"
            )
        if self.analysis_jobs < 0:
            raise PipelineError(
                "parallel.analysis_jobs must be 0 (the cores available) or a number of "
                f"processes, got {self.analysis_jobs}"
            )
        if self.power_replicates < 1:
            raise PipelineError("analysis.power_replicates must be at least 1")

    @property
    def disclosure(self) -> DisclosureRules:
        """The disclosure rules of this run (``auto``: off only for the committed sample)."""
        apply = self.disclosure_apply
        if apply == "auto":
            apply = not (self.mode == "synthetic" and _is_sample(self.data_dir))
        zeros = self.zeros_disclosive
        if zeros == "auto":  # ONS SRS / ACRO practice on real data: a zero reveals a group
            zeros = self.mode == "real"
        return DisclosureRules(
            apply=bool(apply),
            threshold=self.threshold,
            rounding=self.rounding,
            zeros_disclosive=bool(zeros),
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
            "parallel": self.parallel.as_dict() | {"analysis_jobs": self.analysis_jobs},
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
        "acro_python": "acro_python",
    },
    "outputs": {"dir": "outputs_dir", "analyses_dir": "analyses_dir", "paper": "paper_template"},
    "parallel": {
        "backend": "backend",
        "n_jobs": "n_jobs",
        "scheduler_address": "scheduler_address",
        "local_workers": "local_workers",
        "analysis_jobs": "analysis_jobs",
    },
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


def _parallel(values: dict[str, Any], p: Path) -> ParallelBackend:
    """The ``[parallel]`` table as a :class:`~reunistat.replicates.ParallelBackend`."""
    for key in ("scheduler_address", "local_workers"):
        if values.get(key) in ("", 0):
            values[key] = None  # "" / 0: not set (TOML has no null)
    try:
        return ParallelBackend(**values)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from e


def _config_kwargs(doc: dict[str, Any], p: Path) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"source": p.as_posix()}
    parallel: dict[str, Any] = {}
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
            into = parallel if table == "parallel" and key != "analysis_jobs" else kwargs
            into[_KEYS[table][key]] = value
    if parallel:
        kwargs["parallel"] = _parallel(parallel, p)
    for name in _PATHS:
        if name in kwargs:
            kwargs[name] = Path(kwargs[name]) if kwargs[name] not in ("", None) else None
    if "horizons_days" in kwargs:
        kwargs["horizons_days"] = tuple(int(h) for h in kwargs["horizons_days"])
    if kwargs.get("acro_python") == "":
        kwargs["acro_python"] = None
    if kwargs.get("rounding") in (0, None):
        kwargs["rounding"] = None
    return kwargs
