"""11: sensitivity analysis: the Cox and logistic models with missing ethnicity imputed.

The main Cox (04) and logistic (05) models keep an ethnicity recorded as refused
or not obtained as its own category ("Unknown") and drop a return whose ethnicity
is blank. Both are unbiased only if what is missing is missing completely at
random. Here those values are imputed ``M`` times by chained equations, the same
models are fitted to each completed dataset and the fits are pooled by Rubin's
rules (:func:`reunistat.models.imputation.mi_fit`, then
:func:`~reunistat.models.imputation.fit_imputed` for the logistic model on the
same imputations). The imputation model holds both models' outcomes: the event
indicator and the Nelson-Aalen hazard (as White and Royston 2009 advise for Cox)
and re-entry within the logistic model's horizon. Disability is imputed too where
it is missing (in the derived cohort it never is: a child with no CIN record
counts as having no disability).

Outputs: tables/mi_cox (hazard ratios of the main model beside the pooled ones),
tables/mi_logistic (odds ratios of re-entry within the horizon, likewise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat.models.imputation import fit_imputed, mi_fit
from reunistat.models.imputation.chained import Method
from reunistat.models.logistic import logistic
from reunistat.models.survival import cox
from reunistat.pipeline import Context, run_script
from reunistat.report.labels import with_references
from reunistat.report.tables import (
    formula_variables,
    model_spec,
    num_text,
    smallest_cell,
    term_label,
)
from reunistat.results import ModelResult

FUNCTION = "reunistat.models.imputation.mi_fit"
FUNCTION_LOGIT = "reunistat.models.imputation.fit_imputed"
M = 10  # imputations: enough for a sensitivity analysis at the fractions missing seen
UNKNOWN_ETHNICITY = "Unknown"  # refused (REFU) or not obtained (NOBT)
METHODS: dict[str, Method] = {"ethnic_group": "polyreg", "disability": "logreg"}
LOG_LENGTH = "_log1p_period_length_days"  # the model's np.log1p(period_length_days)
WITHIN = "_reentered_within_horizon"  # the logistic model's outcome, in the imputation model
PF = "days_potential_followup"  # the logistic model's selection (as 05)


def _prepare(
    spells: pd.DataFrame, covariates: str, horizon_days: int | None = None
) -> tuple[pd.DataFrame, dict[str, Method], list[str]]:
    """The rows and columns of the models, unknown ethnicity as missing; what to impute.

    With ``horizon_days``, re-entry within it joins the imputation model's
    predictors (the logistic model's outcome), and potential follow-up, if the
    spells have it, is kept for the logistic model's selection.
    """
    used = formula_variables(covariates, spells)
    keep = [PF] if horizon_days is not None and PF in spells.columns else []
    # text as categoricals first (unless the spells have them already): the masks and the
    # checks for missing values below read codes, not text; unused levels go at the end
    data = _categories(spells[["LA", "days_followed", "reentered", *used, *keep]])
    if "ethnic_group" in data.columns:
        data["ethnic_group"] = data["ethnic_group"].mask(data["ethnic_group"] == UNKNOWN_ETHNICITY)
    methods = {c: how for c, how in METHODS.items() if c in used and data[c].isna().any()}
    others = [c for c in used if c not in methods]
    if any(data[c].hasnans for c in others):  # dropna copies the frame even if none is missing
        data = data.dropna(subset=others)  # as the main model: other missing covariates drop a row
    predictors = [LOG_LENGTH if c == "period_length_days" else c for c in others]
    if "period_length_days" in others:
        data[LOG_LENGTH] = np.log1p(data["period_length_days"])
    if horizon_days is not None:
        hit = (data["reentered"].to_numpy(float) > 0) & (data["days_followed"] <= horizon_days)
        data[WITHIN] = hit.astype(float)
        predictors.append(WITHIN)
    return _used_levels(data), methods, predictors


def _categories(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as categoricals (the same levels, sorted; formulas read them faster)."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.assign(**{c: pd.Categorical(frame[c]) for c in text})


def _counted(coded: pd.DataFrame, spells: pd.DataFrame) -> pd.DataFrame:
    """``coded`` (:func:`_categories` of ``spells``' columns) to count cells in, or ``spells``.

    ``smallest_cell`` groups text by its values; a categorical of that text has
    the same groups, read from its codes without factorising the text again. Not
    when a text column has a missing value: there ``smallest_cell`` groups the
    text's ``str`` (None apart from NaN), which a categorical no longer tells apart.
    """
    text = [c for c in coded.columns if c in spells.columns and spells[c].dtype == object]
    return spells if any(coded[c].hasnans for c in text) else coded


def _used_levels(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns without the levels no row has (as ``pd.Categorical`` of their text).

    A categorical of text whose rows were then masked or dropped holds the
    levels of every row it was made from; those left are in the same (sorted)
    order, with the codes :func:`_categories` of the remaining text would give.
    """
    fix = {}
    for c in frame.columns:
        s = frame[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.array.codes
            seen = np.bincount(codes[codes >= 0], minlength=len(s.dtype.categories)) > 0
            if not seen.all():
                fix[c] = s.cat.remove_unused_categories()
    return frame.assign(**fix) if fix else frame


def run(ctx: Context) -> None:
    covariates = ctx.config.covariates
    h = ctx.config.logistic_horizon_days
    cols = ["LA", "days_followed", "reentered", *formula_variables(covariates, ctx.spells)]
    # the main model's columns (and the logistic selection's) as categoricals once, for both
    spells = _categories(ctx.spells[[*cols, *(c for c in [PF] if c in ctx.spells.columns)]])
    data, methods, predictors = _prepare(spells, covariates, h)
    if not methods:
        for name in ("mi_cox", "mi_logistic"):
            ctx.skip(f"tables/{name}", "no missing ethnicity or disability to impute")
        return
    formula = "~ " + covariates
    main = ctx.results.get(f"cox LA {formula}")  # the same model, fitted by 04
    if main is None:
        main = cox(
            formula,
            spells,
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
    imputed = " and ".join(
        {"ethnic_group": "ethnicity", "disability": "disability"}[c] for c in methods
    )
    table = _beside(mi, main)
    # the smallest cell of the observed data and, for the imputed columns, of every completed
    # dataset (the other columns are the same in each)
    cells = [smallest_cell(data, formula_variables(covariates, data), "reentered")]
    cells += [smallest_cell(d, list(methods), "reentered") for d in mi.extras["imputed"]]
    spec = model_spec(main, _counted(spells, ctx.spells), covariates, "reentered")
    spec.update(
        n_obs=mi.n_obs,
        n_events=int(data["reentered"].sum()),
        n_min_cell=min([spec["n_min_cell"], *cells]),
    )
    ctx.write_frame(
        "mi_cox",
        table,
        title=f"Cox model of re-entry with missing {imputed} imputed: hazard ratios",
        function=FUNCTION,
        disclosure=spec,
        readable=_readable(table, "HR"),
        notes=[
            f"Main model: as the Cox model of re-entry (unknown ethnicity a category; a return "
            f"with a blank dropped). Imputed: {imputed} refused, not obtained or blank, "
            f"imputed {M} times by chained equations with the event, the Nelson-Aalen "
            "cumulative hazard and re-entry within the logistic model's horizon among the "
            "predictors; estimates pooled by Rubin's rules. FMI: fraction of missing "
            "information. Standard errors robust to clustering by local authority.",
        ],
    )
    ctx.value("mi_m", M, function=FUNCTION)
    ctx.value("mi_imputed", imputed, function=FUNCTION)
    _largest_change(ctx, table, "mi", FUNCTION)
    if PF not in data.columns:
        ctx.skip("tables/mi_logistic", f"the spells have no {PF} (the logistic model's selection)")
        return
    _mi_logistic(ctx, formula, mi.extras["imputed"], list(methods), imputed)


def _mi_logistic(
    ctx: Context, formula: str, done: list[pd.DataFrame], columns: list[str], imputed: str
) -> None:
    """The logistic model of 05 fitted to the same imputations (``columns``), beside the main."""
    covariates, h = ctx.config.covariates, ctx.config.logistic_horizon_days
    opts: dict[str, Any] = {"horizon_days": h, "cluster": "LA", "potential_followup_col": PF}
    main = ctx.results.get(f"logistic {h} LA {PF} {formula}")  # the same model, fitted by 05
    if main is None:
        main = logistic(formula, with_references(ctx.spells, covariates), **opts)
    # the reference levels of 05 (its odds ratios contrast with the same groups)
    mi = fit_imputed(formula, _with_references(done, covariates, columns), model="logistic", **opts)
    table = _beside(mi, main)
    fits = mi.extras["fits"]
    ycol = fits[0].extras["outcome_col"]
    # the main model's smallest cell and, for the imputed columns, each completed dataset's:
    # the other columns' cells can only be larger (its returns and those with a blank imputed)
    spec = model_spec(main, main.extras["data"], covariates, ycol)
    cells = [smallest_cell(f.extras["data"], columns, ycol) for f in fits]
    spec.update(
        n_obs=mi.n_obs,
        n_events=fits[0].n_events,  # the outcome is not imputed: the same in every fit
        n_min_cell=min([spec["n_min_cell"], *cells]),
    )
    ctx.write_frame(
        "mi_logistic",
        table,
        title=f"Logistic model of re-entry within {h} days with missing {imputed} imputed: "
        "odds ratios",
        function=FUNCTION_LOGIT,
        disclosure=spec,
        readable=_readable(table, "OR"),
        notes=[
            f"Main model: as the logistic model of re-entry within {h} days (returns that "
            f"could be followed for {h} days; unknown ethnicity a category, a return with a "
            f"blank dropped). Imputed: the same {M} imputations as for the Cox model, the "
            "logistic model fitted to each and pooled by Rubin's rules. FMI: fraction of "
            "missing information. Standard errors robust to clustering by local authority.",
        ],
    )
    _largest_change(ctx, table, "mi_logit", FUNCTION_LOGIT)


def _with_references(
    done: list[pd.DataFrame], covariates: str, columns: list[str]
) -> list[pd.DataFrame]:
    """``with_references`` of each completed dataset, the columns not imputed ordered once.

    Only the imputed ``columns`` differ between the datasets, so the others are
    taken from the first one's, and each dataset is the same frame as
    ``with_references(d, covariates)``. After the first, each is a shallow copy
    of it with the imputed columns put in (new arrays: the first's stay as they
    are), not a copy of every column.
    """
    base = with_references(done[0].drop(columns=columns), covariates)

    def whole(d: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([base, with_references(d[columns], covariates)], axis=1)[d.columns]

    first = whole(done[0])
    out = [first]
    for d in done[1:]:
        if not d.columns.equals(first.columns):
            out.append(whole(d))
            continue
        new, frame = with_references(d[columns], covariates), first.copy(deep=False)
        for c in columns:
            frame[c] = new[c]
        out.append(frame)
    return out


def _beside(pooled: ModelResult, main: ModelResult) -> pd.DataFrame:
    """Pooled ratios and FMI beside the main model's, by term (no intercept)."""
    after = pooled.tidy(exponentiate=True).set_index("term")
    before = main.tidy(exponentiate=True).set_index("term").drop(index="Intercept", errors="ignore")
    after = after.drop(index="Intercept", errors="ignore")
    terms = before.index.append(after.index.difference(before.index, sort=False))
    table = (
        after[["estimate", "conf_low", "conf_high", "p_value"]]
        .assign(fmi=pooled.extras["pool"]["fmi"])
        .join(before[["estimate", "conf_low", "conf_high"]], rsuffix="_main", how="outer")
        .reindex(terms)
        .rename_axis("term")
        .reset_index()
    )
    table.insert(1, "label", [term_label(t) for t in table["term"]])
    return table


def _largest_change(ctx: Context, table: pd.DataFrame, prefix: str, function: str) -> None:
    """Values ``<prefix>_largest_change`` (the term, from -> to) and ``<prefix>_fmi_max``."""
    both = table.dropna(subset=["estimate_main", "estimate"])
    change = (np.log(both["estimate"]) - np.log(both["estimate_main"])).abs()
    worst = both.loc[change.idxmax()]
    a, b = num_text(worst["estimate_main"], 2), num_text(worst["estimate"], 2)
    ctx.value(
        f"{prefix}_largest_change",
        float(change.max()),
        function=function,
        fmt=f"{worst['label']}, "
        + (
            f"from {a} in the main model to {b} imputed"
            if a != b
            else f"{a} in both to two decimals"
        ),
    )
    ctx.value(f"{prefix}_fmi_max", float(table["fmi"].max()), function=function, fmt="{:.2f}")


def _readable(table: pd.DataFrame, ratio: str) -> pd.DataFrame:
    def ci(est: float, lo: float, hi: float) -> str:
        if pd.isna(est):
            return "-"
        return f"{num_text(est, 2)} ({num_text(lo, 2)} to {num_text(hi, 2)})"

    return pd.DataFrame(
        {
            "term": table["label"],
            f"{ratio}, main model (95% CI)": [
                ci(*r)
                for r in table[["estimate_main", "conf_low_main", "conf_high_main"]].to_numpy()
            ],
            f"{ratio}, imputed (95% CI)": [
                ci(*r) for r in table[["estimate", "conf_low", "conf_high"]].to_numpy()
            ],
            "FMI": ["-" if pd.isna(v) else num_text(v, 2) for v in table["fmi"]],
        }
    )


if __name__ == "__main__":
    run_script(__file__)
