"""Generator configuration: read a TOML file over the packaged defaults and check it.

The packaged ``england.toml`` declares every allowed key. A user's file may
set any subset; a key the default does not have is an error naming it. Shares
must sum to 1, rates must be non-negative and ratios positive.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reunistat import codes

#: Tables whose values are shares that must sum to 1 (key paths; "*" = any child).
SHARE_TABLES = (
    "population.age_at_entry",
    "population.sex",
    "population.ethnic",
    "population.idaci",
    "population.category_of_need",
    "legal_status.initial.*",
    "exits.exit_type.*",
    "exits.return_home",
    "exits.ageing_out",
    "placements.types.*",
)
#: Tables of ratios (hazard or odds): every value must be > 0.
RATIO_TABLES = (
    "reentry.hazard_ratios",
    "reentry.logistic.odds_ratios",
    "annual.hazard_ratios",
)
#: Keys whose tables may hold any subset of the default's keys plus valid codes.
OPEN_TABLES = {
    "legal_status.initial.*": set(codes.LS),
    "placements.types.*": set(codes.PLACE),
    "exits.exit_type.*": {
        "return_home",
        "adoption",
        "sgo",
        "residence_order",
        "other_la",
        "custody",
        "independent",
        "long_term",
        "other",
        "died",
    },
    "exits.ageing_out": set(codes.REC_AGE_OUT) | {"E8"},
    "annual.reentry_after_exit": set(codes.REC_END)
    - set(codes.REC_RETURN_HOME)
    - set(codes.REC_ADOPTION)
    - {codes.REC_DIED, "E15"},
}
#: Top-level tables used only by the annual layout: out of the hash when unused.
ANNUAL_TABLES = ("output", "annual")


class ConfigError(ValueError):
    """A generator config that cannot be used; the message names the key."""


@dataclass(frozen=True)
class SynthConfig:
    """A checked generator configuration.

    Attributes
    ----------
    values : dict
        The merged configuration (defaults overlaid with the user's file).
    source : str
        Where it came from (a path, or "packaged default").
    """

    values: dict[str, Any]
    source: str

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def sha256(self) -> str:
        """SHA-256 of the merged configuration, canonically serialised.

        The ``[output]`` and ``[annual]`` tables count only under the annual
        layout, so flat datasets keep the hash they had before those existed.
        """
        values = self.values
        if not self.annual:
            values = {k: v for k, v in values.items() if k not in ANNUAL_TABLES}
        blob = json.dumps(values, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def annual(self) -> bool:
        """Whether the output layout is one folder per collection year."""
        return bool(self.values["output"]["layout"] == "annual")

    def with_overrides(self, overrides: dict[str, Any]) -> SynthConfig:
        """Return a new config with dotted-key overrides applied and checked.

        Examples
        --------
        >>> cfg = default_config().with_overrides({"pilot.n_authorities": 3})
        >>> cfg["pilot"]["n_authorities"]
        3
        """
        user: dict[str, Any] = {}
        for dotted, value in overrides.items():
            node = user
            *parents, leaf = dotted.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[leaf] = value
        merged = _merge(copy.deepcopy(self.values), user, _default_values(), "")
        _check(merged)
        return SynthConfig(merged, self.source + " + overrides")


def _default_values() -> dict[str, Any]:
    text = resources.files("reunistat.data").joinpath("england.toml").read_text("utf-8")
    return tomllib.loads(text)


def default_config() -> SynthConfig:
    """Return the packaged default configuration (England, calibrated)."""
    values = _default_values()
    _check(values)
    return SynthConfig(values, "packaged default")


def load_config(path: str | Path | None = None) -> SynthConfig:
    """Read a TOML config over the packaged defaults and check it.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file. Without one, the packaged default is returned.

    Raises
    ------
    ConfigError
        For an unreadable file, an unknown key, a wrong type, a negative rate,
        a non-positive ratio or shares that do not sum to 1. The message names
        the key.
    """
    if path is None:
        return default_config()
    p = Path(path)
    try:
        user = tomllib.loads(p.read_text("utf-8"))
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {p}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}") from e
    defaults = _default_values()
    merged = _merge(copy.deepcopy(defaults), user, defaults, "")
    _check(merged)
    return SynthConfig(merged, str(p))


def _open_allowed(path: str) -> set[str] | None:
    for pattern, allowed in OPEN_TABLES.items():
        if _matches(pattern, path):
            return allowed
    return None


def _matches(pattern: str, path: str) -> bool:
    pp, qq = pattern.split("."), path.split(".")
    return len(pp) == len(qq) and all(a in ("*", b) for a, b in zip(pp, qq, strict=True))


def _merge(base: dict[str, Any], user: dict[str, Any], ref: dict[str, Any], prefix: str) -> Any:
    """Overlay ``user`` on ``base``; ``ref`` (the defaults) says which keys exist."""
    for key, value in user.items():
        path = f"{prefix}{key}"
        open_keys = _open_allowed(path)
        if isinstance(value, dict) and open_keys is not None:
            bad = sorted(set(value) - open_keys)
            if bad:
                raise ConfigError(f"unknown key(s) {bad} in [{path}]; allowed: {sorted(open_keys)}")
            base[key] = dict(value)  # a share table is replaced whole, not merged
            continue
        if key not in ref:
            where = f"[{prefix[:-1]}]" if prefix else "the top level"
            raise ConfigError(f"unknown config key '{path}' in {where}")
        if isinstance(ref[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{path}' must be a table")
            base[key] = _merge(base.get(key, {}), value, ref[key], path + ".")
        else:
            base[key] = _coerce(path, value, ref[key])
    return base


def _coerce(path: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool) or isinstance(default, str):
        if type(value) is not type(default):
            raise ConfigError(f"config key '{path}' must be {type(default).__name__}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key '{path}' must be a number, got {value!r}")
        return value
    if isinstance(default, dt.date):
        if not isinstance(value, dt.date):
            raise ConfigError(f"config key '{path}' must be a date (YYYY-MM-DD)")
        return value
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) for v in value):
            raise ConfigError(f"config key '{path}' must be a list of numbers")
        return value
    return value


def _walk(d: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in d.items():
        path = f"{prefix}{k}"
        out.append((path, v))
        if isinstance(v, dict):
            out.extend(_walk(v, path + "."))
    return out


def _check(cfg: dict[str, Any]) -> None:
    items = _walk(cfg)
    for path, v in items:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            if not path.endswith("intercept"):
                raise ConfigError(f"config key '{path}' must not be negative, got {v}")
        if isinstance(v, dict) and any(_matches(p, path) for p in SHARE_TABLES):
            total = sum(float(x) for x in v.values())
            if abs(total - 1.0) > 1e-6:
                raise ConfigError(f"shares in [{path}] must sum to 1, they sum to {total:.6f}")
        if any(path.startswith(r + ".") for r in RATIO_TABLES) and not isinstance(v, dict):
            if not v > 0:
                raise ConfigError(f"ratio '{path}' must be positive, got {v}")
    _check_structure(cfg)


def _check_structure(cfg: dict[str, Any]) -> None:
    ds, re = cfg["dataset"], cfg["reentry"]
    if ds["data_end"] <= ds["data_start"]:
        raise ConfigError("config key 'dataset.data_end' must be after 'dataset.data_start'")
    if ds["n_local_authorities"] < cfg["pilot"]["n_authorities"]:
        raise ConfigError("config key 'pilot.n_authorities' exceeds 'dataset.n_local_authorities'")
    knots, rates = re["baseline_knots_days"], re["baseline_hazard_per_day"]
    if (
        len(knots) != len(rates)
        or knots[0] != 0
        or any(b <= a for a, b in itertools.pairwise(knots))
    ):
        raise ConfigError(
            "config keys 'reentry.baseline_knots_days' (increasing, from 0) and "
            "'reentry.baseline_hazard_per_day' must have the same length"
        )
    if re["model"] not in ("cox", "logistic"):
        raise ConfigError(
            f"config key 'reentry.model' must be 'cox' or 'logistic', got {re['model']!r}"
        )
    for name in ("population", "messy"):
        for key, v in cfg[name].items():
            if key.endswith("_rate") or name == "messy":
                if isinstance(v, (int, float)) and v > 1:
                    raise ConfigError(f"config key '{name}.{key}' is a rate and must be <= 1")
    if cfg["pilot"]["start_to"] < cfg["pilot"]["start_from"]:
        raise ConfigError("config key 'pilot.start_to' must not be before 'pilot.start_from'")
    _check_annual(cfg)


def _check_annual(cfg: dict[str, Any]) -> None:
    out, an = cfg["output"], cfg["annual"]
    if out["layout"] not in ("flat", "annual"):
        raise ConfigError(
            f"config key 'output.layout' must be 'flat' or 'annual', got {out['layout']!r}"
        )
    if out["annual_names"] not in ("folder", "name"):
        raise ConfigError(
            "config key 'output.annual_names' must be 'folder' or 'name', "
            f"got {out['annual_names']!r}"
        )
    first, last = an["first_collection_year"], an["last_collection_year"]
    start_year = cfg["dataset"]["data_start"].year + 1
    if not (isinstance(first, int) and isinstance(last, int) and start_year < first <= last):
        raise ConfigError(
            "config keys 'annual.first_collection_year' and 'annual.last_collection_year' "
            f"must be whole years with {start_year} < first <= last, got {first} and {last}"
        )
    for key, v in [*an.items(), *an["reentry_after_exit"].items()]:
        if (key.endswith("_rate") or key.startswith("E")) and v > 1:
            raise ConfigError(f"config key 'annual.{key}' is a rate and must be <= 1")
    for key in ("vanished_open_episode", "duplicate_row", "lowercase_code"):
        if an["messy"][key] > 1:
            raise ConfigError(f"config key 'annual.messy.{key}' is a rate and must be <= 1")
    if an["messy"]["cp1252_file"] > 1:
        raise ConfigError("config key 'annual.messy.cp1252_file' must be 0 or 1")
