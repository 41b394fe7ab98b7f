"""Time the logistic parts of scripts 05 and 12 at national size, and keep their results.

Run: ``python benchmarks/bench_logistic_parts.py --src TREE/src --out FILE.pkl [--cohort
CACHE.pkl] [--repeats N] [parts...]`` times, in one process (BLAS on one thread, CPU seconds), the
random-intercept model, the average marginal effects, both prediction checks and the GEE
of the pipeline's logistic model (parts ``ml ame pred gee``), from the cached cohort of
``bench_logistic_steps.py`` (``--cohort``); their results go to ``FILE.pkl``.
``--compare A.pkl B.pkl`` says, part by part, whether two trees' results are equal to the bit.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PARTS = ("ml", "ame", "pred", "gee")


def _equal(a: Any, b: Any) -> bool:
    import numpy as np
    import pandas as pd

    if isinstance(a, (pd.DataFrame, pd.Series)):
        return a.equals(b) and (a.dtypes is b.dtypes or str(a.dtypes) == str(b.dtypes))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return np.float64(a).tobytes() == np.float64(b).tobytes()
    return bool(a == b)


def run(src: Path, out: Path, cohort: Path, parts: list[str], repeats: int = 1) -> None:
    """Fit the parts with the tree in ``src`` and pickle what they return."""
    sys.path.insert(0, str(src.resolve()))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    from reunistat.models.logistic import (
        average_marginal_effects,
        gee,
        logistic,
        multilevel,
        prediction_checks,
    )
    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context
    from reunistat.report.labels import with_references

    tree = src.resolve().parent
    cfg = load_config(tree / "analyses/config.toml").with_changes(
        outputs_dir=Path(tempfile.mkdtemp(prefix="bench-logistic-parts-"))
    )
    ctx = Context(cfg, log=lambda s: None)
    ctx.__dict__["extract"], ctx.__dict__["cohort"] = pickle.loads(cohort.read_bytes())
    c = ctx.config
    sp = with_references(ctx.spells, c.covariates)
    f, h, pf = "~ " + c.covariates, c.logistic_horizon_days, "days_potential_followup"
    res = logistic(f, sp, horizon_days=h, cluster="LA", potential_followup_col=pf)

    def fit(r: Any) -> tuple[Any, ...]:
        keep = ("random_effects", "variance_components")
        return r.params, r.cov, r.fit_stats, {k: v for k, v in r.extras.items() if k in keep}

    calls = {
        "ml": lambda: fit(multilevel(f, sp, horizon_days=h, potential_followup_col=pf, start=res)),
        "ame": lambda: average_marginal_effects(res),
        "pred": lambda: [
            (p.metrics, p.calibration, p.predicted)
            for p in (
                prediction_checks(
                    f, sp, horizon_days=h, potential_followup_col=pf, folds_by=by, seed=c.seed
                )
                for by in (None, "LA")
            )
        ],
        "gee": lambda: fit(gee(f, sp, horizon_days=h, potential_followup_col=pf, start=res)),
    }
    results = {}
    for name in parts:
        spent = []
        for _ in range(repeats):  # the first run's results are kept; the least CPU shown
            c0 = time.process_time()
            got = calls[name]()
            spent.append(time.process_time() - c0)
            results.setdefault(name, got)
        print(f"{name} {min(spent):.3f} s CPU", flush=True)
    out.write_bytes(pickle.dumps(results))


def main() -> None:
    """Time the parts, or compare two runs' results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("parts", nargs="*", default=list(PARTS), help=f"some of {PARTS}")
    ap.add_argument("--src", type=Path, help="the src folder of the tree")
    ap.add_argument("--out", type=Path, help="where to pickle the results")
    ap.add_argument("--cohort", type=Path, default=Path("/tmp/logistic-h/ctx.pkl"))
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    ap.add_argument("--repeats", type=int, default=1, help="runs of each part (least CPU shown)")
    args = ap.parse_args()
    if args.compare:
        a, b = (pickle.loads(p.read_bytes()) for p in args.compare)
        for name in a:
            if name in b:
                print(name, "equal to the bit" if _equal(a[name], b[name]) else "DIFFER")
        return
    if args.src is None or args.out is None:
        ap.error("--src and --out are needed (or --compare A B)")
    if not set(args.parts) <= set(PARTS):
        ap.error(f"parts are some of {PARTS}")
    run(args.src, args.out, args.cohort, args.parts, args.repeats)


if __name__ == "__main__":
    main()
