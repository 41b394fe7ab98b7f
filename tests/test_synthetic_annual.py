"""The annual layout: returns by collection year as authorities submit them."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pandas as pd
import pytest

from reunistat import codes
from reunistat.dates import eighteenth_birthday
from reunistat.synthetic import default_config, generate
from reunistat.synthetic.annual import year_bounds
from reunistat.synthetic.reentry import linear_predictor

#: DfE's column names of each extra table, as the DfE validator's test return has them
#: (shared/fixtures/sector903/qlacv/*.csv, first line); our national extract adds LA.
DFE_COLUMNS = {
    "ad1": "CHILD,DOB,DATE_INT,DATE_MATCH,FOSTER_CARE,NB_ADOPTR,SEX_ADOPTR,LS_ADOPTR",
    "missing": "CHILD,DOB,MISSING,MIS_START,MIS_END",
    "oc2": "CHILD,DOB,SDQ_SCORE,SDQ_REASON,CONVICTED,HEALTH_CHECK,IMMUNISATIONS,TEETH_CHECK,"
    "HEALTH_ASSESSMENT,SUBSTANCE_MISUSE,INTERVENTION_RECEIVED,INTERVENTION_OFFERED",
    "oc3": "CHILD,DOB,IN_TOUCH,ACTIV,ACCOM",
    "placed_for_adoption": "CHILD,DOB,DATE_PLACED,DATE_PLACED_CEASED,REASON_PLACED_CEASED",
    "previous_permanence": "CHILD,DOB,PREV_PERM,LA_PERM,DATE_PERM",
    "reviews": "CHILD,DOB,REVIEW,REVIEW_CODE",
    "uasc": "CHILD,SEX,DOB,DUC",
    "header": "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB",
    "episodes": "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,"
    "HOME_POST,PL_POST,URN",
}
KEY = ["LA", "CHILD", "DECOM"]


def ts(d: int) -> pd.Timestamp:
    return pd.Timestamp(dt.date(1970, 1, 1) + dt.timedelta(days=d))


@pytest.fixture(scope="module")
def data():
    return generate(default_config(), seed=5, scale=0.03, annual=True)


@pytest.fixture(scope="module")
def years(data):
    return sorted(data.returns)


def keys(df: pd.DataFrame) -> set[tuple]:
    return set(zip(df["LA"], df["CHILD"], df["DECOM"], strict=True))


def true_keys(data, year: int) -> set[tuple]:
    """Keys of a return with each stale DECOM replaced by the true one."""
    got = data.returns[year]["episodes"]
    c = data.truth_tables["corrections"]
    c = c[(c["column"] == "DECOM") & (c["stale_collection_year"] == year)]
    stale = {
        (r.LA, r.CHILD, pd.Timestamp(r.stale_value)): (r.LA, r.CHILD, r.DECOM)
        for r in c.itertuples(index=False)
    }
    return {stale.get(k, k) for k in keys(got)}


def test_layout_and_years(data, years):
    assert years == list(range(2021, 2027))
    assert data.truth["layout"] == "annual"
    assert data.truth["data_end"] == "2026-03-31"
    assert data.truth["extract_start"] == "2020-04-01"
    for y in years:
        assert set(data.returns[y]) == set(DFE_COLUMNS)


@pytest.mark.parametrize("table", sorted(DFE_COLUMNS))
def test_columns_are_dfe_names(data, years, table):
    for y in years:
        assert list(data.returns[y][table].columns) == ["LA", *DFE_COLUMNS[table].split(",")]


def test_every_episode_open_in_a_year_is_in_its_return(data, years):
    full = data.full_episodes
    for y in years:
        start, end = (ts(d) for d in year_bounds(y))
        want = full[(full["DECOM"] <= end) & (full["DEC"].isna() | (full["DEC"] >= start))]
        assert true_keys(data, y) == keys(want), y
        assert len(data.returns[y]["episodes"]) == len(want)


def test_open_episodes_are_shown_open_and_carried_into_the_next_return(data, years):
    full = data.full_episodes.set_index(KEY)
    for y, nxt in itertools.pairwise(years):
        _, end = (ts(d) for d in year_bounds(y))
        ep = data.returns[y]["episodes"]
        shown_open = ep["DEC"].isna()
        assert ep.loc[shown_open, ["REC", "REASON_PLACE_CHANGE"]].isna().all().all()
        closed = ep.loc[~shown_open].set_index(KEY)
        truth = full.loc[closed.index]
        assert (closed["DEC"] == truth["DEC"]).all() and (closed["REC"] == truth["REC"]).all()
        assert (closed["DEC"] <= end).all()
        carried = true_keys(data, y) - keys(ep.loc[~shown_open])
        assert carried, y
        assert carried <= true_keys(data, nxt), f"open episodes of {y} missing from {nxt}"


def test_header_holds_the_children_of_the_return(data, years):
    for y in years:
        r = data.returns[y]
        kids = set(r["header"]["CHILD"])
        assert set(r["episodes"]["CHILD"]) | set(r["oc3"]["CHILD"]) == kids
        assert r["header"]["CHILD"].is_unique
        for t in ("uasc", "missing", "previous_permanence", "reviews", "oc2", "ad1"):
            assert set(r[t]["CHILD"]) <= kids, t


def test_code_sets_by_collection_year(data, years):
    for y in years:
        h, ep = data.returns[y]["header"], data.returns[y]["episodes"]
        place = set(ep["PLACE"])
        if y < 2025:
            assert set(h["SEX"]) == {"1", "2"}
        else:
            assert set(h["SEX"]) <= {"M", "F", "U"} and {"M", "F"} <= set(h["SEX"])
            assert (h["SEX"] == "U").mean() < 0.01
        if y < 2026:
            assert not place & {"Z11", "Z12", "Z13", "Z14"}
            assert place <= set(codes.PLACE)
        else:
            assert not place & {"Z1", "H5", "P2"}
            assert place & {"Z11", "Z12", "Z13", "Z14"} and "K3" in place
    # one episode open across the change carries the new code in the later return
    a = data.returns[2025]["episodes"].set_index(KEY)["PLACE"]
    b = data.returns[2026]["episodes"].set_index(KEY)["PLACE"]
    c = data.truth_tables["corrections"].query("stale_collection_year == 2025")
    both = a.index.intersection(b.index).difference(pd.MultiIndex.from_frame(c[KEY]))
    pairs = set(zip(a[both], b[both], strict=True))
    assert ("H5", "K3") in pairs and any(p == ("Z1", z) for p in pairs for z in ("Z11", "Z14"))
    assert not {p for p in pairs if p[0] != p[1]} - {
        ("H5", "K3"),
        ("P2", "K3"),
        *(("Z1", f"Z1{i}") for i in range(1, 5)),
    }
    # SEX U only for children first returned from 2025 (no change of SEX between returns)
    u = set(data.truth_tables["children"].query("sex_unknown == 1")["CHILD"])
    for y in years[:4]:
        assert not u & set(data.returns[y]["header"]["CHILD"])


def test_corrections_leave_a_stale_copy_in_the_earlier_return(data):
    c = data.truth_tables["corrections"]
    assert len(c) > 10 and set(c["column"]) == {"DECOM", "PLACE"}
    for r in c.itertuples(index=False):
        old = data.returns[r.stale_collection_year]["episodes"]
        new = data.returns[r.corrected_collection_year]["episodes"].set_index(KEY)
        assert (r.LA, r.CHILD, r.DECOM) in new.index
        if r.column == "DECOM":
            stale = pd.Timestamp(r.stale_value)
            assert stale != r.DECOM
            assert ((old.LA == r.LA) & (old.CHILD == r.CHILD) & (old.DECOM == stale)).sum() == 1
            assert not ((old.CHILD == r.CHILD) & (old.DECOM == r.DECOM)).any()
        else:
            row = old[(old.LA == r.LA) & (old.CHILD == r.CHILD) & (old.DECOM == r.DECOM)]
            assert list(row["PLACE"]) == [r.stale_value]
            assert new.loc[(r.LA, r.CHILD, r.DECOM), "PLACE"] in (r.true_value, "K3") or (
                new.loc[(r.LA, r.CHILD, r.DECOM), "PLACE"].startswith("Z1")
            )


def test_truncated_histories_are_recorded_with_their_true_values(data, years):
    t = data.truth_returns
    start = pd.Timestamp(data.truth["extract_start"])
    first = data.returns[years[0]]["episodes"]
    assert (first["DECOM"] < start).sum() > 100  # children already in care
    assert (t["return_date"] >= start).all()
    trunc = t[t["left_truncated"] == 1]
    assert 0 < len(trunc) < len(t)
    assert (t["prior_periods_observed"] <= t["prior_periods"]).all()
    pt = t["period_truncated"] == 1
    assert (t.loc[pt, "period_start"] < start).all()
    assert (t.loc[pt, "period_start_observed"] > t.loc[pt, "period_start"]).all()
    assert (t.loc[~pt, "period_start_observed"] == t.loc[~pt, "period_start"]).all()
    # a period begun before the extract whose first episode (RNE S) is in it is not cut
    assert ((t["period_start"] < start) & ~pt).any()
    ph = t["prior_history_truncated"] == 1
    assert ph.any() and (t.loc[ph, "prior_periods_observed"] < t.loc[ph, "prior_periods"]).all()
    ok = t[t["left_truncated"] == 0]
    assert (ok["prior_periods_observed"] == ok["prior_periods"]).all()
    assert (ok["period_start_observed"] == ok["period_start"]).all()
    assert (ok["placement_moves_observed"] == ok["placement_moves"]).all()
    assert (ok["period_length_days_observed"] == ok["period_length_days"]).all()
    # the observed start of a truncated period is its first episode in the data
    stacked = pd.concat([data.returns[y]["episodes"] for y in years])
    starts = stacked.groupby(["LA", "CHILD"])["DECOM"].min()
    first_of = t.loc[pt].groupby(["LA", "CHILD"])["period_start_observed"].min()
    assert (first_of <= starts.loc[first_of.index]).all()
    # spells are numbered over the returns the extract shows
    assert (t.groupby(["LA", "CHILD"]).cumcount() + 1 == t["spell_number"]).all()


def test_reentry_after_other_exits_makes_periods_differ_from_returns_home(data):
    t = data.truth_returns
    assert (t["prior_periods"] >= t["prior_returns_home"]).all()
    assert (t["prior_periods"] > t["prior_returns_home"]).sum() > 5
    full = data.full_episodes
    nxt_rne = full.groupby("_child")["RNE"].shift(-1)
    followed = full.loc[nxt_rne.eq("S") & full["REC"].isin(list(codes.REC_END)), "REC"]
    assert {"E8", "E9"} <= set(followed)
    assert set(followed) & set(codes.REC_SGO) or "E41" in set(followed)
    assert data.truth["annual_realised"]["periods_after_a_non_return_exit"] > 0


def test_extra_tables_carry_the_truth(data, years):
    ch = data.truth_tables["children"].set_index(["LA", "CHILD"])
    for y in years:
        start, end = (ts(d) for d in year_bounds(y))
        r = data.returns[y]
        u = r["uasc"].set_index(["LA", "CHILD"])
        assert (ch.loc[u.index, "uasc"] == 1).all()
        assert (u["DUC"].to_numpy() == eighteenth_birthday(u["DOB"]).to_numpy()).all()
        in_return = set(zip(r["episodes"]["LA"], r["episodes"]["CHILD"], strict=True))
        flagged = {k for k in ch.index[ch["uasc"] == 1] if k in in_return}
        assert flagged == set(u.index)
        m = r["missing"]
        assert set(m["MISSING"]) <= {"M", "A"}
        assert (m["MIS_START"] <= end).all()
        assert (m["MIS_END"].isna() | (m["MIS_END"] >= start)).all()
        pp = r["previous_permanence"]
        assert set(pp["PREV_PERM"]) <= {"P1", "P2", "P3", "P4", "Z1"}
        has = pp["PREV_PERM"] != "Z1"
        assert pp.loc[has, ["LA_PERM", "DATE_PERM"]].notna().all().all()
        assert pp.loc[~has, ["LA_PERM", "DATE_PERM"]].isna().all().all()
        oc3 = r["oc3"]
        died = oc3["IN_TOUCH"] == "DIED"
        assert (oc3.loc[died, ["ACTIV", "ACCOM"]] == "0").all().all()
        dd = ch.loc[list(zip(oc3["LA"], oc3["CHILD"], strict=True)), "death_date"].to_numpy()
        assert (pd.notna(dd[died.to_numpy()])).all()
    deaths = pd.concat([data.returns[y]["oc3"] for y in years])
    assert (deaths["IN_TOUCH"] == "DIED").any()
    assert any((data.returns[y]["previous_permanence"]["PREV_PERM"] != "Z1").any() for y in years)


def test_truth_covariates_of_the_return_tables():
    """A hazard ratio for missing episodes moves re-entry the stated way."""
    cfg = default_config().with_overrides(
        {
            "annual.hazard_ratios.missing": 4.0,
            "annual.hazard_ratios.uasc": 0.5,
            "reentry.la_sd_log_hr": 0.0,
        }
    )
    d = generate(cfg, seed=8, scale=0.03, annual=True)
    t = d.truth_returns
    assert set(t["missing_episodes"].unique()) > {0}
    assert t["uasc"].sum() > 0
    extra = np.log(4.0) * (t["missing_episodes"] > 0) + np.log(0.5) * t["uasc"]
    np.testing.assert_allclose(t["true_lp"] - linear_predictor(cfg.values, t), extra, atol=1e-12)


def test_same_seed_same_bytes(tmp_path):
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        generate(default_config(), seed=seed, scale=0.005, annual=True, messy=True).write(
            tmp_path / name
        )
    a, b, c = ((tmp_path / n / "SHA256SUMS").read_text() for n in "abc")
    assert a == b and a != c
    assert "2021/episodes.csv" in a and "2026/oc3.csv" in a
    text = (tmp_path / "a/2022/episodes.csv").read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("LA,CHILD,DECOM,RNE")
    assert all(len(row.split(",")[2]) == 10 for row in text[1:])


def test_names_with_the_year_in_the_file_name(tmp_path):
    cfg = default_config().with_overrides({"output.annual_names": "name"})
    generate(cfg, seed=4, scale=0.003, annual=True).write(tmp_path)
    assert (tmp_path / "2021_episodes.csv").exists()
    assert (tmp_path / "2026_placed_for_adoption.csv").exists()
    assert not (tmp_path / "2021").exists()


def test_flat_layout_unchanged_by_the_annual_keys():
    d = generate(default_config(), seed=1, scale=0.002)
    assert d.returns is None and "layout" not in d.truth
    assert default_config().with_overrides({"annual.correction_rate": 0.5}).sha256 == (
        default_config().sha256
    )
