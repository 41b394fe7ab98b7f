"""Write the frozen case behind tests/test_evaluation_cluster_inference.py (run from the repo root).

``python tests/reference/evaluation/make_evaluation_case.py`` writes ``spells.csv`` (the columns the
evaluation designs read, from a seeded generator run with 15 pilot authorities),
``adoption.csv`` (the pilot authorities' adoption dates) and ``design.csv`` (the event
study's analysis sample: outcome ``y``, ``LA``, ``return_year``, ``treated`` and the binned
year relative to adoption ``rel``), which ``reference.R`` fits with ``lm`` and
clubSandwich.
"""

from __future__ import annotations

from pathlib import Path

from reunistat.models.evaluation import adoption_dates, mark_adoption
from reunistat.models.evaluation._common import horizon_frame
from reunistat.synthetic import default_config, generate

HERE = Path(__file__).parent
COLS = ["LA", "return_date", "return_year", "days_followed", "reentered"]
PF = "days_potential_followup"


def main() -> None:
    """Generate, cut to the columns used, and write the three files."""
    cfg = default_config().with_overrides({"pilot.n_authorities": 15})
    gen = generate(cfg, seed=13, scale=0.03, progress=False)
    spells = gen.truth_returns[[*COLS, PF]].copy()
    spells["return_date"] = spells["return_date"].dt.strftime("%Y-%m-%d")
    spells.to_csv(HERE / "spells.csv", index=False)
    dates = adoption_dates(gen.tables["la"])
    dates.rename_axis("LA").reset_index().to_csv(HERE / "adoption.csv", index=False)
    marked = mark_adoption(spells, dates.astype(str).to_dict())
    hs, _ = horizon_frame(marked, 365, potential_followup_col=PF)
    hs["rel"] = hs["years_from_adoption"].clip(-5, 4)
    hs[["y", "LA", "return_year", "treated", "rel"]].to_csv(HERE / "design.csv", index=False)


if __name__ == "__main__":
    main()
