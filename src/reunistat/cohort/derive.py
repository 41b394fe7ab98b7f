"""The linked tables → the spells table: one row per return home (DOMAIN.md §3).

:func:`build_cohort` validates the tables, builds periods of care, finds the
returns home and their outcome, adds the covariates and accounts for every row
in a flow table. :func:`derive_cohort` returns only the spells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reunistat import spells as spells_contract
from reunistat.cohort import covariates, flow, outcomes
from reunistat.cohort.config import CohortConfig
from reunistat.cohort.periods import build_periods, sort_episodes
from reunistat.dates import eighteenth_birthday
from reunistat.tables.io import Extract, read_extract
from reunistat.tables.keys import child_uid, has_la
from reunistat.tables.validate import Validated, validate_tables

_DATES = ("period_start", "return_date", "reentry_date", "censor_date")
_INTS = (
    "spell_number",
    "reentered",
    "days_followed",
    "days_potential_followup",
    "event_type",
    "disability",
    "section20",
    "prior_periods",
    "placement_moves",
    "period_length_days",
    "return_year",
    "pilot",
)
#: The dtype of each spells column (the same whether or not there are spells).
SPELL_DTYPES: dict[str, str] = {
    **dict.fromkeys(spells_contract.SPELL_COLUMNS, "object"),
    **dict.fromkeys(_DATES, "datetime64[ns]"),
    **dict.fromkeys(_INTS, "int64"),
    "age_at_return_years": "float64",
    "idaci_decile": "Int64",
    "fsm": "Int64",
}


@dataclass
class Cohort:
    """The derived cohort and how it was reached.

    Attributes
    ----------
    spells : DataFrame
        One row per return home, columns :data:`reunistat.spells.SPELL_COLUMNS`.
    flow : DataFrame
        The CONSORT-style account (:mod:`reunistat.cohort.flow`).
    periods : DataFrame
        Every period of care (short-break-only ones flagged).
    validated : Validated
        The validation result: problems, excluded children and rows.
    data_end : Timestamp
        The data end used.
    config : CohortConfig
    """

    spells: pd.DataFrame
    flow: pd.DataFrame
    periods: pd.DataFrame
    validated: Validated
    data_end: pd.Timestamp
    config: CohortConfig


def infer_data_end(episodes: pd.DataFrame) -> pd.Timestamp:
    """Return the latest DECOM or DEC in the episodes (the extract's own end)."""
    latest = pd.concat([episodes["DECOM"], episodes["DEC"]]).max()
    if pd.isna(latest):
        raise ValueError("table episodes has no dates: cannot infer the data end")
    return pd.Timestamp(latest)


def _exits(tables: Mapping[str, pd.DataFrame], e: pd.DataFrame, use_la: bool) -> pd.DataFrame:
    """Each child's earliest known death or other exit, indexed by child key."""
    ex = tables.get("exits")
    if ex is None or ex.empty:
        return pd.DataFrame({"EXIT_DATE": pd.Series(dtype="datetime64[ns]"), "EXIT_REASON": []})
    if use_la and not has_la(ex):  # exits without LA: find the child by its id
        uid = ex["CHILD"].map(e.drop_duplicates("CHILD").set_index("CHILD")["_uid"])
    else:
        uid = child_uid(ex, use_la)
    ex = ex.assign(_uid=uid.to_numpy()).dropna(subset=["_uid"])
    return ex.sort_values("EXIT_DATE").drop_duplicates("_uid").set_index("_uid")


def _spells(
    returns: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    e: pd.DataFrame,
    use_la: bool,
    data_end: pd.Timestamp,
) -> pd.DataFrame:
    header = covariates.child_table(tables["header"], use_la)
    dob = returns["_uid"].map(header["DOB"])
    ex = _exits(tables, e, use_la)
    out = outcomes.follow_up(
        returns,
        data_end,
        eighteenth_birthday(dob),
        pd.to_datetime(returns["_uid"].map(ex["EXIT_DATE"])),
        returns["_uid"].map(ex["EXIT_REASON"]),
    )
    disabled = covariates.disability_children(tables, e, use_la)
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "LA": returns["LA"],
                    "CHILD": returns["CHILD"],
                    "spell_number": returns["spell_number"].astype(np.int64),
                    "period_start": returns["period_start"],
                    "return_rec": returns["end_rec"],
                }
            ),
            out,
            covariates.demographic(returns, header),
            covariates.care_history(returns, disabled),
            covariates.linked(returns, header, tables),
        ],
        axis=1,
    )
    table = table[list(spells_contract.SPELL_COLUMNS)].astype(SPELL_DTYPES)
    return table.sort_values(["LA", "CHILD", "spell_number"], kind="stable", ignore_index=True)


def _flow(
    validated: Validated,
    e: pd.DataFrame,
    periods: pd.DataFrame,
    returns: pd.DataFrame,
    spell_table: pd.DataFrame,
) -> pd.DataFrame:
    rows = flow.stacking_rows(validated.stacking)
    rows += flow.validation_rows(validated.excluded_children)
    valid_children = e["_uid"].nunique()
    rows.append(
        flow.row(
            "remaining", "valid children and episodes", children=valid_children, episodes=len(e)
        )
    )
    sb = periods["short_break"]
    care = periods.loc[~sb]
    care_children = care["_uid"].nunique()
    rows.append(
        flow.row(
            "exclude",
            "short-break-only periods (V3/V4); children with no other care",
            "short_break_only",
            children=valid_children - care_children,
            episodes=int(periods.loc[sb, "n_episodes"].sum()),
            periods=int(sb.sum()),
        )
    )
    rows.append(
        flow.row(
            "remaining",
            "periods of care",
            children=care_children,
            episodes=int(care["n_episodes"].sum()),
            periods=len(care),
        )
    )
    returned = pd.Series(care.index.isin(returns.index), index=care.index)
    n_spell_children = returns["_uid"].nunique()
    rows += flow.period_rows(care, returned, n_spell_children)
    rows.append(
        flow.row(
            "remaining",
            "returns home analysed (spells)",
            children=n_spell_children,
            episodes=int(returns["n_episodes"].sum()),
            periods=len(returns),
            spells=len(spell_table),
        )
    )
    rows += flow.outcome_rows(spell_table)
    return flow.as_table(rows)


def build_cohort(
    tables: str | Path | Extract | Validated | Mapping[str, pd.DataFrame],
    config: CohortConfig | None = None,
) -> Cohort:
    """Validate the tables and derive the spells table and its flow.

    Parameters
    ----------
    tables : path, Extract, Validated or mapping of str to DataFrame
        A directory to read with :func:`reunistat.tables.read_extract`, its
        result, already validated tables, or raw frames by table name
        (``header`` and ``episodes`` required; ``cin``, ``npd``, ``postcodes``,
        ``la``, ``exits`` optional).
    config : CohortConfig, optional
        Defaults to ``CohortConfig()``.

    Returns
    -------
    Cohort
    """
    cfg = config or CohortConfig()
    if isinstance(tables, (str, Path)):
        tables = read_extract(tables)
    if isinstance(tables, Validated):
        validated = tables
    else:
        validated = validate_tables(
            tables, mode=cfg.validation, data_end=cfg.data_end_ts, ignore_rules=cfg.ignore_rules
        )
    tabs = validated.tables
    use_la = has_la(tabs["header"], tabs["episodes"])
    eps = tabs["episodes"]
    data_end = cfg.data_end_ts or infer_data_end(eps)
    e = sort_episodes(eps, use_la)
    if not use_la:
        e["LA"] = cfg.la
    periods, _ = build_periods(e)
    returns = outcomes.index_returns(periods, cfg.include_e13)
    spell_table = _spells(returns, tabs, e, use_la, data_end)
    flow_table = _flow(validated, e, periods, returns, spell_table)
    return Cohort(spell_table, flow_table, periods, validated, data_end, cfg)


def derive_cohort(
    tables: str | Path | Extract | Validated | Mapping[str, pd.DataFrame],
    config: CohortConfig | None = None,
) -> pd.DataFrame:
    """Return the spells table: one row per return home (see :mod:`reunistat.spells`).

    Parameters
    ----------
    tables : path, Extract, Validated or mapping of str to DataFrame
        The linked tables (see :func:`build_cohort`).
    config : CohortConfig, optional
        Data end, whether E13 counts, validation mode.

    Returns
    -------
    DataFrame
        Columns :data:`reunistat.spells.SPELL_COLUMNS`, one row per return home,
        sorted by child and return date.
    """
    return build_cohort(tables, config).spells
