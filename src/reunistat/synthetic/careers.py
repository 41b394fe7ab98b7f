"""Whole care careers: periods, returns home, re-entries, and again.

The loop runs over period numbers, not children: every step draws the k-th
period of all children still in the simulation at once. A child leaves the
loop when a period ends other than by a return home, is open at the data end,
or when the return home is not followed by a re-entry before the 18th
birthday and the data end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from reunistat import codes
from reunistat.synthetic._draw import day
from reunistat.synthetic._vocab import BLANK, CODE, Vocab, choice_codes
from reunistat.synthetic.episodes import EpisodeBatch, build_episodes
from reunistat.synthetic.history import History, PeriodExtras
from reunistat.synthetic.periods import Periods, draw_periods
from reunistat.synthetic.population import Authorities, Children
from reunistat.synthetic.reentry import (
    covariates_at_return,
    draw_days_to_reentry,
    linear_predictor,
)

EPISODE_FIELDS = (
    "decom",
    "dec",
    "rne",
    "ls",
    "place",
    "provider",
    "rec",
    "reason",
    "pl_post",
    "urn",
)


@dataclass
class Careers:
    """All simulated episodes (with their child and CIN) and the record of returns home.

    The episodes' text fields are codes of ``vocab``, their postcodes
    (``home_post``, ``pl_post``) index ``posts`` and ``urn`` holds the URN's
    number (0: none): :meth:`episode_text` turns them into text.
    Under the annual layout ``history`` also holds the record of every period
    (``periods``) and of missing-from-placement episodes (``missing``); see
    :mod:`reunistat.synthetic.history`.
    """

    episodes: dict[str, np.ndarray]
    returns: pd.DataFrame
    vocab: Vocab
    posts: np.ndarray  # the postcode districts, flat
    history: History | None = None

    def episode_text(self, field: str, rows: np.ndarray) -> np.ndarray:
        """An episode field's values at ``rows`` as text (an object array)."""
        from reunistat.synthetic._vocab import urn_text

        values = self.episodes[field][rows]
        if field in ("home_post", "pl_post"):
            return self.posts[values]
        if field == "urn":
            return urn_text(values)
        return self.vocab.decode(values)

    def episode_arrow(self, field: str, rows: np.ndarray) -> pa.Array:
        """:meth:`episode_text` as an Arrow string array, gathered from the distinct values."""
        from reunistat.synthetic._vocab import urn_levels

        values = self.episodes[field][rows]
        if field in ("home_post", "pl_post"):
            return pa.array(self.posts, type=pa.string()).take(values)
        if field == "urn":
            idx, text = urn_levels(values)
            return pa.array(text, type=pa.string()).take(idx)
        return self.vocab.decode_arrow(values)


def simulate_careers(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    kids: Children,
    auth: Authorities,
    posts: np.ndarray,
    bday18: np.ndarray,
    progress: Callable[[int], None] | None = None,
    history: History | None = None,
) -> Careers:
    """Simulate every child's periods of care and returns home.

    ``posts`` is the (authority x district) matrix of postcode districts and
    ``bday18`` each child's 18th birthday in days. With a ``history`` (the
    annual layout) children may also re-enter after exits other than a
    return home, and each period's missing episodes, previous permanence and
    UASC status enter the truth.
    """
    data_end = day(cfg["dataset"]["data_end"])
    vocab = Vocab()
    home_post = kids.home_district
    n_districts = posts.shape[1]
    child = np.flatnonzero(~kids.short_break)
    start = kids.first_entry[child]
    parts: list[dict[str, np.ndarray]] = []
    returns: list[pd.DataFrame] = []
    for k in range(int(cfg["dataset"]["max_periods"])):
        if child.size == 0:
            break
        p = draw_periods(rng, cfg, kids, child, start, bday18)
        eps = build_episodes(rng, cfg, p, home_post[p.child], kids.la[p.child], n_districts, vocab)
        part = _episode_part(eps, p, home_post, vocab)
        extra = None if history is None else history.record(rng, p, eps, k, data_end)
        if extra is not None:
            part["period_id"] = extra.period_id[eps.period]
        parts.append(part)
        ret, reenter_day = _returns(
            rng, cfg, kids, auth, (p, eps, vocab), k, bday18, data_end, extra
        )
        returns.append(ret)
        again = ret["reentered"].to_numpy() == 1
        child = ret["child"].to_numpy()[again]
        start = reenter_day[again]
        if history is not None:
            other_child, other_start = history.reentries_after_exit(rng, p, bday18, data_end)
            child = np.concatenate([child, other_child])
            start = np.concatenate([start, other_start])
        if progress is not None:
            progress(k)
    sb = _short_breaks(rng, kids, home_post, data_end, bday18, vocab)
    if history is not None:
        sb["period_id"] = np.full(sb["child"].size, -1, dtype=np.int64)
    parts.append(sb)
    episodes = {f: np.concatenate([part[f] for part in parts]) for f in parts[0]}
    episodes = _truncate(episodes, data_end)
    returned = pd.concat(returns, ignore_index=True)
    return Careers(episodes, returned, vocab, posts.reshape(-1), history)


def _episode_part(
    eps: EpisodeBatch, p: Periods, home_post: np.ndarray, vocab: Vocab
) -> dict[str, np.ndarray]:
    child = p.child[eps.period]
    part = {f: getattr(eps, f) for f in EPISODE_FIELDS}
    part["child"] = child
    part["cin"] = vocab.encode(p.cin)[eps.period]
    part["home_post"] = home_post[child]
    return part


def _returns(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    kids: Children,
    auth: Authorities,
    batch: tuple[Periods, EpisodeBatch, Vocab],
    k: int,
    bday18: np.ndarray,
    data_end: int,
    extra: PeriodExtras | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The returns home of one batch of periods, with their re-entry or censoring."""
    p, eps, vocab = batch
    last_ep = np.flatnonzero(np.concatenate([eps.period[1:] != eps.period[:-1], [True]]))
    moving = vocab.isin(eps.rne, codes.RNE_PLACEMENT_CHANGE | {"S"})
    moves = np.bincount(eps.period, weights=moving, minlength=p.n).astype(np.int64) - 1
    r = np.flatnonzero((p.exit == "return_home") & (p.end <= data_end))
    c = p.child[r]
    end = p.end[r]
    la = kids.la[c]
    cov = covariates_at_return(
        age_days=end - kids.dob[c],
        ethnic=kids.ethnic[c],
        disabled=kids.disabled[c],
        final_ls=p.final_ls[r],
        prior_periods=np.full(r.size, k),
        placement_moves=moves[r],
        last_place=vocab.decode(eps.place[last_ep[r]]),
        period_length_days=end - p.start[r],
        rec=p.rec[r],
        idaci=kids.idaci[c],
        pilot=auth.pilot_start_day[la] <= end,
        return_year=_financial_year(end),
    )
    lp = linear_predictor(cfg, cov) + auth.log_hr[la]
    if extra is not None:
        lp = lp + extra.log_hr[r]
    reentry = end + draw_days_to_reentry(rng, cfg, lp)
    b18 = bday18[c]
    reentered = (reentry < b18) & (reentry <= data_end)
    age18 = ~reentered & (b18 <= data_end) & (reentry >= b18)
    censor = np.where(reentered, reentry, np.where(age18, b18, data_end))
    out = pd.DataFrame(
        {
            "child": c,
            "spell_number": k + 1,
            "period_start": p.start[r],
            "return_date": end,
            "return_rec": p.rec[r],
            "reentry_date": np.where(reentered, reentry, -1),
            "reentered": reentered.astype(np.int8),
            "days_followed": censor - end,
            "censor_reason": np.where(reentered, "reentry", np.where(age18, "age18", "data_end")),
            # potential follow-up: days to the earlier of the 18th birthday and the data end
            "days_potential_followup": np.minimum(b18, data_end) - end,
        }
    )
    out = pd.concat([out, cov], axis=1)
    out["true_lp"] = lp
    if extra is not None:
        out = pd.concat([out, extra.truth_columns(r)], axis=1)
    return out, reentry


def _financial_year(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (d.astype("datetime64[M]").astype(np.int64) % 12) + 1
    return year - (month < 4)


def _short_breaks(
    rng: np.random.Generator,
    kids: Children,
    home_post: np.ndarray,
    data_end: int,
    bday18: np.ndarray,
    vocab: Vocab,
) -> dict[str, np.ndarray]:
    """Planned short breaks (V3/V4): one-episode periods ending E4A, not periods of care."""
    c = vocab.code
    sb = np.flatnonzero(kids.short_break)
    stays = 2 + rng.poisson(4, sb.size)
    child = np.repeat(sb, stays)
    gap = rng.integers(14, 120, child.size)
    length = rng.integers(1, 5, child.size)
    first = np.concatenate([[0], np.cumsum(stays)[:-1]])
    step = gap + length
    cum = np.cumsum(step) - np.repeat(np.cumsum(step)[first] - step[first], stays)
    decom = kids.first_entry[child] + cum - step
    dec = decom + length
    keep = (decom <= data_end) & (dec < bday18[child])
    child, decom, dec = child[keep], decom[keep], dec[keep]
    n = child.size
    place = choice_codes(rng, vocab, {"U4": 0.3, "U6": 0.3, "K2": 0.4}, n)
    return {
        "decom": decom,
        "dec": dec,
        "rne": np.full(n, c("S"), dtype=CODE),
        "ls": np.where(rng.random(n) < 0.8, c("V3"), c("V4")).astype(CODE),
        "place": place,
        "provider": np.full(n, c("PR1"), dtype=CODE),
        "rec": np.full(n, c("E4A"), dtype=CODE),
        "reason": np.full(n, BLANK, dtype=CODE),
        "pl_post": home_post[child],
        "urn": np.where(place == c("K2"), 100001, 0),
        "child": child,
        "cin": np.full(n, c("N2"), dtype=CODE),
        "home_post": home_post[child],
    }


def _truncate(ep: dict[str, np.ndarray], data_end: int) -> dict[str, np.ndarray]:
    """Drop episodes after the data end; leave those spanning it open (blank REC and reason)."""
    keep = ep["decom"] <= data_end
    ep = {k: v[keep] for k, v in ep.items()}
    open_ = ep["dec"] > data_end
    ep["open"] = open_
    ep["rec"] = np.where(open_, CODE(BLANK), ep["rec"])
    ep["reason"] = np.where(open_, CODE(BLANK), ep["reason"])
    return ep
