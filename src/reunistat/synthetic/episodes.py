"""Episodes of care from periods: placement moves and legal changes as breakpoints.

Every period becomes a chain of episodes: the first has RNE = S, each later one
starts on the previous DEC (which ends X1) with RNE P/T (placement move),
L (legal change) or B/U (both). The last ends with the period's REC, or is
open (blank DEC and REC) if the period runs past the data end. P1 is never V2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reunistat import codes
from reunistat.synthetic._vocab import (
    BLANK,
    CODE,
    Vocab,
    choice_by_group_codes,
    choice_codes,
)
from reunistat.synthetic.periods import BANDS, Periods

MOVE, LEGAL = 1, 2
REASON_CHANGE_FROM = 16892  # 2016-04-01: REASON_PLACE_CHANGE collected from then
PROVIDERS = {
    "P1": {"PR0": 1.0},
    "U1": {"PR1": 1.0},
    "U2": {"PR1": 1.0},
    "U3": {"PR1": 1.0},
    "U4": {"PR1": 0.6, "PR4": 0.35, "PR5": 0.05},
    "U5": {"PR1": 0.6, "PR4": 0.35, "PR5": 0.05},
    "U6": {"PR1": 0.55, "PR4": 0.4, "PR5": 0.05},
    "A3": {"PR1": 0.7, "PR5": 0.3},
    "A4": {"PR1": 0.7, "PR5": 0.3},
    "A5": {"PR1": 0.7, "PR5": 0.3},
    "A6": {"PR1": 0.7, "PR5": 0.3},
    "K1": {"PR1": 0.5, "PR2": 0.5},
    "K2": {"PR1": 0.2, "PR4": 0.75, "PR5": 0.05},
    "H5": {"PR1": 0.3, "PR4": 0.7},
    "P2": {"PR1": 0.6, "PR4": 0.4},
    "R3": {"PR1": 0.5, "PR4": 0.5},
    "R5": {"PR3": 1.0},
    "S1": {"PR3": 0.3, "PR4": 0.5, "PR5": 0.2},
    "Z1": {"PR1": 0.5, "PR4": 0.5},
}
REASONS = {
    "CARPL": 0.35,
    "CLOSE": 0.04,
    "ALLEG": 0.02,
    "STAND": 0.03,
    "APPRR": 0.01,
    "CREQB": 0.15,
    "CREQO": 0.10,
    "CHILD": 0.06,
    "LAREQ": 0.08,
    "PLACE": 0.05,
    "CUSTOD": 0.01,
    "OTHER": 0.10,
}


@dataclass
class EpisodeBatch:
    """Episodes of a batch of periods, in period then date order.

    The text fields (rne ... reason) are codes of the run's :class:`Vocab`,
    ``pl_post`` indexes the postcode districts and ``urn`` is the URN's number
    (0: none); see :mod:`reunistat.synthetic._vocab`.
    """

    period: np.ndarray  # index into the batch's periods
    decom: np.ndarray
    dec: np.ndarray
    rne: np.ndarray
    ls: np.ndarray
    place: np.ndarray
    provider: np.ndarray
    rec: np.ndarray
    reason: np.ndarray
    pl_post: np.ndarray
    urn: np.ndarray

    @property
    def n(self) -> int:
        """Number of episodes."""
        return self.period.size


def _breakpoints(rng: np.random.Generator, p: Periods) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (period, offset, kind) of every breakpoint, sorted, offsets distinct."""
    length = p.end - p.start
    m = np.where(length >= 2, np.minimum(p.moves, length - 1), 0)
    rows = np.repeat(np.arange(p.n), m)
    off = 1 + np.floor(rng.random(rows.size) * (length[rows] - 1)).astype(np.int64)
    legal = np.flatnonzero(p.legal_offset > 0)
    rows = np.concatenate([rows, legal])
    off = np.concatenate([off, p.legal_offset[legal]])
    kind = np.concatenate([np.full(off.size - legal.size, MOVE), np.full(legal.size, LEGAL)])
    key = rows * (1 << 20) + off
    order = np.argsort(key, kind="stable")
    key, kind = key[order], kind[order]
    # the distinct keys of the sorted keys (np.unique(key, return_index=True), no second sort)
    first = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if key.size else key
    uniq = key[first]
    kind = np.bitwise_or.reduceat(kind, first) if kind.size else kind
    return uniq >> 20, uniq & ((1 << 20) - 1), kind


def build_episodes(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    p: Periods,
    home_post: np.ndarray,
    la_row: np.ndarray,
    n_districts: int,
    vocab: Vocab,
) -> EpisodeBatch:
    """Turn a batch of periods into episodes (before truncation at the data end).

    ``home_post`` is each period's child's home postcode district and
    ``la_row`` its authority: the districts of authority ``a`` are
    ``a * n_districts + 0 ... n_districts - 1``. Text comes back coded by ``vocab``.
    """
    c = vocab.code
    brow, boff, bkind = _breakpoints(rng, p)
    nb = np.bincount(brow, minlength=p.n)
    per = np.repeat(np.arange(p.n), nb + 1)
    first = np.concatenate([[0], np.cumsum(nb + 1)[:-1]])
    j = np.arange(per.size) - first[per]
    is_start = j == 0
    is_last = j == nb[per]
    off_start = np.zeros(per.size, dtype=np.int64)
    off_start[~is_start] = boff
    off_end = np.empty(per.size, dtype=np.int64)
    off_end[~is_last] = boff
    off_end[is_last] = (p.end - p.start)[per[is_last]]
    kind = np.zeros(per.size, dtype=np.int64)
    kind[~is_start] = bkind
    same_carer = rng.random(per.size) < cfg["placements"]["same_carer_share"]
    rne = np.select(
        [is_start, kind == MOVE, kind == LEGAL],
        [c("S"), np.where(same_carer, c("T"), c("P")), c("L")],
        np.where(same_carer, c("U"), c("B")),
    ).astype(CODE)
    legal_seen = _cumsum_within(kind & LEGAL > 0, first, per)
    ls = np.where(legal_seen, vocab.encode(p.ls1)[per], vocab.encode(p.ls0)[per])
    seg = _cumsum_within((kind & MOVE > 0) | is_start, first, per) - 1
    place = _placements(rng, cfg, p, per, seg, is_last, ls, vocab)
    rec = np.where(is_last, vocab.encode(p.rec)[per], c(codes.REC_CONTINUE)).astype(CODE)
    next_kind = np.zeros(per.size, dtype=np.int64)
    next_kind[:-1] = kind[1:]
    dec = p.start[per] + off_end
    moved = (~is_last) & (next_kind & MOVE > 0) & (dec >= REASON_CHANGE_FROM)
    reason = np.full(per.size, BLANK, dtype=CODE)
    reason[moved] = choice_codes(rng, vocab, REASONS, int(moved.sum()))
    provider = np.full(per.size, BLANK, dtype=CODE)
    for code, rows in vocab.sorted_levels(place):
        provider[rows] = choice_codes(rng, vocab, PROVIDERS[code], rows.size)
    pick = rng.integers(0, n_districts, per.size)
    pl_post = np.where(place == c("P1"), home_post[per], la_row[per] * n_districts + pick)
    urn_id = 100000 + rng.integers(0, 900000, per.size)
    urn = np.where(vocab.isin(place, codes.PLACE_WITH_URN), urn_id, 0)
    return EpisodeBatch(
        period=per,
        decom=p.start[per] + off_start,
        dec=dec,
        rne=rne,
        ls=ls,
        place=place,
        provider=provider,
        rec=rec,
        reason=reason,
        pl_post=pl_post,
        urn=urn,
    )


def _cumsum_within(flag: np.ndarray, first: np.ndarray, per: np.ndarray) -> np.ndarray:
    """Running count of ``flag`` within each period (inclusive)."""
    c = np.cumsum(flag.astype(np.int64))
    base = np.concatenate([[0], c])[first]
    return c - base[per]


def _placements(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    p: Periods,
    per: np.ndarray,
    seg: np.ndarray,
    is_last: np.ndarray,
    ls: np.ndarray,
    vocab: Vocab,
) -> np.ndarray:
    """PLACE of every episode (codes): one draw per placement segment, then exit overrides."""
    c = vocab.code
    new_seg = np.concatenate([[True], (per[1:] != per[:-1]) | (seg[1:] != seg[:-1])])
    seg_id = np.cumsum(new_seg) - 1
    seg_rows = np.flatnonzero(new_seg)
    seg_per = per[seg_rows]
    types = [cfg["placements"]["types"][b] for b in BANDS]
    seg_place = choice_by_group_codes(rng, vocab, types, p.age_band[seg_per])
    # the last placement segment of each period reflects how the period ends
    last_seg = np.zeros(seg_rows.size, dtype=bool)
    last_seg[seg_id[is_last]] = True
    u = rng.random(seg_rows.size)
    adopt = last_seg & (p.exit == "adoption")[seg_per]
    seg_place[adopt] = np.where(u[adopt] < 0.5, c("A5"), c("A6"))
    home = (
        last_seg
        & (p.exit == "return_home")[seg_per]
        & (p.final_ls != "V2")[seg_per]
        & (u < cfg["placements"]["placed_with_parents_before_return"])
    )
    seg_place[home] = c("P1")
    indep = last_seg & (p.exit == "independent")[seg_per]
    seg_place[indep] = np.where(u[indep] < 0.5, c("H5"), c("P2"))
    place = seg_place[seg_id]
    # DfE rule: a child placed with parents (P1) cannot be accommodated under V2
    place[(place == c("P1")) & (ls == c("V2"))] = c("U6")
    return place
