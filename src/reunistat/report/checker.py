"""The output checker: every file of a run against the disclosure rules and for identifiers.

It re-reads what was written (not what was meant to be written): tables of
counts (thresholds, rounding, secondary suppression lines), curves (at-risk
floor, steps), model tables (the numbers they rest on), the paper's numbers,
and every text file for child identifiers (CHILD, UPN, LAchildID, MOTHER
columns or values). The identifier check runs in every mode; the count rules
only when disclosure control applies.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from reunistat.report.disclosure import (
    DisclosureRules,
    _check_cell,
    check_curve,
    check_table,
)

if TYPE_CHECKING:
    from reunistat.pipeline import Context

IDENTIFIER_COLUMNS = ("CHILD", "UPN", "LAchildID", "MOTHER")
_TEXT = (".csv", ".md", ".html", ".json", ".svg", ".txt")
_TOKEN = re.compile(r"[A-Za-z0-9]+")


def _looks_like_id(token: str) -> bool:
    """Tokens compared with identifiers: those with a letter and a digit, or 8+ characters."""
    has_letter = any(ch.isalpha() for ch in token)
    has_digit = any(ch.isdigit() for ch in token)
    return (has_letter and has_digit) or len(token) >= 8


def file_text(path: Path) -> str:
    """Return the text of an output file (a DOCX's or XLSX's XML; empty for images)."""
    if path.suffix in (".docx", ".xlsx"):
        with zipfile.ZipFile(path) as z:
            return "\n".join(
                z.read(n).decode("utf-8", "replace")
                for n in sorted(z.namelist())
                if n.endswith(".xml")
            )
    if path.suffix in _TEXT:
        return path.read_text("utf-8", errors="replace")
    return ""


def identifier_breaches(path: Path, rel: str, identifiers: set[str]) -> list[str]:
    """Return breaches of the no-identifier rule in one file."""
    text = file_text(path)
    if not text:
        return []
    out = []
    if path.suffix == ".csv":
        header = pd.read_csv(io.StringIO(text), nrows=0).columns
        bad = [c for c in header if c in IDENTIFIER_COLUMNS]
        if bad:
            out.append(f"{rel}: has identifier column(s) {bad}")
    found = sorted(t for t in set(_TOKEN.findall(text)) & identifiers if _looks_like_id(t))
    if found:
        out.append(f"{rel}: holds {len(found)} child identifier value(s)")
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def rule_breaches(path: Path, rel: str, spec: dict[str, Any], rules: DisclosureRules) -> list[str]:
    """Return breaches of the count rules in one output, as its spec describes it."""
    kind = spec.get("type", "none")
    if not rules.apply or kind in ("none", "figure", "same_as", "paper", "report"):
        return []
    if kind == "counts":
        table = _read_csv(path)
        lines = [[(r, c) for r, c in line] for line in spec.get("lines", [])]
        probs = check_table(table, spec["count_cols"], rules, lines, spec.get("row_key"))
    elif kind == "curve":
        curve = _read_csv(path)
        probs = check_curve(curve, rules, estimate_cols=spec.get("estimate_cols", []))
    elif kind == "model":
        probs = [
            f"{k} = {spec[k]}: the model rests on fewer than {rules.threshold}"
            for k in ("n_obs", "n_events", "n_min_cell")
            if spec.get(k) is not None and int(spec[k]) < rules.threshold
        ]
    elif kind == "values":
        values = json.loads(path.read_text("utf-8"))
        probs = [
            f"value {k!r}: {msg}"
            for k, v in values.items()
            if v.get("type") == "count" and (msg := _check_cell(v["text"], rules, rules.rounding))
        ]
    else:
        probs = [f"unknown disclosure type {kind!r}"]
    return [f"{rel}: {p}" for p in probs]


def check_outputs(ctx: Context, identifiers: set[str] | None = None) -> list[str]:
    """Check every file under the outputs folder; return the breaches (empty if none).

    A file that no script registered is a breach too: nothing unchecked leaves.
    """
    out_dir = ctx.out
    ids = ctx.identifiers() if identifiers is None else identifiers
    breaches = []
    for p in sorted(out_dir.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(out_dir).as_posix()
        if rel in ("manifest.json", "disclosure_report.md"):
            continue
        o = ctx.outputs.get(rel)
        if o is None:
            breaches.append(f"{rel}: written by no registered output, so it was not checked")
            continue
        breaches += identifier_breaches(p, rel, ids)
        breaches += rule_breaches(p, rel, o.disclosure, ctx.rules)
    return breaches


def write_report(ctx: Context, breaches: list[str]) -> Path:
    """Write ``disclosure_report.md``: the rules, what was suppressed, and the check's result."""
    r = ctx.rules
    lines = ["# Disclosure control report", ""]
    if r.apply:
        lines += [
            f"Rules: counts below {r.threshold} shown as `c`"
            + (", zeros too" if r.zeros_disclosive else "")
            + "; secondary suppression so no total reveals a suppressed cell"
            + (f"; counts rounded to the nearest {r.rounding}" if r.rounding else "")
            + f"; curves cut where fewer than {r.threshold} remain at risk, steps of at least "
            f"{r.threshold} events.",
            "",
        ]
    else:
        lines += [
            "Disclosure control was **not applied**: the input is the committed synthetic sample "
            "(no real children). Identifiers were still checked.",
            "",
        ]
    lines += [
        "## Suppressed cells by table",
        "",
        "| table | primary | secondary |",
        "|:---|---:|---:|",
    ]
    for name in sorted(ctx.suppression_logs):
        log = ctx.suppression_logs[name]
        prim = int(log["reason"].str.startswith("primary").sum()) if len(log) else 0
        sec = int(log["reason"].str.startswith("secondary").sum()) if len(log) else 0
        lines.append(f"| {name} | {prim} | {sec} |")
    lines += ["", "## Check of every output", ""]
    if breaches:
        lines += [f"**FAILED: {len(breaches)} breach(es).**", ""] + [f"- {b}" for b in breaches]
    else:
        lines.append(f"Passed: {len(ctx.outputs)} registered outputs checked, no breach.")
    if ctx.skipped or ctx.failed:
        lines += ["", "## Outputs not made in this run", ""]
        lines += [f"- {s['output']} ({s['script']}): {s['reason']}" for s in ctx.skipped]
        lines += [f"- {f['script']} FAILED: {f['error']}" for f in ctx.failed]
    path = ctx.out / "disclosure_report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ctx.script = "reunistat.pipeline"
    ctx._register(
        path,
        "reunistat.report.checker.write_report",
        "report",
        "disclosure report",
        {"type": "report"},
    )
    return path
