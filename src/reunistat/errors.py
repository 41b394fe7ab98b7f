"""One exception tree for every error reunistat raises on purpose.

Every error a user can cause (a bad file, a bad argument, a model that cannot
be fitted on the data given, a release that breaks the disclosure rules) is a
:class:`ReunistatError`, itself a :class:`ValueError` so that code written
against the older, bare ``ValueError`` keeps working. The command line turns
any of them into one line and exit code 2 (``--debug`` shows the traceback).

Examples
--------
>>> from reunistat.errors import ReadError, ReunistatError
>>> issubclass(ReadError, ReunistatError) and issubclass(ReadError, ValueError)
True
"""

from __future__ import annotations


class ReunistatError(ValueError):
    """Base of every error reunistat raises on purpose."""


class InputError(ReunistatError):
    """Bad input to a function: a missing column, a wrong type, an impossible option."""


class ConfigError(InputError):
    """A configuration file or option that cannot be used (names the key)."""


class ReadError(InputError):
    """A file that cannot be read as a table of an extract (names the file and what to do)."""


class DataValidationError(InputError):
    """Data that break a validation rule (names file, table, column, child and rule)."""


class ModelError(ReunistatError):
    """A model that cannot be fitted on the data given."""


class SeparationError(ModelError):
    """Complete or quasi-complete separation: an estimate would be infinite."""


class ConvergenceError(ModelError):
    """An iterative fit that did not converge."""


class EvaluationError(ModelError):
    """A pilot evaluation design that cannot be estimated on the data given."""


class DisclosureError(ReunistatError):
    """An output that breaks the disclosure rules of the release."""


class PipelineError(ReunistatError):
    """A reproducible run that cannot go on (names the step and what to do)."""
