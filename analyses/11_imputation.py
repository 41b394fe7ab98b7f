"""11: sensitivity analysis: the Cox model with missing ethnicity / disability imputed.

The main Cox model (04) keeps an ethnicity recorded as refused or not obtained
as its own category ("Unknown") and drops a return whose ethnicity is blank.
Both are unbiased only if what is missing is missing completely at random.
Here those values are imputed ``M`` times by chained equations (the event
indicator and the Nelson-Aalen hazard in the imputation model, as White and
Royston 2009 advise for Cox), the same Cox model is fitted to each completed
dataset and the fits are pooled by Rubin's rules
(:func:`reunistat.models.imputation.mi_fit`). Disability is imputed too where
it is missing (in the 903 it is derived from the CIN census and never blank).

Outputs: tables/mi_cox (hazard ratios of the main model beside the pooled ones).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.models.imputation import mi_fit
from reunistat.models.survival import cox
from reunistat.pipeline import Context, run_script
from reunistat.report.tables import (
    formula_variables,
    model_spec,
    num_text,
    smallest_cell,
    term_label,
)

FUNCTION = "reunistat.models.imputation.mi_fit"
M = 10  # imputations: enough for a sensitivity analysis at the fractions missing seen
UNKNOWN_ETHNICITY = "Unknown"  # refused (REFU) or not obtained (NOBT)
METHODS = {"ethnic_group": "polyreg", "disability": "logreg"}
LOG_LENGTH = "_log1p_period_length_days"  # the model's np.log1p(period_length_days)


def _prepare(spells: pd.DataFrame, covariates: str) -> tuple[pd.DataFrame, dict[str, str], list]:
    """The rows and columns of the model, unknown ethnicity as missing; what to impute."""
    used = formula_variables(covariates, spells)
    data = spells[["LA", "days_followed", "reentered", *used]].copy()
    if "ethnic_group" in data.columns:
        data["ethnic_group"] = data["ethnic_group"].mask(data["ethnic_group"] == UNKNOWN_ETHNICITY)
    methods = {c: how for c, how in METHODS.items() if c in used and data[c].isna().any()}
    others = [c for c in used if c not in methods]
    data = data.dropna(subset=others)  # as the main model: other missing covariates drop a row
    predictors = [LOG_LENGTH if c == "period_length_days" else c for c in others]
    if "period_length_days" in others:
        data[LOG_LENGTH] = np.log1p(data["period_length_days"])
    return _categories(data), methods, predictors


def _categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals (the same levels, sorted; formulas read them faster)."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.assign(**{c: pd.Categorical(frame[c]) for c in text})


def run(ctx: Context) -> None:
    covariates = ctx.config.covariates
    data, methods, predictors = _prepare(ctx.spells, covariates)
    if not methods:
        ctx.skip("tables/mi_cox", "no missing ethnicity or disability to impute")
        return
    formula = "~ " + covariates
    cols = ["LA", "days_followed", "reentered", *formula_variables(covariates, ctx.spells)]
    main = cox(
        formula,
        _categories(ctx.spells[cols]),
        "days_followed",
        "reentered",
        cluster="LA",
        concordance=False,
    )
    n_iter = 1 if len(methods) == 1 else 5  # one incomplete column: nothing to iterate
    mi = mi_fit(
        formula,
        data,
        methods,
        predictors=predictors,
        m=M,
        n_iter=n_iter,
        seed=ctx.config.seed,
        cluster="LA",
        concordance=False,
    )
    pooled = mi.tidy(exponentiate=True).set_index("term")
    before = main.tidy(exponentiate=True).set_index("term")
    terms = before.index.append(pooled.index.difference(before.index, sort=False))
    table = (
        pooled[["estimate", "conf_low", "conf_high", "p_value"]]
        .assign(fmi=mi.extras["pool"]["fmi"])
        .join(before[["estimate", "conf_low", "conf_high"]], rsuffix="_main", how="outer")
        .reindex(terms)
        .rename_axis("term")
        .reset_index()
    )
    table.insert(1, "label", [term_label(t) for t in table["term"]])
    # the smallest cell of the observed data and, for the imputed columns, of every completed
    # dataset (the other columns are the same in each)
    cells = [smallest_cell(data, formula_variables(covariates, data), "reentered")]
    cells += [smallest_cell(d, list(methods), "reentered") for d in mi.extras["imputed"]]
    spec = model_spec(main, ctx.spells, covariates, "reentered")
    spec.update(
        n_obs=mi.n_obs,
        n_events=int(data["reentered"].sum()),
        n_min_cell=min([spec["n_min_cell"], *cells]),
    )
    imputed = " and ".join(
        {"ethnic_group": "ethnicity", "disability": "disability"}[c] for c in methods
    )
    ctx.write_frame(
        "mi_cox",
        table,
        title=f"Cox model of re-entry with missing {imputed} imputed: hazard ratios",
        function=FUNCTION,
        disclosure=spec,
        readable=_readable(table),
        notes=[
            f"Main model: as the Cox model of re-entry (unknown ethnicity a category; a return "
            f"with a blank dropped). Imputed: {imputed} refused, not obtained or blank, "
            f"imputed {M} times by chained equations with the event and the Nelson-Aalen "
            "cumulative hazard among the predictors; estimates pooled by Rubin's rules. FMI: "
            "fraction of missing information. Standard errors robust to clustering by local "
            "authority.",
        ],
    )
    ctx.value("mi_m", M, function=FUNCTION)
    ctx.value("mi_imputed", imputed, function=FUNCTION)
    both = table.dropna(subset=["estimate_main"])
    both = both.dropna(subset=["estimate"])
    change = (np.log(both["estimate"]) - np.log(both["estimate_main"])).abs()
    worst = both.loc[change.idxmax()]
    a, b = num_text(worst["estimate_main"], 2), num_text(worst["estimate"], 2)
    ctx.value(
        "mi_largest_change",
        float(change.max()),
        function=FUNCTION,
        fmt=f"{worst['label']}, "
        + (
            f"from {a} in the main model to {b} imputed"
            if a != b
            else f"{a} in both to two decimals"
        ),
    )
    ctx.value("mi_fmi_max", float(table["fmi"].max()), function=FUNCTION, fmt="{:.2f}")


def _readable(table: pd.DataFrame) -> pd.DataFrame:
    def ci(est: float, lo: float, hi: float) -> str:
        if pd.isna(est):
            return "-"
        return f"{num_text(est, 2)} ({num_text(lo, 2)} to {num_text(hi, 2)})"

    return pd.DataFrame(
        {
            "term": table["label"],
            "HR, main model (95% CI)": [
                ci(*r)
                for r in table[["estimate_main", "conf_low_main", "conf_high_main"]].to_numpy()
            ],
            "HR, imputed (95% CI)": [
                ci(*r) for r in table[["estimate", "conf_low", "conf_high"]].to_numpy()
            ],
            "FMI": ["-" if pd.isna(v) else num_text(v, 2) for v in table["fmi"]],
        }
    )


if __name__ == "__main__":
    run_script(__file__)
