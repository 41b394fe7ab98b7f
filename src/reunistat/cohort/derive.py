"""The linked tables → the spells table: one row per return home (DOMAIN.md §3).

:func:`build_cohort` validates the tables, builds periods of care, finds the
returns home and their outcome, adds the covariates and accounts for every row
in a flow table. :func:`derive_cohort` returns only the spells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reunistat import spells as spells_contract
from reunistat.cohort import covariates, flow, other_tables, outcomes
from reunistat.cohort.config import CohortConfig
from reunistat.cohort.extent import Extent, collection_years, latest_date
from reunistat.cohort.periods import build_periods, sort_episodes, values_at
from reunistat.cohort.prepare import Prepared, Tables, prepare
from reunistat.errors import DataValidationError
from reunistat.tables import Validated
from reunistat.tables.keys import CID, UID, child_uid, has_la, uid_by_child, with_child_keys
from reunistat.tables.rules import frame
from reunistat.tables.rules.ages import birthdays

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
    "prior_returns_home",
    "placement_moves",
    "period_length_days",
    "history_truncated",
    "period_truncated",
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
    "uasc": "Int64",
    "missing_episodes": "Int64",
    "away_episodes": "Int64",
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
    extent : Extent or None
        The data end and extract start and how they were found.
    tables_used : dict
        The other 903 tables read: rows and what the cohort did with each.
    """

    spells: pd.DataFrame
    flow: pd.DataFrame
    periods: pd.DataFrame
    validated: Validated
    data_end: pd.Timestamp
    config: CohortConfig
    extent: Extent | None = None
    tables_used: dict[str, dict[str, object]] = field(default_factory=dict)


def infer_data_end(episodes: pd.DataFrame) -> pd.Timestamp:
    """Return the data end of the episodes read: 31 March of the latest collection year.

    Without a collection year (no :data:`reunistat.tables.keys.YEAR_COL`),
    the latest DECOM or DEC (see :mod:`reunistat.cohort.extent`).
    """
    years = collection_years(episodes)
    if years:
        return pd.Timestamp(year=max(years), month=3, day=31)
    return latest_date(episodes)


def _exits(
    tables: Mapping[str, pd.DataFrame],
    e: pd.DataFrame,
    use_la: bool,
    prep: Prepared,
) -> pd.DataFrame:
    """Each child's earliest known death or other exit (linked exits and OC3), by child key."""
    parts = []
    ex = tables.get("exits")
    if ex is not None and not ex.empty:
        if use_la and not has_la(ex):  # exits without LA: find the child by its id
            uid = ex["CHILD"].map(uid_by_child(e, use_la))
        else:
            uid = child_uid(ex, use_la)
        parts.append(
            pd.DataFrame(
                {
                    "_uid": uid.to_numpy(),
                    "EXIT_DATE": pd.to_datetime(ex["EXIT_DATE"]).to_numpy(),
                    "EXIT_REASON": ex["EXIT_REASON"].to_numpy(),
                }
            )
        )
    years = prep.extent.years
    end = prep.extent.data_end
    last_year = max(years) if years else int(end.year + (end.month >= 4))
    deaths = other_tables.oc3_deaths(prep.others.get("oc3"), tables["header"], e, use_la, last_year)
    if not deaths.empty:
        parts.append(deaths.assign(EXIT_REASON="death"))
    if not parts:
        return pd.DataFrame({"EXIT_DATE": pd.Series(dtype="datetime64[ns]"), "EXIT_REASON": []})
    out = pd.concat(parts, ignore_index=True).dropna(subset=["_uid"])
    return out.sort_values("EXIT_DATE", kind="stable").drop_duplicates("_uid").set_index("_uid")


def _truncated_children(e: pd.DataFrame, extent: Extent) -> set[int]:
    """Children (``_cid``) in care when the data begin: first episode not RNE S, or before."""
    key = e[CID].to_numpy()
    starts = np.ones(len(key), dtype=bool)
    starts[1:] = key[1:] != key[:-1]  # e is sorted by child: its first episode
    at = np.flatnonzero(starts)
    first = pd.DataFrame({c: values_at(e[c], at) for c in (CID, "RNE", "DECOM")})
    hit = first["RNE"] != "S"
    if extent.extract_start is not None:
        hit |= first["DECOM"] < extent.extract_start
    return set(first.loc[hit.to_numpy(), CID].tolist())


def _spells(
    returns: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    e: pd.DataFrame,
    use_la: bool,
    prep: Prepared,
    truncated: set[int],
) -> pd.DataFrame:
    header = covariates.ChildRows(tables["header"], returns[CID])
    dob = header["DOB"]
    # the text key matches the rows of other tables (exits, CIN, UASC...) to the returns
    uid = child_uid(returns, use_la).to_numpy()
    returns = returns.copy(deep=False)  # a column added, none copied (assign copies them all)
    returns[UID] = uid
    ex = _exits(tables, e, use_la, prep)
    out = outcomes.follow_up(
        returns,
        prep.extent.data_end,
        birthdays(dob, 18)[0],  # add_years once per distinct date of birth
        outcomes.dates_of(returns["_uid"].map(ex["EXIT_DATE"])),
        returns["_uid"].map(ex["EXIT_REASON"]),
    )
    disabled = covariates.disability_children(tables, e, use_la)
    others = prep.others
    table = _one_frame(
        [
            pd.DataFrame(
                {
                    "LA": returns["LA"],
                    "CHILD": returns["CHILD"],
                    "spell_number": returns["spell_number"].astype(np.int64),
                    "period_start": returns["period_start"],
                    "return_rec": returns["end_rec"],
                },
                copy=False,
            ),
            out,
            covariates.demographic(returns, header),
            covariates.care_history(returns, disabled),
            covariates.truncation(returns, truncated),
            covariates.linked(returns, header, tables),
            pd.DataFrame(
                {
                    "uasc": other_tables.uasc_column(returns, prep.uasc),
                    "previous_permanence": other_tables.previous_permanence(
                        returns, others.get("previous_permanence"), e, use_la
                    ),
                },
                index=returns.index,
                copy=False,
            ),
            other_tables.missing_counts(returns, others.get("missing"), e, use_la),
        ]
    )
    by = ["LA", "CHILD", "spell_number"]
    if frame.in_order(table, by):  # a stable sort would keep every row where it is
        return table
    return table.sort_values(by, kind="stable", ignore_index=True)


def _one_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The spells' columns of ``parts`` (frames indexed alike) as one frame, rows 0, 1, ...

    Each column of the dtype of :data:`SPELL_DTYPES` (converted only if not of it
    already), the frame made once: one block per dtype, no frame copied on the way.
    """
    columns = {c: p[c] for p in parts for c in p.columns}
    n_columns = sum(len(p.columns) for p in parts)
    if len(columns) != n_columns or not all(p.index.equals(parts[0].index) for p in parts):
        table = pd.concat(parts, axis=1)[list(spells_contract.SPELL_COLUMNS)]  # aligned by label
        columns = {c: table[c] for c in table.columns}
    out: dict[str, object] = {}
    for c in spells_contract.SPELL_COLUMNS:
        s = columns[c]
        want = SPELL_DTYPES[c]
        s = s if str(s.dtype) == want else s.astype(pd.api.types.pandas_dtype(want))
        # numpy columns as their arrays (an array of pandas' would be searched for blanks)
        out[c] = s.array if isinstance(s.dtype, pd.api.extensions.ExtensionDtype) else s.to_numpy()
    return pd.DataFrame(out, index=pd.RangeIndex(len(next(iter(columns.values())))))


def _children_without_episodes(header: pd.DataFrame, e: pd.DataFrame, use_la: bool) -> int:
    """Header rows whose child has no episode (by the integer child key when both have it)."""
    if CID in header.columns:
        return int((~frame.key_isin(header[CID].to_numpy(), e[CID].to_numpy())).sum())
    return int((~child_uid(header, use_la).isin(set(child_uid(e, use_la)))).sum())


def _flow(
    prep: Prepared,
    e: pd.DataFrame,
    periods: pd.DataFrame,
    returns: pd.DataFrame,
    spell_table: pd.DataFrame,
    truncated: set[int],
) -> pd.DataFrame:
    rows = flow.stacking_rows(prep.validated.stacking)
    rows[1:1] = flow.extent_rows(prep.extent.describe(), other_tables.table_uses(prep.others))
    rows += flow.validation_rows(prep.validated.excluded_children)
    rows += prep.flow_rows
    no_episode = _children_without_episodes(prep.tables["header"], e, prep.use_la)
    if no_episode:  # kept by validation (e.g. care leavers in OC3), but not in care here
        rows.append(
            flow.row(
                "exclude",
                "header rows of children with no episode (e.g. care leavers in OC3)",
                "no_episodes",
                children=no_episode,
            )
        )
    valid_children = frame.n_distinct(e[CID])  # children in key order: counted
    rows.append(
        flow.row(
            "remaining", "valid children and episodes", children=valid_children, episodes=len(e)
        )
    )
    sb = periods["short_break"]
    care = periods.loc[~sb, [CID, "n_episodes", "end_rec"]]  # the columns the flow counts
    care_children = frame.n_distinct(care[CID])
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
    rows += flow.truncation_rows(care, truncated)
    returned = pd.Series(care.index.isin(returns.index), index=care.index)
    n_spell_children = frame.n_distinct(returns[CID])
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
    rows += flow.truncated_spell_rows(spell_table, returns[CID], truncated)
    rows += flow.outcome_rows(spell_table)
    return flow.as_table(rows)


def build_cohort(tables: Tables, config: CohortConfig | None = None) -> Cohort:
    """Validate the tables and derive the spells table and its flow.

    Parameters
    ----------
    tables : path, Extract, Validated or mapping of str to DataFrame
        A directory to read with :func:`reunistat.tables.read_extract`, its
        result, already validated tables, or raw frames by table name
        (``header`` and ``episodes`` required; ``cin``, ``npd``, ``postcodes``,
        ``la``, ``exits`` optional, and the other 903 tables of
        :mod:`reunistat.cohort.other_tables`).
    config : CohortConfig, optional
        Defaults to ``CohortConfig()``.

    Returns
    -------
    Cohort

    Raises
    ------
    reunistat.tables.ValidationError
        In strict mode, when the tables break a rule (a DECOM or DEC after
        the data end is rule ``after_data_end``).
    reunistat.errors.DataValidationError
        In lenient mode, when no return home is left to analyse (the message
        says how many children each rule excluded).
    """
    cfg = config or CohortConfig()
    prep = prepare(tables, cfg)
    use_la = prep.use_la
    tabs = dict(prep.tables)
    tabs["header"], tabs["episodes"] = with_child_keys(tabs["header"], tabs["episodes"], use_la)
    e = sort_episodes(tabs["episodes"], use_la)
    if not use_la:
        e = e.assign(LA=cfg.la)  # e may be the table itself (sort_episodes copies no sorted table)
    periods, _ = build_periods(e)
    returns = outcomes.index_returns(periods, cfg.include_e13)
    truncated = _truncated_children(e, prep.extent)
    spell_table = _spells(returns, tabs, e, use_la, prep, truncated)
    flow_table = _flow(prep, e, periods, returns, spell_table, truncated)
    if cfg.validation == "lenient" and spell_table.empty:
        raise DataValidationError(flow.why_empty(flow_table))
    uses = other_tables.table_uses(prep.others)
    return Cohort(
        spell_table,
        flow_table,
        periods,
        prep.validated,
        prep.extent.data_end,
        cfg,
        prep.extent,
        uses,
    )


def derive_cohort(tables: Tables, config: CohortConfig | None = None) -> pd.DataFrame:
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
