"""Stacked annual returns -> reader -> cohort: the generator's truth recovered.

The generator writes one CSV return per collection year as authorities submit
them (``reunistat synth --annual``): histories cut at the extract start, open
episodes carried into the next return, some DECOM/PLACE corrected in a later
return (a stale copy left in the earlier one), SEX M/F/U from 2025 and PLACE
Z11-Z14/K3 from 2026. Read back with :func:`reunistat.tables.read_extract` and
derived with :func:`reunistat.cohort.build_cohort`, the spells must equal
``truth_returns``: on dates and outcomes for every return home in the extract,
on the covariates of the returns whose history the extract start does not cut
(``left_truncated == 0``), and on what the data show (``*_observed``) for the
others.

This needs the reader, code sets and cohort of issue 10 (stale corrected
copies repaired, code sets by collection year, children already in care at
the extract start kept).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reunistat.cohort import CohortConfig, build_cohort, check_flow
from reunistat.synthetic import default_config, generate
from reunistat.tables import read_extract

KEY = ["LA", "CHILD", "spell_number"]
OUTCOME = [
    "return_date",
    "return_rec",
    "reentry_date",
    "reentered",
    "days_followed",
    "censor_reason",
]
#: Covariates that the extract start can cut, and the truth column of what the data show.
TRUNCATABLE = {
    "period_start": "period_start_observed",
    "prior_periods": "prior_periods_observed",
    "period_length_days": "period_length_days_observed",
    "placement_moves": None,  # the count seen depends on the cohort's convention
}
COVARIATES = [
    "age_band",
    "ethnic_group",
    "disability",
    "section20",
    "last_placement_type",
    "return_type",
    "idaci_decile",
    "pilot",
    "return_year",
]


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    both_na = (a.isna() & b.isna()).to_numpy()
    return (a.astype(str).to_numpy() == b.astype(str).to_numpy()) | both_na


def _check(got: pd.DataFrame, want: pd.DataFrame, columns: dict[str, str]) -> None:
    for col, truth_col in columns.items():
        same = _same(got[col], want[truth_col])
        assert same.all(), (
            f"{col} (truth {truth_col}): {int((~same).sum())} of {len(same)} differ, e.g.\n"
            f"{got.loc[~same, [*KEY, col]].head()}\n{want.loc[~same, [*KEY, truth_col]].head()}"
        )


@pytest.fixture(scope="module")
def recovered(tmp_path_factory):
    out = tmp_path_factory.mktemp("annual")
    data = generate(default_config(), seed=11, scale=0.03, annual=True)
    data.write(out)
    extract = read_extract(out)
    cohort = build_cohort(extract, CohortConfig(data_end=data.truth["data_end"]))
    got = cohort.spells.sort_values(KEY, ignore_index=True)
    want = data.truth_returns.sort_values(KEY, ignore_index=True)
    return data, extract, cohort, got, want


def test_every_return_home_in_the_extract_is_a_spell(recovered):
    _, _, _, got, want = recovered
    assert len(want) > 500 and want["left_truncated"].sum() > 50
    assert len(got) == len(want)
    _check(got, want, {c: c for c in ["LA", "CHILD", *OUTCOME]})


def test_covariates_equal_the_truth_where_not_left_truncated(recovered):
    _, _, _, got, want = recovered
    whole = (want["left_truncated"] == 0).to_numpy()
    _check(got.loc[whole], want.loc[whole], {c: c for c in [*TRUNCATABLE, *COVARIATES]})
    np.testing.assert_allclose(
        got.loc[whole, "age_at_return_years"].to_numpy(float),
        want.loc[whole, "age_at_return_years"].to_numpy(float),
        atol=1e-9,
    )


def test_left_truncated_returns_show_what_the_data_hold(recovered):
    _, _, _, got, want = recovered
    cut = (want["left_truncated"] == 1).to_numpy()
    observed = {c: o for c, o in TRUNCATABLE.items() if o is not None}
    _check(got.loc[cut], want.loc[cut], {**observed, **{c: c for c in COVARIATES}})


def test_every_row_read_is_accounted_for(recovered):
    data, extract, cohort, _, _ = recovered
    check_flow(cohort.flow)
    st = extract.stacking.set_index("table")
    n = sum(len(data.returns[y]["episodes"]) for y in data.returns)
    assert st.loc["episodes", "rows_read"] == n
