"""From what was read to the tables the cohort is derived from.

:func:`prepare` fixes the extent of the data (:mod:`reunistat.cohort.extent`)
from the episodes as read, before any child is excluded, validates the tables,
checks that no DECOM or DEC lies after the data end (rule ``after_data_end``),
and removes unaccompanied asylum-seeking children when configured. Every child
removed is recorded: validation's and the date check's in
``Validated.excluded_children`` (the latter with rule ``after_data_end``), the
UASC exclusion in the flow rows returned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from reunistat.cohort import flow, other_tables
from reunistat.cohort.config import CohortConfig
from reunistat.cohort.extent import AFTER_DATA_END, Extent, data_extent, dates_after_end
from reunistat.tables import (
    Extract,
    Validated,
    ValidationError,
    prepare_tables,
    read_extract,
    validate_tables,
)
from reunistat.tables import schema as table_schema
from reunistat.tables.keys import child_uid, has_la

Tables = str | Path | Extract | Validated | Mapping[str, pd.DataFrame]


@dataclass
class Prepared:
    """Tables ready for the derivation, and what was done to get them.

    Attributes
    ----------
    validated : Validated
        The validation record (``excluded_children`` includes the children
        excluded for a date after the data end, rule ``after_data_end``).
    tables : dict of str to DataFrame
        Header, episodes and the linked tables, without the excluded children.
    others : dict of str to DataFrame
        The other 903 tables read (uasc, missing, ...; see
        :mod:`reunistat.cohort.other_tables`).
    extent : Extent
    use_la : bool
        Whether children are keyed by LA and CHILD.
    uasc : set of str or None
        Keys of unaccompanied asylum-seeking children (``None``: no UASC data).
    flow_rows : list of dict
        Notes on the files not read, and exclusions made here after validation
        (UASC), as flow rows.
    """

    validated: Validated
    tables: dict[str, pd.DataFrame]
    others: dict[str, pd.DataFrame]
    extent: Extent
    use_la: bool
    uasc: set[str] | None
    flow_rows: list[dict[str, object]] = field(default_factory=list)


def _split(tables: Extract | Mapping[str, pd.DataFrame]) -> tuple[Extract, dict]:
    """Return the extract to validate (tables validation knows) and the other 903 tables."""
    if isinstance(tables, Extract):
        extract = tables
        # the reader keeps the 903's other tables (uasc, missing, oc3, ...) apart
        others = dict(extract.other)
    else:
        others = {
            k: v if isinstance(v, pd.DataFrame) else pd.concat(list(v), ignore_index=True)
            for k, v in tables.items()
            if k in other_tables.OTHER_TABLES and v is not None
        }
        extract = prepare_tables(tables)
    others |= {k: v for k, v in extract.tables.items() if k in other_tables.OTHER_TABLES}
    known = {k: v for k, v in extract.tables.items() if k in table_schema.TABLES}
    if len(known) != len(extract.tables):
        extract = dataclasses.replace(extract, tables=known)
    return extract, others


def _validate(extract: Extract, cfg: CohortConfig, extent: Extent) -> Validated:
    """Validate; in strict mode, dates after the data end join validation's problems."""
    try:
        return validate_tables(extract, mode=cfg.validation, ignore_rules=cfg.ignore_rules)
    except ValidationError as err:
        late = dates_after_end(extract.tables["episodes"], extent)
        if late.empty:
            raise
        raise ValidationError(_stack(err.problems, late)) from None


def _drop_children(
    tabs: dict[str, pd.DataFrame], keys: set[str], use_la: bool
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series]]:
    """Remove the children's header and episode rows; return the tables and rows removed."""
    tabs = dict(tabs)
    removed = {}
    for name in ("header", "episodes"):
        df = tabs[name]
        uid = child_uid(df, use_la)
        m = uid.isin(keys)
        removed[name] = uid[m]
        tabs[name] = df.loc[~m.to_numpy()].reset_index(drop=True)
    return tabs, removed


def _exclude_late(
    validated: Validated, extent: Extent, cfg: CohortConfig, use_la: bool
) -> Validated:
    """Exclude (lenient) or reject (strict) children with a DECOM or DEC after the data end."""
    tabs = validated.tables
    late = dates_after_end(tabs["episodes"], extent)
    if late.empty:
        return validated
    if cfg.validation == "strict":
        raise ValidationError(late)
    late_rows = tabs["episodes"].loc[
        (tabs["episodes"]["DECOM"] > extent.data_end) | (tabs["episodes"]["DEC"] > extent.data_end)
    ]
    keys = set(child_uid(late_rows, use_la))
    new_tabs, removed = _drop_children(tabs, keys, use_la)
    first = late_rows.assign(_k=child_uid(late_rows, use_la).to_numpy()).drop_duplicates("_k")
    n_eps = removed["episodes"].value_counts()
    n_head = removed["header"].value_counts()
    n_prob = late.groupby(late["CHILD"].astype(str)).size()
    ex = pd.DataFrame(
        {
            "LA": first["LA"].to_numpy(dtype=object) if "LA" in first else None,
            "CHILD": first["CHILD"].to_numpy(dtype=object),
            "rule": AFTER_DATA_END,
            "rules": AFTER_DATA_END,
            "n_problems": first["CHILD"].astype(str).map(n_prob).fillna(1).astype(int).to_numpy(),
            "n_episodes": first["_k"].map(n_eps).fillna(0).astype(int).to_numpy(),
            "n_header_rows": first["_k"].map(n_head).fillna(0).astype(int).to_numpy(),
        }
    )
    ex["in_header"] = ex["n_header_rows"] > 0
    excluded = _stack(validated.excluded_children, ex)
    problems = _stack(validated.problems, late)
    return dataclasses.replace(
        validated, tables=new_tabs, problems=problems, excluded_children=excluded
    )


def _stack(before: pd.DataFrame, more: pd.DataFrame) -> pd.DataFrame:
    """Append rows to a record (an empty record just takes the new rows)."""
    if before.empty:
        return more.reset_index(drop=True)
    return pd.concat([before, more], ignore_index=True)


def _exclude_uasc(
    tabs: dict[str, pd.DataFrame], uasc: set[str], use_la: bool
) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """Remove unaccompanied asylum-seeking children; return the tables and the flow row."""
    new_tabs, removed = _drop_children(tabs, uasc, use_la)
    row = flow.row(
        "exclude",
        "unaccompanied asylum-seeking children ([cohort] uasc = exclude)",
        "uasc",
        children=len(removed["header"]),
        episodes=len(removed["episodes"]),
    )
    return new_tabs, row


def _not_read_rows(tables: object) -> list[dict[str, object]]:
    """Flow notes for the files of the extract's folder that were not read, with the reason.

    Their rows were never read, so they carry no counts; the note says which file and
    why (e.g. the same return held as DfE's XML beside the per-table files).
    """
    if not isinstance(tables, Extract) or tables.not_used.empty:
        return []
    return [
        flow.row("note", f"file not read: {Path(str(f)).name} ({why})", "file_not_read")
        for f, why in tables.not_used[["file", "reason"]].itertuples(index=False)
    ]


def prepare(tables: Tables, cfg: CohortConfig) -> Prepared:
    """Read if needed, fix the extent, validate and exclude; see the module docstring.

    Parameters
    ----------
    tables : path, Extract, Validated or mapping of str to DataFrame
        As :func:`reunistat.cohort.build_cohort` takes them. Already validated
        tables give the extent of what validation kept.
    cfg : CohortConfig
        Data end, extract start, validation mode, rules ignored, UASC choice.

    Returns
    -------
    Prepared
    """
    if isinstance(tables, (str, Path)):
        tables = read_extract(tables)
    if isinstance(tables, Validated):
        validated = tables
        others = {k: v for k, v in validated.tables.items() if k in other_tables.OTHER_TABLES}
        extent = data_extent(validated.tables["episodes"], cfg)
    else:
        extract, others = _split(tables)
        extent = data_extent(extract.tables["episodes"], cfg)
        validated = _validate(extract, cfg, extent)
    others |= {k: v for k, v in validated.tables.items() if k in other_tables.OTHER_TABLES}
    use_la = has_la(validated.tables["header"], validated.tables["episodes"])
    validated = _exclude_late(validated, extent, cfg, use_la)
    tabs = dict(validated.tables)
    uasc = other_tables.uasc_children(
        {**others, "header": tabs["header"]}, tabs["episodes"], use_la
    )
    rows = _not_read_rows(tables)
    if cfg.uasc == "exclude" and uasc is not None:
        tabs, row = _exclude_uasc(tabs, uasc, use_la)
        rows.append(row)
    return Prepared(validated, tabs, others, extent, use_la, uasc, rows)
