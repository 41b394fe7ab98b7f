"""Recurrent re-entries: Andersen-Gill and PWP against R on cgd; episodes from spells."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.survival import andersen_gill, pwp, recurrent_episodes
from reunistat.models.survival.recurrent import child_codes, sort_codes

REF = Path(__file__).parent / "reference" / "survival"
COVS = (
    "treat + female + age + inherit_auto + steroids + propylac + hos_usother + hos_euams"
    " + hos_euother"
)


@pytest.fixture(scope="module")
def cgd():
    return pd.read_csv(REF / "cgd.csv")


@pytest.fixture(scope="module")
def R():
    return json.loads((REF / "cgd.json").read_text())


def check(res, r):
    np.testing.assert_allclose(res.params, r["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.std_errors, r["robust_se"], rtol=1e-6)
    np.testing.assert_allclose(res.fit_stats["loglik"], r["loglik"][1], rtol=1e-8)


def test_andersen_gill(cgd, R):
    check(andersen_gill("~ " + COVS, cgd, "tstart", "tstop", "status", id_col="id"), R["ag_efron"])


def test_pwp_gap_and_total(cgd, R):
    gap = pwp(
        "~ treat + female + age", cgd, "tstart", "tstop", "status", id_col="id", order_col="enum"
    )
    check(gap, R["pwp_gap"])
    total = pwp(
        "~ " + COVS,
        cgd,
        "tstart",
        "tstop",
        "status",
        id_col="id",
        order_col="enum",
        timescale="total",
    )
    check(total, R["pwp_total"])


def test_recurrent_episodes_from_spells():
    sp = pd.DataFrame(
        {
            "CHILD": [1, 1, 2],
            "spell_number": [1, 2, 1],
            "return_date": pd.to_datetime(["2015-01-01", "2015-06-01", "2016-01-01"]),
            "days_followed": [100, 300, 50],
            "reentered": [1, 0, 0],
        }
    )
    ep = recurrent_episodes(sp)
    assert list(ep["start_days"]) == [0, 151, 0]
    assert list(ep["stop_days"]) == [100, 451, 50]
    bad = sp.assign(days_followed=[200, 300, 50])
    with pytest.raises(ValueError, match="overlap"):
        recurrent_episodes(bad)


def test_recurrent_models_record_their_own_provenance(cgd):
    """andersen_gill and pwp used to record their provenance (and model) as cox."""
    ag = andersen_gill("~ " + COVS, cgd, "tstop", "status", entry_col="tstart", cluster="id")
    assert ag.model == "andersen_gill"
    assert ag.provenance.function == "reunistat.models.survival.andersen_gill"
    p = pwp("~ " + COVS, cgd, "tstop", "status", entry_col="tstart", cluster="id", order_col="enum")
    assert p.model == "pwp" and p.provenance.function == "reunistat.models.survival.pwp"
    assert p.provenance.options["timescale"] == "gap"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.text(st.characters(min_codepoint=1), max_size=4)),
            st.one_of(st.none(), st.integers(-3, 3)),
        ),
        max_size=40,
    )
)
def test_recurrent_order_is_sort_values_order(rows):  # type: ignore[no-untyped-def]
    """Rows ordered by sort_codes of the child and the order: exactly sort_values' order."""
    d = pd.DataFrame(rows, columns=["CHILD", "spell_number"], dtype=object)
    d["spell_number"] = pd.to_numeric(d["spell_number"])
    want = d.sort_values(["CHILD", "spell_number"]).index
    got = np.lexsort((sort_codes(d["spell_number"]), sort_codes(d["CHILD"])))
    assert d.index[got].equals(want)


def test_recurrent_episodes_with_text_identifiers_and_unsorted_rows():
    """Identifiers that sort differently as text and as numbers; rows in any order."""
    sp = pd.DataFrame(
        {
            "CHILD": ["a10", "a9", "a10", "b", "a9"],
            "spell_number": [2, 1, 1, 1, 2],
            "return_date": pd.to_datetime(
                ["2016-01-01", "2015-03-01", "2015-01-01", "2017-05-05", "2015-09-01"]
            ),
            "days_followed": [30, 100, 200, 10, 5],
            "reentered": [0, 1, 1, 0, 0],
        },
        index=[10, 11, 12, 13, 14],
    )
    ep = recurrent_episodes(sp)
    assert ep.index.tolist() == [12, 10, 11, 14, 13]
    assert ep["start_days"].tolist() == [0, 365, 0, 184, 0]
    assert ep["stop_days"].tolist() == [200, 395, 100, 189, 10]
    coded = recurrent_episodes(sp, id_codes=True)  # the identifiers' codes in sorted order
    assert coded["CHILD"].tolist() == child_codes(ep).tolist() == [0, 0, 1, 1, 2]
    assert coded.drop(columns="CHILD").equals(ep.drop(columns="CHILD"))
    gap = sp.assign(CHILD=["a10", "a9", "a10", None, "a9"])  # a missing identifier: kept
    assert recurrent_episodes(gap, id_codes=True)["CHILD"].equals(recurrent_episodes(gap)["CHILD"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "a1", "a10", "a9", "b", "B", "é", "z0"]), min_size=1))
def test_child_codes_are_the_sorted_cluster_codes(ids: list[str]) -> None:
    from reunistat.models._options import sorted_codes

    for order in (sorted(ids), ids):  # neighbouring runs, and any order
        d = pd.DataFrame({"CHILD": order})
        assert child_codes(d).tolist() == sorted_codes(d["CHILD"])[0].tolist()


def test_child_codes_leave_numbers_and_gaps_alone() -> None:
    d = pd.DataFrame({"CHILD": [3, 1, 2], "x": ["a", None, "b"]})
    assert child_codes(d) is d["CHILD"]
    assert child_codes(d, "x") is d["x"]


def test_andersen_gill_on_child_codes_is_the_fit_on_text(cgd) -> None:
    d = cgd.assign(CHILD="c" + cgd["id"].astype(str)).sort_values("CHILD", kind="stable")
    kw = {"entry_col": "tstart", "cluster": "CHILD"}
    text = andersen_gill("~ " + COVS, d, "tstop", "status", **kw)
    coded = andersen_gill("~ " + COVS, d.assign(CHILD=child_codes(d)), "tstop", "status", **kw)
    assert text.params.to_numpy().tobytes() == coded.params.to_numpy().tobytes()
    assert text.cov.to_numpy().tobytes() == coded.cov.to_numpy().tobytes()
    assert text.fit_stats == coded.fit_stats


def _episodes_by_groupby(sp: pd.DataFrame) -> pd.DataFrame:
    """recurrent_episodes' columns as sort_values and groupby give them (the reference)."""
    d = sp.sort_values(["CHILD", "spell_number"], kind="stable")
    dates = d["return_date"]
    first = dates.groupby(d["CHILD"]).transform("min")
    d = d.assign(start_days=(dates - first).dt.days.astype(float))
    return d.assign(stop_days=d["start_days"] + d["days_followed"].astype(float))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.sampled_from(["a", "b", "a1", "c"])),
            st.integers(1, 4),
            st.one_of(st.none(), st.integers(0, 3000)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_recurrent_episodes_as_groupby_gives_them(rows) -> None:  # type: ignore[no-untyped-def]
    """Each child's first return and the overlap check: the same with missing ids and dates."""
    sp = pd.DataFrame(rows, columns=["CHILD", "spell_number", "day"])
    sp["return_date"] = pd.Timestamp("2015-01-01") + pd.to_timedelta(sp.pop("day"), unit="D")
    sp["days_followed"] = 1
    want = _episodes_by_groupby(sp)
    nexts = want["start_days"].groupby(want["CHILD"]).shift(-1) < want["stop_days"]
    if nexts.any():
        with pytest.raises(ValueError, match="overlap"):
            recurrent_episodes(sp)
        return
    got = recurrent_episodes(sp)
    assert got.index.equals(want.index)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=1, max_size=60),
    st.sampled_from(["C", "", "AB"]),
    st.sampled_from([7, 9]),
)
def test_digit_identifiers_rank_as_their_sorted_text(numbers, prefix, width) -> None:  # type: ignore[no-untyped-def]
    """Identifiers of one prefix and fixed digits, ranked by their numbers: pandas' sorted codes."""
    from reunistat.models.survival.recurrent import _digit_ranks

    ids = pd.Series(
        [None if k is None else f"{prefix}{k:0{width}d}" for k in numbers], dtype=object
    )
    known = ids.notna()
    codes, n = _digit_ranks(ids) if known.any() else (sort_codes(ids), 0)
    ranked, distinct = pd.factorize(ids, sort=True)
    assert n == len(distinct)
    np.testing.assert_array_equal(codes, np.where(ranked < 0, len(distinct), ranked))
    np.testing.assert_array_equal(sort_codes(ids), codes)


def test_other_text_is_not_ranked_by_digits() -> None:
    from reunistat.models.survival.recurrent import _digit_ranks

    for values in (["C07", "C7"], ["C07", "D07"], ["C0x", "C07"], [1, 2], ["C07", 7]):
        assert _digit_ranks(pd.Series(values, dtype=object)) is None
