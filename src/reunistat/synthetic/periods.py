"""Periods of care: how each starts, how long it lasts and how it ends.

A batch holds one period for each child in it; the generator calls
:func:`draw_periods` once per period number, for the children still in the
simulation (those who re-entered care after a return home).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reunistat.synthetic._draw import band_index, choice, choice_by_group, isin, rows_by_level
from reunistat.synthetic.population import Children

BANDS = ("under 1", "1-4", "5-9", "10-15", "16+")
REC_BY_EXIT = {
    "adoption": {"E11": 0.9, "E12": 0.1},
    "sgo": {"E45": 0.15, "E46": 0.10, "E47": 0.25, "E48": 0.50},
    "residence_order": {"E41": 1.0},
    "other_la": {"E3": 1.0},
    "custody": {"E9": 1.0},
    "independent": {"E5": 0.7, "E6": 0.3},
    "other": {"E8": 0.92, "E16": 0.05, "E15": 0.03},
    "died": {"E2": 1.0},
    "long_term": {"E8": 0.6, "E41": 0.2, "E45": 0.2},
}


@dataclass
class Periods:
    """One period of care per element; days are integer days since 1970-01-01."""

    child: np.ndarray
    start: np.ndarray
    end: np.ndarray  # may lie after the data end: then the period is open
    exit: np.ndarray  # exit kind: return_home, adoption, ..., age_out
    rec: np.ndarray  # REC of the last episode
    ls0: np.ndarray  # legal status at the start
    ls1: np.ndarray  # legal status after the one change ("" if none)
    legal_offset: np.ndarray  # day of the legal change from start (-1: none)
    moves: np.ndarray  # placement moves drawn (some may not fit)
    cin: np.ndarray
    age_band: np.ndarray  # band index at the start

    @property
    def n(self) -> int:
        """Number of periods."""
        return self.child.size

    @property
    def final_ls(self) -> np.ndarray:
        """Legal status on the last episode."""
        return np.where(self.ls1 != "", self.ls1, self.ls0)


def draw_periods(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    kids: Children,
    child: np.ndarray,
    start: np.ndarray,
    bday18: np.ndarray,
) -> Periods:
    """Draw one period of care for each ``child`` starting on ``start``."""
    band = band_index(start - kids.dob[child])
    ls0 = choice_by_group(rng, [cfg["legal_status"]["initial"][b] for b in BANDS], band)
    exit_kind = choice_by_group(rng, [cfg["exits"]["exit_type"][b] for b in BANDS], band)
    length = _lengths(rng, cfg["exits"]["median_days"], exit_kind, ls0)
    end = start + length
    aged_out = end >= bday18[child]
    end = np.where(aged_out, bday18[child], end)
    exit_kind = np.where(aged_out, "age_out", exit_kind)
    rec = _recs(rng, cfg, exit_kind)
    # adoption follows an interim care order and ends under a placement order
    adopt = exit_kind == "adoption"
    ls0 = np.where(adopt, "C1", ls0)
    ls1, legal_offset = _legal_change(rng, cfg["legal_status"], ls0, end - start, adopt)
    years = (end - start) / 365.25
    moves = rng.poisson(cfg["placements"]["moves_per_year"] * years) + adopt
    return Periods(
        child=child,
        start=start,
        end=end,
        exit=exit_kind,
        rec=rec,
        ls0=ls0,
        ls1=ls1,
        legal_offset=legal_offset,
        moves=moves,
        cin=_cin(rng, cfg["population"]["category_of_need"], kids.disabled[child]),
        age_band=band,
    )


def _lengths(
    rng: np.random.Generator, med: dict[str, float], kind: np.ndarray, ls0: np.ndarray
) -> np.ndarray:
    median = np.empty(kind.size)
    for k, rows in rows_by_level(kind):
        if k == "return_home":
            s20 = ls0[rows] == "V2"
            median[rows] = np.where(s20, med["return_home_section20"], med["return_home_order"])
        else:
            median[rows] = med[k]
    days = rng.lognormal(np.log(median), med["log_sd"])
    return np.maximum(1, np.round(days)).astype(np.int64)


def _recs(rng: np.random.Generator, cfg: dict[str, Any], kind: np.ndarray) -> np.ndarray:
    rec = np.empty(kind.size, dtype=object)
    tables = {
        **REC_BY_EXIT,
        "return_home": cfg["exits"]["return_home"],
        "age_out": cfg["exits"]["ageing_out"],
    }
    for k, rows in rows_by_level(kind):
        rec[rows] = choice(rng, tables[k], rows.size)
    return rec


def _legal_change(
    rng: np.random.Generator,
    ls_cfg: dict[str, Any],
    ls0: np.ndarray,
    length: np.ndarray,
    adopt: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """At most one change of legal status inside each period."""
    n = ls0.size
    u = rng.random(n)
    ls1 = np.full(n, "", dtype=object)
    emergency = isin(ls0, ["L1", "L2", "L3"])
    ls1[emergency] = np.where(u[emergency] < ls_cfg["emergency_to_order"], "C1", "V2")
    interim = (ls0 == "C1") & (u < ls_cfg["interim_to_full_order"])
    ls1[interim] = "C2"
    s20 = (ls0 == "V2") & (u < ls_cfg["section20_to_order"])
    ls1[s20] = "C1"
    ls1[adopt] = "E1"
    frac = rng.random(n)
    offset = 1 + np.floor(frac * (length - 1)).astype(np.int64)
    offset = np.where(emergency, np.minimum(length - 1, rng.integers(1, 9, n)), offset)
    offset = np.where(
        adopt, 1 + np.floor((0.5 + 0.4 * frac) * (length - 1)).astype(np.int64), offset
    )
    fits = (ls1 != "") & (length >= 2) & (offset >= 1) & (offset < length)
    ls1 = np.where(fits, ls1, "")
    return ls1, np.where(fits, offset, -1)


def _cin(rng: np.random.Generator, table: dict[str, float], disabled: np.ndarray) -> np.ndarray:
    """Category of need; N2 (child's disability) only for disabled children."""
    cin = choice(rng, table, disabled.size)
    not_disabled_n2 = (cin == "N2") & ~disabled
    cin[not_disabled_n2] = "N1"
    promote = disabled & (rng.random(disabled.size) < 0.35)
    cin[promote] = "N2"
    return cin
