"""Code a derived cohort as the generator's truth is coded, and match fitted terms to it.

The generator records its true log hazard (or odds) ratios in ``truth.json`` by
term (``"ethnic_group[Asian]"``, ``"log_period_length"``, ...), with the
reference levels and the coding of the numeric terms beside them. A check of
the models against that truth (coverage scripts, slow tests) codes the spells
table the same way, fits :data:`TRUTH_RHS`, and compares term by term:

>>> import pandas as pd
>>> truth = {"reference_levels": {"age_band": "1-4"}, "true_log_ratios": {"age_band[5-9]": 0.1},
...          "term_coding": {"return_year": "financial year - 2015"}}
>>> s = pd.DataFrame({"age_band": ["5-9", "1-4"], "period_length_days": [365, 730],
...                   "return_year": [2016, 2017]})
>>> coded = code_for_truth(s, truth)
>>> list(coded["age_band"].cat.categories), coded["return_year"].tolist()
(['1-4', '5-9'], [1, 2])
>>> tidy = pd.DataFrame({"term": ["age_band[T.5-9]"], "estimate": [0.12]})
>>> match_truth(tidy, truth)[["term", "truth"]].values.tolist()
[['age_band[5-9]', 0.1]]

This module reads only a spells table and the truth dictionary: the generator
never imports the cohort derivation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Right-hand side of the generator's model: its 23 terms (with the reference levels of
#: ``truth["reference_levels"]`` set by :func:`code_for_truth`).
TRUTH_RHS = (
    "~ disability + section20 + prior_periods + placement_moves"
    " + log_period_length + idaci_decile + pilot + return_year + age_band + ethnic_group"
    " + last_placement_type + return_type"
)


def _reference_year(truth: Mapping[str, Any]) -> int:
    """The year subtracted from ``return_year`` (``term_coding``; 2015 when not recorded)."""
    coding = str(truth.get("term_coding", {}).get("return_year", ""))
    found = re.search(r"-\s*(\d{4})", coding)
    return int(found.group(1)) if found else 2015


def code_for_truth(spells: pd.DataFrame, truth: Mapping[str, Any]) -> pd.DataFrame:
    """Return a copy of ``spells`` coded as the generator's truth.

    Categorical columns get the truth's reference level first (other levels
    sorted), ``log_period_length = log(period_length_days / 365)`` is added and
    ``return_year`` becomes years since the generator's reference year.

    Parameters
    ----------
    spells : pandas.DataFrame
        A spells table (:func:`reunistat.cohort.derive_cohort` of generated data).
    truth : mapping
        The generator's ``truth.json`` (``SyntheticData.truth``).

    Returns
    -------
    pandas.DataFrame
        The coded copy; missing values stay missing.
    """
    s = spells.copy()
    for col, ref in truth["reference_levels"].items():
        if col not in s.columns:
            continue
        seen = pd.unique(s[col].dropna())
        levels = [ref, *sorted(str(x) for x in seen if x != ref)]
        s[col] = pd.Categorical(s[col], categories=levels)
    if "period_length_days" in s.columns:
        s["log_period_length"] = np.log(s["period_length_days"] / 365)
    if "return_year" in s.columns:
        s["return_year"] = s["return_year"] - _reference_year(truth)
    return s


def match_truth(tidy: pd.DataFrame, truth: Mapping[str, Any]) -> pd.DataFrame:
    """Return the rows of a ``tidy()`` table that have a true value, with column ``truth``.

    Terms are renamed from formulaic's ``col[T.level]`` to the truth's ``col[level]``.
    """
    t = tidy.copy()
    t["term"] = t["term"].str.replace("[T.", "[", regex=False)
    t["truth"] = t["term"].map(pd.Series(truth["true_log_ratios"], dtype=float))
    return t.dropna(subset=["truth"]).reset_index(drop=True)
