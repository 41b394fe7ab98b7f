"""Errors raised by the logistic models, each with a message saying what is wrong.

Both are part of the package's one exception tree (:mod:`reunistat.errors`):
:class:`LogisticInputError` is an :class:`~reunistat.errors.InputError`, and
:class:`SeparationError` is both :class:`reunistat.errors.SeparationError` and a
:class:`LogisticInputError` (as before), so ``except ReunistatError``,
``except reunistat.errors.SeparationError`` and the older ``except
LogisticInputError`` all catch it.
"""

from __future__ import annotations

from reunistat import errors


class LogisticInputError(errors.InputError):
    """The data or options cannot give a logistic model (says which and why)."""


class SeparationError(errors.SeparationError, LogisticInputError):
    """The outcome is perfectly predicted by a covariate or a combination of them."""
