"""Determinism, the stated direction of configured effects, and messy mode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.synthetic import default_config, generate
from reunistat.synthetic.messy import REPAIRABLE


def _sums(path):
    return (path / "SHA256SUMS").read_text()


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    cfg = default_config()
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        generate(cfg, seed=seed, scale=0.005).write(tmp_path / name, csv=True)
    assert _sums(tmp_path / "a") == _sums(tmp_path / "b")
    assert (tmp_path / "a/episodes.csv").read_bytes() == (tmp_path / "b/episodes.csv").read_bytes()
    assert _sums(tmp_path / "a") != _sums(tmp_path / "c")


def _one_year_reentry(d, mask):
    r = d.truth_returns[mask(d.truth_returns)]
    followed = (r["days_followed"] >= 365) | (r["reentered"] == 1)
    r = r[followed]
    return float(((r["reentered"] == 1) & (r["days_followed"] <= 365)).mean())


@pytest.mark.parametrize(
    ("override", "group"),
    [
        ({"reentry.hazard_ratios.section20": 3.0}, lambda r: r["section20"] == 1),
        ({"reentry.hazard_ratios.disability": 3.0}, lambda r: r["disability"] == 1),
        (
            {"reentry.hazard_ratios.return_type.unplanned": 3.0},
            lambda r: r["return_type"] == "unplanned",
        ),
        ({"reentry.hazard_ratios.age_band.10-15": 3.0}, lambda r: r["age_band"] == "10-15"),
    ],
)
def test_configured_effects_move_the_data(override, group):
    """Raising a hazard ratio raises that group's re-entry relative to the rest."""
    key, value = next(iter(override.items()))
    *path, leaf = key.split(".")
    if path[-1] in ("return_type", "age_band"):
        cfg = default_config()
        table = dict(cfg["reentry"]["hazard_ratios"][path[-1]])
        table[leaf.replace("age_band.", "")] = value
        high = cfg.with_overrides({".".join(path): table})
        table[leaf] = 1 / value
        low = cfg.with_overrides({".".join(path): table})
    else:
        high = default_config().with_overrides({key: value})
        low = default_config().with_overrides({key: 1 / value})
    gaps = []
    for cfg in (high, low):
        d = generate(cfg, seed=3, scale=0.05)
        gaps.append(_one_year_reentry(d, group) - _one_year_reentry(d, lambda r: ~group(r)))
    assert gaps[0] > 0.05
    assert gaps[1] < -0.02


def test_pilot_effect_and_known_la_truth():
    strong = default_config().with_overrides(
        {"reentry.hazard_ratios.pilot": 0.2, "pilot.n_authorities": 60}
    )
    d = generate(strong, seed=9, scale=0.05)
    piloted = _one_year_reentry(d, lambda r: r["pilot"] == 1)
    others = _one_year_reentry(d, lambda r: (r["pilot"] == 0) & (r["return_year"] >= 2016))
    assert piloted < others - 0.05
    la = d.tables["la"]
    assert la["PILOT"].sum() == 60
    assert la.loc[la["PILOT"] == 1, "PILOT_START"].notna().all()
    assert la.loc[la["PILOT"] == 0, "PILOT_START"].isna().all()


def test_logistic_truth_gives_the_stated_odds():
    """Under a logistic truth, within-horizon re-entry follows expit(intercept + lp)."""
    cfg = default_config().with_overrides(
        {"reentry.model": "logistic", "reentry.la_sd_log_hr": 0.0}
    )
    d = generate(cfg, seed=4, scale=0.1)
    r = d.truth_returns
    h = cfg["reentry"]["logistic"]["horizon_days"]
    # condition on potential follow-up (not observed follow-up, which selects re-entries)
    known = r[r["days_potential_followup"] >= h]
    y = ((known["reentered"] == 1) & (known["days_followed"] <= h)).to_numpy()
    p = 1 / (1 + np.exp(-(cfg["reentry"]["logistic"]["intercept"] + known["true_lp"].to_numpy())))
    # observed within-horizon re-entry equals the mean true probability (binomial error)
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert abs(y.mean() - p.mean()) < 4 * se
    assert d.truth["model"] == "logistic" and "true_odds_ratios" in d.truth


def test_messy_mode_lists_every_fault():
    clean = generate(default_config(), seed=12, scale=0.05)
    messy = generate(default_config(), seed=12, scale=0.05, messy=True)
    f = messy.faults
    assert set(f["fault"]) == {
        "missing_ethnicity",
        "open_episode",
        "duplicate_row",
        "stale_open_copy",
        "overlapping_episode",
        "impossible_date",
        "unknown_code",
    }
    # one fault per child, so findings can be matched one to one
    assert f["CHILD"].is_unique
    ep, h = messy.tables["episodes"], messy.tables["header"]
    added = f["fault"].isin(REPAIRABLE).sum()
    assert len(ep) == len(clean.tables["episodes"]) + added
    missing = set(f.loc[f["fault"] == "missing_ethnicity", "CHILD"])
    assert set(h.loc[h["ETHNIC"].isna(), "CHILD"]) == missing
    bad_codes = f[f["fault"] == "unknown_code"]
    for _, row in bad_codes.iterrows():
        rows = ep[(ep["CHILD"] == row["CHILD"]) & (ep["DECOM"] == row["DECOM"])]
        assert rows[row["column"]].isin(["Q9", "V9", "E99"]).any()
    # untouched children keep their episodes exactly
    touched = set(f["CHILD"])
    a = clean.tables["episodes"]
    a = a[~a["CHILD"].isin(touched)].reset_index(drop=True)
    b = ep[~ep["CHILD"].isin(touched)].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
