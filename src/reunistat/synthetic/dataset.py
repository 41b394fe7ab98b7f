"""Generate a whole linked dataset and write it: the generator's entry point."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reunistat import codes
from reunistat.dates import eighteenth_birthday
from reunistat.synthetic._draw import day, stable_order, to_datetime
from reunistat.synthetic.careers import Careers, simulate_careers
from reunistat.synthetic.config import SynthConfig
from reunistat.synthetic.linked import (
    cin_table,
    header_table,
    npd_table,
    pseudonyms,
    upn_numbers,
)
from reunistat.synthetic.population import (
    DISTRICTS_PER_LA,
    Authorities,
    make_authorities,
    make_children,
    postcode_districts,
)
from reunistat.synthetic.reentry import REFERENCE_LEVELS, ratio_table, true_log_ratios

TABLES = ("header", "episodes", "cin", "npd", "postcodes", "la")
HORIZONS_DAYS = {"3_months": 91, "1_year": 365, "2_years": 730, "5_years": 1826, "6_years": 2191}


@dataclass
class SyntheticData:
    """A generated dataset: the raw linked tables and the generator's own record.

    Attributes
    ----------
    tables : dict of str to DataFrame
        header, episodes, cin, npd, postcodes, la (see data/synthetic/README.md).
    truth_returns : DataFrame
        One row per simulated return home with its outcome and true covariates.
    truth : dict
        True parameters, seed, config hash and realised headline figures.
    faults : DataFrame
        Injected faults (messy mode; empty otherwise).
    """

    tables: dict[str, pd.DataFrame]
    truth_returns: pd.DataFrame
    truth: dict[str, Any]
    faults: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Annual layout: collection year -> table -> frame (header, episodes, uasc, ...).
    returns: dict[int, dict[str, pd.DataFrame]] | None = None
    #: Annual layout: further truth tables (``corrections``, ``children``).
    truth_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Annual layout: every simulated episode with its true values, before the
    #: extract start too (kept in memory for checks, never written).
    full_episodes: pd.DataFrame | None = None

    def write(self, out_dir: str | Path, csv: bool = False) -> list[Path]:
        """Write every table as Parquet (and CSV if asked), truth.json and SHA256SUMS.

        Under the annual layout the returns are written as CSV, one folder (or
        file-name prefix) per collection year, whatever ``csv`` says.
        """
        if self.returns is not None:
            from reunistat.synthetic.annual_writer import write_annual

            return write_annual(self, Path(out_dir))
        from reunistat.synthetic.writer import write_dataset

        return write_dataset(self, Path(out_dir), csv=csv)


def generate(
    config: SynthConfig,
    seed: int = 20240331,
    scale: float = 1.0,
    messy: bool = False,
    progress: bool = False,
    annual: bool | None = None,
) -> SyntheticData:
    """Generate a linked SSDA903 dataset with known re-entry effects.

    Parameters
    ----------
    config : SynthConfig
        From :func:`reunistat.synthetic.load_config`.
    seed : int
        The only source of randomness: the same seed and config give identical data.
    scale : float
        Multiplies the number of children (1.0 is national size). Above 1 (flat
        layout) the children are simulated in blocks of local authorities, each
        from its own stream (:mod:`reunistat.synthetic.blocks`).
    messy : bool
        Inject the faults real extracts have, listed in ``faults``.
    progress : bool
        Show a progress bar.
    annual : bool, optional
        Write one return per collection year (``output.layout = "annual"``);
        ``None`` follows the config. See :mod:`reunistat.synthetic.annual`.

    Examples
    --------
    >>> from reunistat.synthetic import default_config, generate
    >>> d = generate(default_config(), seed=1, scale=0.002)
    >>> sorted(d.tables) == sorted(TABLES), d.truth["seed"]
    (True, 1)
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    config = _with_layout(config, annual)
    if config.annual:
        from reunistat.synthetic.annual_dataset import generate_annual

        return generate_annual(config, seed, scale, messy, progress)
    cfg = config.values
    rng = np.random.default_rng(seed)
    bar = _bar(progress, int(cfg["dataset"]["max_periods"]) + 3)
    auth = make_authorities(rng, cfg)
    if scale > 1:
        return _generate_in_blocks(config, rng, seed, scale, messy, auth, bar)
    kids = make_children(rng, cfg, scale, auth)
    districts = postcode_districts(auth)
    posts = districts["HOME_POST"].to_numpy(dtype=object).reshape(-1, DISTRICTS_PER_LA)
    bday18 = _days(eighteenth_birthday(to_datetime(kids.dob)))
    bar(1)
    careers = simulate_careers(rng, cfg, kids, auth, posts, bday18, progress=lambda k: bar(1))
    data_end = day(cfg["dataset"]["data_end"])
    la_codes = auth.table["LA"].to_numpy(dtype=object)
    child_id, upn, perm = pseudonyms(rng, kids.n, la=kids.la)
    # (LA, CHILD) order as integers: LA codes and CHILD ids sort as their indices do
    child_key = kids.la.astype(np.int64) * kids.n + perm
    header = header_table(rng, cfg, kids, la_codes, child_id, upn, data_end)
    episodes = _episodes_table(careers, la_codes[kids.la], child_id, child_key)
    tables = {
        "header": header.iloc[stable_order(child_key)].reset_index(drop=True),
        "episodes": episodes,
        "cin": cin_table(rng, kids, header, sort_key=child_key),
        "npd": npd_table(rng, kids, header, sort_key=upn_numbers(perm)),
        "postcodes": districts,
        "la": auth.table,
    }
    returns = _truth_returns(careers.returns, la_codes[kids.la], child_id, child_key)
    bar(1)
    faults = pd.DataFrame(columns=["fault", "table", "column", "CHILD", "DECOM", "detail"])
    if messy:
        from reunistat.synthetic.messy import inject_faults

        tables, faults = inject_faults(rng, cfg["messy"], tables)
    truth = _truth(config, seed, scale, messy, tables, returns)
    bar(1)
    return SyntheticData(tables, returns, truth, faults)


def generate_into(
    out: str | Path,
    config: SynthConfig,
    seed: int = 20240331,
    scale: float = 1.0,
    messy: bool = False,
    annual: bool | None = None,
    csv: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Generate a dataset and write it into ``out``; return its truth (truth.json).

    As ``generate(config, seed, scale, messy, progress, annual).write(out, csv)``.
    Above national size (flat layout, clean data) the blocks are written as
    they are made (:mod:`reunistat.synthetic.stream`): the same files, without
    holding the whole tables in memory.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    config = _with_layout(config, annual)
    if scale > 1 and not messy and not config.annual:
        from reunistat.synthetic.stream import write_in_blocks

        return write_in_blocks(config, Path(out), seed, scale, csv, progress)
    data = generate(config, seed, scale, messy, progress)
    data.write(out, csv=csv)
    return data.truth


def _with_layout(config: SynthConfig, annual: bool | None) -> SynthConfig:
    """``config`` with the annual (True) or flat (False) layout; None: as it is."""
    if annual is not None and annual != config.annual:
        return config.with_overrides({"output.layout": "annual" if annual else "flat"})
    return config


def _generate_in_blocks(
    config: SynthConfig,
    rng: np.random.Generator,
    seed: int,
    scale: float,
    messy: bool,
    auth: Authorities,
    bar: Any,
) -> SyntheticData:
    """Above national size: children simulated in blocks (:mod:`reunistat.synthetic.blocks`)."""
    from reunistat.synthetic.blocks import generate_blocks

    cfg = config.values
    districts = postcode_districts(auth)
    posts = districts["HOME_POST"].to_numpy(dtype=object).reshape(-1, DISTRICTS_PER_LA)
    linked, returns, about = generate_blocks(cfg, seed, scale, auth, posts, bar)
    tables = {**linked, "postcodes": districts, "la": auth.table}
    tables = {name: tables[name] for name in TABLES}
    faults = pd.DataFrame(columns=["fault", "table", "column", "CHILD", "DECOM", "detail"])
    if messy:
        from reunistat.synthetic.messy import inject_faults

        tables, faults = inject_faults(rng, cfg["messy"], tables)
    truth = _truth(config, seed, scale, messy, tables, returns)
    truth["generator_blocks"] = about
    return SyntheticData(tables, returns, truth, faults)


def _bar(on: bool, total: int) -> Any:
    if not on:
        return lambda k: None
    from tqdm import tqdm

    t = tqdm(total=total, desc="synth", unit="step", leave=False)
    return t.update


def _days(s: pd.Series) -> np.ndarray:
    return s.to_numpy().astype("datetime64[D]").astype(np.int64)


#: The episodes table's columns, from the careers' fields (``la`` and ``child``: the child's).
EPISODE_COLUMNS = {
    "LA": "la",
    "CHILD": "child",
    "DECOM": "decom",
    "RNE": "rne",
    "LS": "ls",
    "CIN": "cin",
    "PLACE": "place",
    "PLACE_PROVIDER": "provider",
    "DEC": "dec",
    "REC": "rec",
    "REASON_PLACE_CHANGE": "reason",
    "HOME_POST": "home_post",
    "PL_POST": "pl_post",
    "URN": "urn",
}


def _episode_order(careers: Careers, child_key: np.ndarray) -> np.ndarray:
    """The (LA, CHILD, DECOM) order of the episodes, on integers (a child's DECOMs are distinct)."""
    ep = careers.episodes
    decom = ep["decom"]
    return stable_order(decom - (decom.min() if decom.size else 0), child_key[ep["child"]])


def episode_columns(
    careers: Careers,
    order: np.ndarray,
    child_la: np.ndarray,
    child_id: np.ndarray,
    arrow: bool = False,
) -> dict[str, Any]:
    """The episodes table's columns in ``order``: numpy arrays, or Arrow arrays if ``arrow``.

    The text columns are made once, in that order, from the careers' codes
    (:meth:`Careers.episode_text`; as Arrow, :meth:`Careers.episode_arrow`).
    """
    ep = careers.episodes
    child = ep["child"][order]
    columns: dict[str, Any] = {}
    for name, source in EPISODE_COLUMNS.items():
        if source in ("la", "child"):
            per_child = child_la if source == "la" else child_id
            col = pa.array(per_child, type=pa.string()).take(child) if arrow else per_child[child]
        elif source in ("decom", "dec"):
            days = to_datetime(
                ep[source][order], missing=ep["open"][order] if source == "dec" else None
            )
            col = pa.array(days, from_pandas=True) if arrow else days
        elif arrow:
            col = careers.episode_arrow(source, order)
        else:
            col = careers.episode_text(source, order)
        columns[name] = col
    return columns


def _episodes_table(
    careers: Careers,
    child_la: np.ndarray,
    child_id: np.ndarray,
    child_key: np.ndarray,
    keep_ids: bool = False,
) -> pd.DataFrame:
    """Episodes in (LA, CHILD, DECOM) order, sorted on integers (a child's DECOMs are distinct).

    The order is found and applied on the generator's integer columns; the
    text columns are made once, in that order (:func:`episode_columns`).
    ``keep_ids`` adds the generator's own ``_child`` and ``_period_id`` columns.
    """
    order = _episode_order(careers, child_key)
    # each column is new: no copy, nor one block of all the text columns
    table = pd.DataFrame(episode_columns(careers, order, child_la, child_id), copy=False)
    if keep_ids:
        table["_child"] = careers.episodes["child"][order]
        table["_period_id"] = careers.episodes["period_id"][order]
    return table


def _truth_returns(
    r: pd.DataFrame, child_la: np.ndarray, child_id: np.ndarray, child_key: np.ndarray
) -> pd.DataFrame:
    c = r["child"].to_numpy()
    order = stable_order(r["spell_number"].to_numpy(), child_key[c])
    out = r.iloc[order].reset_index(drop=True)
    c = out.pop("child").to_numpy()
    out.insert(0, "CHILD", child_id[c])
    out.insert(0, "LA", child_la[c])
    for col in ("period_start", "return_date"):
        out[col] = to_datetime(out[col].to_numpy())
    reentry = out["reentry_date"].to_numpy()
    out["reentry_date"] = to_datetime(np.maximum(reentry, 0), missing=reentry < 0)
    return out


# The generator keeps its own Kaplan-Meier on purpose: it records the truth the package's
# estimators (reunistat.models.survival.km_steps) are checked against, so it must not share them.
def kaplan_meier_at(
    days: np.ndarray, event: np.ndarray, horizons: dict[str, int]
) -> dict[str, float]:
    """Cumulative incidence 1 - S(t) by Kaplan-Meier at each horizon (days).

    >>> kaplan_meier_at(np.array([1, 2, 3, 4]), np.array([1, 0, 1, 0]), {"h": 3})
    {'h': 0.625}
    """
    order = np.argsort(days, kind="stable")
    t, e = days[order], event[order]
    uniq, first = np.unique(t, return_index=True)
    n_at_risk = t.size - first
    deaths = np.add.reduceat(e, first)
    surv = np.cumprod(1.0 - deaths / n_at_risk)
    out = {}
    for name, h in horizons.items():
        i = np.searchsorted(uniq, h, side="right") - 1
        out[name] = float(1.0 - surv[i]) if i >= 0 else 0.0
    return out


def _truth(
    config: SynthConfig,
    seed: int,
    scale: float,
    messy: bool,
    tables: dict[str, pd.DataFrame],
    returns: pd.DataFrame,
) -> dict[str, Any]:
    counts = episode_counts(tables["episodes"])
    return truth_record(
        config, seed, scale, messy, realised(counts, len(tables["header"]), returns)
    )


def episode_counts(ep: pd.DataFrame | pa.Table) -> dict[str, int]:
    """The counts of episode rows truth.json reports: they add up over blocks of rows."""

    def isin(column: str, values: Any) -> np.ndarray:
        if isinstance(ep, pa.Table):
            return np.asarray(pc.is_in(ep[column], value_set=pa.array(list(values))))
        return ep[column].isin(list(values)).to_numpy()

    exits = isin("REC", codes.REC_END)
    not_sb = ~isin("LS", codes.SHORT_BREAK_LS)
    returned = isin("REC", codes.REC_RETURN_HOME) & not_sb
    started = isin("RNE", ["S"]) & not_sb
    return {
        "episodes": len(ep),
        "periods_started": int(started.sum()),
        "short_break_episodes": int((~not_sb).sum()),
        "exits": int((exits & not_sb).sum()),
        "returned_home": int(returned.sum()),
        "section20_entries": int((started & isin("LS", [codes.SECTION20_LS])).sum()),
    }


def realised(counts: dict[str, int], children: int, returns: pd.DataFrame) -> dict[str, Any]:
    """truth.json's realised figures from :func:`episode_counts` and the returns home.

    ``returns`` needs ``days_followed``, ``reentered`` and ``censor_reason``.
    """
    km = kaplan_meier_at(
        returns["days_followed"].to_numpy(), returns["reentered"].to_numpy(), HORIZONS_DAYS
    )
    started = counts["periods_started"]
    return {
        "children": children,
        "episodes": counts["episodes"],
        "periods_started": started,
        "short_break_episodes": counts["short_break_episodes"],
        "exits": counts["exits"],
        "returns_home": len(returns),
        "returns_home_share_of_exits": counts["returned_home"] / max(1, counts["exits"]),
        # the mean of a boolean column: its sum over its count, NaN when empty
        "section20_share_of_entries": counts["section20_entries"] / started
        if started
        else float("nan"),
        "reentries": int(returns["reentered"].sum()),
        "cumulative_reentry_km": km,
        "censor_reasons": returns["censor_reason"].value_counts().sort_index().to_dict(),
    }


def truth_record(
    config: SynthConfig, seed: int, scale: float, messy: bool, figures: dict[str, Any]
) -> dict[str, Any]:
    """truth.json: the run, the true parameters and the realised ``figures``."""
    cfg = config.values
    ratio_name = "hazard_ratios" if cfg["reentry"]["model"] == "cox" else "odds_ratios"
    return {
        "generator": "reunistat.synthetic",
        "seed": seed,
        "scale": scale,
        "messy": messy,
        "config_source": config.source,
        "config_sha256": config.sha256,
        "data_start": str(cfg["dataset"]["data_start"]),
        "data_end": str(cfg["dataset"]["data_end"]),
        "model": cfg["reentry"]["model"],
        "reference_levels": REFERENCE_LEVELS,
        "term_coding": {
            "log_period_length": "log(period_length_days / 365)",
            "return_year": f"financial year - {cfg['reentry']['reference_year']}",
            "prior_periods": "count of earlier periods of care",
            "placement_moves": "placement-changing episodes in the period minus one",
            "idaci_decile": "1 most deprived ... 10 least",
        },
        f"true_{ratio_name}": ratio_table(cfg),
        "true_log_ratios": true_log_ratios(cfg),
        "la_sd_log_hr": cfg["reentry"]["la_sd_log_hr"],
        "baseline_knots_days": cfg["reentry"]["baseline_knots_days"],
        "baseline_hazard_per_day": cfg["reentry"]["baseline_hazard_per_day"],
        "logistic": cfg["reentry"]["logistic"] if cfg["reentry"]["model"] == "logistic" else None,
        "realised": figures,
    }


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def truth_json(truth: dict[str, Any]) -> str:
    """Serialise truth.json canonically (sorted keys, fixed float form)."""
    return json.dumps(truth, indent=2, sort_keys=True, default=str) + "\n"
