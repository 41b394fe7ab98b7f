"""09: costs of failed returns home and invest-to-save arithmetic (Holmes 2014 unit costs).

Outputs: tables/costs_national (published unit costs and national totals),
tables/costs (invest-to-save of support with the pilot effect from 07, when made).
"""

from __future__ import annotations

from reunistat.costs import (
    BASELINE_SOURCE,
    DEFAULT_BASELINE_RISK,
    gbp,
    invest_to_save,
    invest_to_save_table,
    national_costs,
)
from reunistat.pipeline import Context, run_script


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
    if pilot is None:
        ctx.skip("tables/costs", "needs the pilot effect (07)")
        return
    t = pilot.tidy(exponentiate=True).set_index("term").loc["treated"]
    # the default baseline, as `reunistat costs` uses: national like the volumes and unit costs
    res = invest_to_save(
        float(t["estimate"]),
        effect_scale="hazard_ratio",
        conf_int=(float(t["conf_low"]), float(t["conf_high"])),
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
            f"Baseline risk: {DEFAULT_BASELINE_RISK:.0%} re-enter within a year without "
            f"support ({BASELINE_SOURCE}), the default of reunistat costs; effect: the pilot "
            "hazard ratio (07) with its interval carried through by simulation; national "
            "volumes and unit costs of Holmes (2014). Re-entries in whole children "
            "(break-even rounded up), money in whole pounds."
        ],
        digits=0,
    )
    net = table.set_index("item").loc["net_saving_gbp"]
    ctx.value(
        "costs_net_saving",
        float(net["estimate"]),
        function="reunistat.costs.invest_to_save",
        fmt=f"{gbp(net['estimate'])} (95% interval {gbp(net['conf_low'])} "
        f"to {gbp(net['conf_high'])})",
    )
    ctx.value(
        "costs_baseline_risk",
        DEFAULT_BASELINE_RISK,
        function="reunistat.costs.invest_to_save",
        fmt=f"{DEFAULT_BASELINE_RISK:.0%} ({BASELINE_SOURCE})",
    )
    ctx.value(
        "costs_prob_saving",
        float(res.extras["prob_net_saving"]),
        function="reunistat.costs.invest_to_save",
        fmt="{:.1%}",
    )


if __name__ == "__main__":
    run_script(__file__)
