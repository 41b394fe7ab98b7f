"""Care histories for the annual layout: every period, re-entry after any exit.

Under the annual layout (:mod:`reunistat.synthetic.annual`) the generator
keeps a record of every period of care, not only of returns home, because the
returns are cut at the extract start and the truth must say what the cut
hides. It also lets children re-enter care after exits other than a return
home (E8, E3, E9, residence and special guardianship orders), so a child's
previous periods of care are not all previous returns home, and it draws the
child-level facts the extra 903 tables report: unaccompanied asylum-seeking
children (uasc), a permanence order before care (previous_permanence), and
missing-from-placement episodes (missing), each with a configurable hazard
ratio of re-entry (1 by default: no effect).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.synthetic.episodes import EpisodeBatch
from reunistat.synthetic.periods import Periods
from reunistat.synthetic.population import Children

#: Previous permanence (903 PREV_PERM) left by a period's exit: SGO P2, residence order P3.
PERM_AFTER_EXIT = {**dict.fromkeys(codes.REC_SGO, "P2"), "E41": "P3", "E11": "P1", "E12": "P1"}
NO_PERMANENCE = "Z1"
#: PREV_PERM codes as the spells table groups them.
PERM_GROUP = {"P1": "adoption", "P2": "sgo", "P3": "cao", "P4": "unknown", "Z1": "none"}
_YEAR = 365.25


@dataclass
class PeriodExtras:
    """Annual-layout facts of one batch of periods (one element per period)."""

    period_id: np.ndarray
    log_hr: np.ndarray
    missing_episodes: np.ndarray  # MISSING = M
    away_episodes: np.ndarray  # MISSING = A
    previous_permanence: np.ndarray  # PREV_PERM code at the period's start
    uasc: np.ndarray
    prior_returns_home: np.ndarray

    def truth_columns(self, rows: np.ndarray) -> pd.DataFrame:
        """Columns added to the truth record of the returns home at ``rows``."""
        return pd.DataFrame(
            {
                "period_id": self.period_id[rows],
                "prior_returns_home": self.prior_returns_home[rows].astype(np.int64),
                "previous_permanence": pd.Series(self.previous_permanence[rows])
                .map(PERM_GROUP)
                .to_numpy(dtype=object),
                "missing_episodes": self.missing_episodes[rows].astype(np.int64),
                "away_episodes": self.away_episodes[rows].astype(np.int64),
                "uasc": self.uasc[rows].astype(np.int8),
            }
        )


@dataclass
class History:
    """Child-level state carried across the period loop, and the record of it."""

    cfg: dict[str, Any]
    kids: Children
    uasc: np.ndarray
    perm_code: np.ndarray
    perm_day: np.ndarray
    perm_la: np.ndarray
    n_returns: np.ndarray
    periods: list[pd.DataFrame] = field(default_factory=list)
    missing: list[pd.DataFrame] = field(default_factory=list)
    next_id: int = 0

    @classmethod
    def start(cls, rng: np.random.Generator, cfg: dict[str, Any], kids: Children) -> History:
        """Draw the child-level facts known at entry (UASC, permanence before care)."""
        an = cfg["annual"]
        n = kids.n
        age = kids.first_entry - kids.dob
        uasc = (age >= 12 * _YEAR) & (rng.random(n) < an["uasc_rate"]) & ~kids.short_break
        pp = (age >= 366) & (rng.random(n) < an["previous_permanence_rate"]) & ~uasc
        kind = np.array(["P1", "P2", "P3"], dtype=object)[rng.choice(3, n, p=[0.3, 0.5, 0.2])]
        before = 1 + (rng.random(n) * np.maximum(age - 2, 1)).astype(np.int64)
        other_la = rng.random(n) < 0.3
        n_la = int(cfg["dataset"]["n_local_authorities"])
        shift = rng.integers(1, max(2, n_la), n)
        return cls(
            cfg=cfg,
            kids=kids,
            uasc=uasc,
            perm_code=np.where(pp, kind, NO_PERMANENCE).astype(object),
            perm_day=np.where(pp, kids.first_entry - before, -1),
            perm_la=np.where(other_la, (kids.la + shift) % n_la, kids.la),
            n_returns=np.zeros(n, dtype=np.int64),
        )

    def record(
        self,
        rng: np.random.Generator,
        p: Periods,
        eps: EpisodeBatch,
        k: int,
        data_end: int,
    ) -> PeriodExtras:
        """Record a batch of periods (the k-th of each child); return its extras."""
        an = self.cfg["annual"]
        ids = np.arange(self.next_id, self.next_id + p.n, dtype=np.int64)
        self.next_id += p.n
        child = p.child
        end_seen = np.minimum(p.end, data_end)
        length = np.maximum(end_seen - p.start, 0)
        older = (p.start - self.kids.dob[child]) >= 10 * _YEAR
        rate = np.where(older, an["missing_per_year_10plus"], an["missing_per_year_under10"])
        n_miss = rng.poisson(rate * length / _YEAR)
        rows = np.repeat(np.arange(p.n), n_miss)
        m_start = p.start[rows] + (rng.random(rows.size) * length[rows]).astype(np.int64)
        m_end = np.minimum(m_start + rng.integers(0, 15, rows.size), end_seen[rows])
        away = rng.random(rows.size) >= 0.8
        self.missing.append(
            pd.DataFrame(
                {
                    "child": child[rows],
                    "period_id": ids[rows],
                    "start": m_start,
                    "end": m_end,
                    "kind": np.where(away, "A", "M").astype(object),
                }
            )
        )
        n_away = np.bincount(rows[away], minlength=p.n)
        n_missing = n_miss - n_away
        prev_perm = self.perm_code[child] != NO_PERMANENCE
        hr = an["hazard_ratios"]
        log_hr = (
            np.log(hr["missing"]) * (n_missing > 0)
            + np.log(hr["previous_permanence"]) * prev_perm
            + np.log(hr["uasc"]) * self.uasc[child]
        )
        extras = PeriodExtras(
            period_id=ids,
            log_hr=log_hr,
            missing_episodes=n_missing,
            away_episodes=n_away,
            previous_permanence=self.perm_code[child].copy(),
            uasc=self.uasc[child],
            prior_returns_home=self.n_returns[child].copy(),
        )
        self.periods.append(
            pd.DataFrame(
                {
                    "child": child,
                    "period_id": ids,
                    "period_number": k + 1,
                    "start": p.start,
                    "end": p.end,
                    "rec": p.rec,
                    "prev_perm": self.perm_code[child],
                    "perm_day": self.perm_day[child],
                    "perm_la": self.perm_la[child],
                }
            )
        )
        self._after(p, data_end)
        return extras

    def _after(self, p: Periods, data_end: int) -> None:
        """Update the child state with how each period ended (within the data)."""
        ended = p.end <= data_end
        home = ended & (p.exit == "return_home")
        self.n_returns[p.child[home]] += 1  # a child has one period per batch
        code = pd.Series(p.rec).map(PERM_AFTER_EXIT).to_numpy()
        perm = ended & pd.notna(code)
        self.perm_code[p.child[perm]] = code[perm]
        self.perm_day[p.child[perm]] = p.end[perm]
        self.perm_la[p.child[perm]] = self.kids.la[p.child[perm]]

    def reentries_after_exit(
        self, rng: np.random.Generator, p: Periods, bday18: np.ndarray, data_end: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Children re-entering care after an exit other than a return home, and the day."""
        an = self.cfg["annual"]
        chance = pd.Series(p.rec).map(an["reentry_after_exit"]).fillna(0.0).to_numpy(float)
        chance = np.where(p.exit == "return_home", 0.0, chance)
        u = rng.random(p.n)
        gap = rng.lognormal(np.log(an["reentry_gap_median_days"]), 1.0, p.n)
        again = p.end + np.maximum(1, np.round(gap)).astype(np.int64)
        ok = (p.end <= data_end) & (u < chance) & (again < bday18[p.child]) & (again <= data_end)
        return p.child[ok], again[ok]

    def periods_table(self) -> pd.DataFrame:
        """Every simulated period: child, period_id, period_number, start, end, rec."""
        return pd.concat(self.periods, ignore_index=True)

    def missing_table(self) -> pd.DataFrame:
        """Every missing-from-placement episode: child, period_id, start, end, kind."""
        return pd.concat(self.missing, ignore_index=True)
