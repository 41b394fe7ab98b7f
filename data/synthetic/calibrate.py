"""Calibrate the default baseline hazard of re-entry to the published curve.

Run: ``.venv/bin/python data/synthetic/calibrate.py [--scale 0.3] [--iterations 6]``

Targets (DOMAIN.md §1): cumulative re-entry 12% at 3 months, 20% at 1 year and
35% at 6 years after a return home (Kaplan-Meier over all returns, censored at
the 18th birthday and the data end); intermediate knots interpolate smoothly.
Each iteration generates a dataset with the current baseline and rescales each
piece of the piecewise-constant baseline by the ratio of the target to the
realised increment of -log(1 - F). The result is printed as TOML to paste into
``src/reunistat/data/england.toml``; the hazard ratios are left untouched.
"""

from __future__ import annotations

import argparse

import numpy as np

from reunistat.synthetic import default_config, generate
from reunistat.synthetic.dataset import kaplan_meier_at

TARGET_F = {30: 0.055, 91: 0.12, 182: 0.16, 365: 0.20, 730: 0.25, 1461: 0.31, 2191: 0.35}


def main() -> None:
    """Run the calibration and print the baseline to paste into the config."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--iterations", type=int, default=6)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    cfg = default_config()
    knots = cfg["reentry"]["baseline_knots_days"]
    rates = np.array(cfg["reentry"]["baseline_hazard_per_day"], dtype=float)
    ends = knots[1:]
    h_target = -np.log1p(-np.array([TARGET_F[k] for k in ends]))
    for it in range(args.iterations):
        c = cfg.with_overrides({"reentry.baseline_hazard_per_day": [float(r) for r in rates]})
        d = generate(c, seed=args.seed, scale=args.scale)
        r = d.truth_returns
        f = kaplan_meier_at(
            r["days_followed"].to_numpy(), r["reentered"].to_numpy(), {str(k): k for k in ends}
        )
        h_real = -np.log1p(-np.array([f[str(k)] for k in ends]))
        ratio = np.diff(h_target, prepend=0.0) / np.diff(h_real, prepend=0.0)
        rates[: len(ends)] *= np.sqrt(ratio) if it > 1 else ratio  # damped after two steps
        rates[-1] = rates[-2] * 0.6
        print(f"iteration {it}: " + ", ".join(f"{k}d {f[str(k)]:.3f}" for k in ends))
    print("baseline_hazard_per_day = [" + ", ".join(f"{x:.6g}" for x in rates) + "]")


if __name__ == "__main__":
    main()
