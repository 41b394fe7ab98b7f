"""13: the pilot evaluation's checks and repeated returns by order (PWP).

Outputs: tables/pilot_weighting (propensity-weighted risk differences),
tables/pilot_balance (standardised mean differences before and after overlap
weighting), tables/event_study and figures/event_study (the pilot-comparison
difference by year relative to adoption, with the pre-trend test),
tables/recurrent_pwp (Prentice-Williams-Peterson gap-time model).
The pilot parts need the la table's adoption dates; skipped without them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.errors import ReunistatError
from reunistat.models import evaluation as ev
from reunistat.models.evaluation.weighting import PS_ADJUST
from reunistat.models.survival import pwp, recurrent_episodes
from reunistat.models.survival.recurrent import sort_codes
from reunistat.pipeline import Context, run_script
from reunistat.report.figures import new_figure
from reunistat.report.labels import num_text, p_text, term_label, with_references
from reunistat.report.tables import formula_variables, model_spec, model_table

PF = "days_potential_followup"


def _weighting(ctx: Context, sp: pd.DataFrame, la: pd.DataFrame) -> None:
    fn = "reunistat.models.evaluation.propensity_weighting"
    sample = ev.comparison_sample(sp, la)
    res = ev.propensity_weighting(
        sample, "treated", method="overlap", n_boot=100, seed=ctx.config.seed
    )
    rd = res.risk_differences
    t = rd.tidy()
    treated = sample["treated"].to_numpy() == 1
    n_t = int(treated.sum())
    n_t_ev = int((treated & (sample["reentered"].to_numpy() == 1)).sum())
    spec = {"type": "model", "n_obs": rd.n_obs, "n_events": None, "n_min_cell": min(n_t, n_t_ev)}
    months = [round(int(str(x)[3:-1]) / 30.4375) for x in t["term"]]
    ctx.write_frame(
        "pilot_weighting",
        t,
        title="Pilot against comparison returns after overlap weighting: difference in "
        "cumulative re-entry",
        function=fn,
        disclosure=spec,
        readable=pd.DataFrame(
            {
                "months since return": months,
                "difference, percentage points (95% CI)": [
                    f"{100 * e:.1f} ({100 * lo:.1f} to {100 * hi:.1f})"
                    for e, lo, hi in zip(t["estimate"], t["conf_low"], t["conf_high"], strict=True)
                ],
                "p": [p_text(p) for p in t["p_value"]],
            }
        ),
        notes=[
            "Pilot minus comparison, weighted Kaplan-Meier; overlap weights from a propensity "
            "model of the characteristics at return and the year; bootstrap by authority."
        ],
    )
    bal = res.balance
    ctx.write_frame(
        "pilot_balance",
        bal[["term", "smd_unweighted", "smd_weighted"]]
        if "smd_unweighted" in bal.columns
        else bal.drop(columns=[c for c in bal.columns if c.startswith("mean")]),
        title="Balance of characteristics between pilot and comparison returns: standardised "
        "mean differences before and after weighting",
        function="reunistat.models.evaluation.balance_table",
        disclosure={"type": "none"},
        readable=_balance_readable(bal),
        digits=3,
        notes=["|SMD| under 0.1 is usually taken as balanced."],
    )


def _balance_readable(bal: pd.DataFrame) -> pd.DataFrame:
    before = next(c for c in bal.columns if c.startswith("smd") and c != "smd_weighted")
    return pd.DataFrame(
        {
            "characteristic": [term_label(str(t)) for t in bal["term"]],
            "SMD before weighting": [num_text(x, 3) for x in bal[before]],
            "SMD after weighting": [num_text(x, 3) for x in bal["smd_weighted"]],
        }
    )


def _event_study(ctx: Context, sp: pd.DataFrame, la: pd.DataFrame) -> None:
    fn = "reunistat.models.evaluation.event_study"
    h = ctx.config.logistic_horizon_days
    # the table shows the Satterthwaite intervals: the wild bootstrap serves the pre-trend test
    res = ev.event_study(
        sp,
        la,
        horizon_days=h,
        potential_followup_col=PF,
        seed=ctx.config.seed,
        boot_intervals=False,
    )
    t = res.tidy()
    t["year"] = [int(str(x).split("[")[-1].rstrip("]")) for x in t["term"]]
    marked = ev.mark_adoption(sp[["LA", "return_date", "reentered"]], la)  # the counts only
    n_t = int(marked["treated"].sum())
    n_te = int((marked["treated"] * marked["reentered"]).sum())
    spec = {"type": "model", "n_obs": res.n_obs, "n_events": None, "n_min_cell": min(n_t, n_te)}
    ctx.write_frame(
        "event_study",
        t,
        title=f"Event study: pilot minus comparison re-entry within {h} days, by year "
        "relative to adoption",
        function=fn,
        disclosure=spec,
        readable=pd.DataFrame(
            {
                "year relative to adoption": t["year"],
                "difference, percentage points (95% CI)": [
                    f"{100 * e:.1f} ({100 * lo:.1f} to {100 * hi:.1f})"
                    for e, lo, hi in zip(t["estimate"], t["conf_low"], t["conf_high"], strict=True)
                ],
            }
        ),
        notes=["Year -1 is the reference; errors clustered by local authority."],
    )
    fig = new_figure(7.0, 4.0)
    ax = fig.add_axes((0.1, 0.15, 0.85, 0.73))
    ref = pd.DataFrame({"year": [-1], "estimate": [0.0], "conf_low": [0.0], "conf_high": [0.0]})
    pts = pd.concat([t[["year", "estimate", "conf_low", "conf_high"]], ref]).sort_values("year")
    ax.errorbar(
        pts["year"],
        100 * pts["estimate"],
        yerr=[
            100 * (pts["estimate"] - pts["conf_low"]),
            100 * (pts["conf_high"] - pts["estimate"]),
        ],
        fmt="o",
        ms=4,
        color="#12436D",
        capsize=3,
    )
    ax.axhline(0, color="#808080", lw=0.8, ls="--")
    ax.axvline(-0.5, color="#F46A25", lw=0.8, ls=":")
    ax.set_xticks(pts["year"].tolist())
    ax.set_xlabel("Year relative to the pilot's adoption (-1: reference)")
    ax.set_ylabel(f"Difference in re-entry within {h} days\n(percentage points, 95% CI)")
    ax.set_title("Event study of the reunification pilot", loc="left")
    ctx.write_figure(
        "event_study",
        fig,
        alt="Differences in re-entry within the horizon between pilot and comparison "
        "authorities by year relative to adoption, with 95% intervals; years before adoption "
        "show whether the groups trended alike.",
        title="Event study of the pilot: difference by year relative to adoption",
        function=fn,
    )
    stats = res.fit_stats
    ctx.value(
        "pretrend_p",
        float(stats["pretrend_p"]),
        function=fn,
        fmt=p_text(float(stats["pretrend_p"])),
    )


def _pwp(ctx: Context, sp: pd.DataFrame) -> None:
    fn = "reunistat.models.survival.pwp"
    rec = recurrent_episodes(sp, id_codes=True)
    # the fit reads only its own columns, the child as sorted integer codes (the same
    # clusters in the same order as the identifiers), without the concordance
    cols = [*formula_variables(ctx.config.covariates, rec), "start_days", "stop_days"]
    child = rec["CHILD"]
    rec = rec[[*cols, "reentered"]].assign(
        CHILD=child.to_numpy() if child.dtype.kind == "i" else _child_codes(child),
        order_band=rec["spell_number"].clip(upper=3),
    )
    res = pwp(
        "~ " + ctx.config.covariates,
        rec,
        "stop_days",
        "reentered",
        entry_col="start_days",
        cluster="CHILD",
        order_col="order_band",
        timescale="gap",
        concordance=False,
        robust_score=False,  # nor the robust score test (glance: not shown)
    )
    tidy = res.tidy(exponentiate=True)
    tidy.insert(1, "label", [term_label(t) for t in tidy["term"]])
    ctx.write_frame(
        "recurrent_pwp",
        tidy,
        title="Prentice-Williams-Peterson model of repeated re-entries (gap time): hazard ratios",
        function=fn,
        disclosure=model_spec(
            res, rec, ctx.config.covariates, "reentered", release=ctx.release, counts="cox"
        ),
        readable=model_table(tidy.assign(term=tidy["label"]), "HR"),
        notes=[
            "Strata by the order of the return home (first, second, third and later); the "
            "clock restarts at each return; errors robust to clustering by child."
        ],
    )


def _child_codes(child: pd.Series) -> np.ndarray:
    """``sort_codes(child)``, from runs when the rows are already in the identifiers' order.

    ``recurrent_episodes`` returns a child's rows together, children in the order
    of their identifiers: each new identifier is then the next code (checked: the
    values never decrease; ``sort_codes`` otherwise).
    """
    v = child.to_numpy()
    if len(v) < 2 or child.dtype != object or child.isna().any():
        return sort_codes(child)
    try:
        in_order = bool((v[1:] >= v[:-1]).all())
    except TypeError:  # values that do not compare (mixed types)
        in_order = False
    if not in_order:
        return sort_codes(child)
    return np.concatenate([[0], np.cumsum(v[1:] != v[:-1])]).astype(np.int64)


#: Columns the parts read besides their models' covariates (the propensity model's: PS_ADJUST).
USED = ("LA", "CHILD", "spell_number", "return_date", "return_year", "days_followed", "reentered")


def run(ctx: Context) -> None:
    # only the columns the parts read: the models and their outputs are the same, and the
    # copies (reference levels, adoption marks, data hashes) cost a fraction
    named = formula_variables(f"{ctx.config.covariates} + {PS_ADJUST}", ctx.spells)
    cols = [c for c in ctx.spells.columns if c in {*named, *USED, PF}]
    sp = with_references(ctx.spells[cols], ctx.config.covariates)
    try:
        _pwp(ctx, sp)
    except ReunistatError as e:
        ctx.skip("tables/recurrent_pwp", f"the PWP model could not be fitted: {e}")
    la = ctx.extract.tables.get("la")
    if la is None or "PILOT_START" not in la.columns or la["PILOT_START"].isna().all():
        ctx.skip("tables/pilot_weighting", "no pilot adoption dates (la table: PILOT_START)")
        return
    for part, name in (
        (_weighting, "tables/pilot_weighting"),
        (_event_study, "tables/event_study"),
    ):
        try:
            part(ctx, sp, la)
        except ReunistatError as e:
            ctx.skip(name, f"not estimable on this extract: {e}")


if __name__ == "__main__":
    run_script(__file__)
