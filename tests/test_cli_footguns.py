"""The command line protects its user: one test per footgun of issue 12 (item 7).

Each test fails on the command line as it was: a mistyped ``--data`` generated
a national dataset, flags showed ``<bool>``, rich markup ate ``[cohort]``,
``--mode`` meant two things, ``cohort --out x.txt`` wrote Parquet, the flow
table was 206 columns wide, ``evaluate`` without ``--la`` gave no hint, and
nothing showed progress.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from reunistat.cli import app, main
from reunistat.cli.progress import Steps

SAMPLE = Path(__file__).parents[1] / "data/synthetic/sample"
runner = CliRunner()
ENV = {"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}


def _commands() -> list[str]:
    root: Any = typer.main.get_command(app)
    return list(root.list_commands(root.context_class(root)))


def _help(*args: str) -> str:
    res = runner.invoke(app, [*args, "--help"], env=ENV, prog_name="reunistat")
    assert res.exit_code == 0, res.output
    return res.output


@pytest.mark.parametrize("command", ["", *_commands()])
def test_help_shows_flags_as_flags_and_fits_100_columns(command: str) -> None:
    text = _help(*([command] if command else []))
    assert "<bool>" not in text
    assert "DOMAIN" not in text  # a file the user does not have
    assert max(len(line) for line in text.splitlines()) <= 100


def test_help_keeps_brackets_and_shows_both_sides_of_a_flag() -> None:
    assert "TOML file with a [cohort] table" in " ".join(_help("cohort").split())
    synth = _help("synth")
    assert "--csv / --no-csv" in synth and "--annual / --flat" in synth
    assert "--recursive / --no-recursive" in _help("validate")
    assert "--paper / --no-paper" in _help("reproduce")


def test_a_flag_given_a_value_is_refused_and_both_sides_work(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "a"), "--csv", "true"])
    assert bad.exit_code == 2  # 'true' is an unexpected extra argument, not silently ignored
    ok = runner.invoke(
        app, ["synth", "--out", str(tmp_path / "b"), "--scale", "0.002", "--no-csv", "-q"]
    )
    assert ok.exit_code == 0, ok.output
    assert not list((tmp_path / "b").glob("*.csv"))
    ok = runner.invoke(
        app, ["synth", "--out", str(tmp_path / "c"), "--scale", "0.002", "--csv", "-q"]
    )
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "c" / "episodes.csv").exists()


def test_reproduce_on_a_missing_data_folder_is_an_error_not_a_new_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "data" / "synthetc" / "sample"
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(typo), "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --data") and "does not exist" in err and "--generate" in err
    assert len(err.strip().splitlines()) == 1
    assert not typo.exists() and not (tmp_path / "out").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(empty), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "is empty" in capsys.readouterr().err


def _captured_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Replace the pipeline run with one that records the config it is given."""
    import reunistat.pipeline as pipeline

    seen: dict[str, Any] = {}

    def fake_run(cfg: Any, **kwargs: Any) -> Any:
        seen["cfg"], seen["kwargs"] = cfg, kwargs
        raise SystemExit(0)

    monkeypatch.setattr(pipeline, "reproduce", fake_run)
    return seen


def test_generate_is_asked_for_and_only_into_a_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen = _captured_config(monkeypatch)
    new = tmp_path / "s7"
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(new), "--generate", "--seed", "7", "--scale", "0.01"])
    assert e.value.code == 0
    assert seen["cfg"].data_dir == new and seen["cfg"].seed == 7
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(SAMPLE), "--generate"])
    assert e.value.code == 2 and "already holds files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(new), "--generate", "--real"])
    assert e.value.code == 2 and "--real" in capsys.readouterr().err


def test_mode_means_strict_or_lenient_in_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _captured_config(monkeypatch)
    with pytest.raises(SystemExit):
        main(["reproduce", "--data", str(SAMPLE), "--mode", "strict", "--real"])
    assert seen["cfg"].cohort["validation"] == "strict" and seen["cfg"].mode == "real"
    for command in (
        ["reproduce", "--data", str(SAMPLE)],
        ["cohort", str(SAMPLE), "--out", str(tmp_path / "s.parquet")],
    ):
        res = runner.invoke(app, [*command, "--mode", "real"])
        assert res.exit_code == 2
        assert "--mode is strict or lenient" in " ".join(res.output.split())
    assert "--real / --synthetic" in _help("reproduce")


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("sample") / "sample"
    shutil.copytree(SAMPLE, data)
    return data


def test_cohort_refuses_an_output_suffix_it_does_not_write(
    sample_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (["--out", str(tmp_path / "x.txt")], ["--out", str(tmp_path / "x.xlsx")]):
        with pytest.raises(SystemExit) as e:
            main(["cohort", str(sample_copy), *args])
        assert e.value.code == 2
        assert ".parquet or .csv" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["cohort", str(sample_copy), "--out", str(tmp_path / "x.csv"), "--flow-out", "f.txt"])
    assert e.value.code == 2 and "--flow-out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cohort_writes_the_format_its_suffix_names_and_a_flow_in_100_columns(
    sample_copy: Path, tmp_path: Path
) -> None:
    res = runner.invoke(
        app, ["cohort", str(sample_copy), "--out", str(tmp_path / "s.csv"), "-q"], env=ENV
    )
    assert res.exit_code == 0, res.output
    spells = pd.read_csv(tmp_path / "s.csv")  # CSV text, not Parquet bytes
    assert len(spells) == 1695
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 100
    flow = lines[next(i for i, s in enumerate(lines) if s.startswith("stage")) :]
    assert re.search(r"^start\s+rows read .*\s5,198\s+17,560$", flow[1])
    assert any(re.search(r"returns home analysed \(spells\).*1,695\s+1,695$", s) for s in flow)


def test_evaluate_without_la_says_what_la_is_and_where_to_find_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spells = tmp_path / "spells.parquet"
    pd.DataFrame({"LA": ["1"]}).to_parquet(spells)
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(spells)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "--la" in err and "PILOT_START" in err and "la.parquet" in err


def test_wrong_paths_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["validate", "/no/such/dir"], ["cohort", "/no/such/dir", "--out", "s.csv"]):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("error: /no/such/dir") and len(err.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_each_step_with_its_time_on_a_terminal_only() -> None:
    term = _Terminal()
    with Steps(stream=term, echo=lambda s: None) as steps:
        with steps.step("reading data/extract"):
            pass
        steps.log("running analyses/04_cox.py")
        steps.log("  skipped tables/x: a reason")
    drawn = term.getvalue()
    assert "reading data/extract" in drawn and "running analyses/04_cox.py" in drawn
    assert re.search(r"0:00:0\d", drawn)  # the elapsed time of each step
    assert "skipped tables/x" in drawn  # other log lines printed above the steps
    quiet, piped = _Terminal(), io.StringIO()
    printed: list[str] = []
    with Steps(quiet=True, stream=quiet) as steps:
        steps.log("running analyses/04_cox.py")
    with Steps(stream=piped, echo=printed.append) as steps:
        steps.log("running analyses/04_cox.py")
    assert quiet.getvalue() == "" and piped.getvalue() == ""
    assert printed == ["running analyses/04_cox.py"]  # off a terminal: the plain log


def test_a_missing_config_a_file_for_a_folder_and_no_analyses_folder_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "--config nope.toml: no such file": [
            "cohort",
            str(SAMPLE),
            "--out",
            str(tmp_path / "s.csv"),
            "--config",
            "nope.toml",
        ],
        "is a file; give the folder": ["validate", str(SAMPLE / "header.csv")],
    }
    for expected, args in cases.items():
        with pytest.raises(SystemExit) as e:
            main(args)
        err = capsys.readouterr().err
        assert e.value.code == 2 and expected in err and len(err.strip().splitlines()) == 1
    monkeypatch.chdir(tmp_path)  # no analyses/ here: said so, not "known: " and nothing
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "--data", str(SAMPLE), "--out", str(tmp_path / "out")])
    assert e.value.code == 2 and "no analyses folder" in capsys.readouterr().err


def test_warnings_are_one_line_for_the_user(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    from reunistat.cli import _one_line_warning

    text = _one_line_warning(UserWarning("1 pilot authority has no return"), UserWarning, "f", 1)
    assert text == "warning: 1 pilot authority has no return\n"
    before = warnings.formatwarning
    with pytest.raises(SystemExit):
        main(["costs", "--effect", "0.8"])
    assert warnings.formatwarning is before  # restored after the command


def test_evaluate_reads_the_dates_cohort_writes_without_warnings() -> None:
    import warnings

    from reunistat.cli.evaluate_cmd import _dates

    iso = pd.Series(["2020-01-31", None, "2021-12-01"])
    dfe = pd.Series(["31/01/2020", "01/12/2021"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the old dayfirst parse warned on every ISO column
        assert _dates(iso).dt.month.tolist()[::2] == [1, 12]
        assert _dates(dfe).dt.day.tolist() == [31, 1]


def test_validate_report_fits_100_columns() -> None:
    messy = SAMPLE.parent / "sample-messy"
    res = runner.invoke(app, ["validate", str(messy), "-q"], env=ENV)
    assert res.exit_code == 1  # problems found
    lines = res.output.splitlines()
    assert max(len(s) for s in lines) <= 100
    assert "DfE rule 433" in res.output and "problem(s) found" in res.output


def test_the_command_list_is_not_cut_off() -> None:
    listed = _help().split("Commands:")[1].splitlines()
    mine = [s for s in listed if s.strip() and not s.strip().startswith("la-report")]
    assert len(mine) == len(_commands()) - 1
    assert not [s for s in mine if s.endswith("...")]
