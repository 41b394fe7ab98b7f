"""Validation rules, one module per family, and the registry that names them.

Importing this package loads only :mod:`~reunistat.tables.rules.registry` (the
schema reads rule messages from it); the checks live in ``columns``,
``sequence``, ``ages``, ``returns`` and ``linkage``.
"""

from reunistat.tables.rules.registry import RENAMED, RULES, Rule, dfe_rules, rule, severity

__all__ = ["RENAMED", "RULES", "Rule", "dfe_rules", "rule", "severity"]
