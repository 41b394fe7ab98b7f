"""Reading and validating the linked SSDA903 tables.

``read_extract`` reads a directory of CSV (as DfE ships it) or Parquet files
and stacks annual returns; ``validate_tables`` checks them against the
declarations in :mod:`reunistat.tables.schema`.
"""

from reunistat.tables.io import Extract, prepare_tables, read_extract
from reunistat.tables.validate import (
    Validated,
    ValidationError,
    describe_problems,
    validate_tables,
)

__all__ = [
    "Extract",
    "Validated",
    "ValidationError",
    "describe_problems",
    "prepare_tables",
    "read_extract",
    "validate_tables",
]
