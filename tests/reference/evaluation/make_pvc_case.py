"""Write ``pvc_design.csv``: the logistic pilot-versus-comparison sample of the frozen case.

``python tests/reference/evaluation/make_pvc_case.py`` (from the repo root) fits
``pilot_vs_comparison(model="logistic")`` to ``spells.csv`` and ``adoption.csv`` and
writes its analysis sample (outcome ``y``, ``LA``, ``treated``, ``return_year``), which
``pvc_reference.R`` fits with ``glm`` and clubSandwich.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from reunistat.models.evaluation import pilot_vs_comparison

HERE = Path(__file__).parent
ADJUST = "C(return_year)"
PF = "days_potential_followup"


def main() -> None:
    """Fit once and write the sample."""
    spells = pd.read_csv(HERE / "spells.csv", dtype={"LA": str})
    ad = pd.read_csv(HERE / "adoption.csv", dtype={"LA": str})
    adoption = dict(zip(ad["LA"], ad["adoption_date"], strict=True))
    res = pilot_vs_comparison(
        spells, adoption, model="logistic", adjust=ADJUST, potential_followup_col=PF, vcov="CR1"
    )
    frame = res.extras["data"]
    out = frame[["LA", "treated", "return_year"]].assign(y=frame[res.extras["outcome_col"]])
    out.to_csv(HERE / "pvc_design.csv", index=False)


if __name__ == "__main__":
    main()
