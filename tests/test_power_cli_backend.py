"""``reunistat power --backend/--jobs``: the replicates run where asked, with the same results."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from reunistat.cli import app

SMALL = ["power", "--replicates", "6", "--returns-per-year", "1200", "--authorities", "20",
         "--pilots", "5", "--seed", "11", "-q"]  # fmt: skip


def _without_time(text: str) -> str:
    return re.sub(r", [0-9.]+ s\)", ")", text)


def test_sequential_and_two_loky_workers_give_the_same_power() -> None:
    runner = CliRunner()
    one = runner.invoke(app, [*SMALL, "--backend", "sequential", "--jobs", "1"])
    two = runner.invoke(app, [*SMALL, "--backend", "loky", "--jobs", "2"])
    assert one.exit_code == 0, one.output
    assert two.exit_code == 0, two.output
    assert "simulated power" in one.output
    assert _without_time(one.output) == _without_time(two.output)
    assert re.search(r"simulated power: [0-9.]+ \(Monte Carlo SE", one.output)


def test_bad_backend_options_name_the_option() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, [*SMALL, "--backend", "mpi"])
    assert bad.exit_code == 2 and "--backend must be one of" in bad.output
    lone = runner.invoke(app, [*SMALL, "--local-workers", "2"])
    assert lone.exit_code == 2 and "need --backend dask" in lone.output
    zero = runner.invoke(app, [*SMALL, "--backend", "loky", "--jobs", "0"])
    assert zero.exit_code == 2 and "--jobs must be" in zero.output
    assert "Traceback" not in bad.output + lone.output + zero.output
