"""Local authorities and the children who enter their care."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.synthetic._draw import choice, day, shares

REGIONS = (
    "North East",
    "North West",
    "Yorkshire and the Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
)
BAND_LIMITS_DAYS = ((1, 365), (365, 1826), (1826, 3652), (3652, 5844), (5844, 6544))
DISTRICTS_PER_LA = 20


@dataclass(frozen=True)
class Authorities:
    """The simulated local authorities (one row each) and their hidden frailties."""

    table: pd.DataFrame  # LA, LA_NAME, REGION, PILOT, PILOT_START
    weight: np.ndarray
    log_hr: np.ndarray  # true local-authority log hazard ratio of re-entry
    pilot_start_day: np.ndarray  # int days; a huge value where no pilot
    prefix: np.ndarray  # postcode area letters of each authority


def make_authorities(rng: np.random.Generator, cfg: dict[str, Any]) -> Authorities:
    """Draw the local authorities: size, region, frailty and pilot adoption."""
    n = int(cfg["dataset"]["n_local_authorities"])
    la_codes = np.sort(rng.choice(np.arange(201, 999), size=n, replace=False)).astype(str)
    weight = rng.lognormal(0.0, 0.6, n)
    weight /= weight.sum()
    log_hr = rng.normal(0.0, float(cfg["reentry"]["la_sd_log_hr"]), n)
    pilot = np.zeros(n, dtype=bool)
    pilot[rng.choice(n, size=int(cfg["pilot"]["n_authorities"]), replace=False)] = True
    lo, hi = day(cfg["pilot"]["start_from"]), day(cfg["pilot"]["start_to"])
    # pilots start on the first of a month
    start = np.full(n, np.iinfo(np.int64).max // 4, dtype=np.int64)
    raw = rng.integers(lo, hi + 1, size=int(pilot.sum()))
    start[pilot] = [day(_month_start(d)) for d in raw]
    letters = np.array(list("ABCDEFGHJKLMNPRSTUWY"))
    prefix = np.array([letters[i // 20] + letters[i % 20] for i in range(n)])
    table = pd.DataFrame(
        {
            "LA": la_codes,
            "LA_NAME": [f"Authority {c}" for c in la_codes],
            "REGION": np.array(REGIONS, dtype=object)[rng.integers(0, len(REGIONS), n)],
            "PILOT": pilot.astype(np.int8),
            "PILOT_START": pd.Series(
                np.where(pilot, start, 0).astype("datetime64[D]").astype("datetime64[ns]")
            ).where(pilot),
        }
    )
    return Authorities(table, weight, log_hr, start, prefix)


def _month_start(d: int) -> dt.date:
    date = dt.date(1970, 1, 1) + dt.timedelta(days=int(d))
    return date.replace(day=1)


def postcode_districts(auth: Authorities) -> pd.DataFrame:
    """Return the postcode districts of every authority with their IDACI deciles.

    Each authority has two districts of each decile, so any child's decile can
    be placed in their own authority.
    """
    n = len(auth.prefix)
    la = np.repeat(np.arange(n), DISTRICTS_PER_LA)
    k = np.tile(np.arange(DISTRICTS_PER_LA), n)
    post = [f"{auth.prefix[a]}{kk + 1} {kk % 9 + 1}" for a, kk in zip(la, k, strict=True)]
    return pd.DataFrame({"HOME_POST": post, "IDACI_DECILE": (k % 10 + 1).astype(np.int8)})


@dataclass(frozen=True)
class Children:
    """Children entering care: one element per child in every array."""

    la: np.ndarray
    dob: np.ndarray
    first_entry: np.ndarray
    sex: np.ndarray
    ethnic: np.ndarray
    disabled: np.ndarray
    idaci: np.ndarray
    short_break: np.ndarray
    home_district: np.ndarray  # index into postcode_districts()

    @property
    def n(self) -> int:
        """Number of children."""
        return self.la.size


def _entries_per_year(cfg: dict[str, Any], scale: float) -> np.ndarray:
    ds = cfg["dataset"]
    start, end = day(ds["data_start"]), day(ds["data_end"])
    years = max(1, round((end - start) / 365.25))
    return np.asarray(
        ds["children_per_year"] * scale * (1 + ds["entry_growth_per_year"]) ** np.arange(years)
    )


def n_children(cfg: dict[str, Any], scale: float) -> int:
    """Number of children entering care at ``scale`` (1.0: national).

    >>> from reunistat.synthetic.config import default_config
    >>> n_children(default_config().values, 1.0)
    519791
    """
    return round(float(_entries_per_year(cfg, scale).sum()))


def make_children(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    scale: float,
    auth: Authorities,
    la: np.ndarray | None = None,
) -> Children:
    """Draw the children: entry date, age, sex, ethnicity, disability, deprivation.

    Given ``la`` (each child's authority index, drawn beforehand), the
    children are ``la.size`` and their authorities are not drawn: the other
    draws are made in the same order, from ``rng``.
    """
    ds, pop = cfg["dataset"], cfg["population"]
    start, end = day(ds["data_start"]), day(ds["data_end"])
    per_year = _entries_per_year(cfg, scale)
    years = per_year.size
    n = round(float(per_year.sum())) if la is None else la.size
    if n < 1:
        raise ValueError(f"scale {scale} gives no children; use a larger --scale")
    year = rng.choice(years, size=n, p=per_year / per_year.sum())
    entry = np.minimum(start + (year * 365.25).astype(np.int64) + rng.integers(0, 365, n), end)
    band_keys, band_p = shares(pop["age_at_entry"])
    band = rng.choice(len(band_keys), size=n, p=band_p)
    lo = np.array([BAND_LIMITS_DAYS[b][0] for b in range(5)])[band]
    hi = np.array([BAND_LIMITS_DAYS[b][1] for b in range(5)])[band]
    # infants: many enter care within days of birth
    newborn = (band == 0) & (rng.random(n) < 0.4)
    age = np.where(
        newborn, rng.integers(1, 8, n), lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    )
    if la is None:
        la = rng.choice(len(auth.weight), size=n, p=auth.weight)
    idaci = choice(rng, pop["idaci"], n).astype(np.int64)
    home = la * DISTRICTS_PER_LA + (idaci - 1) + 10 * rng.integers(0, 2, n)
    disabled = rng.random(n) < pop["disability_rate"]
    short = rng.random(n) < pop["short_break_rate"]
    # short-break children are disabled children in planned respite
    disabled |= short
    return Children(
        la=la,
        dob=entry - age,
        first_entry=entry,
        sex=choice(rng, pop["sex"], n),
        ethnic=choice(rng, pop["ethnic"], n),
        disabled=disabled,
        idaci=idaci,
        short_break=short,
        home_district=home,
    )


def ethnic_group(ethnic: np.ndarray) -> np.ndarray:
    """Return the major ethnic group of each 903 ETHNIC code."""
    return np.vectorize(codes.ETHNIC_GROUP.__getitem__, otypes=[object])(ethnic)
