"""Sentences of the paper's results and discussion, written from the run's numbers.

Each function takes plain numbers or tables and returns text: what the
proportional-hazards check found and what the paper does about it, where
crude and adjusted estimates disagree and which adjustment moves them, and
why simulated and closed-form power differ. Nothing here is typed by hand
into the paper: the scripts record these sentences with ``ctx.value``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from reunistat.report.labels import p_text


def _join(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def ph_statement(
    zph: pd.DataFrame,
    by_period: pd.DataFrame | None = None,
    *,
    alpha: float = 0.05,
    n_events: int | None = None,
) -> str:
    """Say what the proportional-hazards test found and how the paper reads the ratios.

    Parameters
    ----------
    zph : DataFrame
        ``label, p_value`` per term and a row ``label == "GLOBAL"``
        (:func:`reunistat.models.survival.cox_zph` with labels).
    by_period : DataFrame, optional
        ``label, period, estimate`` hazard ratios by period since the return.
    alpha : float
        Level of the test.
    n_events : int, optional
        Events in the model (a large number makes the test sensitive).

    Examples
    --------
    >>> z = pd.DataFrame({"label": ["Sex", "GLOBAL"], "p_value": [0.4, 0.4]})
    >>> ph_statement(z)[:60]
    'The test of proportional hazards (Grambsch and Therneau) fou'
    """
    glob = float(zph.loc[zph["label"] == "GLOBAL", "p_value"].iloc[0])
    terms = zph.loc[zph["label"] != "GLOBAL"]
    failing = terms.loc[terms["p_value"] < alpha].sort_values("p_value")
    head = "The test of proportional hazards (Grambsch and Therneau) "
    if failing.empty:
        return (
            head + f"found no characteristic whose association with re-entry changed with time "
            f"since the return (global p = {p_text(glob)}); the hazard ratios are read as "
            "constant over follow-up."
        )
    names = [
        f"{lab} (p = {p_text(float(p))})"
        for lab, p in zip(failing["label"], failing["p_value"], strict=True)
    ]
    text = (
        head + f"rejected constant hazard ratios for {len(failing)} of {len(terms)} "
        f"characteristics (global p = {p_text(glob)}): {_join(names)}. For these the hazard "
        "ratio in the Cox table is an average over follow-up, weighted towards the early "
        "months when most re-entries happen, and the paper shows them by period since the "
        "return instead of relying on the single ratio."
    )
    if by_period is not None and not by_period.empty:
        first = str(failing["label"].iloc[0])
        mine = by_period.loc[by_period["label"].astype(str).str.startswith(first)]
        # a characteristic's first coefficient (a factor has one per level)
        g = mine.loc[mine["label"] == mine["label"].iloc[0]] if not mine.empty else mine
        g = g.sort_values("order")
        if len(g) >= 2:
            first = str(g["label"].iloc[0])
            parts = [f"{e:.2f} in {p}" for e, p in zip(g["estimate"], g["period"], strict=True)]
            text += f" For {first} the hazard ratio was {_join(parts)}."
    if n_events is not None and n_events > 5000:
        text += (
            f" With {n_events:,} re-entries the test detects departures too small to matter; "
            "the size of the change by period, not the p-value, is the guide."
        )
    return text


def crude_adjusted_statement(
    variable: str,
    crude_by_group: Mapping[str, str],
    ratios: Mapping[str, tuple[float, float, float]],
    horizon_text: str = "one year",
) -> str:
    """Say where the crude curves and the adjusted model disagree, and which adjustment moves it.

    Parameters
    ----------
    variable : str
        The characteristic's label (e.g. "placement moves").
    crude_by_group : mapping
        Group label → the crude cumulative re-entry at the horizon (text).
    ratios : mapping
        Model name → (HR, low, high) for the characteristic, in the order
        crude, partly adjusted ..., fully adjusted.
    horizon_text : str
        The horizon of the crude figures.

    Examples
    --------
    >>> crude_adjusted_statement("placement moves", {"0": "20%", "3+": "15%"},
    ...     {"crude": (0.95, 0.9, 1.0), "adjusted": (1.05, 1.0, 1.1)})[:53]
    'In the crude curves re-entry by one year was 20% with'
    """
    groups = list(crude_by_group.items())
    names = list(ratios)
    crude, full = ratios[names[0]], ratios[names[-1]]
    text = (
        f"In the crude curves re-entry by {horizon_text} was {groups[0][1]} with "
        f"{groups[0][0]} {variable} and {groups[-1][1]} with {groups[-1][0]}; the "
        f"unadjusted hazard ratio per unit was {crude[0]:.2f} ({crude[1]:.2f} to {crude[2]:.2f}), "
        f"the fully adjusted {full[0]:.2f} ({full[1]:.2f} to {full[2]:.2f})."
    )
    opposite = (crude[0] - 1) * (full[0] - 1) < 0
    if len(names) > 2:
        # the single adjustment that moves the crude ratio most towards the full one
        moves = {
            n: abs(np.log(ratios[n][0]) - np.log(crude[0])) for n in names[1:-1] if n != names[-1]
        }
        best = max(moves, key=lambda n: moves[n])
        b = ratios[best]
        text += (
            f" Adjusting for {best} alone moved it to {b[0]:.2f} ({b[1]:.2f} to {b[2]:.2f}): "
            f"{variable} go with {best}, which is itself associated with re-entry, so the crude "
            "comparison mixes the two."
        )
    if opposite:
        text += (
            " The crude and adjusted estimates point in opposite directions; the adjusted one "
            "compares returns alike in the other characteristics, the crude one describes the "
            "returns as they are. Neither is the effect of a move."
        )
    return text


def power_statement(
    curve: pd.DataFrame, *, alpha: float, n_pilot: int, la_sd_log_hr: float, t_reference: bool
) -> str:
    """Explain why simulated power falls short of the Schoenfeld formula's.

    ``curve`` is :func:`reunistat.models.evaluation.power.power_curve`'s
    table (``returns_per_year, power, schoenfeld_power``). The design
    effect is the ratio of the squared z-values the two powers imply.

    Examples
    --------
    >>> c = pd.DataFrame({"returns_per_year": [1000], "power": [0.41], "schoenfeld_power": [0.83]})
    >>> "design effect of 2.8" in power_statement(c, alpha=0.05, n_pilot=5,
    ...     la_sd_log_hr=0.15, t_reference=True)
    True
    """
    z = stats.norm.ppf(1 - alpha / 2)
    mid = curve.iloc[len(curve) // 2 if len(curve) > 1 else 0]
    ps, pf = float(mid["power"]), float(mid["schoenfeld_power"])
    zs = stats.norm.ppf(min(max(ps, 1e-6), 1 - 1e-6)) + z
    zf = stats.norm.ppf(min(max(pf, 1e-6), 1 - 1e-6)) + z
    deff = (zf / zs) ** 2 if zs > 0 else float("inf")
    crit = stats.t.ppf(1 - alpha / 2, n_pilot - 1) if t_reference else z
    return (
        f"At {int(mid['returns_per_year']):,} returns a year the simulated power was "
        f"{ps:.2f} against {pf:.2f} by the Schoenfeld formula, as if the formula had counted "
        f"each return {deff:.1f} times over (a design effect of {deff:.1f}). The formula "
        "assumes independent returns and a normal test. The simulation analyses each study "
        "as an evaluation would: authorities differ in re-entry (a frailty with standard "
        f"deviation {la_sd_log_hr:g} on the log hazard), returns of one authority share it, "
        f"errors are clustered by authority, and with only {n_pilot} pilot authorities the "
        f"test uses a t reference on {n_pilot - 1} degrees of freedom (critical value "
        f"{crit:.2f} instead of {z:.2f}). Information then grows with the number of pilot "
        "authorities more than with the number of returns: the simulated power is the one "
        "to plan with."
    )
