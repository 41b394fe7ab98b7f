"""Reading and validating the linked SSDA903 tables.

``read_extract`` reads an extract as the sector ships it (CSV, XLSX, DfE XML,
Stata, SPSS or Parquet; one or several annual returns) and stacks and cleans
the returns, accounting for every row; ``validate_tables`` checks the tables
against the declarations in :mod:`reunistat.tables.schema`.
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
