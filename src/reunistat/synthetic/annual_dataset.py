"""Generate a dataset in the annual layout: returns by collection year, with their truth."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from reunistat.dates import eighteenth_birthday
from reunistat.synthetic import annual, extra_tables
from reunistat.synthetic._draw import day, stable_order, to_datetime
from reunistat.synthetic.careers import simulate_careers
from reunistat.synthetic.config import SynthConfig
from reunistat.synthetic.dataset import (
    SyntheticData,
    _bar,
    _days,
    _episodes_table,
    _truth,
    _truth_returns,
)
from reunistat.synthetic.history import History
from reunistat.synthetic.linked import (
    cin_table,
    header_table,
    npd_table,
    pseudonyms,
    upn_numbers,
)
from reunistat.synthetic.population import (
    DISTRICTS_PER_LA,
    make_authorities,
    make_children,
    postcode_districts,
)

#: Tables of one annual return, in the order they are written.
RETURN_TABLES = ("header", "episodes", *extra_tables.EXTRA_TABLES)
#: Linked tables written once beside the returns.
LINKED_TABLES = ("cin", "npd", "postcodes", "la")
_FAR = np.iinfo(np.int64).max // 4


def _children_of(k: np.ndarray, n: int) -> np.ndarray:
    """The distinct children (sorted) among ``k``, without sorting ``k``."""
    mark = np.zeros(n, dtype=bool)
    mark[k] = True
    return np.flatnonzero(mark)


def annual_values(config: SynthConfig) -> dict[str, Any]:
    """The config values the simulation runs on: data end = 31 March of the last return."""
    values = copy.deepcopy(config.values)
    values["dataset"]["data_end"] = dt.date(values["annual"]["last_collection_year"], 3, 31)
    return values


def birthdays(dob: np.ndarray, ages: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Birthdays in days at each age (29 February: 1 March, as ``reunistat.dates.add_years``).

    >>> from reunistat.synthetic._draw import day
    >>> b = birthdays(np.array([day(dt.date(2004, 2, 29))]), (18,))[18]
    >>> str(b.astype("datetime64[D]")[0])
    '2022-03-01'
    """
    d = dob.astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    month = d.astype("datetime64[M]")
    offset_days = (d - month.astype("datetime64[D]")).astype(np.int64)
    offset_months = (month - year.astype("datetime64[M]")).astype(np.int64)
    out = {}
    for a in ages:
        first = (year + np.timedelta64(a, "Y")).astype("datetime64[M]") + offset_months
        out[a] = first.astype("datetime64[D]").astype(np.int64) + offset_days
    return out


def _facts(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    kids: Any,
    history: History,
    episodes: pd.DataFrame,
    ids: tuple[np.ndarray, np.ndarray],
    sex_unknown: np.ndarray,
    extract_start: int,
) -> extra_tables.Facts:
    child_la, child_id = ids
    bday = birthdays(kids.dob, (16, 18, 19, 20, 21))
    k = episodes["_child"].to_numpy()
    decom = annual.as_days(episodes["DECOM"], 0)
    dec = annual.as_days(episodes["DEC"], _FAR)
    in_data = np.zeros(kids.n, dtype=bool)
    in_data[k[dec >= extract_start]] = True
    older = np.zeros(kids.n, dtype=bool)
    older[k[(dec >= bday[16][k]) & (decom < bday[18][k])]] = True
    care_leaver = in_data & older
    dies = care_leaver & (rng.random(kids.n) < cfg["annual"]["care_leaver_death_rate"])
    adoption = (episodes["LS"] == "E1").to_numpy() | episodes["PLACE"].isin(
        ["A3", "A4", "A5", "A6"]
    ).to_numpy()
    decided = np.full(kids.n, _FAR, dtype=np.int64)
    np.minimum.at(decided, k[adoption], decom[adoption] - 30)
    decided = np.where(decided == _FAR, -1, np.maximum(decided, kids.dob + 1))
    when = bday[18] + (rng.random(kids.n) * (bday[21] - bday[18])).astype(np.int64)
    return extra_tables.Facts(
        la=child_la,
        child=child_id,
        dob=kids.dob,
        sex=kids.sex,
        sex_unknown=sex_unknown,
        uasc=history.uasc,
        death_day=np.where(dies, when, -1),
        bday=bday,
        care_leaver=care_leaver,
        adoption_decision=decided,
    )


def _extras(
    rng: np.random.Generator,
    facts: extra_tables.Facts,
    tables: tuple[pd.DataFrame, pd.DataFrame],
    lean: pd.DataFrame,
    rows: np.ndarray,
    kids_in: np.ndarray,
    year: int,
) -> dict[str, pd.DataFrame]:
    """The extra tables of one return; ``lean`` holds the episode columns they need."""
    periods, missing = tables
    episodes = lean.iloc[rows].reset_index(drop=True)
    rows = np.arange(len(episodes))
    return {
        "uasc": extra_tables.uasc(facts, kids_in, year),
        "missing": extra_tables.missing(facts, missing, kids_in, year),
        "previous_permanence": extra_tables.previous_permanence(
            facts, episodes, rows, periods, year
        ),
        "oc3": extra_tables.oc3(rng, facts, year),
        "reviews": extra_tables.reviews(rng, facts, episodes, rows, year),
        "oc2": extra_tables.oc2(rng, facts, episodes, rows, periods, year),
        "ad1": extra_tables.ad1(rng, facts, episodes, rows, year),
        "placed_for_adoption": extra_tables.placed_for_adoption(facts, kids_in, year),
    }


def generate_annual(
    config: SynthConfig, seed: int, scale: float, messy: bool, progress: bool
) -> SyntheticData:
    """Generate the annual layout (called by :func:`reunistat.synthetic.generate`)."""
    cfg = annual_values(config)
    an = cfg["annual"]
    years = list(range(an["first_collection_year"], an["last_collection_year"] + 1))
    extract_start, _ = annual.year_bounds(years[0])
    rng = np.random.default_rng(seed)
    bar = _bar(progress, int(cfg["dataset"]["max_periods"]) + 4)
    auth = make_authorities(rng, cfg)
    kids = make_children(rng, cfg, scale, auth)
    districts = postcode_districts(auth)
    posts = districts["HOME_POST"].to_numpy(dtype=object).reshape(-1, DISTRICTS_PER_LA)
    bday18 = _days(eighteenth_birthday(to_datetime(kids.dob)))
    history = History.start(rng, cfg, kids)
    bar(1)
    careers = simulate_careers(
        rng, cfg, kids, auth, posts, bday18, progress=lambda k: bar(1), history=history
    )
    data_end = day(cfg["dataset"]["data_end"])
    la_codes = auth.table["LA"].to_numpy(dtype=object)
    child_id, upn, perm = pseudonyms(rng, kids.n, la=kids.la)
    child_key = kids.la.astype(np.int64) * kids.n + perm
    child_la = la_codes[kids.la]
    header = header_table(rng, cfg, kids, la_codes, child_id, upn, data_end)
    order_h = stable_order(child_key)
    episodes = _episodes_table(careers, child_la, child_id, child_key, keep_ids=True)
    split = annual.split_episodes(episodes, years)
    ep_by_year, corrections = annual.episode_returns(rng, cfg, episodes, split)
    k_of_row = episodes["_child"].to_numpy()
    kids_by_year = {y: _children_of(k_of_row[split.rows[y]], kids.n) for y in years}
    first_year = np.full(kids.n, 10_000, dtype=np.int64)
    for y in reversed(years):
        first_year[kids_by_year[y]] = y
    sex_unknown = annual.sex_unknown_children(rng, an["sex_unknown_rate"], first_year)
    header_sorted = header.iloc[order_h].reset_index(drop=True)
    facts = _facts(
        rng, cfg, kids, history, episodes, (child_la, child_id), sex_unknown, extract_start
    )
    in_header = {y: np.union1d(kids_by_year[y], extra_tables.oc3_children(facts, y)) for y in years}
    head_by_year = annual.header_returns(
        header_sorted, order_h, in_header, sex_unknown, looked_after=kids_by_year
    )
    bar(1)
    returns: dict[int, dict[str, pd.DataFrame]] = {}
    lean = episodes[["_child", "_period_id", "DECOM", "DEC", "RNE", "REC", "PLACE"]]
    both = (history.periods_table(), history.missing_table())
    for y in years:
        extras = _extras(rng, facts, both, lean, split.rows[y], kids_by_year[y], y)
        returns[y] = {"header": head_by_year[y], "episodes": ep_by_year[y], **extras}
    seen = first_year < 10_000
    linked_header = header_sorted.loc[seen[order_h]].reset_index(drop=True)
    tables = {
        "cin": cin_table(rng, kids, header, keep=seen, sort_key=child_key),
        "npd": npd_table(rng, kids, header, keep=seen, sort_key=upn_numbers(perm)),
        "postcodes": districts,
        "la": auth.table,
    }
    raw = annual.truncation_truth(careers.returns, both[0], episodes, extract_start, both[1])
    truth_returns = _truth_returns(raw, child_la, child_id, child_key)
    truth_returns["period_start_observed"] = to_datetime(
        truth_returns["period_start_observed"].to_numpy()
    )
    # PREV_PERM is returned when a period starts: a child none of whose periods starts
    # inside the extract has no previous_permanence row in it
    reported = pd.concat([returns[y]["previous_permanence"][["LA", "CHILD"]] for y in years])
    has_row = pd.MultiIndex.from_frame(truth_returns[["LA", "CHILD"]]).isin(
        pd.MultiIndex.from_frame(reported)
    )
    truth_returns["previous_permanence_observed"] = truth_returns["previous_permanence"].mask(
        pd.Series(~has_row, index=truth_returns.index)
    )
    children = _children_truth(kids, history, facts, first_year, extract_start, episodes)
    children = children.iloc[np.argsort(child_key[children["_k"].to_numpy()], kind="stable")]
    children = children.drop(columns="_k").reset_index(drop=True)
    bar(1)
    faults = pd.DataFrame()
    if messy:
        from reunistat.synthetic.annual_messy import inject_annual_faults

        returns, tables, faults = inject_annual_faults(
            rng, an["messy"], returns, tables, corrections
        )
    in_data = annual.as_days(episodes["DEC"], _FAR) >= extract_start
    flat = {"episodes": episodes.loc[in_data, ["RNE", "LS", "REC"]], "header": linked_header}
    truth = _truth(SynthConfig(cfg, config.source), seed, scale, messy, flat, truth_returns)
    truth.update(
        _annual_truth(config, years, extract_start, history, truth_returns, corrections, children)
    )
    bar(1)
    return SyntheticData(
        tables,
        truth_returns,
        truth,
        faults,
        returns=returns,
        truth_tables={"corrections": corrections, "children": children},
        full_episodes=episodes,
    )


def _children_truth(
    kids: Any,
    history: History,
    facts: extra_tables.Facts,
    first_year: np.ndarray,
    extract_start: int,
    episodes: pd.DataFrame,
) -> pd.DataFrame:
    """One row per child in the extract: facts the extra tables and the cut hide or show."""
    k_ep = episodes["_child"].to_numpy()
    decom = annual.as_days(episodes["DECOM"], 0)
    dec = annual.as_days(episodes["DEC"], _FAR)
    in_care = np.zeros(kids.n, dtype=bool)
    in_care[k_ep[(decom < extract_start) & (dec >= extract_start)]] = True
    before = np.zeros(kids.n, dtype=bool)
    before[k_ep[decom < extract_start]] = True
    k = np.flatnonzero(first_year < 10_000)
    first_perm = np.where(
        history.perm_day[k] >= 0, history.perm_code[k], "Z1"
    )  # the latest order known; the first-entry one is in the periods record
    return pd.DataFrame(
        {
            "LA": facts.la[k],
            "CHILD": facts.child[k],
            "first_collection_year": first_year[k],
            "in_care_at_extract_start": in_care[k].astype(np.int8),
            "history_before_extract": before[k].astype(np.int8),
            "uasc": facts.uasc[k].astype(np.int8),
            "sex_unknown": facts.sex_unknown[k].astype(np.int8),
            "latest_permanence": first_perm,
            "death_date": to_datetime(np.maximum(facts.death_day[k], 0), facts.death_day[k] < 0),
            "_k": k,
        }
    )


def _annual_truth(
    config: SynthConfig,
    years: list[int],
    extract_start: int,
    history: History,
    returns: pd.DataFrame,
    corrections: pd.DataFrame,
    children: pd.DataFrame,
) -> dict[str, Any]:
    periods = history.periods_table()
    prev_rec = periods.groupby("child")["rec"].shift(1)
    after_other = prev_rec.notna() & ~prev_rec.isin(["E4A", "E4B", "E13"])
    return {
        "layout": "annual",
        "annual_names": config.values["output"]["annual_names"],
        "config_sha256": config.sha256,
        "collection_years": years,
        "extract_start": str(to_datetime(np.array([extract_start]))[0].date()),
        "annual": config.values["annual"],
        "annual_realised": {
            "returns_home_in_extract": len(returns),
            "left_truncated_returns": int(returns["left_truncated"].sum()),
            "prior_history_truncated_returns": int(returns["prior_history_truncated"].sum()),
            "period_truncated_returns": int(returns["period_truncated"].sum()),
            "returns_with_prior_periods_ne_prior_returns": int(
                (returns["prior_periods"] != returns["prior_returns_home"]).sum()
            ),
            "periods_after_a_non_return_exit": int(after_other.sum()),
            "corrections": len(corrections),
            "children_in_care_at_extract_start": int(children["in_care_at_extract_start"].sum()),
            "care_leaver_deaths": int(children["death_date"].notna().sum()),
            "uasc_children": int(children["uasc"].sum()),
        },
    }
