"""The ``reunistat`` command line.

Each group of commands lives in its own module and registers itself here;
heavy imports happen inside the commands, so ``--help`` is fast.
"""

from __future__ import annotations

import sys
import warnings

import typer

from reunistat.cli import (
    cohort_cmd,
    evaluate_cmd,
    init_cmd,
    la_report_cmd,
    reproduce_cmd,
    synth_cmd,
)

app = typer.Typer(
    name="reunistat",
    help=(
        "Children who return home from care in England, and re-entry: synthetic SSDA903 "
        "data, cohort derivation, survival and logistic models, reproducible outputs."
    ),
    no_args_is_help=True,
    add_completion=False,
    # plain help: rich markup would eat "[cohort]" and typer 0.29 shows "<bool>" for flags
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
    pretty_exceptions_enable=False,
)
synth_cmd.register(app)
cohort_cmd.register(app)
reproduce_cmd.register(app)
evaluate_cmd.register(app)
la_report_cmd.register(app)
init_cmd.register(app)


@app.command(short_help="Print the version and the engines it uses.")
def version() -> None:
    """Print the reunistat version and the engines it uses."""
    from reunistat.results import package_versions

    for name, v in package_versions().items():
        typer.echo(f"{name} {v}")


def _version_callback(value: bool) -> None:
    if value:
        from reunistat import __version__

        typer.echo(f"reunistat {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        help="Print the version and exit.",
        callback=_version_callback,
        is_eager=True,
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (for bug reports)."
    ),
) -> None:
    """Children who return home from care in England, and re-entry."""


def main(argv: list[str] | None = None) -> None:
    """Run the command line: a user error is one line on stderr and exit code 2.

    Any :class:`reunistat.errors.ReunistatError` (a bad file, option or
    model input) prints ``error: <message>`` and exits with code 2; ``--debug``
    (before the command) shows the traceback instead.
    """
    from reunistat.errors import ReunistatError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    plain = warnings.formatwarning
    if not debug:  # a warning is one line for the user, not the line of code that raised it
        warnings.formatwarning = _one_line_warning
    try:
        app(args=args, prog_name="reunistat")
    except ReunistatError as err:
        if debug:
            raise
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(2) from None
    finally:
        warnings.formatwarning = plain


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    return f"warning: {message}\n"
