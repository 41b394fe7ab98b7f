"""An ACRO session over a run's microdata, run by the Python that has ``acro`` installed.

This file is executed as a script (``python _acro_session.py SPEC.json``) by
:func:`reunistat.report.acro_check.run_acro`, usually with another virtual
environment's Python: it imports only ``acro``, pandas and statsmodels, never
reunistat. ``SPEC.json`` names a CSV file of the spells (exact data: it
lives in a private temporary folder) and the tables to check; ACRO writes its
results folder (``results.json``, the outputs, ``config.json``) to
``SPEC["out"]``, as the SACRO viewer reads it.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings


def main(spec_path: str) -> None:
    """Run the checks the spec lists and write ACRO's results folder."""
    import acro
    import pandas as pd
    import statsmodels.api as sm

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    data = pd.read_csv(spec["data"], dtype=str, keep_default_na=False, na_values=[""])
    for c in (spec["status"], spec["duration"]):
        data[c] = pd.to_numeric(data[c])
    session = acro.ACRO(suppress=True)
    status = data[spec["status"]]
    names: list[str] = []
    for var in spec["crosstabs"]:
        names.append(f"table1_{var.removeprefix('t1_')}")
        col = data[var].astype("string").fillna("missing").rename(var)
        session.crosstab(col, status.rename(spec["status"]), margins=True)
    time = data[spec["duration"]]
    for grouping, col in spec["survival"].items():
        labels = ["all"] if col is None else sorted(data[col].dropna().astype(str).unique())
        for g in labels:
            sel = slice(None) if col is None else (data[col].astype(str) == g)
            names.append(f"km_{grouping}={g}")
            session.surv_func(
                time[sel].to_numpy(),
                status[sel].to_numpy(),
                output="table",
                title=f"{grouping}={g}",
            )
    if spec.get("logit"):
        lg = pd.read_csv(spec["logit"])
        y = lg.pop("__outcome__")
        session.logit(y, sm.add_constant(lg, has_constant="add"))
        names.append("logistic")
    for i, name in enumerate(names):
        session.rename_output(f"output_{i}", name)
    session.finalise(spec["out"], "json")


if __name__ == "__main__":
    main(sys.argv[1])
