"""Time the release's figures alone: build and save each, in a fresh process per tree.

Run: ``.venv/bin/python benchmarks/bench_figures.py --capture --src ROOT`` once (runs
every analysis script at national size in one process with ``ROOT``'s code and
records each figure: the builder's arguments for the figures of
:mod:`reunistat.report.figures` and :mod:`reunistat.report.comparison_figures`,
the pickled figure for the others, and ``save_figure``'s arguments); then
``--replay --src ROOT [--rounds 1]`` builds and saves the recorded figures with
``ROOT``'s code, prints the CPU seconds of building and of saving, and checks
that every file has the bytes of ``--expect`` (a reproduce's output folder).
Alternate the trees' replays in fresh processes to compare them: the text caches
of :mod:`reunistat.report.renderers` live for a process, so ``--rounds 1`` is what
a pipeline worker sees. The capture also records every table written
(``write_table``'s arguments, in ``RECORD.tables``); ``--tables --src ROOT
[--rounds 5]`` writes them again with ``ROOT``'s code and prints the CPU seconds
of each round and a hash of all the files (the same hash: the same bytes).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUILDERS = {
    "reunistat.report.figures": ("curve_figure", "forest_figure", "line_figure", "flow_figure"),
    "reunistat.report.comparison_figures": ("funnel_figure", "caterpillar_figure"),
}


def capture(data: Path, record: Path) -> None:
    """Run every script once and record its figures (in the tree's own process)."""
    from reunistat.pipeline.config import load_config
    from reunistat.pipeline.context import Context
    from reunistat.pipeline.documents import run_values
    from reunistat.pipeline.run import run_one
    from reunistat.report import figures, tables

    made: dict[int, tuple[str, str, bytes]] = {}
    written: list[bytes] = []
    write_table = tables.write_table

    def table_recorded(df: Any, stem: Path, title: str, *a: Any) -> list[Path]:
        written.append(pickle.dumps((df, stem.name, title, a)))
        return write_table(df, stem, title, *a)

    tables.write_table = table_recorded  # type: ignore[assignment]
    records: list[dict[str, Any]] = []

    def recording(fn: Any, name: str) -> Any:
        @functools.wraps(fn)
        def wrapped(*a: Any, **k: Any) -> Any:
            fig = fn(*a, **k)
            made[id(fig)] = (fn.__module__, name, pickle.dumps((a, k)))
            return fig

        return wrapped

    for mod_name, names in BUILDERS.items():
        mod = importlib.import_module(mod_name)
        for name in names:
            setattr(mod, name, recording(getattr(mod, name), name))
    save = figures.save_figure

    def recorded(fig: Any, stem: Path, alt: str, source: str) -> list[Path]:
        rec: dict[str, Any] = {"stem": stem.name, "alt": alt, "source": source}
        built = made.get(id(fig))
        rec.update({"build": built} if built else {"pickle": pickle.dumps(fig)})
        records.append(rec)
        return save(fig, stem, alt, source)

    figures.save_figure = recorded  # type: ignore[assignment]
    out = Path(tempfile.mkdtemp(prefix="bench-figures-"))
    cfg = load_config("analyses/config.toml").with_changes(
        data_dir=data, outputs_dir=out, analysis_jobs=1
    )
    ctx = Context(cfg, log=lambda s: None)
    _ = ctx.cohort, ctx.release
    run_values(ctx)
    for path in sorted(cfg.analyses_dir.glob("[0-9][0-9]_*.py")):
        run_one(ctx, path)
    record.write_bytes(pickle.dumps(records))
    Path(f"{record}.tables").write_bytes(pickle.dumps(written))
    print(f"{len(records)} figures, {len(written)} tables recorded in {record} (outputs: {out})")


def replay_tables(record: Path, rounds: int) -> None:
    """Write the recorded tables ``rounds`` times: CPU seconds a round, a hash of the files."""
    import hashlib

    from reunistat.report import tables

    out = Path(tempfile.mkdtemp(prefix="bench-tables-"))
    records = [pickle.loads(r) for r in pickle.loads(Path(f"{record}.tables").read_bytes())]
    cpu = []
    for _ in range(rounds):
        c0 = time.process_time()
        for df, stem, title, rest in records:
            tables.write_table(df, out / stem, title, *rest)
        cpu.append(round(time.process_time() - c0, 3))
    h = hashlib.sha256()
    for p in sorted(out.iterdir()):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    print(f"{len(records)} tables, CPU s a round: {cpu}; files' hash {h.hexdigest()[:16]}")


def replay(record: Path, rounds: int, expect: Path | None) -> None:
    """Build and save the recorded figures ``rounds`` times; CPU seconds and byte check."""
    from reunistat.report import figures

    out = Path(tempfile.mkdtemp(prefix="bench-figures-"))
    records = pickle.loads(record.read_bytes())
    differ: set[str] = set()
    for k in range(rounds):
        build = save = 0.0
        for rec in records:
            c0 = time.process_time()
            if "build" in rec:
                mod, name, args = rec["build"]
                a, kw = pickle.loads(args)
                fig = getattr(importlib.import_module(mod), name)(*a, **kw)
            else:
                fig = pickle.loads(rec["pickle"])
                canvas = getattr(figures, "SharedRendererCanvas", None)
                (canvas or figures._SharedRendererCanvas)(fig)  # (before session 26: private)
            c1 = time.process_time()
            paths = figures.save_figure(fig, out / rec["stem"], rec["alt"], rec["source"])
            build, save = build + c1 - c0, save + time.process_time() - c1
            for p in paths if expect else ():
                if p.read_bytes() != (expect / "figures" / p.name).read_bytes():
                    differ.add(p.name)
        print(f"round {k + 1}: {len(records)} figures, build {build:.3f} s, save {save:.3f} s CPU")
    if expect:
        print(f"files differing from {expect}: {sorted(differ) or 'none'}")


def main() -> None:
    """Parse the command line; run the tree's own process."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", required=True, help="a tree with src/ and analyses/")
    ap.add_argument("--record", default="/tmp/bench-figures.pkl")
    ap.add_argument("--data", default="/work/main/data/synthetic/england")
    ap.add_argument("--capture", action="store_true")
    ap.add_argument("--replay", action="store_true")
    ap.add_argument("--tables", action="store_true", help="write the recorded tables")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--expect", default="", help="a reproduce's output folder")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.child:
        env = dict(os.environ, PYTHONPATH=str(Path(args.src).resolve() / "src"))
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        cmd = [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:], "--child"]
        sys.exit(subprocess.run(cmd, cwd=args.src, env=env).returncode)
    if args.capture:
        capture(Path(args.data).resolve(), Path(args.record))
    if args.replay:
        replay(Path(args.record), args.rounds, Path(args.expect) if args.expect else None)
    if args.tables:
        replay_tables(Path(args.record), args.rounds)


if __name__ == "__main__":
    main()
