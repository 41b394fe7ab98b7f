"""Errors raised by the logistic models, each with a message saying what is wrong."""

from __future__ import annotations


class LogisticInputError(ValueError):
    """The data or options cannot give a logistic model (says which and why)."""


class SeparationError(LogisticInputError):
    """The outcome is perfectly predicted by a covariate or a combination of them."""
