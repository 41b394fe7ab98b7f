"""The shared spelling of model options: deprecations, variance names, clusters.

Every model function spells its options the same way (see
:mod:`reunistat.models` for the list). Older spellings keep working for one
release: :func:`take_deprecated` takes them out of ``**kwargs`` and warns with a
:class:`DeprecationWarning` naming the new spelling; anything else left in
``**kwargs`` is a :class:`TypeError`, as for any unknown keyword.

Variance (``vcov=``) names follow pyfixest and R's ``sandwich``:

``"model"``
    The inverse information (model-based; R's default ``vcov``).
``"HC0"``, ``"HC1"``
    Heteroskedasticity-robust sandwich, without / with the ``n / (n - k)``
    factor.
``"CR0"``
    Cluster-robust sandwich from the scores summed within each cluster, no
    small-sample factor (R ``coxph(..., cluster = id)``; GEE's robust variance).
``"CR1"``
    Cluster-robust with the small-sample factor of ``sandwich::vcovCL``'s
    default: ``G / (G - 1)`` for a glm (``glm`` type HC0), times ``(n - 1) /
    (n - k)`` for a linear model (type HC1), as Stata.
``"CR3"``
    Cluster jackknife-type correction (for GEE: Mancl and DeRouen's
    bias-reduced sandwich).
``"fine-gray"``
    Fine and Gray's (1999) sandwich with the term for the estimated censoring
    distribution (``cmprsk::crr``), for :func:`~reunistat.models.survival.fine_gray`.

``cluster=`` takes one column, or a tuple of columns for multiway clustering
(Cameron, Gelbach and Miller 2011): the variance is the inclusion-exclusion sum
``V(a) + V(b) - V(a, b)`` over the clusters and their intersections, each with
its own small-sample factor; for clusters nested in another (children within
authorities) it equals the outer cluster's variance.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from reunistat.errors import InputError

#: Every variance name a model accepts (each model accepts a subset).
VCOV_NAMES = ("model", "HC0", "HC1", "CR0", "CR1", "CR3", "fine-gray")

Cluster = str | tuple[str, ...] | None


def warn_renamed(function: str, old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` is deprecated in ``function`` in favour of ``new``."""
    warnings.warn(
        f"{function}: {old} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )


def take_deprecated(
    function: str, kwargs: dict[str, Any], renames: Mapping[str, str]
) -> dict[str, Any]:
    """Take the old spellings out of ``kwargs``, warn once each, return them by old name.

    ``renames`` maps each old keyword to its new spelling (a keyword, or a
    phrase such as ``"vcov='CR1'"``). A keyword that is neither is a
    :class:`TypeError`, as Python raises for any unknown keyword.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     old = take_deprecated("f", {"group": "LA"}, {"group": "cluster"})
    >>> old, w[0].category.__name__
    ({'group': 'LA'}, 'DeprecationWarning')
    """
    unknown = [k for k in kwargs if k not in renames]
    if unknown:
        raise TypeError(f"{function}() got unexpected keyword argument(s) {unknown}")
    out = {}
    for old in list(kwargs):
        warn_renamed(function, f"{old}=", renames[old], stacklevel=3)
        out[old] = kwargs.pop(old)
    return out


def check_vcov(function: str, vcov: str, allowed: Sequence[str]) -> str:
    """Raise an :class:`~reunistat.errors.InputError` when ``vcov`` is not allowed here."""
    if vcov not in allowed:
        raise InputError(f"{function}: vcov must be one of {list(allowed)}, got {vcov!r}")
    return vcov


def cluster_columns(cluster: Cluster) -> list[str]:
    """Return the cluster column(s) as a list (empty for none)."""
    if cluster is None:
        return []
    if isinstance(cluster, str):
        return [cluster]
    if isinstance(cluster, (tuple, list)) and all(isinstance(c, str) for c in cluster):
        if not cluster:
            raise InputError("cluster: give a column name or a tuple of column names")
        return list(cluster)
    raise InputError(f"cluster must be a column name or a tuple of them, got {cluster!r}")


def cluster_label(cluster: Cluster) -> str:
    """Return the cluster as shown in ``vcov_type``: ``LA`` or ``LA, CHILD``."""
    return ", ".join(cluster_columns(cluster))


def multiway(
    data: pd.DataFrame,
    cluster: Cluster,
    variance: Callable[[np.ndarray, int], np.ndarray],
    *,
    sort: bool = True,
) -> np.ndarray:
    """Multiway cluster-robust variance by inclusion-exclusion over the cluster columns.

    ``variance(codes, n_clusters)`` returns the one-way variance for integer
    cluster codes (0..G-1) in the rows of ``data``; with one column this is
    just that variance. ``sort`` orders the cluster codes by label (else by
    first appearance); the variance is the same up to rounding.
    """
    cols = cluster_columns(cluster)
    if not cols:
        raise InputError("a cluster-robust variance needs cluster= a column or a tuple of them")
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(f"cluster column(s) {missing} not in the data")
    total: np.ndarray | None = None
    for r in range(1, len(cols) + 1):
        for subset in itertools.combinations(cols, r):
            sub = data[list(subset)]
            if sub.isna().to_numpy().any():
                raise InputError(f"cluster column(s) {list(subset)} have missing values")
            raw: Any
            if len(subset) == 1 and sort:
                raw, n_cl = sorted_codes(sub.iloc[:, 0])
            elif len(subset) == 1:
                raw, uniq = pd.factorize(sub.iloc[:, 0], sort=False)
                n_cl = len(uniq)
            else:
                raw = sub.groupby(list(subset), sort=sort).ngroup().to_numpy()
                n_cl = int(raw.max()) + 1
            v = variance(np.asarray(raw, dtype=np.int64), n_cl)
            sign = 1.0 if r % 2 == 1 else -1.0
            total = sign * v if total is None else total + sign * v
    assert total is not None
    return total


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, int]:
    """Return ``pd.factorize(values, sort=True)``'s codes (int64) and number of values.

    A column of Python strings (child identifiers), none missing and none
    with a NUL character, is sorted by Arrow (:func:`_arrow_sorted_codes`):
    UTF-8 byte order is code point order, which is Python's string comparison
    (a prefix first), in under half the time of pandas' sort of the Python
    strings, unless its first rows repeat a few values (authorities:
    :func:`_few_distinct`). Anything else, or a missing value,
    goes to pandas. Integer codes that are already 0..G-1, each present (a column
    coded by this function, e.g. 12's child codes, clustered again) are their
    own sorted codes: returned as they are (as int64) after a count of each
    value, without pandas' hash table and sort.
    """
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu" and len(values):
        dense = _dense_codes(values.to_numpy())
        if dense is not None:
            return dense
    if values.dtype == object and len(values):
        v = values.to_numpy()
        # every value a str, and not a few values repeated (then pandas' way is quicker)
        if not _few_distinct(v) and pd.api.types.infer_dtype(v, skipna=False) == "string":
            found = _arrow_sorted_codes(v)
            if found is not None:
                return found
    raw, uniq = pd.factorize(values, sort=True)
    return np.asarray(raw, dtype=np.int64), len(uniq)


def _few_distinct(v: np.ndarray, sample: int = 4096) -> bool:
    """Whether the first ``sample`` values of ``v`` repeat 16 times each on average.

    Then ``pd.factorize(sort=True)`` (a hash table, then a sort of the distinct
    values only) is quicker than a sort of every row: 4 ms against 28 ms for
    the authorities of 164,283 returns home, where Arrow's sort is quicker for
    identifiers that are nearly all distinct. Either way the codes are pandas'.
    """
    head = v[:sample]
    return len(head) >= 64 and 16 * len(pd.unique(head)) <= len(head)


def _dense_codes(v: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``v`` as int64 and G if its values are exactly 0..G-1 (each at least once), else None."""
    if v.min() != 0:
        return None
    top = int(v.max())
    if top >= len(v) or np.count_nonzero(np.bincount(v.astype(np.intp, copy=False))) <= top:
        return None
    return v.astype(np.int64), top + 1


def _arrow_sorted_codes(v: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The rank of each of the strings ``v`` among their distinct values, and their number.

    Sorted by Arrow, equal neighbours share a rank. None if a string cannot be
    encoded as UTF-8 (a lone surrogate) or holds a NUL character.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        a = pa.array(v, type=pa.string())
    except (pa.ArrowException, UnicodeError):
        return None
    if pc.any(pc.match_substring(a, "\x00")).as_py():
        return None  # pandas' hash table ends a string at a NUL: its codes are its own
    order = pc.array_sort_indices(a)
    ordered = a.take(order)
    new = pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
    ranks = np.zeros(len(v), dtype=np.int64)
    np.cumsum(new, out=ranks[1:])
    codes = np.empty(len(v), dtype=np.int64)
    codes[order.to_numpy()] = ranks
    return codes, int(ranks[-1]) + 1


def formula_rhs_only(function: str, lhs: str | None, keyword: str) -> None:
    """Warn when a formula names the outcome on its left side (use the keyword instead)."""
    if lhs is not None:
        what = f"a left side in the formula ({lhs!r} ~ ...)"
        warn_renamed(function, what, f"{keyword}= and a formula '~ ...'", stacklevel=3)
