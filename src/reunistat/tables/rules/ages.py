"""Rules on a child's age at an episode's start or end (DfE 302, 352, 386, 387, 389, 407, 460).

Birthdays are :func:`reunistat.dates.add_years` (29 February births reach an
age on 1 March; DfE's validator uses pandas' ``DateOffset``, which gives 28
February: the rules can differ for such children on that one day).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.dates import add_years
from reunistat.tables.rules import frame
from reunistat.tables.rules.coded import Coded
from reunistat.tables.rules.sequence import neighbours

_S: Final = "S"
_SGO: Final = codes.REC_SGO
_INDEPENDENT: Final = frozenset({"E5", "E6"})
_ADULT_CARE: Final = "E7"
_STAYED_WITH_CARERS: Final = "E17"


def _b(s: pd.Series) -> np.ndarray:
    return s.fillna(False).to_numpy(dtype=bool)


def birthdays(dob: pd.Series, *years: int) -> list[pd.Series]:
    """Return each row's birthday ``years`` on, for each of ``years`` (once per distinct date)."""
    idx, uniques = pd.factorize(dob, use_na_sentinel=True)
    dates = pd.Series(pd.DatetimeIndex(uniques))
    found = []
    for n in years:
        days = np.append(add_years(dates, n).to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))
        found.append(pd.Series(days[idx], index=dob.index))  # idx -1 (no DOB): NaT
    return found


def check_ages(e: pd.DataFrame, dob: pd.Series) -> pd.DataFrame:
    """Check episodes against the child's age; ``dob`` is each row's DOB (NaT: no header).

    ``e`` is sorted by child and DECOM with ``_cid``.
    """
    same_prev, _ = neighbours(e)
    dec, decom, rec = e["DEC"], e["DECOM"], Coded(e["REC"])
    dob = dob.set_axis(e.index)
    b14, b16, b18 = birthdays(dob, 14, 16, 18)
    checks = {
        "302": ~same_prev & _b(dob > decom),
        "352": Coded(e["RNE"]).eq(_S) & _b(decom >= b18),
        "386": rec.isin(codes.REC_ADOPTION) & _b(dec >= b18),
        "407": rec.isin(_SGO) & _b(dec > b18),
        "460": rec.eq(_STAYED_WITH_CARERS) & _b(dec < b18),
        "387": rec.isin(_INDEPENDENT) & dec.notna().to_numpy() & ~_b(b14 <= dec),
        "389": rec.eq(_ADULT_CARE) & ~_b(b16 <= dec),
    }
    # DOB beside the episodes for the problems, sharing their columns (no copy)
    with_dob = pd.DataFrame({**{c: e[c] for c in e.columns}, "DOB": dob}, copy=False)
    return frame.concat(frame.problems(with_dob, m, rule) for rule, m in checks.items() if m.any())
