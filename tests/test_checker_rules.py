"""The output checker on its own: plain inputs, what it finds, what it does not mistake.

Unit tests of :mod:`reunistat.report.checker` (the end-to-end cases are in
``test_release_safety.py``), and the layering rule of issue 17: the report
layer takes plain data and never imports the pipeline.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.report import checker
from reunistat.report.checker import (
    Identifiers,
    ReportInputs,
    check_folder,
    count_breach,
    dates_in_text,
    report_text,
)
from reunistat.report.disclosure import DisclosureRules

ROOT = Path(__file__).parents[1]
RULES = DisclosureRules()
DOB = dt.date(2009, 7, 14)
IDS = Identifiers(
    values=frozenset({"C00000029", "123456", "A000000334380"}),
    dates_of_birth=frozenset({DOB, dt.date(2024, 3, 31)}),
    postcodes=frozenset({"AA7 7"}),
    public_dates=frozenset({dt.date(2024, 3, 31)}),
)


def test_the_report_layer_does_not_import_the_pipeline():
    for name in ("checker.py", "paper.py", "workbook.py"):
        tree = ast.parse((ROOT / "src/reunistat/report" / name).read_text())
        imported = {
            n.module if isinstance(n, ast.ImportFrom) else a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.Import | ast.ImportFrom)
            for a in (n.names if isinstance(n, ast.Import) else [n])
        }
        assert not any(str(m).startswith("reunistat.pipeline") for m in imported), name


@given(st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)))
@settings(max_examples=60, deadline=None)
def test_a_date_is_found_in_every_common_form(d):
    forms = [
        d.strftime("%d/%m/%Y"),
        d.strftime("%Y-%m-%d"),
        d.strftime("%d.%m.%Y"),
        d.strftime("%Y%m%d"),
        f"{d.day} {d:%B %Y}",
        f"{d.day} {d:%b %Y}",
        f"{d:%B} {d.day}, {d.year}",
        d.strftime("%m/%d/%Y"),
        d.isoformat() + "T00:00:00",
    ]
    for form in forms:
        assert d in dates_in_text(f"x {form} y"), form


def _dates_with_ignorecase(text):
    """Dates as the checker's patterns find them with ``re.I`` on the text as written."""
    text = checker._URL.sub(" ", text)
    return {
        str(d)
        for pattern, order in checker._DATE_PATTERNS
        for m in pattern.finditer(text)
        for d in checker._match_dates(order, m.groups())
        if d is not None
    }


@given(
    st.sampled_from(
        [
            *("3rd FEB 2001", "FEBRUARY 3, 2001", "3 Auguſt 2001", "AUGUST 3, 2001"),
            *("03/02/2001", "2001-02-03", "20010203", "2001.2.3"),
        ]
    ),
    st.text(alphabet="0123456789 /.-,\nstndrhAaFfEeBbMmYyUuGgSsPpOoCcTtİıſK\u0663", max_size=30),
)
@settings(max_examples=200, deadline=None)
def test_dates_are_found_as_every_pattern_finds_them_in_the_whole_text(named, noise):
    # the month names are searched in the text in lower case unless a letter that case-folds
    # to a-z otherwise (the long s, the Kelvin sign, dotted and dotless i) is in it; the
    # numeric forms in the lines that hold what they need
    for text in (f"{noise} {named} {noise}", noise, f"{named}{noise}"):
        assert {str(d) for d in dates_in_text(text)} == _dates_with_ignorecase(text), text
    assert dt.date(2001, 2, 3) in dates_in_text("born 3rd FEB 2001, K")


def test_identifiers_are_found_however_short_the_shortest_is():
    text = "row AB1 and 12345 and C0001 and 0.123456 and 12345.0"
    assert checker._long_tokens(text) == {t for t in checker._tokens(text) if len(t) >= 4}
    short = Identifiers(values=frozenset({"AB1"}))
    assert checker.identifier_breaches(Path("a.txt"), "a.txt", short, text)
    assert not checker.identifier_breaches(Path("a.txt"), "a.txt", IDS, text)


def test_numbers_that_are_not_identifiers_are_not_mistaken():
    text = "estimate 0.123456, n = 123,456, x = 9123456, 1123456.5; C000000290"
    assert not checker._tokens(text) & IDS.values
    assert "123456" in checker._tokens("child 123456 and 123456.0")
    assert "C00000029" in checker._tokens("<text>C00000029</text>")


def test_xml_namespaces_are_not_dates():
    assert dates_in_text('xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"') == set()


def _write(folder: Path, rel: str, data: str | bytes) -> Path:
    p = folder / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data)
    return p


def test_identifiers_are_found_inside_binary_text(tmp_path):
    svg = '<svg><text x="1">seen 14 July 2009</text></svg>'
    _write(tmp_path, "figures/a.svg", svg)
    uri = base64.b64encode(b"<svg><text>AA7 7</text></svg>").decode()
    _write(tmp_path, "paper/p.html", f'<img src="data:image/svg+xml;base64,{uri}">')
    with zipfile.ZipFile(tmp_path / "t.xlsx", "w") as z:
        z.writestr("xl/sharedStrings.xml", "<sst><si><t>CHILD</t></si><si><t>123456</t></si></sst>")
    out = check_folder(tmp_path, {}, RULES, IDS)
    assert "figures/a.svg: holds 1 date(s) that are dates of birth in the input" in out
    assert "paper/p.html: holds 1 postcode(s) of children in the input" in out
    assert "t.xlsx: holds 1 child identifier value(s) of the input" in out
    assert any(b.startswith("t.xlsx: has a column named as an identifier") for b in out)
    assert sum("written by no registered output" in b for b in out) == 3


def test_public_dates_and_counts_of_other_kinds_pass(tmp_path):
    _write(tmp_path, "tables/t.csv", "group,n,hr\na,12,1.5\nb,40,0.3\n")
    _write(tmp_path, "notes.txt", "data end 31/03/2024")
    specs = {"tables/t.csv": {"type": "none"}, "notes.txt": {"type": "none"}}
    assert check_folder(tmp_path, specs, RULES, IDS) == []


def test_counts_named_or_recorded_as_counts_are_checked(tmp_path):
    values = {
        "n_black": {"value": 5, "text": "5", "type": "value"},
        "power_las": {"value": 4, "text": "4", "type": "value"},  # not named as a count
        "n_spells": {"value": "c", "text": "c", "type": "count"},
        "n_children": {"value": "7", "text": "7", "type": "count"},
    }
    _write(tmp_path, "values.json", json.dumps(values))
    out = check_folder(tmp_path, {"values.json": {"type": "values"}}, RULES, IDS)
    assert out == [
        "values.json: value 'n_black': a count below the threshold",
        "values.json: value 'n_children': a count below the threshold",
    ]


def test_zeros_and_rounding_follow_the_rules():
    assert count_breach("0", DisclosureRules(zeros_disclosive=True)).startswith("a zero count")
    assert count_breach("0", RULES) is None
    assert count_breach("12", DisclosureRules(rounding=5)) == "a count not rounded to 5"
    assert count_breach("7", DisclosureRules(apply=False)) is None
    assert count_breach("0.35", RULES) is None


def test_the_report_states_no_count(tmp_path):
    text = report_text(
        ReportInputs(
            rules=RULES,
            breaches=["tables/t.csv: column 'n' holds a count below the threshold (row(s) 1)"],
            n_outputs=4,
            suppressed={"table1": (2, 1)},
            skipped=[{"output": "tables/cox", "script": "04", "reason": "left out"}],
        )
    )
    assert "FAILED: 1 breach(es)" in text and "| table1 | 2 | 1 |" in text
    assert "- tables/cox (04): left out" in text


def test_identifiers_come_from_every_table():
    header = pd.DataFrame(
        {
            "CHILD": ["C00000029", "7"],
            "UPN": ["A000000334380", None],
            "DOB": pd.to_datetime(["2009-07-14", "2010-01-02"]),
        }
    )
    episodes = pd.DataFrame({"CHILD": ["123456"], "HOME_POST": ["aa7  7"], "PL_POST": [None]})
    ids = Identifiers.from_tables({"header": header, "episodes": episodes})
    assert ids.values == {"C00000029", "A000000334380", "123456"}  # "7" cannot be searched
    assert ids.dates_of_birth == {DOB, dt.date(2010, 1, 2)}
    assert ids.postcodes == {"AA7 7"}


def test_a_model_spec_leaves_with_its_small_counts_hidden():
    """The manifest quotes no model count that is not a release cell (n_min_cell included)."""
    spec = {"type": "model", "n_obs": 1200, "n_events": 8, "n_min_cell": 1}
    assert checker.release_spec(spec, RULES) == {"type": "model", "small_cell": True}
    assert checker.model_breaches(checker.release_spec(spec, RULES), RULES) != []
    big = {"type": "model", "n_obs": 1200, "n_events": 80, "n_min_cell": 12}
    assert checker.release_spec(big, RULES) == {"type": "model", "small_cell": False}
    assert checker.model_breaches(checker.release_spec(big, RULES), RULES) == []


def test_a_model_spec_linked_to_the_release_keeps_its_released_counts():
    """A linked spec's c is the joint suppression, not a small model; small_cell still is."""
    spec = {"type": "model", "counts": "model:cox", "n_obs": "c", "n_events": 80}
    assert checker.model_breaches({**spec, "small_cell": False}, RULES) == []
    assert checker.release_spec({**spec, "small_cell": False}, RULES) == {
        **spec,
        "small_cell": False,
    }
    assert checker.model_breaches({**spec, "small_cell": True}, RULES) != []
    assert checker.model_breaches({**spec, "n_events": 8, "small_cell": False}, RULES) != []


def test_identifiers_from_tables_are_never_shorter_than_the_length_they_state():
    table = pd.DataFrame(
        {"CHILD": ["C1", " AB12 ", "123456", "12345", None], "UPN": [1, 22, 3, 4, 5]}
    )
    ids = Identifiers.from_tables({"header": table})
    assert ids.values == {"AB12", "123456"}
    assert ids.shortest == 4 <= min(map(len, ids.values))
    assert Identifiers(values=frozenset({"AB1", "C00001"})).shortest == 3
