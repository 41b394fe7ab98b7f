"""The validation rules: one registry giving each its number, scope, table and message.

A rule named by a number is DfE's rule of that number (``csc-validator-be-903``,
ruleset ``lac2022_23`` and later years) checked with DfE's scope, read from the
validator's code; where reunistat deliberately differs, ``scope`` says how and
why. Rules that are reunistat's own have names that are words (``overlap`` is
DfE 501, so it is named ``501``; ``x1_next`` has no DfE counterpart).

``severity``: an ``error`` stops strict mode and excludes the child in lenient
mode; a ``warning`` is reported (in ``Validated.warnings``) and never excludes: DfE flags
it as a query about plausibility (an E7 exit under 16, an episode under 24
hours), which does not make the child's periods of care ambiguous.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from reunistat.tables.rules.rule import Rule, Severity
from reunistat.tables.rules.rule import new_rule as _r

_EVERY = "every row"
_RETURNS_503 = (
    "children whose last episode in the earlier of two consecutive returns is open: the first "
    "episode of the later return (blanks equal; H5 to K3 and Z1 to Z11-Z14 accepted as DfE "
    "does). A warning: stacking keeps the later return's values"
)
_RULES: Final = (
    # reading (the reader reports these, in the same form)
    _r("missing_column", "*", "*", "a column the table must have is absent", _EVERY, "reading"),
    _r("bad_date", "*", "*", "a date is not a valid dd/mm/YYYY date", _EVERY, "reading"),
    _r(
        "duplicate",
        "*",
        "CHILD",
        "the same key appears twice with different values in one return",
        _EVERY,
        "reading",
    ),
    # values of one column
    _r("required", "*", "*", "a required value is blank", _EVERY, "codes"),
    _r(
        "code",
        "*",
        "*",
        "a value is not in the allowed code list (reunistat.codes)",
        "columns without a DfE code rule (CIN census DISABILITY, linked tables)",
        "codes",
    ),
    _r("101", "header", "SEX", "Gender code is not valid.", "blank is invalid; by year", "codes"),
    _r(
        "103",
        "header",
        "ETHNIC",
        "The ethnicity code is either not valid or has not been entered.",
        "blank is invalid",
        "codes",
    ),
    *(
        _r(code, "episodes", col, message, "filled values", "codes")
        for code, col, message in (
            ("143", "RNE", "The reason for new episode code is not a valid code."),
            ("144", "LS", "The legal status code is not a valid code."),
            ("145", "CIN", "Category of need code is not a valid code."),
            ("149", "REC", "Reason episode ceased code is not valid."),
        )
    ),
    _r(
        "146",
        "episodes",
        "PLACE",
        "Placement type code is not a valid code.",
        "filled values, by year; K3 allowed in 2024-25 (DfE's list there spells it k3)",
        "codes",
    ),
    _r(
        "178",
        "episodes",
        "PLACE_PROVIDER",
        "Placement provider code is not a valid code.",
        "filled values; must be blank for temporary/other placements (T0-T4, Z1; 2025-26: "
        "T0-T3, Z11-Z14). A warning: the provider is not used by the cohort",
        "codes",
        "warning",
    ),
    _r(
        "1009",
        "episodes",
        "REASON_PLACE_CHANGE",
        "Reason for placement change is not a valid code.",
        "filled values. A warning: the reason is not used by the cohort",
        "codes",
        "warning",
    ),
    # dates against the collection year and the data end
    _r(
        "date_range",
        "*",
        "*",
        "a date is before 1 January 1900 or after the data end",
        "dates, when a data end is given",
        "dates",
    ),
    _r(
        "after_data_end",
        "episodes",
        "*",
        "a DECOM or DEC is after the data end (31 March of the latest collection year read)",
        "episodes, checked by the cohort derivation against the data end it found; such a "
        "date never moves the data end",
        "dates",
    ),
    _r(
        "354",
        "episodes",
        "DECOM",
        "Date episode began must be on or before the end of the current collection year.",
        "rows whose collection year is known (DfE's message for 354 repeats 385's)",
        "dates",
    ),
    _r(
        "385",
        "episodes",
        "DEC",
        "Date episode ceased must be on or before the end of the current collection year.",
        "rows whose collection year is known",
        "dates",
    ),
    # one episode and the child's dates
    _r(
        "302",
        "header",
        "DOB",
        "First episode starts before child was born.",
        "the child's first episode (earliest DECOM); named in the header's DOB with the DECOM it "
        "contradicts (DfE names the episode and the header row)",
        "ages",
    ),
    _r(
        "352",
        "episodes",
        "DECOM",
        "Child who started to be looked after was aged 18 or over.",
        "episodes with RNE = S",
        "ages",
    ),
    _r(
        "356",
        "episodes",
        "DEC",
        "The date the episode ceased is before the date the same episode started.",
        _EVERY,
        "sequence",
    ),
    _r(
        "148",
        "episodes",
        "DEC",
        "Date episode ceased and reason episode ceased must both be coded, or both left blank.",
        _EVERY,
        "sequence",
    ),
    _r(
        "378",
        "episodes",
        "PLACE",
        "A child who is placed with parent(s) cannot be looked after under a single period of "
        "accommodation under Section 20 of the Children Act 1989.",
        _EVERY,
        "sequence",
    ),
    _r(
        "355",
        "episodes",
        "DEC",
        "Episode appears to have lasted for less than 24 hours",
        "DEC on the day of DECOM",
        "sequence",
        "warning",
    ),
    _r(
        "386",
        "episodes",
        "REC",
        "Reason episode ceased is adopted but child has reached age 18.",
        "REC E11/E12 with DEC and DOB known, DEC on or after the 18th birthday",
        "ages",
        "warning",
    ),
    _r(
        "407",
        "episodes",
        "REC",
        "Reason episode ceased is Special Guardianship Order, but child has reached age 18.",
        "REC E45-E48, DEC after the 18th birthday",
        "ages",
        "warning",
    ),
    _r(
        "460",
        "episodes",
        "REC",
        "Reason episode ceased is that child stayed with current carers at age 18 (or above), "
        "but child is aged under 18.",
        "REC E17, DEC before the 18th birthday",
        "ages",
        "warning",
    ),
    _r(
        "387",
        "episodes",
        "REC",
        "Reason episode ceased is child moved into independent living arrangement, but the child "
        "is aged under 14.",
        "REC E5/E6 with DEC, DEC before the 14th birthday or DOB unknown",
        "ages",
        "warning",
    ),
    _r(
        "389",
        "episodes",
        "REC",
        "Reason episode ceased is that child transferred to care of adult social care services, "
        "but child is aged under 16.",
        "REC E7, DEC before the 16th birthday or DEC or DOB unknown",
        "ages",
        "warning",
    ),
    _r(
        "390",
        "episodes",
        "REC",
        "Reason episode ceased is adopted but child has not been previously placed for adoption.",
        "REC E11/E12 and PLACE not A3-A6",
        "sequence",
        "warning",
    ),
    _r(
        "516",
        "episodes",
        "REC",
        "If the code in the reason episode ceased is E45 or E46 the child must have a placement "
        "code of U1 to U6.",
        "REC E45/E46",
        "sequence",
        "warning",
    ),
    _r(
        "199",
        "episodes",
        "REC",
        "Episode information shows child has been previously adopted from care.",
        "episodes after (or a second) E11/E12 exit of the child, over every return read",
        "sequence",
        "warning",
    ),
    # the chain of a child's episodes
    _r(
        "501",
        "episodes",
        "DEC",
        "A new episode has started before the end date of the previous episode.",
        "consecutive episodes of a child by DECOM: the next DECOM before this DEC (the earlier "
        "episode's DEC is named; DfE names the later episode)",
        "sequence",
    ),
    _r(
        "142",
        "episodes",
        "DEC",
        "A new episode has started, but the previous episode has not ended.",
        "every episode but the child's last, DEC or REC blank",
        "sequence",
    ),
    _r(
        "357",
        "episodes",
        "RNE",
        "If this is the first episode ever for this child, reason for new episode must be S.",
        "the child's first episode in the data, only if it starts on or after the start of the "
        "first collection year read (of its LA): a child already in care when the data begin "
        "has a history outside the data",
        "sequence",
    ),
    _r(
        "431",
        "episodes",
        "RNE",
        "The reason for new episode is started to be looked after, but the previous episode "
        "ended on the same day.",
        "RNE = S and DECOM on or before the previous episode's DEC",
        "sequence",
    ),
    _r(
        "432",
        "episodes",
        "RNE",
        "The child ceased to be looked after at the end of the previous episode but the reason "
        "for the new episode is not started to be looked after.",
        "previous REC an E code and RNE not S",
        "sequence",
    ),
    _r(
        "433",
        "episodes",
        "DECOM",
        "The reason for new episode suggests that this is a continuation episode, but the "
        "episode does not start on the same day as the last episode finished.",
        "RNE L/P/T/B/U after another episode of the child: DECOM differs from the previous DEC, "
        "or that DEC is blank (an open episode)",
        "sequence",
    ),
    _r(
        "437",
        "episodes",
        "REC",
        "Reason episode ceased is child has died or is aged 18 or over but there are further "
        "episodes.",
        "REC E2 or E15 and a later episode of the child",
        "sequence",
    ),
    _r(
        "x1_next",
        "episodes",
        "REC",
        "the episode ended X1 but no episode starts that day as a continuation",
        "REC X1: the child's next episode must exist and not have RNE = S. A warning: DfE "
        "has no such rule and accepts the return",
        "sequence",
        "warning",
    ),
    # between annual returns (rows of each return, before stacking)
    _r(
        "502",
        "episodes",
        "DECOM",
        "Last year's record ended with an open episode. The date on which that episode started "
        "does not match the start date of the first episode on this year's record.",
        "children in two consecutive returns: the open episode of the earlier return against "
        "the first episode of the later one. A warning: when the later return corrects the "
        "start date, stacking keeps the corrected episode and drops the stale copy (counted in "
        "the flow as decom_corrected), as sector analysts do, so the child's periods of care "
        "are not ambiguous",
        "returns",
        "warning",
    ),
    *(
        _r(
            code,
            "episodes",
            col,
            f"The {what} in the first episode does not match open episode at end of last year.",
            _RETURNS_503,
            "returns",
            "warning",
        )
        for code, col, what in (
            ("503A", "RNE", "reason for new episode"),
            ("503B", "LS", "legal status"),
            ("503C", "CIN", "category of need"),
            ("503D", "PLACE", "placement type"),
            ("503E", "PLACE_PROVIDER", "placement provider"),
            ("503F", "URN", "Ofsted URN"),
        )
    ),
    *(
        _r(
            code,
            "episodes",
            col,
            f"The {what} in first episode does not match open episode at end of last year.",
            _RETURNS_503
            + f"; {col} is derived by DfE from the postcodes (PL_POST, HOME_POST) with the ONS "
            "postcode directory, which reunistat does not hold: checked only when the "
            "extract carries the column (national extracts do), else not checked"
            + (
                "; distances differ by 0.2 or more, or blank last year only"
                if code == "503G"
                else ""
            ),
            "returns",
            "warning",
        )
        for code, col, what in (
            ("503G", "PL_DISTANCE", "distance"),
            ("503H", "PL_LA", "placement LA"),
            ("503J", "PL_LOCATION", "placement location"),
        )
    ),
    _r(
        "202",
        "header",
        "SEX",
        "The gender code conflicts with the gender already recorded for this child.",
        "children in two consecutive returns; 1/M and 2/F are the same (codes change in 2024-25)",
        "returns",
        "warning",
    ),
    _r(
        "203",
        "header",
        "DOB",
        "Date of birth disagrees with the date of birth already recorded for this child.",
        "children in two consecutive returns",
        "returns",
    ),
    _r(
        "204",
        "header",
        "ETHNIC",
        "Ethnic origin code disagrees with the ethnic origin already recorded for this child.",
        "children in two consecutive returns",
        "returns",
        "warning",
    ),
    _r(
        "208",
        "header",
        "UPN",
        "Unique Pupil Number (UPN) for the current year disagrees with the Unique Pupil Number "
        "(UPN) already recorded for this child.",
        "children in two consecutive returns; unknown (blank, UN1-UN5) to known and UN1 to "
        "UN2-UN5 allowed. A warning: the UPN only links the NPD",
        "returns",
        "warning",
    ),
    # linkage (reunistat's own)
    _r(
        "no_header",
        "episodes",
        "CHILD",
        "the episode's CHILD is not in the header table",
        _EVERY,
        "linkage",
    ),
    _r(
        "no_episodes",
        "header",
        "CHILD",
        "the header's CHILD has no episode",
        "every header row. A warning: a return's header also lists care leavers (OC3) with no "
        "episode that year, and DfE accepts them",
        "linkage",
        "warning",
    ),
)

#: Every rule by name, in the order problems are reported.
RULES: Final[dict[str, Rule]] = {r.name: r for r in _RULES}
#: Old rule names (before DfE numbering) and the rule that replaces each.
RENAMED: Final = {
    "overlap": "501",
    "open_not_last": "142",
    "dec_before_decom": "356",
    "dec_rec_pair": "148",
    "p1_v2": "378",
    "start_after_18": "352",
    "dob_after_decom": "302",
}


def rule(name: str) -> Rule:
    """Return the rule of this name (an old name is accepted: :data:`RENAMED`).

    >>> rule("357").dfe, rule("x1_next").dfe, rule("overlap").name
    (True, False, '501')
    """
    name = RENAMED.get(str(name), str(name))
    if name not in RULES:
        raise KeyError(f"unknown rule {name!r}; rules: {list(RULES)}")
    return RULES[name]


def dfe_rules() -> list[str]:
    """Return the names of the DfE rules reunistat checks.

    >>> {"357", "431", "433", "502"} <= set(dfe_rules())
    True
    """
    return [r.name for r in _RULES if r.dfe]


def severity(name: str) -> Severity:
    """Return ``error`` or ``warning`` for a rule name (unknown names are errors)."""
    r = RULES.get(RENAMED.get(str(name), str(name)))
    return "error" if r is None else r.severity


def as_frame() -> pd.DataFrame:
    """Return the registry as a table: one row per rule, in reporting order.

    >>> t = as_frame()
    >>> t.set_index("rule").loc["357", ["table", "column", "severity"]].tolist()
    ['episodes', 'RNE', 'error']
    """
    return pd.DataFrame(
        [
            {
                "rule": r.name,
                "dfe": r.dfe,
                "table": r.table,
                "column": r.columns[0],
                "severity": r.severity,
                "family": r.family,
                "scope": r.scope,
                "message": r.message,
            }
            for r in _RULES
        ]
    )


def messages() -> dict[str, str]:
    """Return each rule's message by name (the form ``schema.RULES`` keeps)."""
    return {r.name: r.message for r in _RULES}
