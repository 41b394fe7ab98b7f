"""``reunistat reproduce``: the main job, every output and the paper from one command."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer


def reproduce(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Pipeline TOML (default: analyses/config.toml)."),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="Override data.dir: the extract folder.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Override outputs.dir.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override data.seed.")] = None,
    scale: Annotated[
        float | None,
        typer.Option(help="Override data.scale (synthetic data generated if missing)."),
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Override data.mode: synthetic or real.")] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Re-run only these scripts (number or name; repeatable) into the release "
            "already in the outputs folder, keeping its other outputs (marked partial)."
        ),
    ] = None,
    no_paper: Annotated[
        bool, typer.Option("--no-paper", help="Do not build the paper (not built with --only).")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Check the outputs folder again (hashes against manifest.json, its status, and "
            "the disclosure and identifier checks, with --data or the manifest's data folder); "
            "exit 2 unless it can be released.",
        ),
    ] = False,
) -> None:
    """Generate the default synthetic data if missing, run every analysis, build the paper.

    Writes outputs/ (tables, figures, paper, disclosure report) and
    outputs/manifest.json; fails if any output breaks the disclosure rules.
    """
    from reunistat.errors import PipelineError
    from reunistat.pipeline import load_config, verify_release
    from reunistat.pipeline import reproduce as run
    from reunistat.report.disclosure import DisclosureBreach

    cfg = load_config(config).with_changes(
        data_dir=data, outputs_dir=out, seed=seed, scale=scale, mode=mode
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
    try:
        command = "reunistat " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        paper = not no_paper and not only  # the paper needs every analysis
        result = run(cfg, only=only, paper=paper, log=typer.echo, command=command)
    except DisclosureBreach as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(code=2) from e
    m = result.manifest
    typer.echo(
        f"{len(m['outputs'])} outputs written to {cfg.outputs_dir} "
        f"({m['timings_seconds']['total']:.0f} s); manifest {result.manifest_path}"
    )
    if paper:
        typer.echo(f"paper: {cfg.outputs_dir / 'paper' / 'paper.html'} (and .docx)")
    if m["skipped"]:
        typer.echo(
            f"{len(m['skipped'])} output(s) skipped: see {cfg.outputs_dir}/disclosure_report.md"
        )


def register(app: typer.Typer) -> None:
    """Add ``reproduce`` to ``app``."""
    app.command()(reproduce)
