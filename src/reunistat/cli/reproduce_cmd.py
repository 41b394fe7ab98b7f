"""``reunistat reproduce``: the main job, every output and the paper from one command."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from reunistat.errors import InputError

MODES = ("strict", "lenient")
_MODE_HELP = (
    "Validation of the extract, as in 'reunistat cohort': strict stops on any problem, "
    "lenient excludes the affected children and says why (default: the config's "
    "cohort.validation)"
)


def _mode(value: str | None) -> str | None:
    if value is None or value in MODES:
        return value
    hint = f" (for the kind of data use --{value})" if value in ("synthetic", "real") else ""
    raise typer.BadParameter(
        f"{value!r} is not a mode: --mode is strict or lenient in every command{hint}"
    )


def _check_data(data: Path | None, generate: bool, real: bool | None) -> None:
    """A --data folder must hold an extract unless --generate asks for a synthetic one."""
    if data is None:
        if generate:
            raise InputError("--generate needs --data: the folder to generate the dataset into")
        return
    has_files = data.is_dir() and any(data.iterdir())
    if data.exists() and not data.is_dir():
        raise InputError(f"--data {data} is a file; give the folder of the extract")
    if generate and real:
        raise InputError("--generate makes synthetic data; it cannot be combined with --real")
    if generate and has_files:
        raise InputError(
            f"--data {data} already holds files; --generate writes only into a new or empty "
            "folder (drop --generate to analyse what is there)"
        )
    if not generate and not has_files:
        what = "does not exist" if not data.exists() else "is empty"
        raise InputError(
            f"--data {data} {what}; give the folder of the extract, or add --generate to "
            "generate a synthetic dataset into it (with --seed and --scale)"
        )


def reproduce(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", metavar="FILE", help="Pipeline TOML (default: analyses/config.toml)."
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="The extract folder (overrides data.dir); it must exist unless --generate.",
        ),
    ] = None,
    generate: Annotated[
        bool,
        typer.Option(
            "--generate",
            help="Generate a synthetic dataset into the new --data folder first (--seed, --scale).",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(metavar="DIR", help="Outputs folder (overrides outputs.dir).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Generator seed (overrides data.seed).")] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="Size of generated data, 1.0 = national (overrides data.scale)."),
    ] = None,
    real: Annotated[
        bool | None,
        typer.Option(
            "--real/--synthetic",
            help="The kind of data (overrides data.mode): a real 903 extract, never generated "
            "and always under disclosure control; or synthetic data.",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(metavar="[strict|lenient]", callback=_mode, help=_MODE_HELP),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            metavar="ID",
            help="Re-run only these scripts (number or name; repeatable) into the release "
            "already in the outputs folder, keeping its other outputs (marked partial).",
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            metavar="N",
            min=0,
            help="Processes running the analysis scripts at once (overrides "
            "parallel.analysis_jobs; 0: the cores available, 1: one after another).",
        ),
    ] = None,
    paper: Annotated[
        bool,
        typer.Option("--paper/--no-paper", help="Build the paper (never with --only)."),
    ] = True,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the outputs folder again (hashes against manifest.json, its status, and "
            "the disclosure and identifier checks, with --data or the manifest's data folder); "
            "exit 2 unless it can be released.",
        ),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no log, only the summary.")
    ] = False,
    native_kernels: Annotated[
        bool,
        typer.Option(
            "--native-kernels",
            help="Let numpy and OpenBLAS use every SIMD level this CPU has (AVX-512 where "
            "present). By default they use their AVX2 kernels on any x86-64 CPU with AVX2, "
            "so the release is the same bytes on any such machine; with this option the "
            "last digits of a few outputs depend on the CPU (the manifest's 'kernels' says "
            "which were used).",
        ),
    ] = False,
) -> None:
    """Run every analysis and build the paper (the default synthetic data generated if missing).

    Writes outputs/ (tables, figures, paper, disclosure report) and
    outputs/manifest.json; fails if any output breaks the disclosure rules.
    Progress (each step and its time) is drawn on stderr when it is a terminal.
    """
    from reunistat import kernels

    kernels.choose(portable=not native_kernels)  # before numpy loads (the pipeline imports it)
    from reunistat.cli.progress import Steps
    from reunistat.errors import PipelineError
    from reunistat.pipeline import fast_exit, load_config, verify_release
    from reunistat.pipeline import reproduce as run
    from reunistat.report.disclosure import DisclosureBreach

    if not verify:
        _check_data(data, generate, real)
    kind = None if real is None else ("real" if real else "synthetic")
    cfg = load_config(config).with_changes(
        data_dir=data, outputs_dir=out, seed=seed, scale=scale, mode=kind, analysis_jobs=jobs
    )
    if mode is not None:
        cfg = cfg.with_changes(cohort={**cfg.cohort, "validation": mode})
    if not verify and not cfg.analyses_dir.is_dir():
        raise InputError(
            f"no analyses folder {cfg.analyses_dir} here: run reunistat reproduce from the "
            "folder that holds analyses/ (the repository's root), or give --config with "
            "outputs.analyses_dir"
        )
    if verify:
        problems = verify_release(cfg.outputs_dir, data)
        for p in problems:
            typer.echo(p, err=True)
        if problems:
            raise PipelineError(
                f"{cfg.outputs_dir} cannot be released as it is: {len(problems)} problem(s), "
                "listed above"
            )
        typer.echo(
            f"{cfg.outputs_dir}: every file matches the manifest, status passed, and the "
            "disclosure and identifier checks pass again"
        )
        return
    ends = _process_ends_with_command()
    with fast_exit.keeping(ends):  # the run's heap is never freed when the process ends here
        try:
            command = "reunistat " + " ".join(shlex.quote(a) for a in sys.argv[1:])
            paper = paper and not only  # the paper needs every analysis
            with Steps(quiet=quiet, echo=typer.echo) as steps:
                result = run(cfg, only=only, paper=paper, log=steps.log, command=command)
        except DisclosureBreach as e:
            typer.echo(str(e), err=True)
            if ends:
                fast_exit.end_process(2)
            raise typer.Exit(code=2) from e
        m = result.manifest
        typer.echo(
            f"{len(m['outputs'])} outputs written to {cfg.outputs_dir} "
            f"({m['timings_seconds']['total']:.0f} s); manifest {result.manifest_path}"
        )
        if paper:
            typer.echo(f"paper: {cfg.outputs_dir / 'paper' / 'paper.html'} (and .docx, .pdf)")
        if m["skipped"]:
            typer.echo(
                f"{len(m['skipped'])} output(s) skipped: see {cfg.outputs_dir}/disclosure_report.md"
            )
        if ends:
            fast_exit.end_process(0)


def _process_ends_with_command() -> bool:
    """Whether the process ends as this command returns, so it may end it itself.

    True when the process is the command line (``reunistat`` or ``python -m
    reunistat.cli``: its ``__main__`` calls :func:`reunistat.cli.main` and
    nothing after), with no tracer or profiler (coverage, pdb, cProfile: they
    write their results once the command returns) and no interactive session
    after it (``python -i``). Not when the command is called in a process that
    goes on after it (a test's ``main([...])`` or ``CliRunner``).
    """
    from reunistat import cli

    return (
        getattr(sys.modules.get("__main__"), "main", None) is cli.main
        and sys.gettrace() is None
        and sys.getprofile() is None
        and not sys.flags.inspect
        and not os.environ.get("PYTHONINSPECT")
    )


def register(app: typer.Typer) -> None:
    """Add ``reproduce`` to ``app``."""
    app.command(short_help="Run every analysis; build the paper and workbook.")(reproduce)
