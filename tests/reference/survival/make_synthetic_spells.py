"""Generate the small synthetic spells sample used for R parity (seeded, committed CSV).

Run: .venv/bin/python tests/reference/survival/make_synthetic_spells.py
Writes synthetic_spells.csv beside this script: 3,000 returns home of ~1,900 children in
8 local authorities, whole-day times (many ties), re-entry (1), competing exit (2) or
censoring (0), case weights, and covariates shaped like the spells table.
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main(seed: int = 20261122, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_child = 1900
    child = np.sort(rng.integers(0, n_child, n))
    la = np.array([f"E{800 + i}" for i in range(8)])[rng.integers(0, 8, n_child)][child]
    age = rng.uniform(0, 17, n)
    bands = np.array(["under 1", "1-4", "5-9", "10-15", "16+"])
    age_band = bands[np.digitize(age, [1, 5, 10, 16])]
    sex = np.where(rng.random(n) < 0.5, "male", "female")
    section20 = (rng.random(n) < 0.4).astype(int)
    disability = (rng.random(n) < 0.15).astype(int)
    prior = rng.poisson(0.6, n)
    moves = rng.poisson(1.5, n)
    frailty = rng.gamma(4, 0.25, n_child)[child]
    lp = (
        0.3 * section20
        + 0.2 * disability
        + 0.25 * prior
        + 0.08 * moves
        + np.select([age_band == "10-15", age_band == "16+"], [0.3, -0.4], 0.0)
        - 0.1 * (sex == "female")
    )
    la_base = {la_: 1 + 0.1 * i for i, la_ in enumerate(sorted(set(la)))}
    base = np.array([la_base[x] for x in la])
    t_event = rng.weibull(0.7, n) * 4000 / (base * frailty * np.exp(lp)) ** (1 / 0.7)
    t_18 = (18 - age) * 365.25
    t_cens = rng.uniform(30, 2200, n)
    t = np.minimum.reduce([t_event, t_18, t_cens])
    event_type = np.select([t == t_event, t == t_18], [1, 2], 0)
    days = np.ceil(t).astype(int)
    return pd.DataFrame(
        {
            "CHILD": child + 1,
            "LA": la,
            "days_followed": days,
            "reentered": (event_type == 1).astype(int),
            "event_type": event_type,
            "age_band": age_band,
            "sex": sex,
            "section20": section20,
            "disability": disability,
            "prior_periods": prior,
            "placement_moves": moves,
            "weight": np.round(rng.uniform(0.5, 2.0, n), 3),
        }
    )


if __name__ == "__main__":
    df = main()
    df.to_csv(HERE / "synthetic_spells.csv", index=False)
    print(df.shape, df.event_type.value_counts().to_dict(), df.days_followed.value_counts().max())
