"""The quicker paths of validation and derivation give what the plain pandas ones gave."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.cohort import flow
from reunistat.cohort.covariates import _last_rows, _last_rows_of_text
from reunistat.cohort.extent import latest_date
from reunistat.cohort.other_tables import child_keys, oc3_deaths, per_value
from reunistat.dates import add_years, age_years
from reunistat.tables.keys import CID, UID, child_uid, has_la
from reunistat.tables.problems import problems_frame
from reunistat.tables.rules import frame
from reunistat.tables.rules.ages import _birthdays_by_date, anniversaries, birthdays

_MOMENTS = st.one_of(
    st.none(),
    st.datetimes(dt.datetime(1677, 9, 22), dt.datetime(2262, 4, 10)),
    st.sampled_from(
        [
            dt.datetime(2000, 2, 29),
            dt.datetime(2004, 2, 29, 13, 30),
            dt.datetime(1900, 2, 28),
            dt.datetime(2096, 2, 29),
            dt.datetime(1677, 9, 22),
            dt.datetime(2262, 4, 11),
        ]
    ),
)


@settings(deadline=None, max_examples=200)
@given(st.lists(_MOMENTS, max_size=30), st.integers(-400, 400))
def test_anniversaries_are_add_years(moments: list[dt.datetime | None], years: int) -> None:
    dates = pd.Series(pd.to_datetime(pd.Series(moments, dtype=object)), dtype="datetime64[ns]")
    want = add_years(dates, years).to_numpy(dtype="datetime64[ns]")
    got = anniversaries(dates.to_numpy(), years)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@settings(deadline=None)
@given(st.lists(_MOMENTS, max_size=30))
def test_birthdays_as_by_date(moments: list[dt.datetime | None]) -> None:
    dob = pd.Series(
        pd.to_datetime(pd.Series(moments, dtype=object)),
        dtype="datetime64[ns]",
        index=np.arange(len(moments)) * 2,
    )
    for got, want in zip(
        birthdays(dob, 14, 16, 18), _birthdays_by_date(dob, (14, 16, 18)), strict=True
    ):
        pd.testing.assert_series_equal(got, want)


_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "A", "b", "ab", "b1", "é"]))


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(_TEXT, st.sampled_from(["x", "y"]), st.integers(0, 3), st.floats(0, 2)),
        max_size=12,
    ),
    st.booleans(),
)
def test_in_order_only_when_a_sort_moves_nothing(rows: list[tuple], presort: bool) -> None:
    df = pd.DataFrame(rows, columns=["t", "u", "i", "f"]).astype({"t": object, "u": object})
    by = ["u", "t", "i", "f"]
    if presort:
        df = df.fillna({"t": "z"}).sort_values(by, kind="stable", ignore_index=True)
    if frame.in_order(df, by):
        moved = df.sort_values(by, kind="stable")
        assert moved.index.equals(df.index)


def test_in_order_sees_disorder_and_blanks() -> None:
    df = pd.DataFrame({"LA": ["1", "1", "2"], "CHILD": ["b", "a", "a"], "n": [1, 1, 1]})
    assert not frame.in_order(df, ["LA", "CHILD", "n"])
    assert frame.in_order(df, ["LA"])
    assert not frame.in_order(df.assign(LA=["1", None, "2"]), ["LA"])
    assert not frame.in_order(df.assign(n=[1.0, np.nan, 2.0]), ["n"])
    assert frame.in_order(df.iloc[:1], ["CHILD"])


@given(st.lists(st.one_of(st.none(), st.just(np.nan), st.just(pd.NA), st.text(max_size=2))))
def test_blank_is_isna(values: list[object]) -> None:
    s = pd.Series(values, dtype=object)
    np.testing.assert_array_equal(frame.blank(s), s.isna().to_numpy())
    assert has_la(pd.DataFrame({"LA": s})) == bool(s.notna().all())


@given(st.lists(st.integers(0, 4), max_size=12))
def test_first_per_key_is_drop_duplicates(keys: list[int]) -> None:
    df = pd.DataFrame({CID: np.array(keys, dtype=np.int64), "v": np.arange(len(keys))})
    df.index = df.index * 3
    pd.testing.assert_frame_equal(frame.first_per_key(df, CID), df.drop_duplicates(CID))


_KEY = st.one_of(st.none(), st.just(np.nan), st.sampled_from(["AB1", "AB2", "ab1", "", "CD3"]))


@settings(deadline=None)
@given(st.lists(_KEY, max_size=15), st.lists(_KEY, max_size=15))
def test_last_rows_of_text_as_factorised(table_keys: list[object], keys: list[object]) -> None:
    t, k = np.array(table_keys, dtype=object), np.array(keys, dtype=object)
    got = _last_rows_of_text(t, k)
    assert got is not None
    np.testing.assert_array_equal(got, _last_rows(t, k))


def test_last_rows_of_text_either_side_hashed() -> None:
    t = np.array(["a", None, "b", "a", np.nan, "c", "b"], dtype=object)
    for k in (["b", None, "a", "b", "z"], ["a", "z", "b", "c", None, "a", "b", "a", np.nan]):
        keys = np.array(k, dtype=object)  # fewer keys than rows, then more
        got = _last_rows_of_text(t, keys)
        assert got is not None and got.dtype == np.int64
        np.testing.assert_array_equal(got, _last_rows(t, keys))
    np.testing.assert_array_equal(_last_rows_of_text(t, np.array(["b"], dtype=object)), [6])


def test_last_rows_of_other_keys_left_to_factorise() -> None:
    assert _last_rows_of_text(np.array([1, 2], dtype=object), np.array(["1"], dtype=object)) is None


_ROW = st.tuples(
    st.sampled_from(["L1", "L2", None]),
    st.sampled_from(["C1", "C2"]),
    st.one_of(st.none(), st.dates(dt.date(2010, 1, 1), dt.date(2020, 1, 1))),
    st.sampled_from(["P1", "U1", None]),
)


@settings(deadline=None)
@given(
    st.lists(_ROW, max_size=10),
    st.lists(st.booleans(), min_size=10, max_size=10),
    st.sampled_from(["PLACE", "DECOM", "CHILD", "LA", "NOPE"]),
    st.booleans(),
)
def test_problems_of_named_columns_as_of_every_column(
    rows: list[tuple], mask: list[bool], column: str, category: bool
) -> None:
    df = pd.DataFrame(rows, columns=["LA", "CHILD", "DECOM", "PLACE"]).assign(
        DECOM=lambda d: pd.to_datetime(d["DECOM"]), OTHER=1
    )
    if category:
        df["PLACE"] = df["PLACE"].astype("category")
    df.index = df.index + 5
    m = np.array(mask[: len(df)], dtype=bool)
    want = problems_frame(df, m, "episodes", column, "146", detail="d")
    got = frame.problems(df, m, "146", table="episodes", column=column, detail="d")
    pd.testing.assert_frame_equal(got, want)


def test_problems_of_cin_rows_name_the_child_by_lachildid() -> None:
    cin = pd.DataFrame({"LA": ["1"], "LAchildID": ["C9"], "UPN": ["U"]})
    got = frame.problems(cin, np.array([True]), "required", table="cin", column="UPN")
    assert got["CHILD"].tolist() == ["C9"] and got["value"].tolist() == ["U"]


@given(st.lists(st.tuples(_MOMENTS, _MOMENTS), min_size=1, max_size=8))
def test_latest_date_as_concatenated(pairs: list[tuple]) -> None:
    decom, dec = zip(*pairs, strict=True)
    e = pd.DataFrame(
        {
            "DECOM": pd.Series(pd.to_datetime(pd.Series(decom, dtype=object)), dtype="M8[ns]"),
            "DEC": pd.Series(pd.to_datetime(pd.Series(dec, dtype=object)), dtype="M8[ns]"),
        }
    )
    want = pd.concat([e["DECOM"], e["DEC"]]).max()
    if pd.isna(want):
        return  # no date: an error either way
    assert latest_date(e) == want


def test_age_years_of_dates_and_text() -> None:
    dob = pd.Series(pd.to_datetime(["2000-01-01", None]), index=[3, 4])
    on = pd.Series(pd.to_datetime(["2010-01-01", "2011-01-01"]), index=[3, 4])
    got = age_years(dob, on)
    want = age_years(dob.astype(object), on.dt.strftime("%Y-%m-%d"))
    pd.testing.assert_series_equal(got, want)


def _period_rows_before(care: pd.DataFrame, returned: pd.Series, n: int) -> list[dict]:
    other = care.loc[~returned.to_numpy()]
    rows = []
    is_open = other["end_rec"].isna()
    if is_open.any():
        rows.append(
            flow.row(
                "exclude",
                "period still open at the data end",
                "open",
                periods=int(is_open.sum()),
                episodes=int(other.loc[is_open, "n_episodes"].sum()),
            )
        )
    closed = other.loc[~is_open]
    labels = closed["end_rec"].map(
        {r: flow._exit_label(str(r)) for r in closed["end_rec"].unique()}
    )
    for (reason, text), g in closed.groupby(labels, sort=True):
        rows.append(
            flow.row("exclude", text, reason, periods=len(g), episodes=int(g["n_episodes"].sum()))
        )
    rows.append(
        flow.row(
            "exclude",
            "children with no return home",
            "no_return",
            children=care[CID].nunique() - n,
        )
    )
    return rows


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.integers(1, 5),
            st.sampled_from([None, "E4A", "E11", "E45", "E2", "E13"]),
            st.booleans(),
        ),
        max_size=15,
    ),
)
def test_period_rows_as_before(rows: list[tuple]) -> None:
    cid, n_eps, rec, ret = zip(*rows, strict=True) if rows else ((), (), (), ())
    care = pd.DataFrame(
        {
            CID: np.array(cid, dtype=np.int64),
            "n_episodes": np.array(n_eps, dtype=np.int64),
            "end_rec": pd.Series(rec, dtype=object),
            "other": 0,
        }
    )
    returned = pd.Series(np.array(ret, dtype=bool), index=care.index)
    assert flow.period_rows(care, returned, 1) == _period_rows_before(care, returned, 1)


_CODE = st.one_of(
    st.none(), st.just(np.nan), st.sampled_from([" m", "M", "a ", "died", "DIED ", ""])
)


@given(st.lists(st.one_of(_CODE, st.integers(0, 2), st.floats(0, 1)), max_size=12))
def test_per_value_is_map(values: list[object]) -> None:
    s = pd.Series(values, dtype=object, index=np.arange(len(values)) + 7)
    fn = lambda v: str(v).strip().upper()  # noqa: E731
    pd.testing.assert_series_equal(per_value(s, fn), s.astype(str).str.strip().str.upper())
    blanks = lambda v: None if pd.isna(v) else (str(v).strip() or None)  # noqa: E731
    pd.testing.assert_series_equal(per_value(s, blanks), s.astype(object).map(blanks))


def _oc3_deaths_before(table, header, episodes, use_la, last_year):  # type: ignore[no-untyped-def]
    """oc3_deaths as it was: every header and episode row given its text key."""
    t = table.loc[table["IN_TOUCH"].astype(str).str.strip().str.upper() == "DIED"]
    uid = child_keys(t, episodes, use_la)
    h = header.assign(**{UID: child_uid(header, use_la)}).drop_duplicates(UID)
    dob = pd.to_datetime(uid.map(h.set_index(UID)["DOB"]))
    year = pd.Series(last_year, index=t.index, dtype=np.int64)
    before_april = (dob.dt.month < 4).astype(np.int64)
    age = (year - 1 + before_april - dob.dt.year).astype("Int64")
    birthday = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
    for a in age.dropna().unique():
        m = (age == a).fillna(False).to_numpy(dtype=bool)
        birthday[m] = add_years(dob[m], int(a)).to_numpy()
    last_seen = (
        pd.concat([episodes["DECOM"], episodes["DEC"]])
        .groupby(pd.concat([child_uid(episodes, use_la)] * 2))
        .max()
    )
    date = pd.concat([birthday, pd.to_datetime(uid.map(last_seen))], axis=1).max(axis=1)
    out = pd.DataFrame({"_uid": uid.to_numpy(), "EXIT_DATE": date.to_numpy()})
    return out.dropna().sort_values("EXIT_DATE").drop_duplicates("_uid")


_ID = st.sampled_from(["1", "2", " 1", "x\x1f1"])
_LA = st.sampled_from(["A", "B", "A\x1fx"])


@settings(deadline=None)
@given(
    st.lists(st.tuples(_LA, _ID, st.dates(dt.date(2000, 1, 1), dt.date(2008, 12, 31))), max_size=6),
    st.lists(
        st.tuples(_LA, _ID, st.dates(dt.date(2015, 1, 1), dt.date(2020, 1, 1)), _MOMENTS),
        max_size=8,
    ),
    st.lists(st.tuples(_LA, _ID, st.sampled_from(["DIED", " died", "YES"])), max_size=6),
    st.booleans(),
)
def test_oc3_deaths_as_before(
    header_rows: list[tuple], episode_rows: list[tuple], oc3_rows: list[tuple], use_la: bool
) -> None:
    header = pd.DataFrame(header_rows, columns=["LA", "CHILD", "DOB"]).astype(
        {"LA": object, "CHILD": object, "DOB": "datetime64[ns]"}
    )
    episodes = pd.DataFrame(episode_rows, columns=["LA", "CHILD", "DECOM", "DEC"])
    episodes = episodes.astype({"LA": object, "CHILD": object, "DECOM": "datetime64[ns]"})
    episodes["DEC"] = pd.Series(
        pd.to_datetime(pd.Series(episodes["DEC"], dtype=object)), dtype="datetime64[ns]"
    )
    oc3 = pd.DataFrame(oc3_rows, columns=["LA", "CHILD", "IN_TOUCH"]).astype(object)
    if not len(oc3) or not len(episodes):
        return
    want = _oc3_deaths_before(oc3, header, episodes, use_la, 2020)
    got = oc3_deaths(oc3, header, episodes, use_la, 2020)
    if want.empty:
        assert got.empty
        return
    pd.testing.assert_frame_equal(got, want)
