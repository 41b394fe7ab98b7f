"""Write case.csv: the frozen spells of the comparison reference (seeded, run once).

Twelve authorities of unequal size with known effects (two outliers), whole-day
follow-up with ties, censoring at a potential follow-up. ``reference.R`` reads
it; the tests read both. Run from this folder:
``python make_case.py && Rscript reference.R``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    """Simulate and write the case."""
    rng = np.random.default_rng(20261201)
    sizes = np.array([30, 45, 60, 80, 25, 120, 70, 55, 90, 40, 150, 35])
    la_effect = np.zeros(len(sizes))
    la_effect[[3, 10]] = [0.6, -0.5]  # two authorities off the national pattern
    la_effect += rng.normal(0, 0.35, len(sizes))  # over-dispersed
    la = np.repeat(np.arange(len(sizes)), sizes)
    n = len(la)
    section20 = (rng.random(n) < 0.4).astype(int)
    prior = rng.poisson(0.7, n)
    age_band = rng.choice(np.array(["1-4", "5-9", "10-15"]), n, p=[0.3, 0.3, 0.4])
    lp = 0.3 * section20 + 0.2 * prior + np.where(age_band == "10-15", 0.4, 0.0) + la_effect[la]
    t_event = rng.exponential(900.0 / np.exp(lp))
    potential = rng.integers(200, 2200, n)
    days = np.ceil(np.minimum(t_event, potential)).astype(int)
    days = np.maximum(days, 1)
    event = (t_event <= potential).astype(int)
    out = pd.DataFrame(
        {
            "LA": [f"L{100 + j}" for j in la],
            "section20": section20,
            "prior_periods": prior,
            "age_band": age_band,
            "days_followed": days,
            "reentered": event,
            "days_potential_followup": potential,
        }
    )
    out.to_csv(Path(__file__).with_name("case.csv"), index=False)


if __name__ == "__main__":
    main()
