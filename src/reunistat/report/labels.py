"""One table of labels and units per variable, for every published table and figure.

The paper's tables, the forest plots, the figures and the workbook name a
variable, a level and a model term the same way, from :data:`VARIABLES`:
no raw column name (``section20``), formula (``np.log1p(period_length_days)``)
or code (``e13``) reaches an output. :func:`term_label` turns a model term
into its label (with the reference category and the unit), :func:`level_label`
a level, :func:`with_references` orders categorical columns reference first so
odds ratios and marginal effects share their reference groups, and
:func:`p_text` / :func:`num_text` write p-values and numbers for reading.

Examples
--------
>>> term_label("C(return_type, contr.treatment('planned'))[T.e13]")
'Return type: to relatives without parental responsibility (E13) (vs planned (E4A))'
>>> term_label("np.log1p(period_length_days)")
'Length of the period of care (per unit of log(1 + days))'
>>> term_label("section20")
'Section 20 accommodation at return (yes vs no)'
>>> p_text(2.1e-130), p_text(0.04567), num_text(-0.0001, 3)
('<0.001', '0.046', '0.000')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Variable:
    """How one spells column is named in outputs.

    Attributes
    ----------
    label : str
        The variable's name for readers.
    kind : str
        ``"categorical"``, ``"binary"`` (0/1) or ``"numeric"``.
    unit : str
        The unit of a numeric variable's ratio or slope (``"per move"``).
    reference : str
        The reference level of a categorical variable (or ``""``).
    levels : mapping
        Level code → label (codes not listed are shown as they are).
    """

    label: str
    kind: str = "categorical"
    unit: str = ""
    reference: str = ""
    levels: Mapping[str, str] = field(default_factory=dict)


_YES_NO = {"1": "yes", "0": "no", "1.0": "yes", "0.0": "no"}

#: Every variable a published table, figure or workbook names, by spells column.
VARIABLES: dict[str, Variable] = {
    "age_band": Variable("Age at return", reference="5-9"),
    "age_at_return_years": Variable("Age at return", "numeric", "per year of age"),
    "sex": Variable("Sex", reference="female"),
    "ethnic_group": Variable(
        "Ethnic group", reference="White", levels={"Unknown": "refused or not obtained"}
    ),
    "disability": Variable("Disability", "binary", levels=_YES_NO),
    "section20": Variable("Section 20 accommodation at return", "binary", levels=_YES_NO),
    "legal_status_group": Variable(
        "Legal status at return",
        reference="care_order",
        levels={
            "care_order": "care order",
            "section20": "Section 20",
            "youth_justice": "youth justice",
            "other": "other",
        },
    ),
    "prior_periods": Variable("Previous periods of care", "numeric", "per previous period"),
    "placement_moves": Variable("Placement moves in the period", "numeric", "per move"),
    "last_placement_type": Variable(
        "Last placement",
        reference="foster",
        levels={
            "foster": "foster care",
            "childrens_home": "children's home",
            "secure": "secure home",
            "with_parents": "placed with parents",
            "other": "other",
        },
    ),
    "period_length_days": Variable("Length of the period of care", "numeric", "per 365 days"),
    "category_of_need": Variable(
        "Category of need",
        reference="N1",
        levels={
            "N1": "N1 abuse or neglect",
            "N2": "N2 child's disability",
            "N3": "N3 parental illness or disability",
            "N4": "N4 family in acute stress",
            "N5": "N5 family dysfunction",
            "N6": "N6 socially unacceptable behaviour",
            "N7": "N7 low income",
            "N8": "N8 absent parenting",
        },
    ),
    "return_type": Variable(
        "Return type",
        reference="planned",
        levels={
            "planned": "planned (E4A)",
            "unplanned": "unplanned (E4B)",
            "e13": "to relatives without parental responsibility (E13)",
        },
    ),
    "return_year": Variable("Year of return", "numeric", "per year"),
    "pilot": Variable("Pilot authority", "binary", levels=_YES_NO),
    "treated": Variable("Return after the pilot's adoption", "binary", levels=_YES_NO),
    "idaci_decile": Variable("Deprivation (IDACI decile)", "numeric", "per decile"),
    "fsm": Variable("Free school meals", "binary", levels=_YES_NO),
}

#: Numeric terms entered through a function: function → (unit text, data column).
_FUNCTION_UNITS = {"log1p": "per unit of log(1 + days)", "log": "per unit of log(days)"}

_CONTRAST = re.compile(
    r"^C\((\w+)(?:,\s*contr\.treatment\(['\"]?([^'\")]*)['\"]?\))?\)\[T\.(.+)\]$"
)
_PLAIN = re.compile(r"^(\w+)\[T\.(.+)\]$")
_FUNC = re.compile(r"^np\.(\w+)\((\w+)\)$")


def variable_label(name: str) -> str:
    """Return a column's label (the column name, readable, when it has none).

    >>> variable_label("placement_moves"), variable_label("some_col")
    ('Placement moves in the period', 'some col')
    """
    v = VARIABLES.get(name)
    return v.label if v else name.replace("_", " ")


def level_label(name: str, level: Any) -> str:
    """Return a level's label.

    >>> level_label("last_placement_type", "with_parents"), level_label("section20", 1)
    ('placed with parents', 'yes')
    """
    v = VARIABLES.get(name)
    s = str(level)
    return v.levels.get(s, s) if v else s


#: Shorter level labels for figure legends and at-risk rows, where space is narrow.
SHORT_LEVELS: dict[str, dict[str, str]] = {
    "return_type": {"e13": "E13 (to relatives)"},
    "ethnic_group": {"Unknown": "not obtained"},
}


def short_level_label(name: str, level: Any) -> str:
    """Return a level's label for a figure (shorter where the table's is long).

    >>> short_level_label("return_type", "e13"), short_level_label("return_type", "planned")
    ('E13 (to relatives)', 'planned (E4A)')
    """
    return SHORT_LEVELS.get(name, {}).get(str(level), level_label(name, level))


def term_label(term: str) -> str:
    """Return the readable label of a model term, with its reference or unit.

    >>> term_label("C(age_band, contr.treatment('5-9'))[T.16+]")
    'Age at return: 16+ (vs 5-9)'
    >>> term_label("sex[T.male]"), term_label("placement_moves")
    ('Sex: male (vs female)', 'Placement moves in the period (per move)')
    >>> term_label("Intercept")
    'Intercept'
    """
    m = _CONTRAST.match(term)
    if m:
        var, ref, level = m.groups()
        return _level_term(var, level, ref or VARIABLES.get(var, Variable(var)).reference)
    m = _PLAIN.match(term)
    if m:
        var, level = m.groups()
        return _level_term(var, level, VARIABLES.get(var, Variable(var)).reference)
    m = _FUNC.match(term)
    if m:
        func, var = m.groups()
        unit = _FUNCTION_UNITS.get(func, f"per unit of {func}")
        return f"{variable_label(var)} ({unit})"
    v = VARIABLES.get(term)
    if v is None:
        return term.replace("_", " ") if term != "Intercept" else term
    if v.kind == "binary":
        return f"{v.label} ({level_label(term, 1)} vs {level_label(term, 0)})"
    return f"{v.label} ({v.unit})" if v.unit else v.label


def _level_term(var: str, level: str, ref: str) -> str:
    text = f"{variable_label(var)}: {level_label(var, level)}"
    return text + (f" (vs {level_label(var, ref)})" if ref else "")


def formula_references(formula: str) -> dict[str, str]:
    """Return the reference level set in a formula for each variable.

    >>> formula_references("C(a, contr.treatment('x')) + C(b, contr.treatment('y')) + c")
    {'a': 'x', 'b': 'y'}
    """
    pat = re.compile(r"C\((\w+),\s*contr\.treatment\(['\"]([^'\"]*)['\"]\)\)")
    return dict(pat.findall(formula))


def with_references(data: pd.DataFrame, formula: str = "") -> pd.DataFrame:
    """Return ``data`` with categorical columns ordered reference level first.

    The reference is the formula's (``contr.treatment('ref')``) or
    :data:`VARIABLES`'; models that take the first level as reference (the
    average marginal effects) then contrast with the same group as the
    odds and hazard ratios.

    >>> d = with_references(pd.DataFrame({"sex": ["male", "female"]}))
    >>> list(d["sex"].cat.categories)
    ['female', 'male']
    """
    refs = {k: v.reference for k, v in VARIABLES.items() if v.reference}
    refs.update(formula_references(formula))
    out = data.copy()
    for col, ref in refs.items():
        if col not in out.columns or pd.api.types.is_numeric_dtype(out[col]):
            continue
        codes, uniq = pd.factorize(out[col])  # missing values: -1
        levels = sorted(str(x) for x in uniq)
        if ref in levels:
            order = [ref, *(x for x in levels if x != ref)]
            if all(type(x) is str for x in uniq):
                # text (the cohort's columns): each value's place in ``order`` from its
                # factor code, the codes pd.Categorical(values, categories=order) finds
                where = {x: i for i, x in enumerate(order)}
                remap = np.array([where[x] for x in uniq] + [-1], dtype=np.int64)
                new_codes = remap[codes]
                out[col] = pd.Categorical.from_codes(
                    new_codes,  # type: ignore[arg-type]
                    categories=pd.Index(order),
                )
            else:
                out[col] = pd.Categorical(out[col].astype("string"), categories=order)
    return out


def p_text(p: float) -> str:
    """Return a p-value for reading: ``<0.001`` below 0.001, else 3 decimals.

    >>> p_text(0.0004), p_text(0.12345), p_text(float("nan"))
    ('<0.001', '0.123', '')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def num_text(x: float, digits: int = 2) -> str:
    """Return a number to ``digits`` decimals, never as ``-0.00``.

    >>> num_text(-0.0004, 3), num_text(1.2345), num_text(-1.5, 1)
    ('0.000', '1.23', '-1.5')
    """
    s = f"{x:,.{digits}f}"
    return s[1:] if s.startswith("-") and float(s.replace(",", "")) == 0 else s


#: Marginal effects of a numeric variable are shown per this many of its units.
AME_PER = {"period_length_days": 365.0}


def labelled_margins(ame: pd.DataFrame) -> pd.DataFrame:
    """Return average marginal effects with labels, in percentage points.

    ``ame`` is :func:`reunistat.models.logistic.average_marginal_effects`'s
    frame; a contrast ``level - reference`` is labelled with both levels, a
    slope with its unit (:data:`AME_PER` rescales per-day slopes).
    """
    rows = []
    for rec in ame.to_dict("records"):
        var, contrast = str(rec["variable"]), str(rec["contrast"])
        scale = AME_PER.get(var, 1.0)
        if contrast == "dp/dx":
            v = VARIABLES.get(var)
            unit = v.unit if v and v.unit else "per unit"
            comparison = unit
        else:
            level, _, ref = contrast.partition(" - ")
            comparison = f"{level_label(var, level)} vs {level_label(var, ref)}"
        est, lo, hi = (100 * scale * float(rec[k]) for k in ("estimate", "conf_low", "conf_high"))
        rows.append(
            {
                "variable": variable_label(var),
                "comparison": comparison,
                "percentage points": num_text(est, 1),
                "95% CI": f"{num_text(lo, 1)} to {num_text(hi, 1)}",
                "p": p_text(float(rec["p_value"])),
            }
        )
    return pd.DataFrame(rows)
