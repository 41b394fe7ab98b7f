"""``reunistat synth``: generate a synthetic linked SSDA903 dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_CONFIG = Path("data/synthetic/england.toml")


def synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", metavar="DIR", help="Folder to write the dataset into.")
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            metavar="FILE",
            help="Generator TOML (default: the packaged England config).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and config, same bytes.")] = (
        20240331
    ),
    scale: Annotated[
        float, typer.Option(help="Size relative to England (1.0 = national, ~165k returns).")
    ] = 1.0,
    csv: Annotated[
        bool, typer.Option("--csv/--no-csv", help="Also write DfE-style CSV files.")
    ] = False,
    messy: Annotated[
        bool,
        typer.Option("--messy/--clean", help="Inject the faults real extracts have (listed)."),
    ] = False,
    annual: Annotated[
        bool | None,
        typer.Option(
            "--annual/--flat",
            help="One CSV return per collection year (DIR/2021/episodes.csv, ...), "
            "as local authorities submit them ([output] layout = 'annual' in the config); "
            "default: the config's layout.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")] = False,
) -> None:
    """Generate linked 903 tables (header, episodes, CIN, NPD, LA) with known truth."""
    from reunistat.cli.progress import Steps
    from reunistat.errors import InputError
    from reunistat.synthetic import ConfigError, generate_into, load_config

    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise typer.BadParameter(str(e), param_hint="--config") from e
    if scale <= 0:
        raise typer.BadParameter(f"must be positive, got {scale}", param_hint="--scale")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder to write the dataset into")
    with Steps(quiet=quiet) as steps:
        with steps.step(f"generating (seed {seed}, scale {scale:g}) into {out}"):
            truth = generate_into(out, cfg, seed, scale, messy=messy, annual=annual, csv=csv)
    typer.echo(summary_text(truth, out))


def summary_text(truth: dict[str, Any], out: Path | None = None) -> str:
    """Return the readable summary of a generated dataset."""
    r = truth["realised"]
    km = r["cumulative_reentry_km"]
    lines = [
        f"reunistat synthetic dataset (seed {truth['seed']}, scale {truth['scale']}"
        + (", messy" if truth["messy"] else "")
        + ")",
        f"  config: {truth['config_source']} (sha256 {truth['config_sha256'][:12]})",
        f"  data: {truth['data_start']} to {truth['data_end']}",
        f"  children: {r['children']:,}   episodes: {r['episodes']:,}"
        f"   periods of care: {r['periods_started']:,}",
        f"  Section 20 at entry: {r['section20_share_of_entries']:.1%}",
        f"  returns home: {r['returns_home']:,} ({r['returns_home_share_of_exits']:.1%} of exits)"
        f"   re-entries: {r['reentries']:,}",
        "  re-entry after a return home (Kaplan-Meier): "
        f"3 months {km['3_months']:.1%}, 1 year {km['1_year']:.1%}, 6 years {km['6_years']:.1%}",
    ]
    if truth.get("layout") == "annual":
        a = truth["annual_realised"]
        years = truth["collection_years"]
        lines += [
            f"  annual returns {years[0]}-{years[-1]} (extract from {truth['extract_start']}):"
            f" {a['returns_home_in_extract']:,} returns home in the extract,"
            f" {a['left_truncated_returns']:,} left-truncated",
            f"  corrections between returns: {a['corrections']:,}; periods after a non-return"
            f" exit: {a['periods_after_a_non_return_exit']:,}",
        ]
    if out is not None:
        lines.append(f"  written to {out} (truth.json, SHA256SUMS)")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the generator's commands to ``app``."""
    app.command(short_help="Generate a synthetic linked 903 dataset with known truth.")(synth)
