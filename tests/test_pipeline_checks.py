"""The release's checks in a second process (reunistat.pipeline.checks): the same verdict.

Whatever is asked early, whatever changes in the folder after, and whether the
checking process runs, stops or was never started, the breaches are exactly
those :func:`reunistat.report.checker.check_folder` finds in the folder at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from reunistat.pipeline.checks import Checks, background_checks
from reunistat.pipeline.finish import WhileScriptsRun
from reunistat.report import checker
from reunistat.report.checker import Identifiers, check_folder
from reunistat.report.disclosure import DisclosureRules

RULES = DisclosureRules()
DOB = dt.date(2009, 7, 14)
IDS = Identifiers(
    values=frozenset({"C00000029", "123456"}),
    dates_of_birth=frozenset({DOB}),
    postcodes=frozenset({"AA7 7"}),
    public_dates=frozenset(),
)
COUNTS = {"type": "counts", "count_cols": ["n"], "row_key": None, "lines": []}


def _folder(root: Path) -> tuple[Path, dict[str, dict]]:
    """A release folder with a breach of each kind, and clean files."""
    stage = root / "outputs"
    (stage / "tables").mkdir(parents=True)
    (stage / "tables/small.csv").write_text("level,n\na,12\nb,3\n")  # a count below 10
    (stage / "tables/fine.csv").write_text("level,n\na,12\nb,30\n")
    (stage / "tables/fine.md").write_text("| level | n |\n|:---|---:|\n| a | 12 |\n")
    (stage / "notes.txt").write_text("child C00000029 born 14/07/2009 at AA7 7AB\n")
    (stage / "stray.txt").write_text("nothing here\n")  # registered by no output
    (stage / "values.json").write_text('{"n_all": {"value": 4, "text": "4", "type": "count"}}')
    specs = {
        "tables/small.csv": COUNTS,
        "tables/fine.csv": COUNTS,
        "tables/fine.md": {"type": "same_as", "of": "tables/fine.csv"},
        "notes.txt": {"type": "none"},
        "values.json": {"type": "values"},
    }
    return stage, specs


def _all(stage: Path) -> list[str]:
    return sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file())


@pytest.mark.parametrize("background", [True, False])
def test_the_checks_find_what_check_folder_finds_in_the_folder_at_the_end(tmp_path, background):
    stage, specs = _folder(tmp_path)
    with Checks(IDS, RULES, background) as checks:
        checks.check_files(stage, _all(stage), specs)
        first = checks.folder_breaches(stage, specs)
        assert first == check_folder(stage, specs, RULES, IDS)
        assert any("below the threshold" in b for b in first)
        assert any("child identifier" in b for b in first)
        assert any("stray.txt: written by no registered output" in b for b in first)
        # after the answers: a file written again, one removed, one new, a spec changed
        (stage / "tables/fine.md").write_text("| level | n |\n|:---|---:|\n| a | 123456 |\n")
        (stage / "notes.txt").unlink()
        (stage / "tables/late.csv").write_text("level,children\na,5\n")
        specs = {**specs, "tables/late.csv": {"type": "none"}, "stray.txt": {"type": "none"}}
        final = checks.folder_breaches(stage, specs)
        expected = check_folder(stage, specs, RULES, IDS)
        assert final == expected
        assert any(b.startswith("tables/fine.md: holds 1 child identifier") for b in final)
        assert any(b.startswith("tables/late.csv: column 'children'") for b in final)
        assert not any(b.startswith(("notes.txt", "stray.txt")) for b in final)
        for rel in ("values.json", "tables/fine.md"):
            found = checks.identifier_breaches(stage, rel)
            assert found == checker.identifier_breaches(stage / rel, rel, IDS)
    if background:
        assert checks.background_seconds is not None and checks.background_seconds >= 0
    else:
        assert checks.background_seconds is None


@pytest.mark.parametrize("background", [True, False])
def test_a_file_asked_again_before_its_answer_is_not_asked_twice(tmp_path, background):
    stage, specs = _folder(tmp_path)
    with Checks(IDS, RULES, background) as checks:
        checks.check_files(stage, _all(stage), specs)
        checks.check_files(stage, ["tables/fine.md", "notes.txt"], specs)  # nothing new to ask
        assert len(checks._file_tickets) == 1
        checks.check_files(stage, ["notes.txt"], {**specs, "notes.txt": COUNTS})  # another spec
        assert len(checks._file_tickets) == 2
        # written once asked: checked again at the end if it was checked before this write
        (stage / "tables/fine.md").write_text("| level | n |\n|:---|---:|\n| a | 123456 |\n")
        final = checks.folder_breaches(stage, specs)
        assert final == check_folder(stage, specs, RULES, IDS)
        assert any(b.startswith("tables/fine.md: holds 1 child identifier") for b in final)


@pytest.mark.skipif(not background_checks(2), reason="needs fork and two cores")
def test_a_checking_process_that_stops_leaves_its_work_to_the_run(tmp_path):
    stage, specs = _folder(tmp_path)
    with Checks(IDS, RULES, True) as checks:
        assert checks._proc is not None
        os.kill(checks._proc.pid, signal.SIGKILL)
        checks._proc.join()
        checks.check_files(stage, _all(stage), specs)
        assert checks.folder_breaches(stage, specs) == check_folder(stage, specs, RULES, IDS)
        assert checks._proc is None  # noticed, and done here


def test_the_identifiers_taken_while_the_scripts_run_raise_only_at_the_end():
    class Broken:
        @property
        def extract(self):
            raise MemoryError("no room")

    early = WhileScriptsRun(Broken())  # type: ignore[arg-type]
    early.run()  # while the workers run: left for later
    assert early.identifiers is None and early.seconds is None
    with pytest.raises(MemoryError):
        early.run(final=True)


def test_the_identifiers_and_the_spells_hash_are_those_of_the_end_of_the_run():
    import pandas as pd

    from reunistat.pipeline.verify import release_identifiers
    from reunistat.results import data_hash

    tables = {"header": pd.DataFrame({"CHILD": ["C00000029", "C00000030"]})}
    spells = pd.DataFrame({"x": [1, 2]}, index=[5, 6])
    cohort = SimpleNamespace(data_end=pd.Timestamp("2024-03-31"))
    ctx = SimpleNamespace(extract=SimpleNamespace(tables=tables), cohort=cohort, spells=spells)
    early = WhileScriptsRun(ctx)  # type: ignore[arg-type]
    early.run()
    assert early.identifiers == release_identifiers(tables, dt.date(2024, 3, 31))
    assert early.spells_sha256 == data_hash(spells.reset_index(drop=True))
    for index in (pd.RangeIndex(2), pd.RangeIndex(1, 3), pd.Index([0, 1], dtype=object)):
        ctx.spells = pd.DataFrame({"x": [1, 2]}, index=index)  # numbered from 0: not copied
        again = WhileScriptsRun(ctx)  # type: ignore[arg-type]
        again.run()
        assert again.spells_sha256 == data_hash(ctx.spells.reset_index(drop=True))


def test_the_modules_the_scripts_import_are_imported_before_the_workers_fork(tmp_path):
    import sys

    from reunistat.pipeline.run import import_for

    (tmp_path / "01_a.py").write_text(
        "from __future__ import annotations\nimport colorsys\n"
        "from reunistat.report.labels import p_text\n"
        "def run(ctx):\n    import wave\n"
    )
    (tmp_path / "02_b.py").write_text("import no_such_module_here\nfrom . import x\n")
    (tmp_path / "03_c.py").write_text("this is not python (\n")
    sys.modules.pop("colorsys", None)
    failed = import_for(sorted(tmp_path.glob("*.py")))
    assert failed == ["no_such_module_here"]  # left to its script, which reports it
    assert "colorsys" in sys.modules and "reunistat.report.labels" in sys.modules


def test_the_last_steps_modules_are_imported_with_the_scripts_modules(tmp_path):
    import sys

    from reunistat.pipeline import run

    (tmp_path / "01_a.py").write_text("import colorsys\n")
    scripts_s, last_s = run._import_all(sorted(tmp_path.glob("*.py")), paper=True)
    assert scripts_s >= 0 and last_s >= 0
    imported = ("colorsys", *run.WORKER_MODULES, *run.LAST_STEPS_MODULES, "pypdf")
    assert all(m in sys.modules for m in imported)


def test_files_checked_while_a_worker_ran_give_the_verdict_of_the_folder_at_the_end(tmp_path):
    from reunistat.pipeline.context import Output
    from reunistat.pipeline.idle_core import IdleCore

    stage, specs = _folder(tmp_path)
    early = SimpleNamespace(identifiers=IDS)
    idle = IdleCore(stage, RULES, early, paper=False)  # type: ignore[arg-type]
    outputs = [Output(rel, "s", "f", "table", "t", dict(spec)) for rel, spec in specs.items()]
    record = SimpleNamespace(script="analyses/01_x.py", outputs=outputs)
    idle([record], lambda: False)  # the last worker has finished: nothing is done
    assert idle.checked == {}
    idle([record], lambda: True)
    assert set(idle.checked) == set(specs)
    # after: a file written again, and a spec changed; the others are not asked again
    (stage / "tables/fine.md").write_text("| level | n |\n|:---|---:|\n| a | 123456 |\n")
    specs = {**specs, "notes.txt": {"type": "figure"}}
    with Checks(IDS, RULES, False, idle.checked) as checks:
        checks.check_files(stage, _all(stage), specs)
        asked = {rel for _, m in checks._sent for rel, *_ in m[2]}
        assert asked == {"tables/fine.md", "notes.txt", "stray.txt"}
        assert checks.folder_breaches(stage, specs) == check_folder(stage, specs, RULES, IDS)


@pytest.mark.parametrize("background", [True, False, "stopped"])
def test_a_pdf_read_here_and_in_the_checking_process_gives_the_same_verdict(tmp_path, background):
    import typst

    stage = tmp_path / "outputs"
    (stage / "paper").mkdir(parents=True)
    # each process reads the next page not read yet; a process that stopped leaves its pages
    pages = ["Child C00000029", "born 14/07/2009", "nothing", "the end", "more"]
    doc = " #pagebreak() ".join(pages).encode()
    (stage / "paper/paper.pdf").write_bytes(typst.compile(doc, ignore_system_fonts=True))
    specs = {"paper/paper.pdf": {"type": "paper"}}
    with Checks(IDS, RULES, bool(background)) as checks:
        if background == "stopped":
            checks._proc.kill()
            checks._proc.join()
        checks.check_here(stage, ["paper/paper.pdf"], specs)
        found = checks.folder_breaches(stage, specs)
    assert found == check_folder(stage, specs, RULES, IDS)
    assert len(found) == 2  # an identifier and a date of birth
    text = checker.file_text(stage / "paper/paper.pdf")
    split = checker.pdf_page_texts(stage / "paper/paper.pdf")
    assert text == checker.pdf_text(stage / "paper/paper.pdf", split)


def test_pages_are_taken_once_each_whoever_takes_them(tmp_path):
    import multiprocessing

    import typst

    from reunistat.pipeline.checks import _claim_pages

    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(typst.compile(b"a #pagebreak() b #pagebreak() c", ignore_system_fonts=True))
    next_page = multiprocessing.get_context("fork").Value("i", 1)  # page 0 taken elsewhere
    got = _claim_pages(pdf, 3, next_page)
    assert sorted(got) == [1, 2] and next_page.value == 3
    assert [got[1].strip(), got[2].strip()] == ["b", "c"]
    assert _claim_pages(pdf, 3, next_page) == {}


def test_the_workbook_written_ahead_is_used_only_when_made_of_the_same_inputs(tmp_path):
    from reunistat.pipeline import documents
    from reunistat.pipeline.context import Output
    from reunistat.pipeline.idle_core import IdleCore

    stage = tmp_path / "stage"
    (stage / "tables").mkdir(parents=True)
    outputs = []
    for i, name in enumerate(documents.WORKBOOK_TABLES):
        (stage / f"tables/{name}.csv").write_text(f"level,n\na,{100 + i}\nb,{200 + i}\n")
        outputs.append(Output(f"tables/{name}.csv", "analyses/01_x.py", "f", "table", name))
    values = {k: {"text": f"{k} text"} for k in ("data_label", "disclosure_statement")}
    idle = IdleCore(stage, RULES, SimpleNamespace(identifiers=None), False, values)  # type: ignore[arg-type]
    idle([SimpleNamespace(script="analyses/01_x.py", outputs=outputs[:-1])], lambda: True)
    assert idle.workbook is None  # a table the workbook copies is not made yet
    idle([SimpleNamespace(script="analyses/02_y.py", outputs=outputs)], lambda: True)
    assert idle.workbook is not None and not (stage / "reunistat_tables.xlsx").exists()
    registry = {
        o.path: {"title": o.title, "script": o.script, "function": o.function} for o in outputs
    }
    path = stage / "reunistat_tables.xlsx"
    documents.build_workbook(stage, registry, values)
    built = path.read_bytes()
    path.unlink()
    documents.build_workbook(stage, registry, values, idle.workbook)
    assert path.read_bytes() == built == idle.workbook[1]
    # a table written again after: the workbook is built again, from it
    (stage / "tables/costs.csv").write_text("level,n\na,999\n")
    documents.build_workbook(stage, registry, values, idle.workbook)
    assert path.read_bytes() != built
    changed = path.read_bytes()
    path.unlink()
    documents.build_workbook(stage, registry, values)
    assert path.read_bytes() == changed
