"""``reunistat init``: a new study folder from the template the package ships."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="The new study folder (must be new or empty).")
    ],
    mode: Annotated[
        str,
        typer.Option(
            metavar="[real|synthetic]",
            help="data.mode of the study: real (an extract, disclosure control on real "
            "data) or synthetic (data generated with known truth).",
        ),
    ] = "real",
    name: Annotated[
        str | None,
        typer.Option(metavar="TEXT", help="The study's title in its README (default: the folder)."),
    ] = None,
) -> None:
    """Start a study: the analysis scripts, config and paper template, ready to reproduce.

    The folder gets analyses/ (config.toml and the numbered scripts, to edit),
    paper/ (the paper template), a README, a .gitignore keeping data/ and
    outputs/ out of git, and a Makefile. Then, in the folder:
    reunistat reproduce --data /path/to/extract
    """
    from reunistat.pipeline.study import init_study

    study = init_study(directory, mode=mode, name=name)
    n_scripts = sum(1 for f in study.files if f.parent.name == "analyses" and f.suffix == ".py")
    typer.echo(
        f"study folder {study.root}: {len(study.files)} files "
        f"({n_scripts} analysis scripts, analyses/config.toml in {study.mode} mode, "
        "paper/paper.md, README.md)"
    )
    typer.echo(f"next: cd {study.root} && reunistat reproduce --data /path/to/extract")


def register(app: typer.Typer) -> None:
    """Add ``init`` to ``app``."""
    app.command(short_help="Start a study folder: analyses, config and paper template.")(init)
