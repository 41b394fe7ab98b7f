"""Date columns: one format detected for the whole column, numbers by their origin."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from reunistat.errors import ReadError
from reunistat.tables.dates import parse_date_column


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
