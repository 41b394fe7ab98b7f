"""An ACRO session over a run's microdata, run by the Python that has ``acro`` installed.

This file is executed as a script (``python _acro_session.py SPEC.json``) by
:func:`reunistat.report.acro_check.run_acro`, usually with another virtual
environment's Python: it imports only ``acro``, pandas and statsmodels, never
reunistat. ``SPEC.json`` names a CSV file of the spells (exact data: it
lives in a private temporary folder) and the tables to check; ACRO writes its
results folder (``results.json``, the outputs, ``config.json``) to
``SPEC["out"]``, as the SACRO viewer reads it.

ACRO stamps each output, and its session summary, with the time it was
made; with ``SOURCE_DATE_EPOCH`` set (the reproducible-builds convention:
seconds since 1970, UTC) every stamp is that time instead, so two runs on
the same data write byte-identical folders.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import types
import warnings


def fixed_time() -> str | None:
    """``SOURCE_DATE_EPOCH`` as ACRO writes a time (ISO, UTC, no zone), or None if unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not epoch:
        return None
    t = datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)
    return t.replace(tzinfo=None).isoformat()


def stamp(when: str) -> None:
    """Make ACRO stamp every output, and the summary ``finalise`` writes, with the time ``when``.

    ACRO reads the clock in two places (a record's creation, the session
    summary), both as ``datetime.datetime.now()``, and a regression's table
    holds statsmodels' date and time (``time.localtime()``); each module gets
    a clock that always says ``when``.
    """
    import time

    import acro.record
    import acro.summary
    import statsmodels.iolib.summary

    fixed = datetime.datetime.fromisoformat(when)
    clock = types.SimpleNamespace(datetime=types.SimpleNamespace(now=lambda tz=None: fixed))
    for module in (acro.record, acro.summary):
        setattr(module, "datetime", clock)  # noqa: B010
    # a regression's table carries statsmodels' "Date:" and "Time:" rows (local time)
    epoch = fixed.replace(tzinfo=datetime.UTC).timestamp()
    sm_clock = types.SimpleNamespace(
        localtime=lambda *a: time.gmtime(epoch), strftime=time.strftime
    )
    setattr(statsmodels.iolib.summary, "time", sm_clock)  # noqa: B010


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
    when = fixed_time()
    if when is not None:
        stamp(when)
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
