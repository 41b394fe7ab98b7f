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
others. Corrections between returns are DfE errors (rules 502/503): with them,
only the corrected children may be lost.

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


def _recover(tmp_path_factory, validation: str, **overrides):
    out = tmp_path_factory.mktemp("annual")
    cfg = default_config().with_overrides(overrides) if overrides else default_config()
    data = generate(cfg, seed=11, scale=0.03, annual=True)
    data.write(out)
    extract = read_extract(out)
    cohort = build_cohort(
        extract, CohortConfig(data_end=data.truth["data_end"], validation=validation)
    )
    got = cohort.spells.sort_values(KEY, ignore_index=True)
    want = data.truth_returns.sort_values(KEY, ignore_index=True)
    return data, extract, cohort, got, want


@pytest.fixture(scope="module")
def recovered(tmp_path_factory):
    """Returns without corrections between them: valid as DfE checks them, strict mode."""
    return _recover(tmp_path_factory, "strict", **{"annual.correction_rate": 0.0})


@pytest.fixture(scope="module")
def corrected(tmp_path_factory):
    """The default: some DECOM/PLACE corrected in a later return (DfE 502/503 flag them)."""
    return _recover(tmp_path_factory, "lenient")


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
    data, _, _, got, want = recovered
    cut = (want["left_truncated"] == 1).to_numpy()
    observed = {c: o for c, o in TRUNCATABLE.items() if o is not None}
    _check(got.loc[cut], want.loc[cut], {**observed, **{c: c for c in COVARIATES}})
    # the cohort's flags are what the data can show: a period whose RNE S episode is cut,
    # and every return of a child in care when the extract begins (earlier periods that
    # ended before it leave no trace, so prior_history_truncated can be invisible)
    assert (got.loc[want["period_truncated"] == 1, "period_truncated"] == 1).all()
    assert (got.loc[want["period_truncated"] == 0, "period_truncated"] == 0).all()
    kids = data.truth_tables["children"].set_index(["LA", "CHILD"])["in_care_at_extract_start"]
    in_care = kids.loc[list(zip(want["LA"], want["CHILD"], strict=True))].to_numpy()
    assert (got["history_truncated"].to_numpy() == in_care).all()


def test_the_rest_of_the_return_gives_its_covariates(recovered):
    """uasc, missing (M and A) and previous_permanence read from their tables.

    A missing episode open on 31 March is listed in two returns (blank MIS_END,
    then closed): it counts once. Missing episodes before the extract start are
    not in it (``*_observed``).
    """
    _, _, _, got, want = recovered
    whole = (want["left_truncated"] == 0).to_numpy()
    columns = {
        "uasc": "uasc",
        "missing_episodes": "missing_episodes_observed",
        "away_episodes": "away_episodes_observed",
        "previous_permanence": "previous_permanence_observed",
    }
    _check(got.loc[whole], want.loc[whole], columns)
    assert (want.loc[whole, "uasc"] == 1).any() and (want["missing_episodes"] > 0).any()
    assert (want.loc[whole, "previous_permanence"] != "none").any()


def test_every_row_read_is_accounted_for(recovered):
    data, extract, cohort, _, _ = recovered
    check_flow(cohort.flow)
    st = extract.stacking.set_index("table")
    n = sum(len(data.returns[y]["episodes"]) for y in data.returns)
    assert st.loc["episodes", "rows_read"] == n


def test_corrections_between_returns_touch_only_their_children(corrected):
    """A child with an episode corrected in a later return may be excluded (DfE 502/503);
    every other child's returns home are recovered exactly."""
    data, _, cohort, got, want = corrected
    fixed = data.truth_tables["corrections"]
    assert len(fixed) > 20
    touched = set(zip(fixed["LA"], fixed["CHILD"], strict=True))
    kept = set(zip(got["LA"], got["CHILD"], strict=True))
    lost = set(zip(want["LA"], want["CHILD"], strict=True)) - kept
    assert lost <= touched, f"children lost without a correction: {sorted(lost - touched)[:5]}"
    check_flow(cohort.flow)
    mine = pd.Series([k in kept for k in zip(want["LA"], want["CHILD"], strict=True)])
    w = want.loc[mine.to_numpy()].reset_index(drop=True)
    keep_got = pd.Series([k in kept for k in zip(got["LA"], got["CHILD"], strict=True)])
    g = got.loc[keep_got.to_numpy()].reset_index(drop=True)
    assert len(g) == len(w)
    _check(g, w, {c: c for c in ["LA", "CHILD", *OUTCOME]})
