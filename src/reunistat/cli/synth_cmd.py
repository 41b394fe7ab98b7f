"""``reunistat synth`` and ``reunistat reproduce``: placeholder until the generator lands."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the generator's commands to ``app``."""
