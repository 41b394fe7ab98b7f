"""The annual layout: one 903 return per collection year, as authorities submit them.

A collection year runs 1 April to 31 March and is named by the year it ends
(2021 for 2020-21). Each return holds every episode open at any time in its
year; an episode still open on 31 March is shown open (blank DEC, REC and
REASON_PLACE_CHANGE) and appears again in the next return, open or closed.
The first return starts the extract: children already in care then have
their earlier episodes and periods cut off.

Returns use the code sets of their year: SEX M/F/U from 2025 (1/2 before),
PLACE Z11-Z14 for Z1 and K3 for H5/P2 from 2026. Some episodes carried into
the next return are corrected there (DECOM or PLACE), leaving a stale copy in
the earlier return; each is listed in ``truth_corrections``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.synthetic._draw import day

#: Collection year from which SEX is returned as M/F/U.
SEX_MFU_FROM = 2025
#: Collection year from which PLACE Z1 is split into Z11-Z14 and H5/P2 are gone.
PLACE_2026_FROM = 2026
SEX_MFU = {"1": "M", "2": "F"}
#: The nearest 2025-26 code of each withdrawn placement code (Z1 is split in four).
PLACE_2026 = {"H5": "K3", "P2": "K3"}
Z1_2026 = np.array(["Z11", "Z12", "Z13", "Z14"], dtype=object)
#: Placement codes a stale copy may carry instead of the corrected one.
STALE_PLACE = np.array(["U4", "U6", "U3", "K2"], dtype=object)
CORRECTION_COLUMNS = [
    "LA",
    "CHILD",
    "DECOM",
    "column",
    "stale_collection_year",
    "corrected_collection_year",
    "stale_value",
    "true_value",
]
_BLANK_WHEN_OPEN = ("DEC", "REC", "REASON_PLACE_CHANGE")


def year_bounds(year: int) -> tuple[int, int]:
    """First and last day (integer days) of a collection year.

    >>> from reunistat.synthetic._draw import EPOCH
    >>> [str(EPOCH + dt.timedelta(days=d)) for d in year_bounds(2021)]
    ['2020-04-01', '2021-03-31']
    """
    return day(dt.date(year - 1, 4, 1)), day(dt.date(year, 3, 31))


def collection_year(days: np.ndarray) -> np.ndarray:
    """Collection year (year ending 31 March) of integer days.

    >>> collection_year(np.array([year_bounds(2021)[0], year_bounds(2021)[1]]))
    array([2021, 2021])
    """
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return year + (month >= 4)


def as_days(s: pd.Series, missing: int) -> np.ndarray:
    """Integer days of a datetime Series, ``missing`` where NaT."""
    v = s.to_numpy(dtype="datetime64[ns]")
    out = v.astype("datetime64[D]").astype(np.int64)
    out[np.isnat(v)] = missing
    return out


@dataclass
class Split:
    """Which episode rows go into which return, and how they are shown there."""

    years: list[int]
    rows: dict[int, np.ndarray]  # episode rows (into the full table) of each return
    open_at_end: dict[int, np.ndarray]  # per return: the row is shown open


def split_episodes(ep: pd.DataFrame, years: list[int]) -> Split:
    """Assign episodes to returns: DECOM <= 31 March and DEC (or open) >= 1 April."""
    far = np.iinfo(np.int64).max // 4
    decom = as_days(ep["DECOM"], far)
    dec = as_days(ep["DEC"], far)
    rows, open_at_end = {}, {}
    for y in years:
        start, end = year_bounds(y)
        r = np.flatnonzero((decom <= end) & (dec >= start))
        rows[y] = r
        open_at_end[y] = dec[r] > end
    return Split(years, rows, open_at_end)


def _corrections(
    rng: np.random.Generator, ep: pd.DataFrame, split: Split, rate: float
) -> tuple[dict[int, dict[str, np.ndarray]], pd.DataFrame]:
    """Pick episodes corrected in their second return; the first shows the stale value."""
    stale: dict[int, dict[str, np.ndarray]] = {}
    records = []
    last = split.years[-1]
    decom = as_days(ep["DECOM"], 0)
    seen = np.zeros(len(ep), dtype=bool)
    for y in split.years[:-1]:
        r = split.rows[y][split.open_at_end[y]]
        r = r[~seen[r]]
        seen[r] = True
        if y == last or r.size == 0:
            continue
        pick = np.sort(r[rng.random(r.size) < rate])
        col = np.where(rng.random(pick.size) < 0.5, "DECOM", "PLACE")
        _, end = year_bounds(y)
        shift = rng.integers(1, 11, pick.size)
        new_decom = np.where(decom[pick] + shift <= end, decom[pick] + shift, decom[pick] - shift)
        place = ep["PLACE"].to_numpy(dtype=object)[pick]
        alt = STALE_PLACE[rng.integers(0, STALE_PLACE.size, pick.size)]
        alt = np.where(alt == place, "U6", alt)
        alt = np.where(alt == place, "U4", alt)
        is_decom = col == "DECOM"
        stale[y] = {
            "DECOM_rows": pick[is_decom],
            "DECOM_values": new_decom[is_decom],
            "PLACE_rows": pick[~is_decom],
            "PLACE_values": alt[~is_decom],
        }
        iso = (new_decom.astype("datetime64[D]")).astype(str)
        true_iso = decom[pick].astype("datetime64[D]").astype(str)
        records.append(
            pd.DataFrame(
                {
                    "LA": ep["LA"].to_numpy()[pick],
                    "CHILD": ep["CHILD"].to_numpy()[pick],
                    "DECOM": ep["DECOM"].to_numpy()[pick],
                    "column": col,
                    "stale_collection_year": y,
                    "corrected_collection_year": y + 1,
                    "stale_value": np.where(is_decom, iso, alt),
                    "true_value": np.where(is_decom, true_iso, place),
                }
            )
        )
    table = (
        pd.concat(records, ignore_index=True)
        if records
        else pd.DataFrame(columns=CORRECTION_COLUMNS)
    )
    return stale, table


def episode_returns(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    ep: pd.DataFrame,
    split: Split,
) -> tuple[dict[int, pd.DataFrame], pd.DataFrame]:
    """The episodes table of every return (code sets of its year) and the corrections."""
    z_new = Z1_2026[rng.integers(0, Z1_2026.size, len(ep))]
    stale, corrections = _corrections(rng, ep, split, cfg["annual"]["correction_rate"])
    base = ep[[c for c in ep.columns if not c.startswith("_")]]
    out = {}
    for y in split.years:
        r = split.rows[y]
        df = base.iloc[r].reset_index(drop=True)
        shown_open = split.open_at_end[y]
        if shown_open.any():
            df.loc[shown_open, "DEC"] = pd.NaT
            df.loc[shown_open, ["REC", "REASON_PLACE_CHANGE"]] = None
        if y in stale:
            s = stale[y]
            pos = np.searchsorted(r, s["DECOM_rows"])
            new = s["DECOM_values"].astype("datetime64[D]").astype("datetime64[ns]")
            df.loc[pos, "DECOM"] = new
            pos = np.searchsorted(r, s["PLACE_rows"])
            df.loc[pos, "PLACE"] = s["PLACE_values"]
        if y >= PLACE_2026_FROM:
            place = df["PLACE"].to_numpy(dtype=object)
            place = np.where(place == "Z1", z_new[r], place)
            df["PLACE"] = pd.Series(place).replace(PLACE_2026).to_numpy(dtype=object)
        out[y] = df
    return out, corrections


def header_returns(
    header: pd.DataFrame,
    child_of_row: np.ndarray,
    children_by_year: dict[int, np.ndarray],
    sex_unknown: np.ndarray,
    looked_after: dict[int, np.ndarray] | None = None,
) -> dict[int, pd.DataFrame]:
    """The header of every return: its children, SEX in the code set of its year.

    ``header`` is in output order and ``child_of_row`` gives the simulated
    child of each of its rows; ``sex_unknown`` marks children returned as U;
    children not in ``looked_after[year]`` (care leavers) get no MOTHER/MC_DOB.
    """
    out = {}
    n = int(child_of_row.max()) + 1
    for y, kids in children_by_year.items():
        keep = np.zeros(n, dtype=bool)
        keep[kids] = True
        h = header.loc[keep[child_of_row]].reset_index(drop=True)
        if looked_after is not None:  # care leavers only in OC3: no motherhood details (628)
            in_care = np.zeros(n, dtype=bool)
            in_care[looked_after[y]] = True
            gone = ~in_care[child_of_row[keep[child_of_row]]]
            h.loc[gone, "MOTHER"] = None
            h.loc[gone, "MC_DOB"] = pd.NaT
        if y >= SEX_MFU_FROM:
            sex = h["SEX"].map(SEX_MFU).to_numpy(dtype=object)
            unknown = sex_unknown[child_of_row[keep[child_of_row]]]
            sex[unknown] = "U"
            h["SEX"] = sex
        out[y] = h
    return out


def sex_unknown_children(
    rng: np.random.Generator, rate: float, first_year: np.ndarray
) -> np.ndarray:
    """Children first returned from 2025 whose SEX is returned as U (rare)."""
    return (first_year >= SEX_MFU_FROM) & (rng.random(first_year.size) < rate)


def truncation_truth(
    returns: pd.DataFrame,
    periods: pd.DataFrame,
    ep: pd.DataFrame,
    extract_start: int,
    missing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Returns home in the extract, with what its start hides and the true values.

    ``returns`` is the generator's record (``child``, ``period_id``,
    ``spell_number`` = period number...), ``periods`` every simulated period
    and ``ep`` the episodes with ``_period_id``. Adds ``prior_periods_observed``,
    ``period_start_observed``, ``placement_moves_observed``,
    ``period_length_days_observed``, the flags ``prior_history_truncated``,
    ``period_truncated`` and ``left_truncated``, and renumbers ``spell_number``
    over the returns the extract shows. With ``missing`` (the record of
    missing episodes) it adds ``missing_episodes_observed`` and
    ``away_episodes_observed``: those the missing tables of the extract list
    (ending on or after the extract start).
    """
    r = returns.loc[returns["return_date"].to_numpy() >= extract_start].copy()
    cut = periods.loc[periods["end"].to_numpy() < extract_start, "child"].to_numpy()
    n_cut = np.bincount(cut, minlength=int(periods["child"].max()) + 1)
    r["prior_periods_observed"] = r["prior_periods"].to_numpy() - n_cut[r["child"].to_numpy()]
    seen = as_days(ep["DEC"], np.iinfo(np.int64).max // 4) >= extract_start
    e = ep.loc[seen & (ep["_period_id"].to_numpy() >= 0), ["_period_id", "DECOM", "RNE"]]
    pid = e["_period_id"].to_numpy()
    first = np.r_[True, pid[1:] != pid[:-1]] if pid.size else np.zeros(0, dtype=bool)
    placements = first | e["RNE"].isin(list(codes.RNE_PLACEMENT_CHANGE | {"S"})).to_numpy()
    moves = pd.Series(placements.astype(np.int64)).groupby(pid).sum() - 1
    start_seen = pd.Series(as_days(e["DECOM"], 0)[first], index=pid[first])
    rp = r["period_id"]
    r["period_start_observed"] = rp.map(start_seen).to_numpy(dtype=np.int64)
    r["placement_moves_observed"] = rp.map(moves).to_numpy(dtype=np.int64)
    r["period_length_days_observed"] = r["return_date"] - r["period_start_observed"]
    r["prior_history_truncated"] = (r["prior_periods_observed"] < r["prior_periods"]).astype(
        np.int8
    )
    # the period's own start (its RNE S episode) is cut off: length and moves are cut
    r["period_truncated"] = (r["period_start_observed"] > r["period_start"]).astype(np.int8)
    r["left_truncated"] = (r["prior_history_truncated"] | r["period_truncated"]).astype(np.int8)
    r["spell_number"] = r.groupby("child").cumcount().to_numpy() + 1
    if missing is not None:
        seen_m = missing.loc[missing["end"].to_numpy() >= extract_start]
        for kind, col in (("M", "missing_episodes_observed"), ("A", "away_episodes_observed")):
            ids = seen_m.loc[seen_m["kind"].to_numpy() == kind, "period_id"].to_numpy()
            counts = np.bincount(ids, minlength=len(periods))
            r[col] = counts[r["period_id"].to_numpy()].astype(np.int64)
    return r.drop(columns=["period_id"])
