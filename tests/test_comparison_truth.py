"""Truth check of the authority comparison over 200+ replicates (slow).

* Spells-level: the returns home of one generator dataset (no authority
  frailty in its ``true_lp``), re-entry redrawn per replicate with known
  authority effects; one authority planted at HR 1.5 (the generator's config
  cannot plant one, so the outcome is simulated on the derived returns). The
  other 149 authorities give the share outside the 99.8% limits: under no
  authority effect with the exact limits, and under the generator's frailty
  (SD 0.15) after additive over-dispersion adjustment (DerSimonian-Laird on
  unwinsorised z-scores; winsorising under-corrects, see comparison.md). The
  planted one gives the power.
* Whole generator: ``la_sd_log_hr = 0``, generate -> derive_cohort -> Cox
  standardisation, one seed per replicate.

``benchmarks/bench_comparison.py`` runs the same designs and records them in
``benchmarks/results/comparison.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.models.comparison import (
    ADJUSTMENTS,
    LEVELS,
    funnel_table,
    indirect_standardisation,
    level_tag,
)
from reunistat.models.comparison.validation import summarise, truth_check

COVARIATES = (
    "C(age_band) + C(ethnic_group) + disability + section20 + prior_periods + placement_moves"
    " + C(return_type) + C(last_placement_type) + np.log(period_length_days) + idaci_decile"
    " + pilot + return_year"
)
N_REPLICATES = 200
NOMINAL = 0.002


def _at(s: pd.DataFrame, key: tuple[str, float], col: str = "share_outside") -> float:
    return float(s.loc[key, col])  # type: ignore[arg-type]


def _bound(total: int) -> float:
    """Nominal rate plus three Monte Carlo standard errors."""
    return NOMINAL + 3 * np.sqrt(NOMINAL * (1 - NOMINAL) / total)


@pytest.fixture(scope="module")
def base() -> tuple[pd.DataFrame, dict, str]:
    from reunistat.synthetic import default_config, generate

    cfg = default_config().with_overrides({"reentry.la_sd_log_hr": 0.0})
    data = generate(cfg, seed=11, scale=0.1)
    sizes = data.truth_returns.groupby("LA").size().sort_values(kind="stable")
    return data.truth_returns, data.truth, str(sizes.index[len(sizes) // 2])


@pytest.mark.slow
@pytest.mark.parametrize("la_sd", [0.0, 0.15])
def test_false_alarms_and_power(base: tuple[pd.DataFrame, dict, str], la_sd: float) -> None:
    returns, truth, planted = base
    reps = truth_check(
        returns,
        truth,
        COVARIATES,
        n_replicates=N_REPLICATES,
        seed=20261201 if la_sd == 0 else 20261202,
        n_jobs=2,
        la_sd_log_hr=la_sd,
        planted=planted,
        # with a frailty, tau2 from winsorised z-scores (the NHS convention) is ~4x too small
        # and 1.1% of authorities fall outside the 99.8% limits (comparison.md): the
        # calibrated adjustment is DerSimonian-Laird without winsorising
        winsorise=0.1 if la_sd == 0 else 0.0,
    )
    s = summarise(reps, "cox").set_index(["adjustment", "level"])
    total = int((reps["n_units"] - 1).sum())
    adj = "none" if la_sd == 0 else "additive"
    share = _at(s, (adj, 0.998))
    assert share <= _bound(total), s
    # not absurdly conservative either
    assert share >= NOMINAL / 4, s
    if la_sd > 0:
        # without adjustment the frailty puts far more authorities outside
        assert _at(s, ("none", 0.998)) > 2 * _bound(total)
    # the planted authority (HR 1.5) is flagged more often than a null one
    # measured (comparison.md): 73% with no other authority effect, 38% among frailties
    assert _at(s, (adj, 0.95), "power") > (0.5 if la_sd == 0 else 0.25)
    assert _at(s, (adj, 0.998), "power") > 10 * NOMINAL


def _generator_replicate(seed: int) -> dict[str, int]:
    from reunistat.cohort import derive_cohort
    from reunistat.synthetic import default_config, generate

    cfg = default_config().with_overrides({"reentry.la_sd_log_hr": 0.0})
    spells = derive_cohort(generate(cfg, seed=seed, scale=0.02).tables)
    t = indirect_standardisation(spells, COVARIATES).table.set_index("LA")
    table, _ = funnel_table(t["observed"], t["expected"], index=t.index)
    out = {"n_units": len(t)}
    for adj in ADJUSTMENTS:
        for level in LEVELS:
            col = f"outside_{adj}_{level_tag(level)}"
            out[f"cox_{col}"] = int((table[col] != 0).sum())
    return out


@pytest.mark.slow
def test_whole_generator_null() -> None:
    from joblib import Parallel, delayed

    rows = Parallel(n_jobs=2)(
        delayed(_generator_replicate)(20261201 + 1000 + k) for k in range(N_REPLICATES)
    )
    reps = pd.DataFrame(rows)
    s = summarise(reps, "cox").set_index(["adjustment", "level"])
    total = int(reps["n_units"].sum())
    assert _at(s, ("none", 0.998)) <= _bound(total), s
    assert _at(s, ("none", 0.95)) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / total), s
