"""The order the workers take the groups of scripts in: balanced, and never deadlocked.

A script another worker waits for (:data:`~reunistat.pipeline.workers.SHARED`,
:data:`~reunistat.pipeline.workers.AFTER`) starts first in its worker when
the group waiting for it is among those handed out at once; whatever the
times, the order never lets every worker wait for a group none has taken.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from reunistat.pipeline.workers import (
    TYPICAL_SECONDS,
    analysis_jobs,
    safe,
    schedule,
    script_groups,
    waits,
)
from test_pipeline_parallel import _cfg, _run, _write

NATIONAL = [Path(f"{n}_x.py") for n in sorted(TYPICAL_SECONDS)]


def _numbers(groups: list[list[Path]]) -> list[list[str]]:
    return [[p.name[:2] for p in g] for g in groups]


def _typical(group: list[Path]) -> float:
    return sum(TYPICAL_SECONDS[p.name[:2]] for p in group)


def test_the_national_scripts_split_05_11_12_from_the_rest_with_04_first():
    order = schedule(script_groups(NATIONAL), _typical, jobs=2)
    assert _numbers(order)[:3] == [["05", "11", "12"], ["04"], ["03", "08"]]
    rest = sum(_typical(g) for g in order[1:])
    assert abs(_typical(order[0]) - rest) < 1.0  # the two workers' shares, at typical times
    # one worker: every group another waits for is handed out before it
    one = schedule(script_groups(NATIONAL), _typical, jobs=1)
    at = {p: i for i, g in enumerate(one) for p in g}
    assert all(at[q] < at[p] for p, w in waits(one).items() for q in w)
    assert _numbers(one)[:3] == [["04"], ["03", "08"], ["05", "11", "12"]]


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_no_order_of_times_makes_the_workers_wait_for_an_untaken_group(jobs):
    rng = random.Random(14)
    groups = script_groups(NATIONAL)
    for _ in range(300):
        cost = {p.name[:2]: rng.choice([0.1, 1.0, 5.0, 20.0]) for p in NATIONAL}
        order = schedule(groups, lambda g, c=cost: sum(c[p.name[:2]] for p in g), jobs=jobs)
        assert sorted(map(tuple, order)) == sorted(map(tuple, groups)) and safe(order, jobs)


def test_an_order_that_could_deadlock_is_not_safe():
    g = {n: [Path(f"{n}_x.py")] for n in ("03", "04", "05", "10", "11", "12")}
    # two workers each blocked on a group behind them: 12 waits for 03, 10 for 05
    assert not safe([g["12"], g["10"], g["03"], g["05"]], 2)
    assert safe([g["12"], g["10"], g["03"], g["05"]], 3)
    # 10 waits for 05 and 11 for 04, both behind them: the two workers would wait forever
    assert not safe([g["10"], g["11"], g["05"], g["04"]], 2)
    # every group waited for ahead of its waiter: safe on any number of workers
    for jobs in (1, 2):
        assert safe([g["03"], g["04"], g["05"], g["10"], g["11"], g["12"]], jobs)
    # 10 the longest: 05 and 11 (10 waits for 05) just after it, then 04 (11 waits for it)
    # would have two groups ahead waiting for it (10 through 05 and 11), which safe() does
    # not allow: every waited-for group goes ahead of its waiter instead
    groups = script_groups([p for n in ("04", "05", "10", "11") for p in g[n]])
    cost = {"04": 1.0, "05": 1.0, "10": 9.0, "11": 5.0}
    order = schedule(groups, lambda x: sum(cost[p.name[:2]] for p in x), jobs=2)
    assert _numbers(order) == [["04"], ["05", "11"], ["10"]]


SCRIPTS = {
    # 03 writes the file 12 reads (AFTER); 04 and 05 fit what 11 reads (SHARED, NEEDS)
    "03_km.py": "def run(ctx):\n    _ran(ctx)\n    _frame(ctx, 'km', 3.0)\n",
    "04_cox.py": "def run(ctx):\n    _ran(ctx)\n    ctx.results['cox'] = 4.0\n"
    "    _frame(ctx, 'cox', 4.0)\n",
    "05_fit.py": "def run(ctx):\n    _ran(ctx)\n    ctx.results['logit'] = 5.0\n"
    "    _frame(ctx, 'logit', 5.0)\n",
    "11_mi.py": "def run(ctx):\n    _ran(ctx)\n"
    "    _frame(ctx, 'mi', ctx.results.get('cox', -1.0) * ctx.results.get('logit', -1.0))\n",
    "12_checks.py": "def run(ctx):\n    _ran(ctx)\n"
    "    _frame(ctx, 'checks', pd.read_csv(ctx.out / 'tables/km.csv')['x'].iloc[0])\n",
}


@pytest.mark.skipif(analysis_jobs(2, 2) < 2, reason="needs fork and two cores")
def test_04_runs_first_in_the_other_worker_and_11_gets_its_fit(tmp_path):
    ran = tmp_path / "ran.txt"
    said = f"import os\n\n\ndef _ran(ctx):\n    with open({str(ran)!r}, 'a') as f:\n"
    said += "        f.write(f'{os.getpid()} {ctx.script}\\n')\n\n\n"
    analyses = _write(tmp_path / "analyses", {k: said + v for k, v in SCRIPTS.items()})
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    ran.unlink()
    log: list[str] = []
    two, error_two = _run(_cfg(tmp_path, analyses, 2), log)
    assert any("in 2 processes" in line for line in log)
    assert not any("cannot be merged" in line for line in log)  # 11 found 04's fit
    assert two == one and error_two == error_one is None
    assert float((tmp_path / "out2/tables/mi.csv").read_text().splitlines()[1]) == 20.0
    lines = [line.split() for line in ran.read_text().splitlines()]
    by_worker = {pid: [Path(s).name[:2] for q, s in lines if q == pid] for pid, _ in lines}
    assert sorted(by_worker.values()) == [["04", "03"], ["05", "11", "12"]]


def test_every_group_is_handed_out_once():
    for jobs, n in itertools.product((1, 2), range(1, len(NATIONAL) + 1)):
        groups = script_groups(NATIONAL[:n])
        order = schedule(groups, _typical, jobs=jobs)
        assert sorted(map(tuple, order)) == sorted(map(tuple, groups))
