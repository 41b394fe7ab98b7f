"""The derivation checked against the generator's own record of returns and re-entries."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reunistat import synthetic
from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.report.cohort_summary import reentry_summary
from reunistat.tables import ValidationError, read_extract

CONFIG = "data/synthetic/england.toml"
OUTCOME = [
    "CHILD",
    "spell_number",
    "period_start",
    "return_date",
    "return_rec",
    "reentry_date",
    "reentered",
    "days_followed",
    "censor_reason",
]
KEY = ["LA", "CHILD", "spell_number"]


def generate(scale: float, seed: int = 1, messy: bool = False):
    return synthetic.generate(synthetic.load_config(CONFIG), seed=seed, scale=scale, messy=messy)


def cohort_config(data) -> CohortConfig:
    return CohortConfig(data_end=data.truth["data_end"])


def assert_equal_to_truth(spells: pd.DataFrame, truth: pd.DataFrame) -> None:
    got = spells.sort_values(KEY, ignore_index=True)
    want = truth.sort_values(KEY, ignore_index=True)
    assert len(got) == len(want)
    for col in ["LA", *OUTCOME]:
        a, b = got[col], want[col]
        same = (a.to_numpy() == b.to_numpy()) | (a.isna().to_numpy() & b.isna().to_numpy())
        assert same.all(), f"{col}: {int((~same).sum())} differ, e.g. {got.loc[~same, KEY].head()}"
    shared = [c for c in want.columns if c in got.columns and c not in OUTCOME and c != "LA"]
    assert len(shared) >= 10
    for col in shared:
        a, b = got[col], want[col]
        if col == "age_at_return_years":
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), atol=1e-9)
            continue
        same = a.astype(str).to_numpy() == b.astype(str).to_numpy()
        assert same.all(), f"covariate {col}: {int((~same).sum())} differ"


@pytest.fixture(scope="module")
def clean():
    return generate(0.05)


def test_clean_spells_equal_truth(clean):
    c = build_cohort(clean.tables, cohort_config(clean))
    assert_equal_to_truth(c.spells, clean.truth_returns)
    check_flow(c.flow)
    start = c.flow.iloc[0]
    assert start.episodes == len(clean.tables["episodes"])
    assert start.children == len(clean.tables["header"])
    assert c.validated.problems.empty


def test_calibration_figures(clean):
    c = build_cohort(clean.tables, cohort_config(clean))
    s = reentry_summary(c.spells, (91, 365, 2191))
    got = s["cumulative_reentry"].to_numpy()
    realised = clean.truth["realised"]["cumulative_reentry_km"]
    np.testing.assert_allclose(
        got, [realised["3_months"], realised["1_year"], realised["6_years"]], atol=1e-12
    )
    np.testing.assert_allclose(got, [0.12, 0.20, 0.35], atol=0.03)


def test_csv_as_dfe_ships_it(tmp_path: Path):
    data = generate(0.01, seed=3)
    data.write(tmp_path, csv=True)
    for p in tmp_path.glob("*.parquet"):
        p.unlink()
    x = read_extract(tmp_path)
    assert x.stacking.set_index("table").loc["episodes", "rows_read"] == len(
        data.tables["episodes"]
    )
    c = build_cohort(x, cohort_config(data))
    assert_equal_to_truth(c.spells, data.truth_returns)


def split_into_annual_returns(data, root: Path) -> int:
    """Write the generator's tables as DfE ships them: one CSV per table and year."""
    ep, header = data.tables["episodes"], data.tables["header"]
    years = range(ep["DECOM"].min().year, pd.Timestamp(data.truth["data_end"]).year)
    n = 0
    for y in years:
        start, end = pd.Timestamp(f"{y}-04-01"), pd.Timestamp(f"{y + 1}-03-31")
        rows = ep[(ep.DECOM <= end) & (ep.DEC.isna() | (ep.DEC >= start))].copy()
        still_open = rows.DEC > end
        rows.loc[still_open, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = [pd.NaT, None, None]
        folder = root / f"{y + 1}"
        folder.mkdir()
        rows.to_csv(folder / "episodes.csv", index=False, date_format="%d/%m/%Y")
        h = header[header.CHILD.isin(set(rows.CHILD))]
        h.to_csv(folder / "header.csv", index=False, date_format="%d/%m/%Y")
        n += len(rows)
    for name in ("cin", "npd", "postcodes", "la"):
        data.tables[name].to_csv(root / f"{name}.csv", index=False, date_format="%d/%m/%Y")
    return n


def test_stacked_annual_returns_give_the_same_spells(tmp_path: Path):
    data = generate(0.01, seed=4)
    n_rows = split_into_annual_returns(data, tmp_path)
    x = read_extract(tmp_path)
    st = x.stacking.set_index("table")
    assert st.loc["episodes", "rows_read"] == n_rows > len(data.tables["episodes"])
    assert st.loc["episodes", "rows_kept"] == len(data.tables["episodes"])
    c = build_cohort(x, cohort_config(data))
    check_flow(c.flow)
    assert_equal_to_truth(c.spells, data.truth_returns)


def test_e13_excluded_drops_only_e13(clean):
    cfg = CohortConfig(data_end=clean.truth["data_end"], include_e13=False)
    sp = build_cohort(clean.tables, cfg).spells
    truth = clean.truth_returns
    assert len(sp) == int((truth.return_rec != "E13").sum())
    assert "E13" not in set(sp.return_rec)


REPAIRABLE = {"duplicate_row", "stale_open_copy"}
#: The rules that find each injected fault (DfE's numbers where the rule is DfE's).
FAULT_RULES = {
    "missing_ethnicity": {"103"},
    "unknown_code": {"code", "101", "103", "143", "144", "145", "146", "149"},
    "overlapping_episode": {"501"},
    "open_episode": {"142"},
    "impossible_date": {"356", "302"},
}


@pytest.fixture(scope="module")
def messy():
    return generate(0.05, messy=True)


def test_messy_strict_reports_every_fault(messy):
    with pytest.raises(ValidationError) as err:
        build_cohort(messy.tables, cohort_config(messy))
    p = err.value.problems
    faults = messy.faults[~messy.faults.fault.isin(REPAIRABLE)]
    assert set(faults.fault) == set(FAULT_RULES)
    named = set(zip(p.table, p.column, p.CHILD, p.DECOM.astype("datetime64[ns]"), strict=True))
    for f in faults.itertuples(index=False):
        if f.table == "episodes":
            assert (f.table, f.column, f.CHILD, f.DECOM) in named, f
        else:  # a header fault: named with the child (and the DECOM it contradicts)
            assert (f.table, f.column, f.CHILD) in {n[:3] for n in named}, f
        rules = set(p.loc[p.CHILD == f.CHILD, "rule"])
        assert rules & FAULT_RULES[f.fault], (f, rules)


def test_messy_lenient_excludes_faults_and_nothing_else(messy):
    c = build_cohort(
        messy.tables, CohortConfig(data_end=messy.truth["data_end"], validation="lenient")
    )
    faults = messy.faults
    bad = faults[~faults.fault.isin(REPAIRABLE)]
    ex = c.validated.excluded_children.set_index("CHILD")
    assert set(ex.index) == set(bad.CHILD)
    for f in bad.itertuples(index=False):
        assert set(ex.loc[f.CHILD, "rules"].split(";")) & FAULT_RULES[f.fault]
    # repairable marks of stacked returns are de-duplicated, not lost
    fl = c.flow.set_index("reason")
    assert fl.loc["identical_duplicate", "episodes"] == (faults.fault == "duplicate_row").sum()
    assert fl.loc["superseded", "episodes"] == (faults.fault == "stale_open_copy").sum()
    check_flow(c.flow)
    kept = messy.truth_returns[~messy.truth_returns.CHILD.isin(set(bad.CHILD))]
    assert_equal_to_truth(c.spells, kept)


@pytest.mark.slow
def test_national_scale_is_fast_and_exact():
    data = generate(1.0, seed=2)
    t0, c0 = time.perf_counter(), time.process_time()
    c = build_cohort(data.tables, cohort_config(data))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(data.tables["episodes"])
    print(f"build_cohort on {n:,} episodes: {cpu:.1f} s CPU, {wall:.1f} s wall")
    assert cpu < 45  # CPU time: the machine may be shared
    assert_equal_to_truth(c.spells, data.truth_returns)
    check_flow(c.flow)
