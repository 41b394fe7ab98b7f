"""The attacks of issue 11 on a small real-mode extract: each must fail against the release.

A real-mode run of the cohort flow, Table 1 and the curves (01-03) on three
authorities of the committed sample (about 375 children, 126 returns home),
with all but four short-break-only children dropped so a small exclusion
hides the flow's later steps. A reader then tries what an adversarial user
did: recover a group Table 1 hides from the curves' group sizes (Other ethnic
group, disabled, under 1), match a paper count to a suppressed flow cell,
read a group's zero re-entries. Each inference is computed here with its own
linear programme over the published files, independently of the package's
audit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from reunistat.pipeline import DEFAULT_COVARIATES, load_config, reproduce

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/synthetic/sample"
THRESHOLD = 10
# Table 1 variable -> (curve table, Table 1 level -> curve group)
GROUPINGS = {
    "ethnic_group": ("km_ethnic_group", None),
    "age_band": ("km_age_band", None),
    "disability": ("km_disability", {"yes": "disabled", "no": "not disabled"}),
}


def small_extract(out: Path, las=("635", "701", "312"), short_break_kept: int = 4) -> Path:
    """Three authorities of the sample, with only a few short-break-only children."""
    out.mkdir(parents=True, exist_ok=True)
    h = pd.read_parquet(SAMPLE / "header.parquet")
    h = h[h["LA"].astype(str).isin(las)]
    e = pd.read_parquet(SAMPLE / "episodes.parquet")
    e = e[e["CHILD"].isin(set(h["CHILD"]))]
    sb = e.groupby("CHILD")["LS"].agg(lambda s: s.isin(["V3", "V4"]).all())
    drop = sorted(sb[sb].index)[short_break_kept:]
    h, e = h[~h["CHILD"].isin(drop)], e[~e["CHILD"].isin(drop)]
    # leave one small ethnic group (Other) beside two large ones (White, Mixed), as in
    # the issue: Other = total - (the others), read off the curves
    keep = h["ETHNIC"].astype(str).str[0].isin(["W", "M"]) | (h["ETHNIC"] == "OOTH")
    h = h.assign(ETHNIC=h["ETHNIC"].where(keep, "WBRI"))
    h.to_parquet(out / "header.parquet", index=False)
    e.to_parquet(out / "episodes.parquet", index=False)
    for t in ("cin", "npd", "postcodes", "la"):
        pd.read_parquet(SAMPLE / f"{t}.parquet").to_parquet(out / f"{t}.parquet", index=False)
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attack")
    data = small_extract(tmp / "extract")
    cfg_path = tmp / "config.toml"
    cfg_path.write_text(
        f'[data]\nmode = "real"\ndir = "{data.as_posix()}"\n'
        f'[outputs]\ndir = "{(tmp / "out").as_posix()}"\n'
        f'analyses_dir = "{(ROOT / "analyses").as_posix()}"\npaper = ""\n',
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    reproduce(cfg, only=["01", "02", "03"], paper=False, log=lambda s: None)
    return tmp / "out"


def _csv(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)


def _num(s: str) -> float | None:
    s = str(s).replace(",", "").strip()
    try:
        return float(s)
    except ValueError:
        return None


def _interval(n: int, fixed: dict[int, float], total: float, k: int) -> tuple[float, float]:
    """Min and max of x_k given sum(x) = total, x >= 0 and some x fixed."""
    a_eq = [np.ones(n)]
    b_eq = [total]
    for i, v in fixed.items():
        row = np.zeros(n)
        row[i] = 1
        a_eq.append(row)
        b_eq.append(v)
    out = []
    for sign in (1, -1):
        c = np.zeros(n)
        c[k] = sign
        res = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=[(0, None)] * n, method="highs")
        assert res.status == 0
        out.append(sign * res.fun)
    return out[0], out[1]


def _sizes_from_curve(curve: pd.DataFrame) -> dict[str, float]:
    start = curve.loc[curve["time"].astype(float) == 0]
    return {str(g): _num(n) for g, n in zip(start["group"], start["n_risk"], strict=True)}


@pytest.mark.parametrize("variable", sorted(GROUPINGS))
def test_a_group_table1_hides_cannot_be_recovered_from_the_curves(released, variable):
    """Other ethnic group = total - the others (KM); disabled = 4; under-1 = 3."""
    t1 = _csv(released, "table1").set_index("key")
    total = _num(_sizes_from_curve(_csv(released, "km_overall"))["all"])
    assert total is not None and total > 0
    name, mapping = GROUPINGS[variable]
    km = _sizes_from_curve(_csv(released, name))
    levels = [k for k in t1.index if k.startswith(f"{variable}=")]
    labels = [k.split("=", 1)[1] for k in levels]
    fixed: dict[int, float] = {}
    for i, (key, lab) in enumerate(zip(levels, labels, strict=True)):
        shown = _num(t1.at[key, "all"])
        curve_label = mapping.get(lab, lab) if mapping else lab
        from_curve = km.get(curve_label)
        for v in (shown, from_curve):
            if v is not None:
                fixed[i] = v
    hidden = [i for i, k in enumerate(levels) if t1.at[k, "all"] == "c"]
    assert hidden, f"the extract should make Table 1 hide a level of {variable}"
    for i in hidden:
        lo, hi = _interval(len(levels), fixed, total, i)
        assert hi - lo >= THRESHOLD, f"{levels[i]} recovered within [{lo}, {hi}]"


def test_a_paper_count_shows_what_its_flow_cell_shows(released):
    """values.json n_children must not publish a flow cell the flow table suppresses."""
    flow = _csv(released, "cohort_flow").set_index("key")
    analysed = flow.loc[flow["step"] == "returns home analysed (spells)"].iloc[0]
    assert flow.loc[flow["reason"] == "short_break_only", "children"].item() == "c"
    values = json.loads((released / "values.json").read_text("utf-8"))
    for key, col in (("n_children", "children"), ("n_spells", "spells")):
        text = values[key]["text"].replace(",", "")
        assert text == analysed[col], (key, text, analysed[col])


def test_zeros_are_suppressed_by_default_in_real_mode(released):
    """'Black: re-entered 0' reveals a whole group's outcome: no count cell shows 0."""
    t1 = _csv(released, "table1")
    counts = t1[["re-entered", "not re-entered", "all"]].to_numpy().ravel()
    assert "0" not in counts.tolist()
    assert "c" in counts.tolist()


def _svg_at_risk(path: Path, n_times: int = 7) -> dict[str, list[str]]:
    """The at-risk rows printed under a curve figure: group label -> its numbers."""
    import re

    texts = re.findall(r">([^<]*)</text>", path.read_text("utf-8"))
    rows: dict[str, list[str]] = {}
    i = texts.index("Number at risk") + 1
    while i + n_times < len(texts) and not texts[i].startswith("Source"):
        label, cells = texts[i], texts[i + 1 : i + 1 + n_times]
        if all(c == "c" or c.replace(",", "").isdigit() for c in cells):
            rows[label] = [c.replace(",", "") for c in cells]
            i += 1 + n_times
        else:
            i += 1
    return rows


def test_disabled_cannot_be_read_off_the_figures_at_risk_rows(released):
    """disabled = all - not disabled, from the numbers at risk printed under the figures."""
    overall = _svg_at_risk(released / "figures/km_overall.svg")["all"]
    rows = _svg_at_risk(released / "figures/km_disability.svg")
    assert "disabled" in rows and "not disabled" in rows
    hidden = [j for j, v in enumerate(rows["disabled"]) if v == "c"]
    assert hidden, "the extract should make the disabled row small"
    for j in hidden:
        other, total = rows["not disabled"][j], overall[j]
        assert other == "c" or total == "c", f"disabled at column {j} = {total} - {other}"


def test_the_written_release_rechecks_and_a_tampered_cell_is_caught(released, tmp_path):
    """What the checker re-verifies: written cells equal the release, and the LP audit holds."""
    import shutil

    from reunistat.cohort import CohortConfig, build_cohort
    from reunistat.report.disclosure import DisclosureRules
    from reunistat.report.release_check import check_written_release
    from reunistat.report.release_plan import standard_release
    from reunistat.tables import read_extract

    extract = read_extract(released.parent / "extract")
    cohort = build_cohort(extract.tables, CohortConfig(validation="lenient"))
    rel = standard_release(
        cohort.spells,
        cohort.flow,
        DisclosureRules(zeros_disclosive=True),
        horizons_days=(91, 365, 730, 1826, 2191),
        logistic_horizon_days=365,
        la=extract.tables.get("la"),
        covariates=DEFAULT_COVARIATES,  # the run's models' counts are cells of its release
    )
    record = rel.audit_record()
    assert check_written_release(record, released, THRESHOLD) == []
    tampered = tmp_path / "out"
    shutil.copytree(released, tampered)
    t1 = _csv(tampered, "table1")
    i = int((t1["all"] == "c").to_numpy().nonzero()[0][0])
    t1.loc[i, "all"] = str(int(rel.value("table1", t1.loc[i, "key"], "all")))
    t1.to_csv(tampered / "tables/table1.csv", index=False)
    problems = check_written_release(record, tampered, THRESHOLD)
    assert any("written differently" in p for p in problems)
    assert not any(t1.loc[i, "all"] in p.split() for p in problems)  # never the value
