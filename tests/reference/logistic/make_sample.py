"""Seeded spells-like data with a known fixed-horizon logistic truth.

Run ``python tests/reference/logistic/make_sample.py`` to rewrite
``sample.csv`` (the data R reads in ``reference.R``). The tests also import
:func:`simulate_spells` for truth-recovery and coverage checks.

Truth: re-entry within 365 days has log-odds ``TRUE_LOGIT`` (below) in the
covariates. Clustering by local authority is one of

- ``"marginal"``: a latent logistic variable whose Gaussian copula is
  correlated within LA (correlation ``rho``): the *population-averaged*
  log-odds are exactly ``TRUE_LOGIT`` (the estimand of glm/GEE);
- ``"random_intercept"``: an LA intercept ``u ~ N(0, sigma_la^2)`` added to
  the log-odds: the *conditional* log-odds are ``TRUE_LOGIT`` (the estimand of
  the multilevel model).

Spells of one child (1-3 returns) share the LA. A fraction ``short_followup``
of spells is censored before day 365 (a recent return), to exercise the
exclusion rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).parent
TRUE_LOGIT = {
    "Intercept": -1.5,
    "section20": np.log(1.4),
    "prior_periods": np.log(1.3),
    "placement_moves": np.log(1.1),
    "log_years_in_care": np.log(0.84),
    "age_band[T.10-15]": np.log(1.5),
    "age_band[T.16+]": np.log(0.6),
    "age_band[T.5-9]": np.log(1.1),
    "age_band[T.under 1]": np.log(1.2),
    "return_type[T.planned]": np.log(0.7),
    "last_placement_type[T.childrens_home]": np.log(1.24),
}
TRUTH_FORMULA = (
    "~ section20 + prior_periods + placement_moves + log_years_in_care + age_band"
    " + C(return_type, contr.treatment('e13')) + childrens_home"
)
BANDS = ("under 1", "1-4", "5-9", "10-15", "16+")


def _age_band(age: np.ndarray) -> np.ndarray:
    idx = np.digitize(age, [1, 5, 10, 16])
    return np.asarray(BANDS, dtype=object)[idx]


def simulate_spells(
    n_spells: int,
    seed: int | np.random.Generator,
    n_la: int = 30,
    clustering: str = "marginal",
    rho: float = 0.05,
    sigma_la: float = 0.5,
    short_followup: float = 0.0,
) -> pd.DataFrame:
    """Return a spells-like DataFrame with a known logistic truth at 365 days."""
    rng = np.random.default_rng(seed)
    la_size = rng.dirichlet(np.full(n_la, 4.0))
    la_of_child = []
    spell_no = []
    child_ids = []
    total, child = 0, 0
    while total < n_spells:
        k = int(min(rng.choice([1, 2, 3], p=[0.7, 0.22, 0.08]), n_spells - total))
        la_of_child += [int(rng.choice(n_la, p=la_size))] * k
        spell_no += list(range(1, k + 1))
        child_ids += [child] * k
        total += k
        child += 1
    la = np.asarray(la_of_child)
    n = n_spells
    df = pd.DataFrame(
        {
            "LA": [f"E{900 + i:04d}" for i in la],
            "CHILD": [f"C{c:07d}" for c in child_ids],
            "spell_number": spell_no,
        }
    )
    age = rng.uniform(0, 17.5, n)
    df["age_at_return_years"] = age
    df["age_band"] = _age_band(age)
    df["sex"] = rng.choice(["male", "female"], n)
    df["ethnic_group"] = rng.choice(
        ["White", "Mixed", "Asian", "Black", "Other"], n, p=[0.72, 0.1, 0.08, 0.07, 0.03]
    )
    df["disability"] = rng.binomial(1, 0.1, n)
    df["section20"] = rng.binomial(1, 0.3, n)
    df["prior_periods"] = df["spell_number"].to_numpy() - 1 + rng.poisson(0.3, n)
    df["placement_moves"] = rng.poisson(1.2, n)
    df["period_length_days"] = np.maximum(
        1, np.round(np.exp(rng.normal(np.log(200), 1.0, n)))
    ).astype(int)
    df["log_years_in_care"] = np.log(df["period_length_days"] / 365.25)
    df["last_placement_type"] = rng.choice(
        ["foster", "childrens_home", "secure", "with_parents", "other"],
        n,
        p=[0.6, 0.12, 0.03, 0.2, 0.05],
    )
    df["childrens_home"] = (df["last_placement_type"] == "childrens_home").astype(int)
    df["return_type"] = rng.choice(["planned", "unplanned", "e13"], n, p=[0.5, 0.35, 0.15])
    df["idaci_decile"] = rng.integers(1, 11, n)
    df["pilot"] = (la % 3 == 0).astype(int)
    eta = np.full(n, TRUE_LOGIT["Intercept"])
    for col in ("section20", "prior_periods", "placement_moves", "log_years_in_care"):
        eta += TRUE_LOGIT[col] * df[col].to_numpy()
    for name, b in TRUE_LOGIT.items():
        if "[T." in name:
            var, lev = name[:-1].split("[T.")
            eta += b * (df[var].to_numpy() == lev)
    if clustering == "marginal":
        z = np.sqrt(rho) * rng.normal(size=n_la)[la] + np.sqrt(1 - rho) * rng.normal(size=n)
        eps = stats.logistic.ppf(stats.norm.cdf(z))
        y = (eta + eps > 0).astype(int)
    elif clustering == "random_intercept":
        u = rng.normal(0, sigma_la, n_la)[la]
        y = rng.binomial(1, 1 / (1 + np.exp(-(eta + u))))
    else:
        raise ValueError(clustering)
    t_reentry = np.where(y == 1, rng.integers(1, 366, n), 365 + rng.integers(1, 4000, n))
    t_censor = np.where(
        rng.random(n) < short_followup, rng.integers(0, 365, n), rng.integers(365, 3000, n)
    )
    df["reentered"] = (t_reentry <= t_censor).astype(int)
    df["days_followed"] = np.minimum(t_reentry, t_censor)
    df["censor_reason"] = np.where(df["reentered"] == 1, "reentry", "data_end")
    df["true_reentry_365d"] = y
    return df


def main() -> None:
    """Write the R parity sample."""
    df = simulate_spells(
        3000,
        seed=20261122,
        n_la=30,
        clustering="random_intercept",
        sigma_la=0.4,
        short_followup=0.1,
    )
    df.to_csv(HERE / "sample.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
