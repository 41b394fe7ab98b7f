"""Date columns: one format detected for the whole column, numbers by their origin."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from reunistat.errors import ReadError
from reunistat.tables.dates import dfe_dates, parse_date_column, parse_text_dates_across


def parse(values, numeric_as="none"):
    return parse_date_column(pd.Series(values), "f.csv", "episodes", "DECOM", numeric_as)


def test_blank_cells_stay_missing_and_bad_single_values_are_named():
    d, bad = parse(["31/01/2019", None, "", "31/02/2019"])
    assert d.iloc[0] == pd.Timestamp("2019-01-31") and d.iloc[1:].isna().all()
    assert bad.tolist() == [False, False, False, True]


def test_excel_serials_stata_days_and_typed_dates():
    d, _ = parse([43466, None], numeric_as="excel")
    assert d.iloc[0] == pd.Timestamp("2019-01-01")
    d, _ = parse([21550.0, None], numeric_as="stata")
    assert d.iloc[0] == pd.Timestamp("2019-01-01")
    d, bad = parse([dt.datetime(2019, 1, 1, 0, 0), "02/01/2019", None], numeric_as="excel")
    assert d.tolist()[:2] == [pd.Timestamp("2019-01-01"), pd.Timestamp("2019-01-02")]
    assert not bad.any()


def test_numbers_in_a_text_file_are_an_error():
    with pytest.raises(ReadError, match="numbers where dates are expected"):
        parse([43466.0, 43467.0])


def test_a_time_of_day_is_dropped_not_a_second_format():
    d, bad = parse(["2019-01-31T00:00:00", "2019-02-01 00:00", None])
    assert d.iloc[:2].tolist() == [pd.Timestamp("2019-01-31"), pd.Timestamp("2019-02-01")]
    assert not bad.any()


def test_error_names_file_table_column_and_examples():
    with pytest.raises(ReadError) as err:
        parse(["13/01/2019", "01/13/2019"])
    assert str(err.value).startswith("f.csv: table episodes, column DECOM: dates in both")
    assert "'13/01/2019'" in str(err.value) and "'01/13/2019'" in str(err.value)


def test_plain_dfe_dates_read_without_strptime_as_to_datetime_reads_them():
    days = pd.date_range("1800-01-01", "2199-12-31")
    text = np.array(days.strftime("%d/%m/%Y"), dtype=object)
    assert np.array_equal(dfe_dates(text), days.to_numpy())
    for odd in (
        "31/04/2019",
        "29/02/2019",
        "00/01/2019",
        "01/13/2019",
        "1/01/2019",
        "01-01-2019",
        "01/01/201a",
        "01/01/1799",
        "01/01/2019 ",
        "01/01/2019\x00",
    ):
        assert dfe_dates(np.array(["01/01/2019", odd], dtype=object)) is None, odd
    # a value to_datetime reads but dfe_dates leaves to it: the same dates either way
    cols = [pd.Series(["1/02/2019", None], dtype="category"), pd.Series(["03/02/2019"])]
    got = parse_text_dates_across(cols)
    assert got is not None
    assert [d.tolist() for d in got] == [
        [pd.Timestamp("2019-02-01"), pd.NaT],
        [pd.Timestamp("2019-02-03")],
    ]
