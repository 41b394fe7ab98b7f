"""Write the frozen multiple-imputation case (run from the repo root).

``python tests/reference/imputation/make_imputation_case.py`` writes ``mi_data.csv``: 2,000 returns
home from a seeded generator run (follow-up, re-entry, and the covariates of the
analysis model), with disability, ethnic group and deprivation decile made missing at
random given the observed covariates and the outcome, and the Nelson-Aalen cumulative
hazard at each spell's follow-up (``nelson_aalen``, computed here so that R's ``mice``
and ours use the same one). ``reference.R`` imputes it with ``mice`` and pools.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import special

from reunistat.models.imputation import nelson_aalen
from reunistat.synthetic import default_config, generate

HERE = Path(__file__).parent
COLS = ["days_followed", "reentered", "section20", "prior_periods", "age_band"]
IMPUTED = ["disability", "ethnic_group", "idaci_decile"]


def main() -> None:
    """Generate, sample 2,000 spells, inject missingness, write."""
    gen = generate(default_config(), seed=21, scale=0.02, progress=False)
    s = gen.truth_returns[COLS + IMPUTED].sample(2000, random_state=5).reset_index(drop=True)
    rng = np.random.default_rng(7)
    lp = -1.6 + 0.8 * s["section20"] + 0.5 * s["reentered"] - 0.3 * (s["prior_periods"] > 0)
    for c, shift in zip(IMPUTED, (0.0, 0.3, -0.2), strict=True):
        s.loc[rng.random(len(s)) < special.expit(lp + shift), c] = np.nan
    s["nelson_aalen"] = nelson_aalen(s["days_followed"].to_numpy(float), s["reentered"].to_numpy())
    s.to_csv(HERE / "mi_data.csv", index=False)


if __name__ == "__main__":
    main()
