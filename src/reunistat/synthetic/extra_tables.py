"""The other tables of a 903 return, in DfE's column names (plus ``LA``).

uasc, missing, previous_permanence and oc3 carry facts the generator records
in its truth (UASC status, missing-from-placement episodes, permanence before
a period of care, deaths of care leavers). reviews, oc2, ad1 and
placed_for_adoption are minimal: the right rows and columns, plausible codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.codes.lists import RETURN_TABLE_COLUMNS
from reunistat.synthetic._draw import blank_where, choice, to_datetime
from reunistat.synthetic.annual import SEX_MFU, SEX_MFU_FROM, as_days, year_bounds

#: Column order of each extra table, as DfE names them (our national extract adds LA).
COLUMNS = {k: list(v) for k, v in RETURN_TABLE_COLUMNS.items() if k not in ("header", "episodes")}
EXTRA_TABLES = tuple(COLUMNS)
IN_TOUCH = {"YES": 0.80, "NO": 0.07, "REFU": 0.04, "NREQ": 0.05, "RHOM": 0.04}
ACTIV = {"F1": 0.25, "P1": 0.10, "F2": 0.15, "P2": 0.05, "G4": 0.15, "G5": 0.10, "G6": 0.20}
ACCOM = {"B1": 0.20, "C1": 0.15, "D1": 0.10, "E1": 0.05, "G1": 0.10, "H1": 0.10, "S1": 0.05}
ACCOM.update({"T1": 0.05, "U1": 0.10, "V1": 0.05, "Y1": 0.05})
#: Participation in reviews of children aged 4 or over (PN0: under 4).
REVIEW_CODE = {"PN1": 0.60, "PN2": 0.10, "PN3": 0.10, "PN4": 0.10, "PN5": 0.05, "PN6": 0.05}


@dataclass
class Facts:
    """Per simulated child: identifiers and the facts the extra tables report."""

    la: np.ndarray  # LA code
    child: np.ndarray  # CHILD identifier
    dob: np.ndarray  # days
    sex: np.ndarray  # "1" / "2"
    sex_unknown: np.ndarray
    uasc: np.ndarray
    death_day: np.ndarray  # -1: no death recorded
    bday: dict[int, np.ndarray]  # birthdays (days) at ages 16, 18, 19, 20, 21
    care_leaver: np.ndarray  # looked after at 16 or over, with episodes in the extract
    adoption_decision: np.ndarray  # days: decision that the child should be placed (-1: none)


def birthdays_at(f: Facts, kids: np.ndarray, age: int) -> np.ndarray:
    """Birthdays (days) at ``age`` of some children."""
    d = f.dob[kids].astype("datetime64[D]")
    year = d.astype("datetime64[Y]")
    month = d.astype("datetime64[M]")
    first = (year + np.timedelta64(age, "Y")).astype("datetime64[M]") + (month - year)
    return first.astype("datetime64[D]").astype(np.int64) + (
        d - month.astype("datetime64[D]")
    ).astype(np.int64)


def _base(f: Facts, kids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"LA": f.la[kids], "CHILD": f.child[kids], "DOB": to_datetime(f.dob[kids])})


def _sex(f: Facts, kids: np.ndarray, year: int) -> np.ndarray:
    sex = f.sex[kids].astype(object)
    if year >= SEX_MFU_FROM:
        sex = pd.Series(sex).map(SEX_MFU).to_numpy(dtype=object)
        sex[f.sex_unknown[kids]] = "U"
    return sex


def uasc(f: Facts, kids: np.ndarray, year: int) -> pd.DataFrame:
    """Unaccompanied asylum-seeking children of the return; DUC = 18th birthday."""
    k = kids[f.uasc[kids]]
    out = _base(f, k)
    out.insert(2, "SEX", _sex(f, k, year))
    out["DUC"] = to_datetime(f.bday[18][k])
    return out[["LA", *COLUMNS["uasc"]]]


def missing(f: Facts, miss: pd.DataFrame, kids: np.ndarray, year: int) -> pd.DataFrame:
    """Missing (M) or away without authorisation (A) episodes overlapping the year."""
    start, end = year_bounds(year)
    s, e = miss["start"].to_numpy(), miss["end"].to_numpy()
    in_return = np.zeros(f.la.size, dtype=bool)
    in_return[kids] = True
    c = miss["child"].to_numpy()
    m = miss.loc[(s <= end) & (e >= start) & in_return[c]]
    out = _base(f, m["child"].to_numpy())
    out["MISSING"] = m["kind"].to_numpy()
    out["MIS_START"] = to_datetime(m["start"].to_numpy())
    me = m["end"].to_numpy()
    out["MIS_END"] = to_datetime(me, missing=me > end)
    return out[["LA", *COLUMNS["missing"]]]


def previous_permanence(
    f: Facts, ep: pd.DataFrame, rows: np.ndarray, periods: pd.DataFrame, year: int
) -> pd.DataFrame:
    """One row per child starting a period in the year: permanence before it."""
    start, _ = year_bounds(year)
    e = ep.iloc[rows]
    s = e.loc[(e["RNE"].to_numpy() == "S") & (as_days(e["DECOM"], 0) >= start)]
    s = s.loc[s["_period_id"].to_numpy() >= 0].drop_duplicates("_child")
    per = periods.iloc[s["_period_id"].to_numpy()]  # period_id is the row of ``periods``
    k = s["_child"].to_numpy()
    out = _base(f, k)
    code = per["prev_perm"].to_numpy(dtype=object)
    none = code == "Z1"
    out["PREV_PERM"] = code
    out["LA_PERM"] = blank_where(none, f.la[per["perm_la"].to_numpy()])
    out["DATE_PERM"] = to_datetime(np.maximum(per["perm_day"].to_numpy(), 0), missing=none)
    return out[["LA", *COLUMNS["previous_permanence"]]]


def _oc3_birthdays(f: Facts, year: int) -> tuple[np.ndarray, np.ndarray]:
    start, end = year_bounds(year)
    parts = []
    for age in (19, 20, 21):
        b = f.bday[age]
        k = np.flatnonzero(f.care_leaver & (b >= start) & (b <= end))
        parts.append(np.c_[k, b[k]])
    kb = np.concatenate(parts)
    kb = kb[np.argsort(kb[:, 0], kind="stable")]
    return kb[:, 0], kb[:, 1]


def oc3_children(f: Facts, year: int) -> np.ndarray:
    """The care leavers of a return (they belong in its header too)."""
    return _oc3_birthdays(f, year)[0]


def oc3(rng: np.random.Generator, f: Facts, year: int) -> pd.DataFrame:
    """Care leavers whose 19th, 20th or 21st birthday falls in the year; DIED where dead.

    Care leavers are young people looked after at 16 or over who appear in the
    extract's episodes (so the first returns list few of them).
    """
    k, b = _oc3_birthdays(f, year)
    out = _base(f, k)
    died = (f.death_day[k] >= 0) & (f.death_day[k] <= b)
    touch = choice(rng, IN_TOUCH, k.size)
    touch[died] = "DIED"
    no_activity = died | (touch == "RHOM")
    out["IN_TOUCH"] = touch
    out["ACTIV"] = np.where(no_activity, "0", choice(rng, ACTIV, k.size)).astype(object)
    out["ACCOM"] = np.where(no_activity, "0", choice(rng, ACCOM, k.size)).astype(object)
    return out[["LA", *COLUMNS["oc3"]]]


def _care_span(ep: pd.DataFrame, rows: np.ndarray, year: int) -> pd.DataFrame:
    """Per child of the return: first and last day in care within the year.

    A child's episodes are consecutive rows (the table is in child order).
    """
    start, end = year_bounds(year)
    e = ep.iloc[rows]
    k = e["_child"].to_numpy()
    lo = np.maximum(as_days(e["DECOM"], 0), start)
    hi = np.minimum(as_days(e["DEC"], end), end)
    first = np.flatnonzero(np.r_[True, k[1:] != k[:-1]]) if k.size else np.zeros(0, np.int64)
    if not k.size:
        return pd.DataFrame({"lo": lo, "hi": hi}, index=k)
    return pd.DataFrame(
        {"lo": np.minimum.reduceat(lo, first), "hi": np.maximum.reduceat(hi, first)},
        index=k[first],
    )


def reviews(rng: np.random.Generator, f: Facts, ep: pd.DataFrame, rows: np.ndarray, year: int):
    """Looked-after reviews: one, or two for half a year or more in care."""
    span = _care_span(ep, rows, year)
    span = span.loc[(span["hi"] - span["lo"]) >= 20]
    n = 1 + ((span["hi"] - span["lo"]) >= 180).to_numpy()
    k = np.repeat(span.index.to_numpy(), n)
    lo, hi = np.repeat(span["lo"].to_numpy(), n), np.repeat(span["hi"].to_numpy(), n)
    when = lo + 20 + (rng.random(k.size) * (hi - lo - 20)).astype(np.int64)
    out = _base(f, k)
    out["REVIEW"] = to_datetime(when)
    code = choice(rng, REVIEW_CODE, k.size)
    under4 = when < birthdays_at(f, k, 4)
    code[under4] = "PN0"  # under 4: participation not recorded (DfE 440, 441)
    out["REVIEW_CODE"] = code
    return out[["LA", *COLUMNS["reviews"]]]


def oc2(
    rng: np.random.Generator,
    f: Facts,
    ep: pd.DataFrame,
    rows: np.ndarray,
    periods: pd.DataFrame,
    year: int,
) -> pd.DataFrame:
    """Children looked after continuously for 12 months at 31 March."""
    _, end = year_bounds(year)
    e = ep.iloc[rows]
    open_end = as_days(e["DEC"], end + 1) > end
    e = e.loc[open_end & (e["_period_id"].to_numpy() >= 0)]
    pstart = periods["start"].to_numpy()  # period_id is the row of ``periods``
    long = pstart[e["_period_id"].to_numpy()] <= end - 365
    k = e.loc[long, "_child"].drop_duplicates().to_numpy()
    n = k.size
    out = _base(f, k)
    age = (end - f.dob[k]) / 365.25
    sdq_age = (age >= 4) & (age < 17)
    has = sdq_age & (rng.random(n) < 0.8)
    out["SDQ_SCORE"] = blank_where(~has, rng.integers(0, 41, n).astype(str))
    reason = np.array(["SDQ1", "SDQ2", "SDQ3", "SDQ4", "SDQ5"], dtype=object)
    out["SDQ_REASON"] = blank_where(has | ~sdq_age, reason[rng.integers(0, 5, n)])
    for col, p in (
        ("CONVICTED", 0.03),
        ("HEALTH_CHECK", 0.9),
        ("IMMUNISATIONS", 0.85),
        ("TEETH_CHECK", 0.85),
        ("HEALTH_ASSESSMENT", 0.9),
        ("SUBSTANCE_MISUSE", 0.03),
        ("INTERVENTION_RECEIVED", 0.5),
        ("INTERVENTION_OFFERED", 0.3),
    ):
        out[col] = np.where(rng.random(n) < p, "1", "0").astype(object)
    young = age < 10
    out.loc[young, "CONVICTED"] = None
    out.loc[age >= 5, "HEALTH_CHECK"] = None  # development checks: under 5 only
    no_misuse = ~out["SUBSTANCE_MISUSE"].eq("1")
    out.loc[no_misuse, ["INTERVENTION_RECEIVED", "INTERVENTION_OFFERED"]] = None
    return out[["LA", *COLUMNS["oc2"]]]


def ad1(rng: np.random.Generator, f: Facts, ep: pd.DataFrame, rows: np.ndarray, year: int):
    """Children adopted in the year (REC E11/E12)."""
    start, end = year_bounds(year)
    e = ep.iloc[rows]
    dec = as_days(e["DEC"], end + 1)
    e = e.loc[e["REC"].isin(list(codes.REC_ADOPTION)).to_numpy() & (dec >= start) & (dec <= end)]
    k = e["_child"].to_numpy()
    d = as_days(e["DEC"], 0)
    n = k.size
    out = _base(f, k)
    decided = f.adoption_decision[k]
    decided = np.where(decided >= 0, decided, np.maximum(d - 400, f.dob[k] + 1))
    out["DATE_INT"] = to_datetime(decided)
    out["DATE_MATCH"] = to_datetime(decided + np.minimum(60, (d - decided) // 2))
    # adopted by the current foster carer when the last placement was with them (DfE 335)
    with_carer = e["PLACE"].isin(["A3", "A5"]).to_numpy()
    out["FOSTER_CARE"] = np.where(with_carer, "1", "0").astype(object)
    two = rng.random(n) < 0.8
    out["NB_ADOPTR"] = np.where(two, "2", "1").astype(object)
    couple = np.array(["MF", "MM", "FF"], dtype=object)[rng.choice(3, n, p=[0.85, 0.07, 0.08])]
    single = np.where(rng.random(n) < 0.85, "F1", "M1").astype(object)
    out["SEX_ADOPTR"] = np.where(two, couple, single)
    # LS_ADOPTR as DfE's rules read it: L0 single, L11 married (MF), L12 same-sex
    # married or civil partners, L2 unmarried couple
    married = rng.random(n) < 0.8
    mf = out["SEX_ADOPTR"].to_numpy() == "MF"
    couple_ls = np.where(married, np.where(mf, "L11", "L12"), "L2")
    out["LS_ADOPTR"] = np.where(two, couple_ls, "L0").astype(object)
    return out[["LA", *COLUMNS["ad1"]]]


def placed_for_adoption(f: Facts, kids: np.ndarray, year: int) -> pd.DataFrame:
    """Children of the return with a decision that they should be placed for adoption.

    DATE_PLACED is the date of that decision: AD1's DATE_INT, before the
    placement order (DfE 523, 554); the child is listed in every return from
    the decision's year until adopted (DfE 559).
    """
    _, end = year_bounds(year)
    decided = f.adoption_decision[kids]
    k = kids[(decided >= 0) & (decided <= end)]
    out = _base(f, k)
    out["DATE_PLACED"] = to_datetime(f.adoption_decision[k])
    out["DATE_PLACED_CEASED"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out["REASON_PLACED_CEASED"] = pd.Series([None] * len(out), dtype=object)
    return out[["LA", *COLUMNS["placed_for_adoption"]]]
