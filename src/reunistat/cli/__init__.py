"""The ``reunistat`` command line.

Each group of commands lives in its own module and registers itself here;
heavy imports happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import typer

from reunistat.cli import cohort_cmd, evaluate_cmd, reproduce_cmd, synth_cmd

app = typer.Typer(
    name="reunistat",
    help=(
        "Children who return home from care in England, and re-entry: synthetic SSDA903 "
        "data, cohort derivation, survival and logistic models, reproducible outputs."
    ),
    no_args_is_help=True,
    add_completion=False,
)
synth_cmd.register(app)
cohort_cmd.register(app)
reproduce_cmd.register(app)
evaluate_cmd.register(app)


@app.command()
def version() -> None:
    """Print the reunistat version and the engines it uses."""
    from reunistat.results import package_versions

    for name, v in package_versions().items():
        typer.echo(f"{name} {v}")


def main() -> None:
    """Run the command line."""
    app()
