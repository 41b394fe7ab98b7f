"""``reunistat evaluate``, ``reunistat power``, ``reunistat costs``: pilots, power and money."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from reunistat.errors import ConfigError, EvaluationError, InputError, ReunistatError

DESIGNS = ("comparison", "did", "weighting", "all")


def _read_table(path: Path) -> Any:
    import pandas as pd

    if not path.exists():
        raise typer.BadParameter(f"no such file: {path}")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype={"LA": str})
    return pd.read_parquet(path)


def _spells(path: Path) -> Any:

    s = _read_table(path)
    s["LA"] = s["LA"].astype(str)
    for c in ("return_date", "reentry_date", "censor_date", "period_start"):
        if c in s.columns:
            s[c] = _dates(s[c])
    return s


def _dates(col: Any) -> Any:
    """Dates as 'reunistat cohort' writes them (YYYY-MM-DD) or as DfE's CSVs (dd/mm/YYYY)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    text = col.astype("string")
    iso = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}( 00:00:00)?").fillna(True).all()
    return pd.to_datetime(text, format="ISO8601" if iso else "%d/%m/%Y")


def _la_table(path: Path) -> Any:

    la = _read_table(path)
    la["LA"] = la["LA"].astype(str)
    la["PILOT_START"] = _dates(la["PILOT_START"])
    return la


def _fmt(df: Any) -> str:
    return str(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def evaluate(
    spells: Annotated[
        Path,
        typer.Argument(
            metavar="SPELLS", help="Spells table from 'reunistat cohort' (.parquet or .csv)."
        ),
    ],
    la: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Table of the authorities with LA, PILOT (0/1) and PILOT_START (the date the "
            "pilot began), .parquet or .csv: a synthetic dataset's la.parquet, or your own. "
            "Required.",
        ),
    ] = None,
    design: Annotated[
        str, typer.Option(help="comparison (Cox + logistic), did, weighting or all.")
    ] = "all",
    horizon: Annotated[int, typer.Option(help="Horizon in days for risk outcomes.")] = 365,
    data_end: Annotated[
        str | None,
        typer.Option(
            help="Data end date (YYYY-MM-DD) for potential follow-up; default: the "
            "latest censor_date."
        ),
    ] = None,
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for weighting.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = 20240331,
) -> None:
    """Evaluate a pilot: pilot vs comparison models, DiD + event study, propensity weighting."""
    import pandas as pd

    from reunistat.models import evaluation as ev
    from reunistat.results import etable

    if la is None:
        raise InputError(
            "evaluate needs --la FILE: the authorities' table with LA, PILOT (0/1) and "
            "PILOT_START, which says which authorities piloted and from when (a synthetic "
            "dataset holds it as la.parquet, e.g. --la data/synthetic/sample/la.parquet)"
        )
    if design not in DESIGNS:
        raise typer.BadParameter(f"must be one of {DESIGNS}, got {design!r}", param_hint="--design")
    s, adoption = _spells(spells), _la_table(la)
    end = pd.Timestamp(data_end) if data_end else pd.to_datetime(s["censor_date"]).max()
    s["potential_days"] = ev.potential_followup_days(s, end)
    pf = "potential_days"
    try:
        if design in ("comparison", "all"):
            models = {
                "Cox (HR)": ev.pilot_vs_comparison(s, adoption),
                f"logistic {horizon}d (OR)": ev.pilot_vs_comparison(
                    s, adoption, model="logistic", horizon_days=horizon, potential_followup_col=pf
                ),
            }
            typer.echo("Pilot vs comparison authorities after adoption (errors clustered by LA)")
            typer.echo(etable(models).loc[["treated", "N", "events", "variance"]].to_string())
        if design in ("did", "all"):
            d = ev.did(s, adoption, horizon_days=horizon, potential_followup_col=pf)
            e = ev.event_study(s, adoption, horizon_days=horizon, potential_followup_col=pf)
            b = ev.before_after(s, adoption, horizon_days=horizon, potential_followup_col=pf)
            typer.echo(f"\nDifference-in-differences: re-entry within {horizon} days")
            typer.echo(_fmt(pd.concat([d.tidy(), b.tidy().assign(term="naive before/after")])))
            typer.echo("\nEvent study (year relative to adoption; -1 = reference)")
            typer.echo(_fmt(e.tidy()))
            typer.echo(
                f"pre-trend test (all pre-adoption years = 0): F = {e.fit_stats['pretrend_F']:.2f}"
                f" on {e.fit_stats['pretrend_df']:.0f} df; wild cluster bootstrap p = "
                f"{e.fit_stats['pretrend_p']:.3f} (asymptotic p = "
                f"{e.fit_stats['pretrend_p_wald']:.3f}, too small with few pilot LAs)"
            )
        if design in ("weighting", "all"):
            _weighting(s, adoption, n_boot, seed, alone=design == "weighting")
    except ReunistatError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err


def _weighting(s: Any, adoption: Any, n_boot: int, seed: int, *, alone: bool) -> None:
    """Print the overlap-weighted comparison; with other designs, say why it cannot be made."""
    from reunistat.models import evaluation as ev

    sample = ev.comparison_sample(s, adoption)
    try:
        w = ev.propensity_weighting(sample, method="overlap", n_boot=n_boot, seed=seed)
    except EvaluationError as err:
        if alone:
            raise
        typer.echo(f"\nOverlap-weighted comparison: not estimable on this data: {err}")
        return
    typer.echo("\nOverlap-weighted comparison (balance: standardised mean differences)")
    typer.echo(_fmt(w.balance[["term", "smd_unweighted", "smd_weighted"]]))
    typer.echo(_fmt(w.risks))
    typer.echo(_fmt(w.risk_differences.tidy()))


def power(
    hazard_ratio: Annotated[float | None, typer.Option("--hr", help="Hazard ratio.")] = 0.75,
    risk_difference: Annotated[
        float | None,
        typer.Option("--rd", help="Risk difference at --horizon instead of --hr (e.g. -0.05)."),
    ] = None,
    horizon: Annotated[int, typer.Option(help="Horizon (days) of --rd.")] = 365,
    authorities: Annotated[int, typer.Option(help="Local authorities in the study.")] = 150,
    pilots: Annotated[int, typer.Option(help="Pilot authorities among them.")] = 15,
    returns_per_year: Annotated[float, typer.Option(help="Returns home a year, all LAs.")] = 10080,
    years: Annotated[float, typer.Option(help="Study length in years.")] = 6.0,
    adoption_year: Annotated[float, typer.Option(help="Years from start to adoption.")] = 3.0,
    la_sd: Annotated[float, typer.Option(help="SD of LA log-hazard frailty.")] = 0.15,
    design: Annotated[str, typer.Option(help="comparison or did.")] = "comparison",
    replicates: Annotated[int, typer.Option(help="Simulated studies.")] = 1000,
    jobs: Annotated[
        int,
        typer.Option(help="Workers (-1: all cores, or every worker of a dask cluster)."),
    ] = -1,
    backend: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="Where the replicates run: sequential, loky (worker processes; the default "
            "with --jobs other than 1), threading or dask (a dask.distributed cluster; "
            "pip install 'reunistat[dask]'). The same seed gives the same replicates on "
            "every backend.",
        ),
    ] = None,
    scheduler_address: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="dask: an existing scheduler (tcp://HOST:8786)."),
    ] = None,
    local_workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="dask without an address: a LocalCluster of N processes."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 20240331,
    sample_size: Annotated[
        bool, typer.Option("--sample-size", help="Also find returns/year for 80% power.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Power of a pilot evaluation by simulation, with the Schoenfeld/Freedman closed form.

    --backend, --jobs, --scheduler-address and --local-workers say where the replicates run,
    as the keys of the [parallel] table of the pipeline's config do (guide: "Simulations on
    many cores or a cluster"); the same seed gives the same replicates on every backend.
    """
    from reunistat.models import evaluation as ev
    from reunistat.replicates import session

    try:
        how = _backend(backend, jobs, scheduler_address, local_workers)
        hr = (
            ev.hazard_ratio_from_risk_difference(risk_difference, horizon)
            if risk_difference is not None
            else float(hazard_ratio if hazard_ratio is not None else 0.75)
        )
        d = ev.PowerDesign(
            hazard_ratio=hr,
            n_authorities=authorities,
            n_pilot=pilots,
            returns_per_year=returns_per_year,
            years=years,
            adoption_year=adoption_year,
            la_sd_log_hr=la_sd,
            design=design,  # type: ignore[arg-type]
        )
        with session(how):
            r = ev.simulate_power(
                d, n_replicates=replicates, seed=seed, progress=not quiet, backend=how
            )
            out = (
                ev.sample_size(d, n_replicates=max(100, replicates // 5), seed=seed, backend=how)
                if sample_size
                else None
            )
    except ReunistatError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err
    f = r.fit_stats
    typer.echo(
        f"reunistat power ({design} design, HR {hr:.3f}, {pilots} of {authorities} LAs piloting, "
        f"{returns_per_year:,.0f} returns a year, {years:g} years, adoption at year "
        f"{adoption_year:g})\n"
        f"  simulated power: {r.params['power']:.3f} (Monte Carlo SE "
        f"{float(r.std_errors['power']):.3f}; {replicates} replicates, seed {seed}, "
        f"{f['seconds']:.1f} s)\n"
        f"  closed form (no clustering): Schoenfeld {f['schoenfeld_power']:.3f}, Freedman "
        f"{f['freedman_power']:.3f}; expected events {f['expected_events']:,.0f}\n"
        f"  mean estimated HR {math.exp(r.params['mean_log_hr']):.3f}, "
        f"failed fits {f['n_failed']:.0f}"
    )
    if out is not None:
        typer.echo(
            f"  returns a year for 80% power: simulation {out['returns_per_year_simulated']:,.0f},"
            f" Schoenfeld {out['returns_per_year_schoenfeld']:,.0f}"
        )
        typer.echo(_fmt(out["curve"]))


_OPTIONS = {
    "parallel.backend": "--backend",
    "parallel.n_jobs": "--jobs",
    "parallel.scheduler_address": "--scheduler-address",
    "parallel.local_workers": "--local-workers",
    "n_jobs": "--jobs",
}


def _backend(name: str | None, jobs: int, address: str | None, local_workers: int | None) -> Any:
    """The :class:`~reunistat.replicates.ParallelBackend` of ``power``'s options."""
    from reunistat.replicates import BACKENDS, ParallelBackend, as_backend

    if name is not None and name not in BACKENDS:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if name != "dask" and (address is not None or local_workers is not None):
        raise ConfigError("--scheduler-address and --local-workers need --backend dask")
    try:
        how = as_backend(name, jobs)
        if address is not None or local_workers is not None:
            how = ParallelBackend("dask", how.n_jobs, address, local_workers)
    except ConfigError as err:  # name the option, not the config key
        msg = str(err)
        for key, option in _OPTIONS.items():
            msg = msg.replace(key, option)
        raise ConfigError(msg) from err
    return how


def costs(
    effect: Annotated[float, typer.Option(help="Effect of support on re-entry.")] = 0.75,
    scale: Annotated[
        str, typer.Option(help="hazard_ratio, risk_ratio or risk_difference.")
    ] = "hazard_ratio",
    ci: Annotated[
        tuple[float, float] | None,
        typer.Option(
            metavar="LOW HIGH",
            help="Confidence interval of the effect; without it the uncertainty is not estimated.",
        ),
    ] = None,
    baseline_risk: Annotated[
        float | None,
        typer.Option(
            help="Risk of re-entry within a year of a return home without support (default "
            "0.20, one in five: Goldacre et al. 2022; the paper uses the same).",
        ),
    ] = None,
    returns: Annotated[
        float | None, typer.Option(help="Returns home a year (default 10,080, Holmes 2014).")
    ] = None,
    support_share: Annotated[float, typer.Option(help="Share of returns supported.")] = 1.0,
    failed_cost: Annotated[float, typer.Option(help="£ per failed return per year.")] = 61_614,
    support_cost: Annotated[float, typer.Option(help="£ support per child.")] = 5_627,
    sensitivity: Annotated[bool, typer.Option("--sensitivity", help="Print the grid.")] = False,
    price_index: Annotated[
        list[str] | None,
        typer.Option(
            help="Inflation index value YEAR=VALUE from a published table (give the 2012/13 "
            "value and the --to-year value); none is built in."
        ),
    ] = None,
    to_year: Annotated[
        str | None, typer.Option(help="Report in this year's prices (needs --price-index).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2014,
) -> None:
    """Invest-to-save: re-entries avoided and money saved vs the cost of support (Holmes 2014)."""
    from reunistat import costs as c

    try:
        uc = c.holmes_2014().replace(
            failed_return_per_child_year=failed_cost, support_per_child=support_cost
        )
        if to_year is not None:
            index = dict(_year_value(v) for v in price_index or [])
            uc = c.reprice_costs(uc, index, to_year)
        sc = cast("c.EffectScale", scale)
        r = c.invest_to_save(
            effect,
            effect_scale=sc,
            conf_int=ci,
            baseline_risk=baseline_risk,
            n_returns=returns,
            support_share=support_share,
            costs=uc,
            seed=seed,
        )
    except ReunistatError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from err
    typer.echo(_wrap(f"Unit costs: {uc.source}"))
    typer.echo(
        f"National figures ({uc.price_base} prices"
        + ("; no inflation index applied" if to_year is None else "")
        + "):\n"
        + _whole_numbers(c.national_costs(uc))
    )
    p0, n = r.provenance.options["baseline_risk"], r.provenance.options["n_returns"]
    typer.echo(
        "\n"
        + _wrap(
            f"Baseline: {p0:.1%} of {n:,.0f} returns home a year re-enter care within a year "
            "without support "
            + (
                "(--baseline-risk)."
                if baseline_risk is not None
                else f"(the default: {c.BASELINE_SOURCE}). Not Holmes's 4,738 / 10,080 = 47%, "
                "which counts every re-entry in a year, from returns of earlier years too."
            )
        )
    )
    typer.echo(f"\nInvest to save ({scale.replace('_', ' ')} {effect:g}, {uc.price_base} prices)")
    typer.echo(_whole_numbers(c.invest_to_save_table(r)))
    prob = r.extras["prob_net_saving"]
    typer.echo(
        "probability that support saves money: "
        + (
            "not estimated (give --ci LOW HIGH to carry the effect's uncertainty through)"
            if prob is None
            else f"{prob:.1%} of {len(r.extras['draws']):,} simulation draws"
        )
    )
    if sensitivity:
        t = c.sensitivity_table(effect, effect_scale=sc, costs=uc)
        same = [col for col in t.columns if t[col].nunique() == 1]
        fixed = ", ".join(f"{col} {_whole_numbers(t[[col]].iloc[:1]).split()[-1]}" for col in same)
        typer.echo("\n" + _wrap(f"Sensitivity: net saving in £ ({fixed})"))
        typer.echo(_whole_numbers(t.drop(columns=same).rename(columns=_SHORT)))


def _wrap(text: str) -> str:
    import textwrap

    return textwrap.fill(text, 100, subsequent_indent="  ", break_on_hyphens=False)


_SHORT = {
    "baseline_risk": "baseline",
    "cost_multiplier": "cost_x",
    "years_in_care_per_reentry": "years_cared",
    "reentries_avoided": "avoided",
    "cost_avoided_gbp": "cost_avoided",
    "support_cost_gbp": "support_cost",
    "net_saving_gbp": "net_saving",
    "break_even_reentries_avoided": "break_even",
}


def _whole_numbers(df: Any) -> str:
    """A table with thousands separators on its whole numbers; a missing interval says so."""
    shown = df.astype(object).copy()
    for col in df.columns:
        if str(df[col].dtype) in ("Int64", "int64"):
            shown[col] = [
                "not estimated" if v is None or v is pd_na() else f"{int(v):,}" for v in df[col]
            ]
    return str(shown.to_string(index=False))


def pd_na() -> Any:
    """Pandas' missing value (imported when needed)."""
    import pandas as pd

    return pd.NA


def _year_value(text: str) -> tuple[str, float]:
    year, _, value = text.partition("=")
    try:
        return year.strip(), float(value)
    except ValueError as err:
        raise ConfigError(f"--price-index must look like 2012/13=100.0, got {text!r}") from err


def register(app: typer.Typer) -> None:
    """Add ``evaluate``, ``power`` and ``costs`` to ``app``."""
    app.command(name="evaluate", short_help="Evaluate a pilot: comparison, DiD, weighting.")(
        evaluate
    )
    app.command(name="power", short_help="Power of a pilot evaluation (simulated, closed form).")(
        power
    )
    app.command(name="costs", short_help="Invest-to-save with Holmes (2014) unit costs.")(costs)
