"""A readable summary of a derived cohort: counts and cumulative re-entry.

What ``reunistat cohort`` prints. It uses the survival models, so it sits in
the reporting layer, after the models in the flow (it was
``reunistat.cohort.summary``, which made the cohort import the models). The
cumulative re-entry at each horizon is ``1 - S(h)`` with ``S`` the
Kaplan-Meier estimate treating every end other than re-entry as censoring (the
cause-specific view), from the package's one Kaplan-Meier kernel
(:func:`reunistat.models.survival.km_steps`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reunistat.horizons import DAYS_PER_MONTH, DAYS_PER_YEAR

if TYPE_CHECKING:
    from reunistat.cohort.derive import Cohort


def km_cumulative_reentry(
    days: np.ndarray | pd.Series, event: np.ndarray | pd.Series, horizons: Sequence[int]
) -> np.ndarray:
    """Return the Kaplan-Meier cumulative re-entry ``1 - S(h)`` at each horizon (days).

    >>> km_cumulative_reentry([1, 2, 3, 4], [1, 0, 1, 0], [1, 3, 10]).round(3).tolist()
    [0.25, 0.625, 0.625]
    """
    from reunistat.models.survival import km_steps  # the models (and scipy) when used

    t = np.asarray(days, dtype=float)
    d = np.asarray(event, dtype=bool).astype(np.int64)
    if t.size == 0:
        return np.full(len(horizons), np.nan)
    return km_steps(t, d).cumulative_incidence_at(horizons, hold_last=True)


def reentry_summary(spells: pd.DataFrame, horizons_days: Sequence[int]) -> pd.DataFrame:
    """Return the cumulative re-entry at each horizon, with the spells still followed.

    Columns: ``horizon_days``, ``cumulative_reentry`` (Kaplan-Meier),
    ``at_risk`` (spells followed at least that long) and ``reentered_by``
    (re-entries observed by then).
    """
    days = spells["days_followed"].to_numpy()
    ev = spells["reentered"].to_numpy() == 1
    cum = km_cumulative_reentry(days, ev, horizons_days)
    return pd.DataFrame(
        {
            "horizon_days": list(horizons_days),
            "cumulative_reentry": cum,
            "at_risk": [int((days >= h).sum()) for h in horizons_days],
            "reentered_by": [int((ev & (days <= h)).sum()) for h in horizons_days],
        }
    )


def _horizon_label(days: int) -> str:
    if days % 365 == 0 or days in (2191, 2192, 1826, 1827, 730, 731, 1095, 1096, 1461):
        return f"{round(days / DAYS_PER_YEAR)} year(s)"
    if days < 365:
        return f"{round(days / DAYS_PER_MONTH)} month(s)"
    return f"{days} days"


def _curve_lines(sp: pd.DataFrame, horizons: Sequence[int]) -> list[str]:
    """Cumulative re-entry at the horizons, by reunistat.models.survival (KM and AJ)."""
    from reunistat.models.survival import horizon_table  # the models (and scipy) when used

    if sp.empty:
        return ["  cumulative re-entry: no spells"]
    km = horizon_table(sp, "days_followed", "reentered", horizons_days=horizons, method="km")
    aj = horizon_table(sp, "days_followed", "event_type", horizons_days=horizons)
    lines = [
        "  cumulative re-entry: Kaplan-Meier (18th birthday censored) [95% CI];"
        "\n    Aalen-Johansen (18th birthday as a competing event)"
    ]
    cols = zip(
        horizons,
        km["cumulative_incidence"].to_numpy(float),
        km["conf_low"].to_numpy(float),
        km["conf_high"].to_numpy(float),
        aj["cumulative_incidence"].to_numpy(float),
        km["n_risk"].to_numpy(float),
        strict=True,
    )
    for h, est, lo, hi, cif, n in cols:
        lines.append(
            f"    {_horizon_label(h):>10}: {est:6.1%} [{lo:.1%}, {hi:.1%}];  {cif:6.1%}"
            f"   (at risk {int(n):,})"
        )
    return lines


def summary_text(cohort: Cohort, *, flow: bool = True) -> str:
    """Return the readable summary ``reunistat cohort`` prints (``flow=False``: no flow)."""
    sp = cohort.spells
    cfg = cohort.config
    lines = [
        f"reunistat cohort (data end {cohort.data_end.date()}, "
        f"E13 {'included' if cfg.include_e13 else 'excluded'}, validation {cfg.validation})",
        f"  returns home (spells): {len(sp):,} ({sp['CHILD'].nunique():,} children)",
        f"  re-entries observed:   {int(sp['reentered'].sum()):,}",
    ]
    reasons = sp["censor_reason"].value_counts()
    lines.append(
        "  ended by: " + ", ".join(f"{k} {int(v):,}" for k, v in reasons.items() if k != "reentry")
    )
    lines += _curve_lines(sp, cfg.horizons_days)
    if not flow:
        return "\n".join(lines)
    lines.append("")
    lines.append("flow:")
    shown = cohort.flow.astype(object).where(cohort.flow.notna(), "")
    lines.append(shown.to_string(index=False))
    return "\n".join(lines)
