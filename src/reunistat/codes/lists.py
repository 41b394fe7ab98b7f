"""SSDA903 and Children in Need code lists (every code any collection year allowed).

Each dictionary maps a code to its label and holds the union over collection
years: which codes a given year allows is in :mod:`reunistat.codes.years`.
Sources: DfE SSDA903 guidance and the DfE validator (``csc-validator-be-903``,
rules 101, 103, 143-149, 178, 1009 per ruleset ``lac2022_23`` ... ``lac2025_26``).
"""

from __future__ import annotations

from typing import Final

#: Column order of the 903 header table (plus the national-extract ``LA``).
HEADER_COLUMNS: Final = ("CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB")
#: Column order of the 903 episodes table.
EPISODE_COLUMNS: Final = (
    "CHILD",
    "DECOM",
    "RNE",
    "LS",
    "CIN",
    "PLACE",
    "PLACE_PROVIDER",
    "DEC",
    "REC",
    "REASON_PLACE_CHANGE",
    "HOME_POST",
    "PL_POST",
    "URN",
)
#: A national extract carries the local authority on every row.
LA_COLUMN: Final = "LA"

#: Sex: 1/2 until 2023-24, M/F/U from 2024-25 (DfE rule 101); labels are the analysis
#: groups, so ``SEX`` maps old and new codes alike (``U``: unknown or indeterminate).
SEX: Final = {"1": "male", "2": "female", "M": "male", "F": "female", "U": "unknown"}

RNE: Final = {
    "S": "started to be looked after",
    "L": "change of legal status only",
    "P": "change of placement and carer",
    "T": "change of placement, same carer",
    "B": "change of legal status and placement and carer",
    "U": "change of legal status and placement, same carer",
}
#: Reasons for a new episode that continue an existing period of care.
RNE_CONTINUATION: Final = frozenset({"L", "P", "T", "B", "U"})
#: Reasons for a new episode that change the placement (a placement move).
RNE_PLACEMENT_CHANGE: Final = frozenset({"P", "T", "B", "U"})
#: Reasons for a new episode that change the legal status.
RNE_LEGAL_CHANGE: Final = frozenset({"L", "B", "U"})

LS: Final = {
    "C1": "interim care order",
    "C2": "full care order",
    "D1": "freeing order",
    "E1": "placement order",
    "V2": "single period of accommodation under section 20",
    "V3": "accommodated under an agreed series of short-term breaks (individual episodes)",
    "V4": "accommodated under an agreed series of short-term breaks (one episode)",
    "L1": "under police protection",
    "L2": "emergency protection order",
    "L3": "child assessment order",
    "J1": "remanded to local authority accommodation or youth detention",
    "J2": "placed in accommodation under PACE",
    "J3": "sentenced to youth rehabilitation order with residence requirement",
}
SHORT_BREAK_LS: Final = frozenset({"V3", "V4"})
SECTION20_LS: Final = "V2"
#: Legal-status groups used as a covariate.
LS_GROUP: Final = {
    "C1": "care_order",
    "C2": "care_order",
    "D1": "placement_order",
    "E1": "placement_order",
    "V2": "section20",
    "V3": "short_break",
    "V4": "short_break",
    "L1": "emergency",
    "L2": "emergency",
    "L3": "emergency",
    "J1": "youth_justice",
    "J2": "youth_justice",
    "J3": "youth_justice",
}

CIN: Final = {
    "N1": "abuse or neglect",
    "N2": "child's disability",
    "N3": "parental illness or disability",
    "N4": "family in acute stress",
    "N5": "family dysfunction",
    "N6": "socially unacceptable behaviour",
    "N7": "low income",
    "N8": "absent parenting",
}

PLACE: Final = {
    "U1": "foster: relative or friend, long term",
    "U2": "foster: relative or friend, FFA/concurrent",
    "U3": "foster: relative or friend, other",
    "U4": "foster: other carer, long term",
    "U5": "foster: other carer, FFA/concurrent",
    "U6": "foster: other carer, other",
    "A3": "placed for adoption with consent, with current foster carer",
    "A4": "placed for adoption with consent, not with current foster carer",
    "A5": "placed for adoption with placement order, with current foster carer",
    "A6": "placed for adoption with placement order, not with current foster carer",
    "P1": "placed with own parents or person with parental responsibility",
    "P2": "independent living",
    "P3": "residential employment",
    "K1": "secure children's home",
    "K2": "children's home",
    "K3": "registered supported accommodation",
    "H5": "semi-independent living accommodation",
    "R1": "residential care home",
    "R2": "NHS/health trust or other medical establishment",
    "R3": "family centre or mother and baby unit",
    "R5": "young offender institution or prison",
    "S1": "residential school",
    "T0": "temporary: all types",
    "T1": "temporary: foster placement",
    "T2": "temporary: placed with parents",
    "T3": "temporary: residential",
    "T4": "temporary: other",
    "Z1": "other placement (until 2024-25)",
    # 2025-26 replaces Z1 by four codes (DfE rule 146, ruleset lac2025_26); the
    # validator does not label them, so neither do we beyond "other placement".
    "Z11": "other placement (from 2025-26, Z11)",
    "Z12": "other placement (from 2025-26, Z12)",
    "Z13": "other placement (from 2025-26, Z13)",
    "Z14": "other placement (from 2025-26, Z14)",
}
#: Placement-type groups used as the "last placement" covariate.
PLACE_GROUP: Final = {
    **{c: "foster" for c in ("U1", "U2", "U3", "U4", "U5", "U6", "T1")},
    **{c: "adoption" for c in ("A3", "A4", "A5", "A6")},
    **{c: "with_parents" for c in ("P1", "T2")},
    "K1": "secure",
    "R5": "secure",
    **{c: "childrens_home" for c in ("K2", "R1", "S1", "T3")},
    **{
        c: "other"
        for c in ("P2", "P3", "K3", "H5", "R2", "R3", "T0", "T4", "Z1", "Z11", "Z12", "Z13", "Z14")
    },
}
#: Placements that a children's-home or secure URN applies to.
PLACE_WITH_URN: Final = frozenset({"K1", "K2", "R1", "S1"})

PLACE_PROVIDER: Final = {
    "PR0": "parents or other person with parental responsibility",
    "PR1": "own provision by the local authority",
    "PR2": "other local authority provision",
    "PR3": "other public provision",
    "PR4": "private provision",
    "PR5": "voluntary or third sector provision",
}

REC: Final = {
    "X1": "episode ceases and a new one begins on the same day (care continues)",
    "E11": "adopted: application unopposed",
    "E12": "adopted: application opposed",
    "E2": "died",
    "E3": "care taken over by another local authority",
    "E4A": "returned home to parents or others with parental responsibility, planned",
    "E4B": "returned home to parents or others with parental responsibility, unplanned",
    "E13": "left care to live with parents, relatives or others without parental responsibility",
    "E41": "residence order or child arrangements order granted",
    "E45": "special guardianship order: former foster carers",
    "E46": "special guardianship order: carers other than former foster carers",
    "E47": "special guardianship order: relatives or friends, former foster carers",
    "E48": "special guardianship order: relatives or friends, not former foster carers",
    "E5": "moved into independent living (supportive accommodation)",
    "E6": "moved into independent living (no formalised support)",
    "E7": "transferred to residential care funded by adult social care",
    "E8": "period of being looked after ceased for any other reason",
    "E9": "sentenced to custody",
    "E14": "accommodation on remand ended",
    "E15": "age assessment determined child is aged 18 or over",
    "E16": "child moved abroad",
    "E17": "aged 18 (or over) and remained with current carers",
}
REC_CONTINUE: Final = "X1"
#: Exits that DfE counts as reunification (returns home).
REC_RETURN_HOME: Final = frozenset({"E4A", "E4B", "E13"})
REC_RETURN_WITH_PR: Final = frozenset({"E4A", "E4B"})
REC_ADOPTION: Final = frozenset({"E11", "E12"})
REC_SGO: Final = frozenset({"E45", "E46", "E47", "E48"})
REC_DIED: Final = "E2"
#: Exits that usually happen at or after the 18th birthday.
REC_AGE_OUT: Final = frozenset({"E5", "E6", "E7", "E17"})
REC_END: Final = frozenset(c for c in REC if c.startswith("E"))

REASON_PLACE_CHANGE: Final = {
    "CARPL": "change to or implementation of care plan",
    "CLOSE": "resignation or closure of provision",
    "ALLEG": "allegation (section 47)",
    "STAND": "standards of care concern",
    "APPRR": "approval removed",
    "CREQB": "carer request: child's behaviour",
    "CREQO": "carer request: other",
    "CHILD": "child requests placement end",
    "LAREQ": "responsible or area authority requests placement end",
    "PLACE": "change in the status of placement only",
    "CUSTOD": "custody arrangement",
    "OTHER": "other",
}

ETHNIC: Final = {
    "WBRI": "White British",
    "WIRI": "White Irish",
    "WOTH": "Any other White background",
    "WIRT": "Traveller of Irish heritage",
    "WROM": "Gypsy/Roma",
    "MWBC": "White and Black Caribbean",
    "MWBA": "White and Black African",
    "MWAS": "White and Asian",
    "MOTH": "Any other mixed background",
    "AIND": "Indian",
    "APKN": "Pakistani",
    "ABAN": "Bangladeshi",
    "AOTH": "Any other Asian background",
    "BCRB": "Caribbean",
    "BAFR": "African",
    "BOTH": "Any other Black background",
    "CHNE": "Chinese",
    "OOTH": "Any other ethnic group",
    "REFU": "Refused",
    "NOBT": "Information not yet obtained",
}
#: Major ethnic groups as DfE reports them.
ETHNIC_GROUP: Final = {
    **{c: "White" for c in ("WBRI", "WIRI", "WOTH", "WIRT", "WROM")},
    **{c: "Mixed" for c in ("MWBC", "MWBA", "MWAS", "MOTH")},
    **{c: "Asian" for c in ("AIND", "APKN", "ABAN", "AOTH")},
    **{c: "Black" for c in ("BCRB", "BAFR", "BOTH")},
    **{c: "Other" for c in ("CHNE", "OOTH")},
    **{c: "Unknown" for c in ("REFU", "NOBT")},
}
ETHNIC_GROUPS: Final = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")

#: CIN census disability codes.
DISABILITY: Final = {
    "NONE": "no disability",
    "MOB": "mobility",
    "HAND": "hand function",
    "PC": "personal care",
    "INC": "incontinence",
    "COMM": "communication",
    "LD": "learning",
    "HEAR": "hearing",
    "VIS": "vision",
    "BEH": "behaviour",
    "CON": "consciousness",
    "AUT": "autism or Asperger syndrome",
    "DDA": "other DDA",
}

#: DfE age bands (years at the event): label and inclusive lower bound.
AGE_BANDS: Final = (("under 1", 0), ("1-4", 1), ("5-9", 5), ("10-15", 10), ("16+", 16))


def age_band(age_years: float) -> str:
    """Return the DfE age band for an age in whole or fractional years.

    >>> age_band(0.5), age_band(4.99), age_band(10), age_band(17.2)
    ('under 1', '1-4', '10-15', '16+')
    """
    label = AGE_BANDS[0][0]
    for name, lower in AGE_BANDS:
        if age_years >= lower:
            label = name
    return label


#: Columns of each table of the 903 return, as DfE's CSV files have them (the reader
#: of the XML return and the generator's extra tables both use them).
RETURN_TABLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "header": HEADER_COLUMNS,
    "episodes": EPISODE_COLUMNS,
    "reviews": ("CHILD", "DOB", "REVIEW", "REVIEW_CODE"),
    "uasc": ("CHILD", "SEX", "DOB", "DUC"),
    "oc2": (
        "CHILD",
        "DOB",
        "SDQ_SCORE",
        "SDQ_REASON",
        "CONVICTED",
        "HEALTH_CHECK",
        "IMMUNISATIONS",
        "TEETH_CHECK",
        "HEALTH_ASSESSMENT",
        "SUBSTANCE_MISUSE",
        "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ),
    "oc3": ("CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"),
    "ad1": (
        "CHILD",
        "DOB",
        "DATE_INT",
        "DATE_MATCH",
        "FOSTER_CARE",
        "NB_ADOPTR",
        "SEX_ADOPTR",
        "LS_ADOPTR",
    ),
    "placed_for_adoption": (
        "CHILD",
        "DOB",
        "DATE_PLACED",
        "DATE_PLACED_CEASED",
        "REASON_PLACED_CEASED",
    ),
    "previous_permanence": ("CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"),
    "missing": ("CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"),
}
