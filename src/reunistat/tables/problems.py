"""Problems met while reading and validating, one row each, in one form.

Columns are :data:`reunistat.tables.schema.PROBLEM_COLUMNS`: table, column,
LA, CHILD, DECOM, rule, value, detail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reunistat.codes import category_values
from reunistat.tables import schema


def empty_problems() -> pd.DataFrame:
    """Return an empty problems frame."""
    return _EMPTY.copy()


def problems_frame(
    df: pd.DataFrame, mask: np.ndarray | pd.Series, table: str, column: str, rule: str, **kw: str
) -> pd.DataFrame:
    """Return one problem row per row of ``df`` selected by ``mask``.

    Parameters
    ----------
    df : DataFrame
        The table checked.
    mask : array of bool
        Rows that break ``rule``.
    table, column, rule : str
        What to name in each problem.
    **kw
        ``detail`` (text, same for every row) and ``value_col`` (the column
        whose value to report; ``column`` by default).
    """
    m = np.asarray(mask, dtype=bool)
    sub = df.loc[m]
    n = len(sub)
    value_col = kw.get("value_col", column)

    def col(name: str) -> pd.Series:
        if name in sub.columns and isinstance(sub[name].dtype, pd.CategoricalDtype):
            return pd.Series(category_values(sub[name]), dtype=object)  # blanks as None
        if name in sub.columns and sub[name].dtype == "datetime64[ns]":
            return _timestamps(sub[name].to_numpy())
        if name in sub.columns:
            return sub[name].reset_index(drop=True).astype(object)
        return pd.Series([None] * n, dtype=object)

    child_col = "CHILD" if "CHILD" in sub.columns else "LAchildID"
    out = pd.DataFrame(
        {
            "table": table,
            "column": column,
            "LA": col("LA"),
            "CHILD": col(child_col),
            "DECOM": col("DECOM"),
            "rule": rule,
            "value": col(value_col).astype(object),
            "detail": kw.get("detail", schema.RULES.get(rule, "")),
        },
        index=range(n),
    )
    return out[list(schema.PROBLEM_COLUMNS)]


def _timestamps(dates: np.ndarray) -> pd.Series:
    """``Series(dates).astype(object)``: one Timestamp made per distinct date, not per row."""
    idx, distinct = pd.factorize(dates, use_na_sentinel=True)
    made = pd.Series(distinct, dtype=dates.dtype).astype(object).to_numpy()
    return pd.Series(
        np.append(made, np.array([pd.NaT], dtype=object))[idx], dtype=object
    )  # -1 (NaT): NaT


_EMPTY = pd.DataFrame({c: pd.Series(dtype=object) for c in schema.PROBLEM_COLUMNS})
