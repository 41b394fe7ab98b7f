"""Which codes each collection year allows, as DfE's validator checks them.

A collection year is named by the year it ends (2025 for 1 April 2024 - 31 March
2025), as :data:`reunistat.tables.keys.YEAR_COL` holds it. The sets come from
the code-list rules of DfE's validator (``csc-validator-be-903`` 0.1.17, rulesets
``lac2022_23`` to ``lac2026_27``); a year before its first ruleset uses the
2022-23 lists, a year after its last the latest lists. Changes so far:

- SEX: ``1``/``2`` until 2023-24; ``M``/``F``/``U`` from 2024-25 (rule 101).
- PLACE: ``K3`` (supported accommodation) from 2024-25; in 2025-26 ``Z1`` is
  replaced by ``Z11``-``Z14`` and ``H5`` and ``P2`` go (rule 146). DfE's 2024-25
  list spells K3 ``k3`` and upper-cases values before checking, so that ruleset
  rejects K3; reunistat allows it (its other 2024-25 rules, 221 and 371, treat K3
  as a valid placement).
- RNE, LS, CIN, REC, PLACE_PROVIDER, REASON_PLACE_CHANGE, ETHNIC: unchanged over
  the rulesets (rules 143, 144, 145, 149, 178, 1009, 103).

A row whose year is unknown is checked against every code some year allows
(the union): a code valid in some year cannot be called wrong without knowing
the year. Values are upper-cased and trimmed before checking, as DfE's
validator upper-cases every text value it reads (:func:`normalise_codes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from reunistat.codes import lists

#: The first collection year DfE's validator has a ruleset for (``lac2022_23``).
FIRST_RULESET_YEAR: Final = 2023
#: The latest collection year DfE's validator has a ruleset for (``lac2026_27``).
LATEST_RULESET_YEAR: Final = 2027


@dataclass(frozen=True)
class CodeSet:
    """The codes one column allows over a range of collection years.

    Parameters
    ----------
    column : str
        The 903 column.
    first_year, last_year : int or None
        The collection years (year the collection ends) the set applies to,
        inclusive; ``None``: open-ended.
    codes : frozenset of str
    source : str
        The DfE rule and ruleset it is taken from.
    """

    column: str
    first_year: int | None
    last_year: int | None
    codes: frozenset[str]
    source: str

    def applies(self, year: int) -> bool:
        """Return whether this set applies to collection ``year``."""
        lo = self.first_year is None or year >= self.first_year
        hi = self.last_year is None or year <= self.last_year
        return lo and hi


_PLACE_2023: Final = frozenset(lists.PLACE) - {"K3", "Z11", "Z12", "Z13", "Z14"}
_PLACE_2025: Final = _PLACE_2023 | {"K3"}
_PLACE_2026: Final = (_PLACE_2025 - {"H5", "P2", "Z1"}) | {"Z11", "Z12", "Z13", "Z14"}


def _always(column: str, codes: frozenset[str], source: str) -> tuple[CodeSet, ...]:
    return (CodeSet(column, None, None, codes, source),)


#: Every checked code column, with its sets by collection year.
CODE_SETS: Final[dict[str, tuple[CodeSet, ...]]] = {
    "SEX": (
        CodeSet("SEX", None, 2024, frozenset({"1", "2"}), "rule 101, lac2022_23"),
        CodeSet("SEX", 2025, None, frozenset({"M", "F", "U"}), "rule 101, lac2024_25"),
    ),
    "ETHNIC": _always("ETHNIC", frozenset(lists.ETHNIC), "rule 103, lac2022_23"),
    "RNE": _always("RNE", frozenset(lists.RNE), "rule 143, lac2022_23"),
    "LS": _always("LS", frozenset(lists.LS), "rule 144, lac2022_23"),
    "CIN": _always("CIN", frozenset(lists.CIN), "rule 145, lac2022_23"),
    "PLACE": (
        CodeSet("PLACE", None, 2024, _PLACE_2023, "rule 146, lac2022_23"),
        CodeSet("PLACE", 2025, 2025, _PLACE_2025, "rule 146, lac2024_25 (K3 read as K3)"),
        CodeSet("PLACE", 2026, None, _PLACE_2026, "rule 146, lac2025_26"),
    ),
    "PLACE_PROVIDER": _always(
        "PLACE_PROVIDER", frozenset(lists.PLACE_PROVIDER), "rule 178, lac2022_23"
    ),
    "REC": _always("REC", frozenset(lists.REC), "rule 149, lac2022_23"),
    "REASON_PLACE_CHANGE": _always(
        "REASON_PLACE_CHANGE", frozenset(lists.REASON_PLACE_CHANGE), "rule 1009, lac2022_23"
    ),
    "DISABILITY": _always("DISABILITY", frozenset(lists.DISABILITY), "CIN census"),
}


def code_columns() -> tuple[str, ...]:
    """Return the columns whose codes are checked by year.

    >>> "SEX" in code_columns() and "PLACE" in code_columns()
    True
    """
    return tuple(CODE_SETS)


def valid_codes(column: str, year: int | None = None) -> frozenset[str]:
    """Return the codes ``column`` allows in collection ``year``.

    Parameters
    ----------
    column : str
        A column of :data:`CODE_SETS`.
    year : int, optional
        The year the collection ends (2025 for 2024-25). ``None`` (unknown):
        every code some year allows.

    Examples
    --------
    >>> sorted(valid_codes("SEX", 2024)), sorted(valid_codes("SEX", 2025))
    (['1', '2'], ['F', 'M', 'U'])
    >>> "Z1" in valid_codes("PLACE", 2025), "Z11" in valid_codes("PLACE", 2026)
    (True, True)
    >>> sorted(valid_codes("SEX"))
    ['1', '2', 'F', 'M', 'U']
    """
    if column not in CODE_SETS:
        raise KeyError(f"no code set for column {column!r}; known: {list(CODE_SETS)}")
    sets = CODE_SETS[column]
    if year is None:
        return frozenset().union(*(s.codes for s in sets))
    return next(s.codes for s in sets if s.applies(int(year)))


def invalid_codes(values: pd.Series, column: str, years: pd.Series | None = None) -> np.ndarray:
    """Return a mask of filled values not allowed in their row's collection year.

    Parameters
    ----------
    values : Series
        Codes, already normalised (:func:`normalise_codes`); blanks are not flagged.
    column : str
        A column of :data:`CODE_SETS`.
    years : Series of Int64, optional
        Each row's collection year (missing: unknown, checked against the union).

    Examples
    --------
    >>> v = pd.Series(["1", "M", "M", None])
    >>> y = pd.Series([2024, 2024, 2025, 2025], dtype="Int64")
    >>> invalid_codes(v, "SEX", y).tolist()
    [False, True, False, False]
    """
    filled = values.notna().to_numpy()
    if years is None:
        return filled & ~values.isin(valid_codes(column)).to_numpy()
    y = pd.Series(years).astype("Int64").to_numpy(dtype="float64", na_value=np.nan)
    known = ~np.isnan(y)
    ok = np.zeros(len(values), dtype=bool)
    ok[~known] = values[~known].isin(valid_codes(column)).to_numpy()
    yk = y[known].astype(np.int64)
    idx = np.flatnonzero(known)
    for s in CODE_SETS[column]:
        lo = -(10**6) if s.first_year is None else s.first_year
        hi = 10**6 if s.last_year is None else s.last_year
        rows = idx[(yk >= lo) & (yk <= hi)]
        ok[rows] = values.iloc[rows].isin(s.codes).to_numpy()
    return filled & ~ok


def normalise_codes(values: pd.Series) -> tuple[pd.Series, int]:
    """Upper-case and trim text codes as DfE's validator reads them; count the changes.

    Blanks (after trimming) become missing. Works on the distinct values, so it
    is fast on millions of rows.

    Examples
    --------
    >>> s, n = normalise_codes(pd.Series(["e4a", " P1", "X1", None, " "]))
    >>> s.tolist(), n
    (['E4A', 'P1', 'X1', None, None], 3)
    """
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return values, 0
    idx, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return values, 0
    clean, changed = _clean_uniques(idx, uniques)
    n_changed = int(np.bincount(idx[idx >= 0], minlength=len(clean))[changed].sum())
    if n_changed == 0:
        return values, 0
    out = np.empty(len(clean) + 1, dtype=object)
    out[:-1] = clean
    out[-1] = None
    return pd.Series(out[idx], index=values.index, dtype=object, name=values.name), n_changed


def _clean_uniques(idx: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Trimmed, upper-cased distinct values (blank: None), and which of them changed."""
    raw = pd.Index(uniques).astype(str)
    clean = raw.str.strip().str.upper().to_numpy(dtype=object)
    clean[clean == ""] = None
    return clean, np.asarray(raw.to_numpy(dtype=object) != clean, dtype=bool)


def normalise_to_categories(values: pd.Series) -> tuple[pd.Series, int]:
    """:func:`normalise_codes`, giving a ``category`` column (blank: missing) of the same values.

    The categories are the distinct values after normalising, in order of first
    appearance, exactly as :func:`normalise_codes` gives them (a column it does
    not change keeps its values: the number ``1`` stays ``1``; in a column it
    changes every value is text). A column of objects is converted; a
    ``category`` column (a reader that keeps codes so) is normalised on its
    categories alone, with the same values and count of changes as its values
    as objects would give; other columns are returned as :func:`normalise_codes`
    returns them. :func:`category_values` turns the column back into the
    objects :func:`normalise_codes` gives.

    Examples
    --------
    >>> s, n = normalise_to_categories(pd.Series(["e4a", " P1", "E4A", None, " "]))
    >>> s.dtype.name, list(s.cat.categories), s.cat.codes.tolist(), n
    ('category', ['E4A', 'P1'], [0, 1, 0, -1, -1], 3)
    >>> category_values(s).tolist()
    ['E4A', 'P1', 'E4A', None, None]
    >>> c, n = normalise_to_categories(s.astype(object).astype("category"))
    >>> category_values(c).tolist(), n
    (['E4A', 'P1', 'E4A', None, None], 0)
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _normalise_categorical(values)
    if not pd.api.types.is_object_dtype(values):
        return normalise_codes(values)
    idx, uniques = pd.factorize(values, use_na_sentinel=True)
    return _recoded(values, idx, np.asarray(uniques, dtype=object))


def _recoded(values: pd.Series, idx: np.ndarray, uniques: np.ndarray) -> tuple[pd.Series, int]:
    """The category column of ``values`` factorised as ``idx`` into ``uniques``, normalised."""
    clean, changed = _clean_uniques(idx, pd.Index(uniques))
    n_changed = int(np.bincount(idx[idx >= 0], minlength=len(clean))[changed].sum())
    final = clean if n_changed else np.asarray(uniques, dtype=object)  # as normalise_codes
    remap, cats = pd.factorize(final, use_na_sentinel=True)
    codes = np.append(remap, -1)[idx]
    dtype = pd.CategoricalDtype(pd.Index(cats, dtype=object))
    cat = pd.Categorical.from_codes(codes, dtype=dtype)
    return pd.Series(cat, index=values.index, name=values.name), n_changed


def _normalise_categorical(values: pd.Series) -> tuple[pd.Series, int]:
    """:func:`normalise_to_categories` of a ``category`` column: its categories normalised.

    Categories no row uses are dropped first and the rest taken in order of
    first appearance (as factorising the values as objects numbers them), so
    the result is the column :func:`normalise_to_categories` gives for the same
    values as objects. A column whose categories are already normalised,
    used and in that order is returned as it is.
    """
    codes = values.cat.codes.to_numpy()
    n_cats = len(values.cat.categories)
    order = first_seen(codes, n_cats)
    uniques = values.cat.categories.to_numpy(dtype=object)[order]
    as_is = np.array_equal(order, np.arange(n_cats))  # then the codes are their own numbers
    idx = codes if as_is else renumbered(codes, order, n_cats)
    _, changed = _clean_uniques(idx, pd.Index(uniques, dtype=object))
    if not changed.any() and as_is:
        return values, 0
    return _recoded(values, idx, uniques)


def first_seen(codes: np.ndarray, k: int) -> np.ndarray:
    """The codes (of ``k`` categories; -1 blank) used, in order of first appearance.

    Found in the first rows (a code column shows its few codes early), read
    further only while a code used somewhere is not yet seen.

    >>> first_seen(np.array([2, -1, 0, 2]), 3).tolist()
    [2, 0]
    """
    used = -1  # counted (one pass over every row) only if the first rows miss a category
    m = 4096
    while True:
        head = codes[:m]
        seen = pd.unique(head[head >= 0])  # integers: no text hashed
        if len(seen) < k and m < len(codes) and used < 0:
            used = int((np.bincount(codes[codes >= 0], minlength=k) > 0).sum())
        if len(seen) in (k, used) or m >= len(codes):
            return np.asarray(seen, dtype=np.int64)
        m *= 8


def renumbered(codes: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """``codes`` (of ``k`` categories; -1 blank) numbered by their place in ``order``.

    >>> renumbered(np.array([2, -1, 0, 2]), np.array([2, 0]), 3).tolist()
    [0, -1, 1, 0]
    """
    lut = np.full(k + 1, -1, dtype=np.int64)  # the last: blank
    lut[order] = np.arange(len(order))
    return lut[codes]


def category_values_at(values: pd.Series, at: np.ndarray) -> np.ndarray:
    """:func:`category_values` of the rows ``at`` only (a ``category`` column).

    >>> category_values_at(pd.Series(["a", None, "b"], dtype="category"), np.array([1, 2])).tolist()
    [None, 'b']
    """
    words = np.empty(len(values.cat.categories) + 1, dtype=object)  # the last: None
    words[:-1] = values.cat.categories.to_numpy(dtype=object)
    return words[values.cat.codes.to_numpy()[at]]


def category_values(values: pd.Series) -> np.ndarray:
    """The values of a column as objects; a ``category`` column's blanks as None.

    >>> category_values(pd.Series(["a", None, "b"], dtype="category")).tolist()
    ['a', None, 'b']
    """
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return values.to_numpy(dtype=object)
    words = np.empty(len(values.cat.categories) + 1, dtype=object)  # the last: None
    words[:-1] = values.cat.categories.to_numpy(dtype=object)
    return words[values.cat.codes.to_numpy()]


def distinct_categorical(codes: np.ndarray, values: np.ndarray | pd.Index) -> pd.Categorical:
    """``pd.Categorical.from_codes`` for ``values`` known to be distinct, not checked again.

    ``from_codes`` (and ``pd.CategoricalDtype``) hash every category to check
    that none repeats: a tenth of a second for half a million child
    identifiers, each time. The reader's categories come from a dictionary
    or a factorisation, distinct by construction, and its codes index them
    (-1: blank). Falls back to ``from_codes`` where pandas lacks the fast
    path (pandas 2.3's internals are used).

    >>> c = distinct_categorical(np.array([1, -1, 0]), np.array(["b", "a"], dtype=object))
    >>> c.tolist(), c.categories.tolist()
    (['a', nan, 'b'], ['b', 'a'])
    """
    return categorical_of(codes, distinct_dtype(values))


def distinct_dtype(values: np.ndarray | pd.Index) -> pd.CategoricalDtype:
    """The ``category`` dtype of ``values`` known to be distinct (see :func:`distinct_categorical`).

    One dtype shared by several columns (:func:`categorical_of`) makes their
    categories one object: comparing them is then free (``Index.equals``).
    """
    cats = pd.Index(values, dtype=object)
    try:
        return pd.CategoricalDtype._from_fastpath(cats, False)  # type: ignore[attr-defined]
    except (AttributeError, TypeError):  # pragma: no cover - other pandas
        return pd.CategoricalDtype(cats)


def categorical_of(codes: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """A ``Categorical`` of ``codes`` (-1: blank) into ``dtype``'s categories, not checked again.

    >>> d = distinct_dtype(np.array(["b", "a"], dtype=object))
    >>> categorical_of(np.array([0, -1]), d).tolist(), categorical_of(np.array([1]), d).dtype is d
    (['b', nan], True)
    """
    try:
        from pandas._libs.arrays import NDArrayBacked
        from pandas.core.dtypes.cast import coerce_indexer_dtype  # type: ignore[attr-defined]

        out = pd.Categorical.__new__(pd.Categorical)
        small = coerce_indexer_dtype(np.asarray(codes), dtype.categories)
        NDArrayBacked.__init__(out, small, dtype)  # type: ignore[call-arg]
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other pandas
        return pd.Categorical.from_codes(codes, dtype=dtype)  # type: ignore[arg-type]
    return out
