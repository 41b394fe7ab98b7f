"""Analysis scripts in worker processes give the release one process gives, to the byte.

Small scripts on the committed sample exercise what a worker must send back and
the parent merge in script order: outputs, values, results shared within a group
(``NEEDS``), a file one script reads from another, a model error, a failing
script, counts and the release-wide suppression. A dependency ``NEEDS`` misses
makes the run fall back to one script after another, with the same release.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest

from reunistat.pipeline import PipelineConfig, PipelineError, load_config, reproduce
from reunistat.pipeline.workers import (
    AFTER,
    NEEDS,
    SHARED,
    analysis_jobs,
    schedule,
    script_groups,
    waits,
)

ROOT = Path(__file__).parents[1]
SAMPLE = ROOT / "data/synthetic/sample"

FRAME = (
    "import pandas as pd\n\n\n"
    "def _frame(ctx, name, x):\n"
    "    ctx.write_frame(name, pd.DataFrame({'x': [x]}), title=name, function='f',\n"
    "                    disclosure={'type': 'none'})\n\n\n"
)
SCRIPTS = {
    # 03 leaves a value and a file that 08 and 12 read (NEEDS: 08 and 12 after 03)
    "03_km.py": "import time\n\n\ndef run(ctx):\n"
    "    time.sleep(1.5)  # 12, in the other worker, must wait for km.csv\n"
    "    _frame(ctx, 'km', len(ctx.spells))\n"
    "    ctx.value('km_overall_1y', 0.25, function='f')\n",
    "08_power.py": "def run(ctx):\n"
    "    base = ctx.values['km_overall_1y']['value'] if 'km_overall_1y' in ctx.values else -1\n"
    "    again = pd.read_csv(ctx.out / 'tables/km.csv')['x'].iloc[0]\n"
    "    _frame(ctx, 'power', base + again)\n",
    # 05 shares a fitted result that 12 uses; 12 also reads 03's file (AFTER: another worker)
    "05_fit.py": "def run(ctx):\n    ctx.results['fit'] = 2.0\n    _frame(ctx, 'fit', 2.0)\n",
    "12_checks.py": "def run(ctx):\n"
    "    km = pd.read_csv(ctx.out / 'tables/km.csv')['x'].iloc[0]\n"
    "    _frame(ctx, 'checks', ctx.results.get('fit', -1.0) * 3 + 0 * km)\n"
    "    ctx.value('auc', 0.7, function='f')\n",
    # the release, counts, a model error and a failure
    "01_flow.py": "def run(ctx):\n"
    "    ctx.count('n_spells', len(ctx.spells), function='f')\n"
    "    ctx.value('n_cells', ctx.release.n_cells, function='f')\n",
    "06_model.py": "from reunistat.errors import SeparationError\n\n\ndef run(ctx):\n"
    "    _frame(ctx, 'before_error', 1.0)\n"
    "    raise SeparationError('no events among the 3 rows')\n",
    "07_broken.py": "def run(ctx):\n    raise ValueError('no luck')\n",
    "10_plain.py": "def run(ctx):\n    _frame(ctx, 'plain', 10.0)\n",
}


def _write(folder: Path, scripts: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in scripts.items():
        (folder / name).write_text(FRAME + body)
    return folder


def _cfg(tmp: Path, analyses: Path, jobs: int) -> PipelineConfig:
    return load_config(ROOT / "analyses/config.toml").with_changes(
        data_dir=SAMPLE, outputs_dir=tmp / f"out{jobs}", analyses_dir=analyses, analysis_jobs=jobs
    )


def _run(cfg: PipelineConfig, log: list[str] | None = None) -> tuple[dict, str | None]:
    """Run; return the manifest (less what differs between runs) and the error, if any."""
    error = None
    try:
        reproduce(cfg, paper=False, log=(log.append if log is not None else lambda s: None))
    except PipelineError as e:
        error = str(e)
    m = json.loads((cfg.outputs_dir / "manifest.json").read_text())
    for key in ("created_utc", "timings_seconds", "memory_mib", "config", "command"):
        m.pop(key)
    return m, error


def _values(cfg: PipelineConfig) -> bytes:
    return (cfg.outputs_dir / "values.json").read_bytes()


def test_workers_give_the_release_one_process_gives(tmp_path):
    analyses = _write(tmp_path / "analyses", SCRIPTS)
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    log: list[str] = []
    two, error_two = _run(_cfg(tmp_path, analyses, 2), log)
    assert any("in 2 processes" in line for line in log)
    assert not any("cannot be merged" in line for line in log)
    assert two == one and error_two == error_one
    assert _values(_cfg(tmp_path, analyses, 1)) == _values(_cfg(tmp_path, analyses, 2))
    # what the scripts did reached the parent: the dependencies were met
    out = tmp_path / "out2/tables"
    n = int(re.search(r"\d+", (out / "km.csv").read_text().splitlines()[1]).group())
    assert float((out / "power.csv").read_text().splitlines()[1]) == 0.25 + n
    assert float((out / "checks.csv").read_text().splitlines()[1]) == 6.0
    assert error_two is not None and "07_broken.py: ValueError: no luck" in error_two
    assert [Path(s["script"]).name for s in two["skipped"]] == ["06_model.py"]
    assert two["suppressed_cells"]  # the release was built and its logs kept


def test_without_the_release_the_manifest_is_the_same(tmp_path):
    scripts = {k: SCRIPTS[k] for k in ("03_km.py", "05_fit.py", "10_plain.py")}
    analyses = _write(tmp_path / "analyses", scripts)
    one, _ = _run(_cfg(tmp_path, analyses, 1))
    two, _ = _run(_cfg(tmp_path, analyses, 2))
    assert two == one and one["suppressed_cells"] == {}


@pytest.mark.parametrize(
    "second",
    [
        "def run(ctx):\n    _frame(ctx, 'b', ctx.values['a_value']['value'])\n",  # reads a value
        "def run(ctx):\n    _frame(ctx, 'a', 2.0)\n",  # writes the same output
    ],
    ids=["undeclared-value", "same-output"],
)
def test_an_undeclared_dependency_falls_back_to_one_after_another(tmp_path, second):
    scripts = {
        "01_a.py": "def run(ctx):\n    _frame(ctx, 'a', 1.0)\n"
        "    ctx.value('a_value', 1.0, function='f')\n",
        "02_b.py": second,
        "04_c.py": "def run(ctx):\n    _frame(ctx, 'c', 4.0)\n",
    }
    analyses = _write(tmp_path / "analyses", scripts)
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    log: list[str] = []
    two, error_two = _run(_cfg(tmp_path, analyses, 2), log)
    assert any("02_b.py cannot be merged" in line and "NEEDS" in line for line in log)
    assert two == one and error_two == error_one
    for rel in ("a.csv", "b.csv", "c.csv"):
        a, b = tmp_path / "out1/tables" / rel, tmp_path / "out2/tables" / rel
        assert a.exists() == b.exists()
        assert not a.exists() or a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("picklable", [True, False])
def test_results_shared_with_another_worker_reach_it(tmp_path, monkeypatch, picklable):
    """SHARED: 12 runs in another worker than 05, after it, with the fit 05 made.

    A fit that cannot be pickled reaches nobody: 12 misses it and the merge's
    check runs the scripts again one after another, with the same release.
    """
    from reunistat.pipeline import workers

    extra = "" if picklable else " lambda: 0"
    scripts = {
        "05_fit.py": "import time\n\n\ndef run(ctx):\n    time.sleep(1.0)  # 12 must wait\n"
        f"    ctx.results['fit'] = (2.0,{extra})\n    _frame(ctx, 'fit', 2.0)\n",
        "12_uses.py": "def run(ctx):\n"
        "    _frame(ctx, 'uses', ctx.results.get('fit', (-1.0,))[0] * 3)\n",
    }
    analyses = _write(tmp_path / "analyses", scripts)
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    monkeypatch.setattr(workers, "NEEDS", {})
    monkeypatch.setattr(workers, "SHARED", {"12": ("05",)})
    log: list[str] = []
    two, error_two = _run(_cfg(tmp_path, analyses, 2), log)
    assert any("in 2 processes" in line for line in log)
    assert any("12_uses.py cannot be merged" in line for line in log) != picklable
    assert two == one and error_two == error_one is None
    assert float((tmp_path / "out2/tables/uses.csv").read_text().splitlines()[1]) == 6.0
    assert not list(Path(tempfile.gettempdir()).glob("reunistat-results-*/12_uses.py*"))


def test_one_worker_runs_each_group_on_the_context_as_forked(tmp_path, monkeypatch):
    """A worker handed 02 before 01 (longest first): 01 does not see the output 02 wrote."""
    from concurrent.futures import ProcessPoolExecutor

    from reunistat.pipeline import workers

    scripts = {
        "01_a.py": "def run(ctx):\n    _frame(ctx, 'a', 1.0)\n",
        "02_b.py": "def run(ctx):\n    _frame(ctx, 'a', 2.0)\n",  # the same output
        "04_c.py": "def run(ctx):\n    _frame(ctx, 'c', 4.0)\n",
    }
    analyses = _write(tmp_path / "analyses", scripts)
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    monkeypatch.setattr(workers, "schedule", lambda groups, expected, jobs: groups[::-1])
    monkeypatch.setattr(
        workers, "ProcessPoolExecutor", lambda jobs, **kw: ProcessPoolExecutor(1, **kw)
    )
    log: list[str] = []
    two, error_two = _run(_cfg(tmp_path, analyses, 2), log)
    assert any("02_b.py cannot be merged" in line for line in log)
    assert two == one and error_two == error_one and "02_b.py" in str(error_one)


def test_a_failing_script_in_a_worker_exits_2_with_the_same_message(tmp_path, capsys):
    from reunistat.cli import main

    analyses = _write(
        tmp_path / "analyses", {k: SCRIPTS[k] for k in ("07_broken.py", "10_plain.py")}
    )
    errors = []
    for jobs in ("1", "2"):
        with pytest.raises(SystemExit) as exit_:
            main(
                [
                    "reproduce",
                    "--data",
                    str(SAMPLE),
                    "--out",
                    str(tmp_path / f"cli{jobs}"),
                    "--config",
                    str(_config_file(tmp_path, analyses)),
                    "--jobs",
                    jobs,
                    "--no-paper",
                    "-q",
                ]
            )
        assert exit_.value.code == 2
        errors.append(capsys.readouterr().err.strip())
    assert errors[0] == errors[1]
    assert errors[0].startswith("error: 1 step(s) failed") and "ValueError: no luck" in errors[0]


def _config_file(tmp: Path, analyses: Path) -> Path:
    p = tmp / "config.toml"
    p.write_text(f"[outputs]\nanalyses_dir = '{analyses.as_posix()}'\n")
    return p


def test_a_worker_that_dies_is_a_pipeline_error(tmp_path):
    scripts = {"01_dies.py": "import os\n\n\ndef run(ctx):\n    os._exit(3)\n"}
    scripts["02_fine.py"] = SCRIPTS["10_plain.py"]
    analyses = _write(tmp_path / "analyses", scripts)
    with pytest.raises(PipelineError, match=r"worker process .* stopped .*--jobs 1"):
        reproduce(_cfg(tmp_path, analyses, 2), paper=False, log=lambda s: None)


def test_the_manifest_records_memory_after_each_step(tmp_path):
    analyses = _write(tmp_path / "analyses", {k: SCRIPTS[k] for k in ("03_km.py", "10_plain.py")})
    for jobs in (1, 2):
        cfg = _cfg(tmp_path, analyses, jobs)
        reproduce(cfg, paper=False, log=lambda s: None)
        m = json.loads((cfg.outputs_dir / "manifest.json").read_text())
        mem = m["memory_mib"]
        assert mem["read and derive cohort"]["rss"] > 50
        assert mem["disclosure check"]["peak"] >= mem["read and derive cohort"]["rss"] * 0.9
        assert {Path(s).name for s in mem["scripts"]} == {"03_km.py", "10_plain.py"}
        assert all(("pss" in m) == (jobs == 2) for m in mem["scripts"].values())
        assert m["config"]["parallel"]["analysis_jobs"] == jobs


def test_groups_follow_needs_and_jobs_follow_groups():
    names = [Path(f"{n}_x.py") for n in ("01", "03", "05", "07", "08", "09", "12", "13")]
    groups = [[p.name[:2] for p in g] for g in script_groups(names)]
    assert groups == [["01"], ["03", "08"], ["05", "12"], ["07", "09"], ["13"]]
    # 12 reads 03's file from another worker: 03's group is handed out first, whatever the times
    for times in ({}, {"03": 99.0}, {"05": 99.0, "12": 99.0}):
        order = schedule(
            script_groups(names), lambda g, t=times: sum(t.get(p.name[:2], 1.0) for p in g)
        )
        first = [p.name[:2] for g in order for p in g]
        assert first.index("03") < first.index("05") and waits(order)[names[6]] == [names[1]]
    # a needed script that is not run is not waited for
    only = [[p.name[:2] for p in g] for g in script_groups([Path("09_x.py"), Path("12_x.py")])]
    assert only == [["09"], ["12"]]
    assert analysis_jobs(0, 4) >= 1 and analysis_jobs(8, 2) == 2 and analysis_jobs(1, 5) == 1


def test_every_script_that_reads_another_declares_it():
    """A script reading ctx.values, ctx.results or an output file is in NEEDS."""
    reads = re.compile(r"ctx\.results\.get|ctx\.values\[|in ctx\.values|ctx\.out /")
    readers = {
        p.name[:2]
        for p in (ROOT / "analyses").glob("[0-9][0-9]_*.py")
        if reads.search(p.read_text())
    }
    assert readers and readers <= set(NEEDS) | set(AFTER) | set(SHARED)


def test_config_key_analysis_jobs(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("[parallel]\nanalysis_jobs = 3\nn_jobs = 1\n")
    cfg = load_config(p)
    assert cfg.analysis_jobs == 3 and cfg.parallel.n_jobs == 1
    p.write_text("[parallel]\nanalysis_jobs = -1\n")
    with pytest.raises(PipelineError, match="analysis_jobs"):
        load_config(p)
    p.write_text("[parallel]\nanalysis_jobs = 'two'\n")
    with pytest.raises(PipelineError, match="analysis_jobs"):
        load_config(p)


def test_what_a_script_keeps_at_module_level_is_freed_after_it(tmp_path):
    from reunistat.pipeline import Context
    from reunistat.pipeline.run import run_scripts

    script = tmp_path / "01_keeps.py"
    script.write_text(
        "import weakref\n\n\nclass Fit:\n    pass\n\n\nCACHE = {}\n\n\n"
        "def run(ctx):\n    CACHE['fit'] = Fit()\n"
        "    ctx.results['ref'] = weakref.ref(CACHE['fit'])\n"
    )
    ctx = Context(_cfg(tmp_path, tmp_path, 1).with_changes(outputs_dir=tmp_path), lambda s: None)
    timings = run_scripts(ctx, [script])
    assert list(timings) == [f"{tmp_path.as_posix()}/01_keeps.py"]
    assert ctx.results["ref"]() is None  # the module's cache went with the script


def test_with_one_job_the_release_is_not_in_the_first_scripts_seconds(tmp_path, monkeypatch):
    import time

    from reunistat.report import release_plan

    built = release_plan.standard_release

    def slow(*a, **k):  # the release-wide suppression takes 3 s more
        time.sleep(3.0)
        return built(*a, **k)

    monkeypatch.setattr(release_plan, "standard_release", slow)
    analyses = _write(tmp_path / "analyses", {"01_flow.py": SCRIPTS["01_flow.py"]})
    cfg = _cfg(tmp_path, analyses, 1)
    reproduce(cfg, paper=False, log=lambda s: None)
    t = json.loads((cfg.outputs_dir / "manifest.json").read_text())["timings_seconds"]
    assert t["release-wide suppression"] >= 3.0
    # had the release been timed inside the script, the script would take >= 3 s;
    # 2 s are left for the tiny script itself on a loaded machine (it took 0.95 s at load 24)
    assert t[f"{analyses.as_posix()}/01_flow.py"] < t["release-wide suppression"] - 1.0


@pytest.mark.skipif(analysis_jobs(2, 2) < 2, reason="needs fork and two cores")
def test_the_idle_core_hears_of_each_script_as_it_ends_and_the_release_is_the_same(
    tmp_path, monkeypatch
):
    """While only 12 runs, the run's process knows 05 (same worker) is done, and checks it."""
    from reunistat.pipeline import idle_core

    scripts = {
        "01_a.py": "def run(ctx):\n    _frame(ctx, 'a', 1.0)\n",
        "05_fit.py": "def run(ctx):\n    ctx.results['fit'] = 2.0\n    _frame(ctx, 'fit', 2.0)\n",
        "12_checks.py": "import time\n\n\ndef run(ctx):\n    time.sleep(2)\n"
        "    _frame(ctx, 'checks', ctx.results['fit'])\n",
    }
    analyses = _write(tmp_path / "analyses", scripts)
    one, error_one = _run(_cfg(tmp_path, analyses, 1))
    seen: list[set[str]] = []
    checked: set[str] = set()
    call = idle_core.IdleCore.__call__

    def spy(self, records, busy):
        if busy():
            seen.append({r.script.rsplit("/", 1)[-1] for r in records})
        call(self, records, busy)
        checked.update(self.checked)

    monkeypatch.setattr(idle_core.IdleCore, "__call__", spy)
    two, error_two = _run(_cfg(tmp_path, analyses, 2))
    assert {"05_fit.py", "01_a.py"} in seen  # 12 still running
    assert {"tables/fit.csv", "tables/a.csv"} <= checked
    assert two == one and error_two == error_one


def _slow_release(monkeypatch, seconds: float, error: Exception | None = None) -> None:
    import time

    from reunistat.report import release_plan

    built = release_plan.standard_release

    def slow(*a, **k):  # the release-wide suppression takes ``seconds`` more, or fails
        time.sleep(seconds)
        if error is not None:
            raise error
        return built(*a, **k)

    monkeypatch.setattr(release_plan, "standard_release", slow)


@pytest.mark.skipif(analysis_jobs(2, 2) < 2, reason="needs fork and two cores")
def test_workers_start_before_the_release_and_wait_for_it_only_when_asked(tmp_path, monkeypatch):
    """The run's process builds the release once the workers run; a script's wait is not its own."""
    _slow_release(monkeypatch, 3.0)
    scripts = {
        "01_flow.py": SCRIPTS["01_flow.py"],
        "03_km.py": "def run(ctx):\n    _frame(ctx, 'km', len(ctx.spells))\n",
    }
    analyses = _write(tmp_path / "analyses", scripts)
    one, _ = _run(_cfg(tmp_path, analyses, 1))
    two, _ = _run(_cfg(tmp_path, analyses, 2))
    assert two == one and two["suppressed_cells"]
    t = json.loads((tmp_path / "out2/manifest.json").read_text())["timings_seconds"]
    assert t["release-wide suppression"] >= 3.0
    # 01 waited about 3 s for the release in its worker: not counted as its own seconds
    assert t[f"{analyses.as_posix()}/01_flow.py"] < t["release-wide suppression"] - 1.0


@pytest.mark.skipif(analysis_jobs(2, 2) < 2, reason="needs fork and two cores")
def test_a_release_that_cannot_be_built_stops_the_run_and_no_worker_waits(tmp_path, monkeypatch):
    _slow_release(monkeypatch, 0.5, ValueError("no release"))
    scripts = {k: SCRIPTS[k] for k in ("01_flow.py", "05_fit.py", "10_plain.py")}
    analyses = _write(tmp_path / "analyses", scripts)
    for jobs in (1, 2):
        with pytest.raises((ValueError, PipelineError), match=r"no release|01_flow"):
            reproduce(_cfg(tmp_path, analyses, jobs), paper=False, log=lambda s: None)
