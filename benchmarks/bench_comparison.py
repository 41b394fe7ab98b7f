"""Truth check of the authority comparison: false alarms under the null, power for HR 1.5.

Run: ``.venv/bin/python benchmarks/bench_comparison.py --part spells`` and
``--part generator`` (each adds its results to benchmarks/results/comparison.json
and rewrites comparison.md).

* ``spells``: covariates, true linear predictors and potential follow-up of the
  returns home of one generator dataset (``generate(default_config() with
  la_sd_log_hr = 0, seed=11, scale=0.1)``: 150 authorities, ~16,500 returns; the
  generator's ``true_lp`` includes the authority frailty, so it is generated
  without one); each replicate redraws
  re-entry under known authority effects
  (:func:`reunistat.models.comparison.validation.comparison_replicate`) in two
  scenarios: no authority effect, and a normal frailty of SD 0.15 (the
  generator's default); in both, one authority (the median-sized one) is
  planted at hazard ratio 1.5. The other authorities give the share outside the
  limits (false alarms under the null; after over-dispersion adjustment under
  the frailty), the planted one the power. The generator's config cannot plant one authority's
  effect, so the planted scenarios simulate the outcome on the derived returns.
* ``generator``: the whole generator (``la_sd_log_hr`` set by ``--la-sd``,
  0 for the null) through the cohort derivation, one seed per replicate, at
  scale ``--scale``.

Each replicate fits the national Cox (and, for ``spells``, logistic) model
without the authority, and counts authorities outside the 95% and 99.8% funnel
limits, unadjusted and after multiplicative and additive over-dispersion
adjustment. joblib with one seed per replicate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "comparison.json"
COVARIATES = (
    "C(age_band) + C(ethnic_group) + disability + section20 + prior_periods + placement_moves"
    " + C(return_type) + C(last_placement_type) + np.log(period_length_days) + idaci_decile"
    " + pilot + return_year"
)


def generator_replicate(seed: int, scale: float, la_sd: float) -> dict[str, Any]:
    """One whole-generator replicate: generate, derive the cohort, standardise, flag."""
    from reunistat.cohort import derive_cohort
    from reunistat.models.comparison import (
        ADJUSTMENTS,
        funnel_table,
        indirect_standardisation,
        level_tag,
    )
    from reunistat.models.comparison import LEVELS as levels
    from reunistat.synthetic import default_config, generate

    cfg = default_config().with_overrides({"reentry.la_sd_log_hr": la_sd})
    spells = derive_cohort(generate(cfg, seed=seed, scale=scale).tables)
    t = indirect_standardisation(spells, COVARIATES, method="cox").table.set_index("LA")
    table, od = funnel_table(t["observed"], t["expected"], index=t.index)
    out: dict[str, Any] = {"n_units": len(t), "cox_phi": od.phi, "cox_tau2": od.tau2}
    for adj in ADJUSTMENTS:
        for level in levels:
            col = f"outside_{adj}_{level_tag(level)}"
            out[f"cox_{col}"] = int((table[col] != 0).sum())
    return out


def _spells_part(args: argparse.Namespace) -> dict[str, Any]:
    from reunistat.models.comparison.validation import summarise, truth_check
    from reunistat.synthetic import default_config, generate

    # true_lp of truth_returns includes the generator's authority frailty: switch it off
    cfg = default_config().with_overrides({"reentry.la_sd_log_hr": 0.0})
    data = generate(cfg, seed=11, scale=0.1)
    returns = data.truth_returns
    sizes = returns.groupby("LA").size().sort_values(kind="stable")
    planted = str(sizes.index[len(sizes) // 2])
    # each scenario plants one authority at HR 1.5; the other 149 give the false-alarm rate
    scenarios: dict[str, dict[str, Any]] = {
        "null_planted_hr1.5": {"la_sd_log_hr": 0.0, "planted": planted},
        "frailty_0.15_planted_hr1.5": {"la_sd_log_hr": 0.15, "planted": planted},
        # the same draws, over-dispersion estimated without winsorising (plain DerSimonian-Laird)
        "frailty_0.15_planted_hr1.5_no_winsorising": {
            "la_sd_log_hr": 0.15,
            "planted": planted,
            "winsorise": 0.0,
        },
    }
    seeds = {name: args.seed + i for i, name in enumerate(scenarios)}
    seeds["frailty_0.15_planted_hr1.5_no_winsorising"] = seeds["frailty_0.15_planted_hr1.5"]
    if args.scenario:
        scenarios = {k: v for k, v in scenarios.items() if k in args.scenario}
    old = json.loads(RESULTS.read_text()).get("spells", {}) if RESULTS.exists() else {}
    out: dict[str, Any] = {
        "returns": len(returns),
        "authorities": int(returns["LA"].nunique()),
        "planted_authority_returns": int(sizes[planted]),
        "scenarios": old.get("scenarios", {}),
    }
    for name, kw in scenarios.items():
        t0 = time.perf_counter()
        reps = truth_check(
            returns,
            data.truth,
            COVARIATES,
            n_replicates=args.replicates,
            seed=seeds[name],
            n_jobs=args.jobs,
            methods=("cox", "logistic"),
            **kw,
        )
        wall = time.perf_counter() - t0
        out["scenarios"][name] = {
            "settings": kw,
            "replicates": len(reps),
            "seconds": round(wall, 1),
            "mean_phi": {m: float(reps[f"{m}_phi"].mean()) for m in ("cox", "logistic")},
            "mean_tau2": {m: float(reps[f"{m}_tau2"].mean()) for m in ("cox", "logistic")},
            "summary": {
                m: summarise(reps, m).to_dict(orient="records") for m in ("cox", "logistic")
            },
        }
        print(name, round(wall, 1), "s")
        print(summarise(reps, "cox").to_string())
    return out


def _generator_part(args: argparse.Namespace) -> dict[str, Any]:
    from joblib import Parallel, delayed

    from reunistat.models.comparison.validation import summarise

    seeds = [args.seed + 1000 + k for k in range(args.replicates)]
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=args.jobs)(
        delayed(generator_replicate)(s, args.scale, args.la_sd) for s in seeds
    )
    wall = time.perf_counter() - t0
    reps = pd.DataFrame(rows)
    print(summarise(reps, "cox").to_string())
    return {
        "scale": args.scale,
        "la_sd_log_hr": args.la_sd,
        "replicates": len(reps),
        "seeds": f"{seeds[0]}..{seeds[-1]}",
        "seconds": round(wall, 1),
        "mean_units": float(reps["n_units"].mean()),
        "mean_phi": float(reps["cox_phi"].mean()),
        "mean_tau2": float(reps["cox_tau2"].mean()),
        "summary": {"cox": summarise(reps, "cox").to_dict(orient="records")},
    }


def _fmt_rows(rows: list[dict[str, Any]], power: bool) -> list[str]:
    lines = []
    for r in rows:
        cells = [
            r["adjustment"],
            f"{100 * r['level']:g}%",
            f"{100 * r['share_outside']:.2f}% (MC SE {100 * r['mc_se']:.2f})",
            f"{100 * r['nominal']:.1f}%",
        ]
        if power:
            cells.append(f"{100 * r['power']:.1f}% (MC SE {100 * r['power_mc_se']:.1f})")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _row(rows: list[dict[str, Any]], adj: str, level: float) -> dict[str, Any]:
    return next(r for r in rows if r["adjustment"] == adj and abs(r["level"] - level) < 1e-9)


def _findings(res: dict[str, Any]) -> list[str]:
    """A few sentences with the headline numbers (Cox expected counts)."""
    sc = res.get("spells", {}).get("scenarios", {})
    out = ["## Findings (Cox expected counts, 99.8% limits)", ""]
    null = sc.get("null_planted_hr1.5")
    if null:
        r = _row(null["summary"]["cox"], "none", 0.998)
        out.append(
            f"- No authority effect, exact limits: {100 * r['share_outside']:.2f}% of authorities "
            f"outside (nominal 0.20%, MC SE {100 * r['mc_se']:.2f}); power to flag the planted "
            f"authority (HR 1.5) above the limit {100 * r['power']:.0f}% "
            f"({100 * _row(null['summary']['cox'], 'none', 0.95)['power']:.0f}% at 95%)."
        )
    for name, label in (
        ("frailty_0.15_planted_hr1.5", "winsorised z-scores (NHS convention)"),
        ("frailty_0.15_planted_hr1.5_no_winsorising", "unwinsorised (DerSimonian-Laird)"),
    ):
        f = sc.get(name)
        if f:
            r = _row(f["summary"]["cox"], "additive", 0.998)
            raw = _row(f["summary"]["cox"], "none", 0.998)
            out.append(
                f"- Frailty SD 0.15, additive adjustment from {label}: "
                f"{100 * r['share_outside']:.2f}% outside (unadjusted "
                f"{100 * raw['share_outside']:.2f}%); mean tau2 {f['mean_tau2']['cox']:.4f}; "
                f"power {100 * r['power']:.0f}%."
            )
    for g in res.get("generator", {}).values():
        r = _row(g["summary"]["cox"], "none", 0.998)
        out.append(
            f"- Whole generator, no authority effect (scale {g['scale']}, {g['replicates']} "
            f"replicates): {100 * r['share_outside']:.2f}% outside the exact limits."
        )
    out += [
        "- Logistic expected counts against Poisson limits are conservative (the variance of",
        "  a sum of Bernoulli outcomes is below its mean): use the Cox comparison for flags.",
        "",
    ]
    return out


def write_markdown(res: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    lines = [
        "# Truth check: comparing local authorities (funnel limits)",
        "",
        "Written by `benchmarks/bench_comparison.py` (see its docstring for the design).",
        "Share outside: authorities outside the limits over all replicates (the planted one",
        "excluded); nominal: 1 - level; power: share of replicates flagging the planted",
        "authority above the upper limit. MC SE: Monte Carlo standard error at the nominal rate",
        "(share) or the estimate (power).",
        "",
    ]
    lines += _findings(res)
    gen = res.get("generator", {})
    for key, g in sorted(gen.items()):
        lines += [
            f"## Whole generator, `la_sd_log_hr = {g['la_sd_log_hr']}`, scale {g['scale']}",
            "",
            f"{g['replicates']} replicates (seeds {g['seeds']}), {g['mean_units']:.0f} "
            f"authorities each; Cox expected counts; mean phi {g['mean_phi']:.3f}, mean tau2 "
            f"{g['mean_tau2']:.4f}; {g['seconds']:.0f} s.",
            "",
            "| adjustment | level | share outside | nominal |",
            "|---|---|---|---|",
            *_fmt_rows(g["summary"]["cox"], power=False),
            "",
        ]
        del key
    sp = res.get("spells")
    if sp:
        lines += [
            "## Spells-level simulation on generator returns",
            "",
            f"{sp['returns']:,} returns home in {sp['authorities']} authorities (generator seed "
            f"11, scale 0.1); planted authority: {sp['planted_authority_returns']} returns.",
            "",
        ]
        for name, s in sp["scenarios"].items():
            power = "planted" in name
            for m in ("cox", "logistic"):
                lines += [
                    f"### {name}, {m} expected counts",
                    "",
                    f"{s['replicates']} replicates; mean phi {s['mean_phi'][m]:.3f}, mean tau2 "
                    f"{s['mean_tau2'][m]:.4f}; {s['seconds']:.0f} s (both methods).",
                    "",
                    "| adjustment | level | share outside | nominal |"
                    + (" power (planted HR 1.5) |" if power else ""),
                    "|---|---|---|---|" + ("---|" if power else ""),
                    *_fmt_rows(s["summary"][m], power),
                    "",
                ]
    lines += [f"Machine: {res.get('machine', '')}", ""]
    return "\n".join(lines)


def main() -> None:
    """Run one part and merge its results into comparison.json and comparison.md."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=("spells", "generator"), required=True)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--la-sd", type=float, default=0.0)
    ap.add_argument("--scenario", action="append", help="spells scenario(s) to run (default all)")
    ap.add_argument("--markdown-only", action="store_true", help="only rewrite comparison.md")
    args = ap.parse_args()
    if args.markdown_only:
        (HERE / "results" / "comparison.md").write_text(
            write_markdown(json.loads(RESULTS.read_text()))
        )
        return
    part = _spells_part(args) if args.part == "spells" else _generator_part(args)
    print(json.dumps(part, sort_keys=True))
    # read what other runs wrote meanwhile just before writing, so parts run at once all stay
    res = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if args.part == "spells":
        res["spells"] = part
    else:
        res.setdefault("generator", {})[f"sd{args.la_sd}_scale{args.scale}"] = part
    res["machine"] = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared), "
        f"load {os.getloadavg()[0]:.1f}, n_jobs {args.jobs}, numpy {np.__version__}"
    )
    RESULTS.write_text(json.dumps(res, indent=2, sort_keys=True) + "\n")
    (HERE / "results" / "comparison.md").write_text(write_markdown(res))


if __name__ == "__main__":
    main()
