"""Text columns factorised once per fit, for the design, the cluster codes and the hash.

A logistic fit reads its text columns (categories such as ``age_band``, the
cluster column ``LA``) three times: formulaic's design factorises them, the
cluster-robust variance numbers the clusters, and the provenance hash
(:func:`~reunistat.results.data_hash`) factorises them again, as pandas'
``hash_pandas_object`` does. Factorising 1M Python strings costs about 40 ms a
column; integer codes cost a few. So each such column is factorised once, on
the caller's rows, and every use takes the codes of its own rows from there:

* :func:`as_category`: the column as a ``Categorical`` of the levels present,
  in sorted order (the levels formulaic gives the text column), for the
  design;
* :func:`first_appearance_codes`: the codes ``pd.factorize(column, sort=False)``
  gives (clusters numbered in order of first appearance), for the variance;
* ``data_hash(..., coded=...)``: pandas' hash of the column from its distinct
  values and codes, which is how pandas itself hashes a text column.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: A column's codes over the caller's rows (-1 missing) and its distinct values.
Coded = tuple[np.ndarray, np.ndarray]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_TERM = re.compile(rf"^(?P<bare>{_NAME})$|^C\(\s*(?P<cat>{_NAME})\s*[,)]")


def code_text_columns(data: pd.DataFrame, names: set[str]) -> dict[str, Coded]:
    """Factorise ``data``'s text (object) columns among ``names``, first-appearance order.

    >>> f = pd.DataFrame({"a": ["y", "x", "y"], "b": [1, 2, 3]})
    >>> codes, uniques = code_text_columns(f, {"a", "b"})["a"]
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['y', 'x'])
    """
    if not data.columns.is_unique:
        return {}
    out: dict[str, Coded] = {}
    for name in sorted(names):
        if name in data.columns and data[name].dtype == object:
            codes, uniques = factorize_text(data[name].to_numpy())
            out[name] = (codes, np.asarray(uniques, dtype=object))
    return out


def factorize_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=False)`` of an object array, quicker for strings.

    For an array of strings pandas factorises with its string hash table,
    after a pass that checks every value is a string, in a table sized for
    every value distinct. Here the same table factorises directly, sized by
    the distinct values of the first 4,096 (a few levels: a small table, which
    grows if it must; many: a table for all): the same codes and values in
    the same (first-appearance) order. The table counts any value that is not
    a string as missing, so if a code is missing (-1) the array had a missing
    or non-string value and pandas' own factorize gives the answer.

    >>> codes, uniques = factorize_text(np.array(["b", "a", "b"], dtype=object))
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['b', 'a'])
    """
    n = len(values)
    if n > 4096:
        try:
            from pandas._libs.hashtable import StringHashTable

            few = len(StringHashTable(1024).factorize(values[:4096])[0]) <= 64
            uniques, codes = StringHashTable(1024 if few else n).factorize(values)
        except Exception:  # pandas' internals changed: its public function
            pass
        else:
            if codes.min() >= 0:
                return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object)
    codes, uniques = pd.factorize(values, sort=False)
    return codes, np.asarray(uniques, dtype=object)


def simple_term_columns(rhs: str) -> set[str]:
    """The columns of a sum of terms named bare or as ``C(col, ...)`` (none if anything else).

    >>> sorted(simple_term_columns("a + C(b) + C(c, contr.treatment('x'))"))
    ['a', 'b', 'c']
    >>> simple_term_columns("a * b")
    set()
    """
    if any(ch in re.sub(r"'[^']*'|\"[^\"]*\"", "", rhs) for ch in ":*/|~-^%"):
        return set()
    out = set()
    for term in rhs.split("+"):
        m = _SIMPLE_TERM.match(term.strip())
        if m is None:
            return set()
        out.add(m["bare"] or m["cat"])
    return out


def as_category(coded: Coded, rows: np.ndarray | None) -> pd.Categorical | None:
    """The column's values at ``rows`` as a Categorical of the levels present there, sorted.

    None when a value is missing or not a string (formulaic then reads the text).

    >>> c = as_category((np.array([0, 1, 0, 2]), np.array(["b", "c", "a"], dtype=object)), None)
    >>> list(c), list(c.categories)
    (['b', 'c', 'b', 'a'], ['a', 'b', 'c'])
    """
    codes, uniques = coded
    sub = codes if rows is None else codes.take(rows)
    if len(sub) == 0 or sub.min() < 0:
        return None
    present = np.flatnonzero(np.bincount(sub, minlength=len(uniques)))
    values = uniques[present]
    if not all(type(v) is str for v in values):
        return None
    order = np.argsort(values)
    # codes in the small integer type pandas keeps for this many categories (no conversion)
    small = np.int8 if len(order) < 127 else np.int16 if len(order) < 32767 else np.int64
    remap = np.full(len(uniques), -1, dtype=small)
    remap[present[order]] = np.arange(len(order))
    dtype = pd.CategoricalDtype(pd.Index(values[order], dtype=object), ordered=False)
    return pd.Categorical.from_codes(remap.take(sub), dtype=dtype)  # type: ignore[arg-type]


def first_appearance_codes(coded: Coded, rows: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Codes 0..G-1 of the values at ``rows`` numbered by first appearance there, and G.

    The codes ``pd.factorize(values, sort=False)`` gives (no value missing).

    >>> first_appearance_codes((np.array([2, 0, 2, 1]), np.array(list("abc"))), np.array([1, 2, 3]))
    (array([0, 1, 2]), 3)
    """
    codes, uniques = coded
    sub = codes if rows is None else codes.take(rows)
    n, k = len(sub), len(uniques)
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, sub, np.arange(n, dtype=np.int64))
    present = np.flatnonzero(first < n)
    order = present[np.argsort(first[present])]
    remap = np.full(k, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap.take(sub), len(order)
