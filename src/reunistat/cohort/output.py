"""Write the spells table with the record of how it was made.

Parquet output carries, in its schema metadata under ``reunistat.cohort``, the
configuration, the data end, the package version, a SHA-256 of the spells and
the flow table, so a spells file is traceable to the command and data that
made it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reunistat.cohort.derive import Cohort

METADATA_KEY = b"reunistat.cohort"


def provenance(cohort: Cohort) -> dict[str, Any]:
    """Return a JSON-ready record of how the spells were derived."""
    from reunistat import __version__
    from reunistat.results import data_hash

    flow = cohort.flow.astype(object)
    flow[cohort.flow.isna().to_numpy()] = None
    return {
        "reunistat_version": __version__,
        "config": {k: str(v) for k, v in dataclasses.asdict(cohort.config).items()},
        "data_end": str(cohort.data_end.date()),
        "extent": None
        if cohort.extent is None
        else {
            "data_end_rule": cohort.extent.data_end_rule,
            "extract_start": None
            if cohort.extent.extract_start is None
            else str(cohort.extent.extract_start.date()),
            "extract_start_rule": cohort.extent.extract_start_rule,
            "collection_years": list(cohort.extent.years),
            "how": cohort.extent.describe(),
        },
        "other_903_tables": cohort.tables_used,
        "n_spells": len(cohort.spells),
        "spells_sha256": data_hash(cohort.spells),
        "flow": flow.to_dict(orient="records"),
        "stacking": cohort.validated.stacking.to_dict(orient="records"),
    }


def write_spells(cohort: Cohort, path: str | Path) -> Path:
    """Write the spells to ``.parquet`` (with provenance metadata) or ``.csv``."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        cohort.spells.to_csv(out, index=False)
        return out
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(cohort.spells, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[METADATA_KEY] = json.dumps(provenance(cohort), default=str).encode()
    pq.write_table(table.replace_schema_metadata(meta), out)
    return out


def read_provenance(path: str | Path) -> dict[str, Any]:
    """Return the provenance record stored in a spells Parquet file."""
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in meta:
        raise ValueError(f"{path} has no {METADATA_KEY.decode()} metadata")
    return dict(json.loads(meta[METADATA_KEY]))
