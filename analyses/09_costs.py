"""09: costs of failed returns home and invest-to-save arithmetic (Holmes 2014 unit costs).

Outputs: tables/costs_national (published unit costs and national totals),
tables/costs (invest-to-save of support with the pilot effect from 07, when made).
"""

from __future__ import annotations

from reunistat.costs import invest_to_save, invest_to_save_table, national_costs
from reunistat.pipeline import Context, run_script
from reunistat.report.tables import gbp_millions


def run(ctx: Context) -> None:
    nat = national_costs()
    ctx.write_frame(
        "costs_national",
        nat,
        title="Cost of failed returns home and of support for all returns, England",
        function="reunistat.costs.national_costs",
        disclosure={"type": "none"},
        notes=[
            "Published unit costs and national volumes (Holmes 2014, 2012/13 prices); "
            "not computed from the data."
        ],
        digits=0,
    )
    pilot = ctx.results.get("pilot_cox")
    if pilot is None or "km_overall_1y" not in ctx.values:
        ctx.skip("tables/costs", "needs the pilot effect (07) and the 1-year re-entry (03)")
        return
    t = pilot.tidy(exponentiate=True).set_index("term").loc["treated"]
    base = float(ctx.values["km_overall_1y"]["value"])
    res = invest_to_save(
        float(t["estimate"]),
        effect_scale="hazard_ratio",
        conf_int=(float(t["conf_low"]), float(t["conf_high"])),
        baseline_risk=base,
        seed=ctx.config.seed,
    )
    table = invest_to_save_table(res)
    ctx.write_frame(
        "costs",
        table,
        title="Invest to save: support for every return home with the pilot's effect",
        function="reunistat.costs.invest_to_save",
        disclosure={"type": "none"},
        notes=[
            "Baseline risk: re-entry within a year (03); effect: the pilot hazard ratio "
            "(07) with its interval carried through by simulation; national volumes and "
            "unit costs of Holmes (2014)."
        ],
        digits=0,
    )
    net = table.set_index("item").loc["net_saving_gbp"]
    ctx.value(
        "costs_net_saving",
        float(net["estimate"]),
        function="reunistat.costs.invest_to_save",
        fmt=f"{gbp_millions(net['estimate'])} (95% interval {gbp_millions(net['conf_low'])} "
        f"to {gbp_millions(net['conf_high'])})",
    )
    ctx.value(
        "costs_prob_saving",
        float(res.extras["prob_net_saving"]),
        function="reunistat.costs.invest_to_save",
        fmt="{:.0%}",
    )


if __name__ == "__main__":
    run_script(__file__)
