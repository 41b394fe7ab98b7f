"""When the data end and begin: from the collection years read, never from a date.

A 903 collection year runs 1 April to 31 March (DOMAIN.md §5). The data end is
31 March of the latest collection year read (the internal column
:data:`reunistat.tables.keys.YEAR_COL` of the episodes, before any child is
excluded); the extract start is 1 April of the earliest. A date in the data
never sets them: a single DEC typed years ahead would otherwise move the data
end, and with it every censoring time. A DECOM or DEC after the data end is a
problem (rule ``after_data_end``), not a new data end.

Without collection years (a single file with no year, e.g. the generator's
Parquet), the data end falls back to the latest DECOM or DEC in the episodes
read (before exclusions) and the extract start is unknown; the
:class:`Extent` says which rule was used, and ``data_end`` /
``extract_start`` in the configuration override both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reunistat.cohort.config import CohortConfig
from reunistat.errors import DataValidationError
from reunistat.tables.keys import YEAR_COL
from reunistat.tables.schema import PROBLEM_COLUMNS

#: Rule name of a DECOM or DEC after the data end (problems and flow reason).
AFTER_DATA_END = "after_data_end"


@dataclass(frozen=True)
class Extent:
    """The span the data cover and how it was found.

    Attributes
    ----------
    data_end : Timestamp
        The last day the data cover.
    data_end_rule : {"config", "collection_year", "latest_date"}
        Where it came from: the configuration, 31 March of the latest
        collection year read, or (no collection year known) the latest DECOM
        or DEC in the episodes read.
    extract_start : Timestamp or None
        The first day the data cover (1 April of the earliest collection year
        read, or the configuration); ``None`` when unknown.
    extract_start_rule : {"config", "collection_year", "unknown"}
    years : tuple of int
        The collection years of the episodes read (year ending: 2018 = 2017-18).
    """

    data_end: pd.Timestamp
    data_end_rule: str
    extract_start: pd.Timestamp | None
    extract_start_rule: str
    years: tuple[int, ...] = ()

    def describe(self) -> list[str]:
        """Return one sentence on the data end and one on the extract start.

        >>> e = Extent(pd.Timestamp("2018-03-31"), "collection_year",
        ...            pd.Timestamp("2016-04-01"), "collection_year", (2017, 2018))
        >>> e.describe()[0]
        'data end 2018-03-31: 31 March of the latest collection year read (2017-18)'
        """
        end = str(self.data_end.date())
        how_end = {
            "config": f"data end {end}: given in the configuration (data_end)",
            "collection_year": (
                f"data end {end}: 31 March of the latest collection year read "
                f"({_year_label(max(self.years))})"
                if self.years
                else f"data end {end}: 31 March of the latest collection year read"
            ),
            "latest_date": (
                f"data end {end}: inferred from dates, the latest DECOM or DEC in the episodes "
                "read (no collection year known; set data_end to fix it)"
            ),
        }[self.data_end_rule]
        if self.extract_start is None:
            how_start = (
                "extract start unknown (no collection year): children whose first episode has "
                "RNE other than S are taken as in care when the data begin"
            )
        elif self.extract_start_rule == "config":
            how_start = (
                f"extract start {self.extract_start.date()}: given in the configuration "
                "(extract_start)"
            )
        else:
            how_start = (
                f"extract start {self.extract_start.date()}: 1 April of the earliest collection "
                f"year read ({_year_label(min(self.years))})"
            )
        return [how_end, how_start]


def _year_label(year: int) -> str:
    """Return ``2017-18`` for the collection year ending in 2018."""
    return f"{year - 1}-{year % 100:02d}"


def collection_years(episodes: pd.DataFrame) -> tuple[int, ...]:
    """Return the collection years of the episodes (empty when none is known).

    >>> ep = pd.DataFrame({YEAR_COL: pd.array([2019, None, 2017], dtype="Int64")})
    >>> collection_years(ep)
    (2017, 2019)
    """
    if YEAR_COL not in episodes.columns:
        return ()
    years = pd.to_numeric(episodes[YEAR_COL], errors="coerce").dropna().unique()
    return tuple(sorted(int(y) for y in years))


def latest_date(episodes: pd.DataFrame) -> pd.Timestamp:
    """Return the latest DECOM or DEC in the episodes (the fallback data end)."""
    decom, dec = episodes["DECOM"], episodes["DEC"]
    if decom.dtype == "datetime64[ns]" and dec.dtype == "datetime64[ns]":
        latest = max((d for d in (decom.max(), dec.max()) if not pd.isna(d)), default=pd.NaT)
    else:  # other dtypes: the two columns as one
        latest = pd.concat([decom, dec]).max()
    if pd.isna(latest):
        raise DataValidationError(
            "table episodes has no dates (DECOM, DEC): cannot infer the data end; "
            "give data_end in the [cohort] configuration"
        )
    return pd.Timestamp(latest)


def data_extent(episodes: pd.DataFrame, config: CohortConfig) -> Extent:
    """Find the data end and the extract start of the episodes read.

    Parameters
    ----------
    episodes : DataFrame
        The episodes as read and stacked, before any child is excluded.
    config : CohortConfig
        ``data_end`` and ``extract_start`` override what is inferred.

    Returns
    -------
    Extent

    Examples
    --------
    >>> ep = pd.DataFrame({"DECOM": pd.to_datetime(["2016-05-01", "2017-06-01"]),
    ...                    "DEC": pd.to_datetime(["2031-01-01", None]),
    ...                    YEAR_COL: pd.array([2017, 2018], dtype="Int64")})
    >>> e = data_extent(ep, CohortConfig())
    >>> str(e.data_end.date()), str(e.extract_start.date())
    ('2018-03-31', '2016-04-01')
    """
    years = collection_years(episodes)
    if config.data_end is not None:
        end, end_rule = pd.Timestamp(config.data_end), "config"
    elif years:
        end, end_rule = pd.Timestamp(year=max(years), month=3, day=31), "collection_year"
    else:
        end, end_rule = latest_date(episodes), "latest_date"
    if config.extract_start is not None:
        start: pd.Timestamp | None = pd.Timestamp(config.extract_start)
        start_rule = "config"
    elif years:
        start, start_rule = pd.Timestamp(year=min(years) - 1, month=4, day=1), "collection_year"
    else:
        start, start_rule = None, "unknown"
    return Extent(end, end_rule, start, start_rule, years)


def dates_after_end(episodes: pd.DataFrame, extent: Extent) -> pd.DataFrame:
    """Return one problem per DECOM or DEC after the data end (rule ``after_data_end``).

    The problems have the columns of a validation report
    (:data:`reunistat.tables.schema.PROBLEM_COLUMNS`).
    """
    end = extent.data_end
    out = []
    why = extent.describe()[0]
    for col in ("DECOM", "DEC"):
        m = (episodes[col] > end).fillna(False).to_numpy(dtype=bool)
        if not m.any():
            continue
        sub = episodes.loc[m]
        out.append(
            pd.DataFrame(
                {
                    "table": "episodes",
                    "column": col,
                    "LA": sub["LA"].to_numpy(dtype=object) if "LA" in sub else None,
                    "CHILD": sub["CHILD"].to_numpy(dtype=object),
                    "DECOM": sub["DECOM"].to_numpy(dtype=object),
                    "rule": AFTER_DATA_END,
                    "value": sub[col].to_numpy(dtype=object),
                    "detail": f"{col} after the {why}",
                },
                index=np.arange(int(m.sum())),
            )
        )
    if not out:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
    return pd.concat(out, ignore_index=True)[list(PROBLEM_COLUMNS)]
