"""The design matrix of a formula of simple terms, without materialising it through formulaic.

A formula of main effects only, each term one column of the data (``age_band``,
``C(x)``, ``C(x, contr.treatment('ref'))``, ``np.log1p(x)``, a numeric column),
has a design row that is, term by term, a function of that column's value. So
the matrix is built by looking each value up in a small table: formulaic
materialises the formula on one row per distinct value of each such column
(with the column's own dtype, so its categories are the same), and each term's
block of the full matrix is that table indexed by the column's codes. Numeric
columns named bare are copied as they are. The model spec is formulaic's for
the small frame, which equals the full data's (its levels are the data's).

The result is the matrix formulaic gives, to the bit (``tests/test_formula_simple.py``),
built in one pass into row order, without formulaic's per-column frames, null
checks and copies (about 0.75 s of CPU time at 1M rows and 21 columns).
Anything else (interactions, splines, stateful transforms, missing values,
columns with mostly distinct values) returns None and goes through formulaic.

A categorical column whose every category occurs is not factorised again: its
own codes index the table (one row per category, in category order). The
design hands over its blocks (:class:`Block`: a term's columns, its table and
the codes indexing it), so a caller can summarise the matrix's columns from
counts per level instead of a pass over the n x k matrix.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from formulaic import model_matrix  # at import: before the pipeline's workers fork (0.1 s each)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TERMS = (
    re.compile(rf"^(?P<col>{_NAME})$"),
    re.compile(
        rf"^C\(\s*(?P<col>{_NAME})\s*(,\s*contr\.treatment\(\s*(['\"])[^'\"()]*\3\s*\))?\s*\)$"
    ),
    re.compile(rf"^np\.(log|log1p|sqrt|exp)\(\s*(?P<col>{_NAME})\s*\)$"),
)
_MIN_ROWS = 1000  # below this formulaic is as quick
_MAX_LEVELS = 0.25  # more distinct values than this share of rows: formulaic is as quick
_JOINT_ROWS = 1024  # largest table of several adjacent lookups written as one (fits in cache)
#: A block as written: (positions, table or values, codes or None), as :class:`Block`
_Part = tuple[list[int], np.ndarray, np.ndarray | None]


@dataclass(frozen=True)
class Block:
    """The columns of the design one term writes, and what they are made from.

    ``x[:, positions] = table.take(codes, axis=0)`` when ``codes`` is given
    (a term of a column looked up by its level: every level's code occurs);
    else ``x[:, positions[0]] = table`` (a numeric column, in its own dtype,
    or the intercept's ``[1.0]`` on every row).
    """

    positions: list[int]
    table: np.ndarray
    codes: np.ndarray | None


@dataclass(frozen=True)
class SimpleDesign:
    """A design built by :func:`simple_design` (the fields of ``_formula.Design``, and blocks)."""

    x: np.ndarray
    columns: list[str]
    term_columns: dict[str, list[int]]
    spec: Any
    blocks: tuple[Block, ...] = ()
    #: text columns factorised here: their codes and distinct values by first appearance
    #: (``pd.factorize(column, sort=False)``), for :func:`reunistat.results.data_hash`
    coded: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _term_columns(rhs: str, data: pd.DataFrame) -> list[str] | None:
    """Return each top-level term's one data column, or None if a term is not simple."""
    if any(ch in re.sub(r"'[^']*'|\"[^\"]*\"", "", rhs) for ch in ":*/|~-^%"):
        return None
    out = []
    for term in rhs.split("+"):
        term = term.strip()
        m = next((p.match(term) for p in _TERMS if p.match(term)), None)
        if m is None or m["col"] not in data.columns:
            return None
        out.append(m["col"])
    return out


def _is_plain_number(s: pd.Series) -> bool:
    return isinstance(s.dtype, np.dtype) and s.dtype.kind in "iuf"


@dataclass(frozen=True)
class SimpleParts:
    """What :func:`simple_design` writes its matrix from: the design without ``x``.

    ``n`` rows; each block's columns are those of ``x`` (:class:`Block`), so
    a caller can take the columns in another row order or summarise them
    without the ``(n, k)`` matrix.
    """

    n: int
    columns: list[str]
    term_columns: dict[str, list[int]]
    spec: Any
    blocks: tuple[Block, ...]
    coded: dict[str, tuple[np.ndarray, np.ndarray]]


def simple_design(
    rhs: str, data: pd.DataFrame, *, intercept: bool, complete: Collection[str] = ()
) -> SimpleDesign | None:
    """Return the full-rank design of ``~ rhs`` on ``data`` as formulaic builds it, or None.

    None when the formula or the data is not of the simple kind this handles
    (the caller then uses formulaic). The rows are all of ``data``'s (a
    missing value anywhere used gives None). ``complete`` names categorical
    columns the caller knows have every category present and no missing value
    (their codes are used without counting them).
    """
    parts = simple_parts(rhs, data, intercept=intercept, complete=complete)
    if parts is None:
        return None
    x = _fill(parts.n, len(parts.columns), [(b.positions, b.table, b.codes) for b in parts.blocks])
    return SimpleDesign(x, parts.columns, parts.term_columns, parts.spec, parts.blocks, parts.coded)


def simple_parts(
    rhs: str, data: pd.DataFrame, *, intercept: bool, complete: Collection[str] = ()
) -> SimpleParts | None:
    """:func:`simple_design` without writing the matrix (None where it gives None)."""
    n = len(data)
    term_cols = _term_columns(rhs, data) if n >= _MIN_ROWS else None
    if term_cols is None:
        return None
    bare = [t.strip() for t in rhs.split("+")]
    read = _read_terms(data, bare, term_cols, complete)
    if read is None:
        return None
    lookups, numbers, own, text, computed = read
    valued = {c for t, c in zip(bare, term_cols, strict=True) if c in lookups and t not in computed}
    small = _small_frame(data, {c: lookups[c] for c in valued}, set(term_cols), own)
    mm = _small_matrix(rhs, small)
    if len(mm) != len(small):
        return None
    spec = mm.model_spec
    all_cols = [str(c) for c in mm.columns]
    cols = all_cols if intercept else [c for c in all_cols if c != "Intercept"]
    position = {c: j for j, c in enumerate(cols)}
    blocks = _blocks(spec, mm, term_cols, bare, lookups, numbers, position, computed)
    if blocks is None:
        return None
    term_columns: dict[str, list[int]] = {}
    for term, idx in spec.term_indices.items():
        names = [all_cols[i] for i in idx if all_cols[i] in position]
        if names:
            term_columns[str(term)] = [position[c] for c in names]
    return SimpleParts(n, cols, term_columns, spec, tuple(Block(*b) for b in blocks), text)


#: Small-frame model matrices kept per process (formula and frame), most recent last.
_MATRICES: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MATRICES_KEPT = 16


def _small_matrix(rhs: str, small: pd.DataFrame) -> Any:
    """Return formulaic's model matrix of ``~ rhs`` on the small frame, made once per frame.

    The same formula on a frame of the same columns, dtypes and values (every
    refit of a model on the same levels: imputations, periods, bootstraps)
    gives the same matrix: it is made once (formulaic takes tens of
    milliseconds even on a few rows) and kept, with its spec, for the
    :data:`_MATRICES_KEPT` most recent frames. Treat both as read-only.
    """
    key = _frame_key(rhs, small)
    if key is None:
        return model_matrix("~ " + rhs, small, na_action="drop", ensure_full_rank=True)
    mm = _MATRICES.get(key)
    if mm is None:
        mm = model_matrix("~ " + rhs, small, na_action="drop", ensure_full_rank=True)
        _MATRICES[key] = mm
        while len(_MATRICES) > _MATRICES_KEPT:
            _MATRICES.popitem(last=False)
    else:
        _MATRICES.move_to_end(key)
    return mm


def _frame_key(rhs: str, small: pd.DataFrame) -> tuple[Any, ...] | None:
    """A key equal only for frames formulaic cannot tell apart (None: not kept).

    Each column by name, dtype and exact values: the bytes of plain numpy
    values, a categorical's categories, order flag and codes, or the values
    of a text column. Values of any other kind (or of mixed types, where
    ``1 == 1.0`` would blur them) give None.
    """
    parts: list[Any] = [rhs, tuple(str(c) for c in small.columns), small.shape]
    for col in small.columns:
        s = small[col]
        dt = s.dtype
        if isinstance(dt, np.dtype) and dt.kind in "biufmM":
            parts.append((str(dt), s.to_numpy().tobytes()))
            continue
        if isinstance(dt, pd.CategoricalDtype):
            cats = _text_values(dt.categories.tolist())
            if cats is None:
                return None
            codes = np.asarray(s.cat.codes).tobytes()
            parts.append(("category", str(dt.categories.dtype), cats, bool(dt.ordered), codes))
            continue
        values = _text_values(s.tolist())
        if values is None:
            return None
        parts.append((str(dt), values))
    return tuple(parts)


def _text_values(values: list[Any]) -> tuple[str, ...] | None:
    """The values as a tuple when every one is a string, else None."""
    return tuple(values) if set(map(type, values)) <= {str} else None


_Read = tuple[
    dict[str, tuple[np.ndarray, int]],
    dict[str, np.ndarray],
    set[str],
    dict[str, tuple[np.ndarray, np.ndarray]],
    dict[str, np.ndarray],
]


def _read_terms(
    data: pd.DataFrame, bare: list[str], term_cols: list[str], complete: Collection[str]
) -> _Read | None:
    """Each term's column: looked up by codes, or a plain number (None: not simple).

    Returns the lookups (codes, number of levels), the plain numeric columns,
    the categoricals looked up by their own codes, the text columns' codes
    and distinct values, and the terms of a numpy function of a plain numeric
    column (``np.log1p(x)``) with that column's distinct values in code order
    (their table is the function of those values, :func:`_function_table`).
    """
    n = len(data)
    lookups: dict[str, tuple[np.ndarray, int]] = {}
    numbers: dict[str, np.ndarray] = {}
    own: set[str] = set()  # categoricals looked up by their own codes
    text: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    distinct: dict[str, np.ndarray] = {}  # plain numeric columns' distinct values
    computed: dict[str, np.ndarray] = {}
    for term, col in zip(bare, term_cols, strict=True):
        s = data[col]
        if term == col and _is_plain_number(s):
            v = s.to_numpy()  # its own dtype: written into the float matrix by _fill
            if s.dtype.kind == "f" and np.isnan(v).any():
                return None
            numbers[col] = v
            continue
        if col not in lookups:
            coded, uniques = _lookup_codes(s, col in complete)
            if uniques is None:
                own.add(col)
            elif s.dtype == object:
                text[col] = (coded[0], uniques)
            elif _is_plain_number(s):
                distinct[col] = uniques
            codes, k = coded
            if k > _MAX_LEVELS * n or (codes < 0).any():
                return None
            lookups[col] = coded
        if col in distinct and _TERMS[2].match(term):
            computed[term] = distinct[col]
    return lookups, numbers, own, text, computed


def _lookup_codes(s: pd.Series, complete: bool) -> tuple[tuple[np.ndarray, int], np.ndarray | None]:
    """A looked-up column's codes and number of levels, and its distinct values.

    A categorical whose every category occurs keeps its own codes (no
    distinct values returned); anything else is factorised by first appearance.
    """
    coded = _category_codes(s, complete)
    if coded is not None:
        return coded, None
    codes, uniques = pd.factorize(s, sort=False)
    if _is_plain_number(s):  # a number's distinct values in its own dtype
        return (codes, len(uniques)), np.asarray(uniques)
    return (codes, len(uniques)), np.asarray(uniques, dtype=object)


def _category_codes(s: pd.Series, complete: bool = False) -> tuple[np.ndarray, int] | None:
    """A categorical column's own codes and number of categories, if every category occurs.

    None for any other column, or a categorical with a missing value or an
    unused category (it is factorised as before). ``complete``: the caller
    knows every category occurs and none is missing (not counted again).
    """
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return None
    codes = np.asarray(s.cat.codes)
    k = len(s.cat.categories)
    if k == 0 or len(codes) == 0:
        return None
    if complete:
        return codes, k
    if codes.min() < 0:
        return None
    if not np.bincount(codes, minlength=k).all():
        return None
    return codes, k


def _small_frame(
    data: pd.DataFrame,
    lookups: dict[str, tuple[np.ndarray, int]],
    used: set[str],
    own: Collection[str] = (),
) -> pd.DataFrame:
    """One row per distinct value of each lookup column (in code order), dtypes kept.

    A categorical column looked up by its own codes (:func:`_category_codes`)
    gets its categories in order, without indexing the data. A used column
    that is not a lookup (a plain number, or the column of a function term,
    whose blocks are not read from formulaic's matrix) is all ones of its
    dtype: formulaic's spec does not depend on its values, and so the frames
    of one formula on data with the same levels are the same (one formulaic
    matrix for all of them, :func:`_small_matrix`).
    """
    size = max([k for _, k in lookups.values()] or [1])
    frame = {}
    for col in sorted(used):
        pos = np.zeros(size, dtype=np.intp)
        if col not in lookups and _is_plain_number(data[col]):
            frame[col] = pd.Series(np.ones(size, dtype=data[col].to_numpy().dtype))
            continue
        if col in own:
            k = lookups[col][1]
            small = np.zeros(size, dtype=np.intp)
            small[:k] = np.arange(k)
            cat = pd.Categorical.from_codes(small, dtype=data[col].dtype)  # type: ignore[arg-type]
            frame[col] = pd.Series(cat)
            continue
        if col in lookups:
            codes, k = lookups[col]
            first = np.full(k, len(codes), dtype=np.intp)
            np.minimum.at(first, codes, np.arange(len(codes), dtype=np.intp))
            pos[:k] = first
            pos[k:] = first[0]
        frame[col] = data[col].iloc[pos].reset_index(drop=True)
    return pd.DataFrame(frame)


def _blocks(
    spec: Any,
    mm: pd.DataFrame,
    term_cols: list[str],
    bare: list[str],
    lookups: dict[str, tuple[np.ndarray, int]],
    numbers: dict[str, np.ndarray],
    position: dict[str, int],
    computed: dict[str, np.ndarray] | None = None,
) -> list[_Part] | None:
    """Each output column block: (positions, values or table, codes or None)."""
    computed = computed or {}
    all_cols = [str(c) for c in mm.columns]
    kind = dict(zip(bare, term_cols, strict=True))
    out: list[_Part] = []
    for term, idx in spec.term_indices.items():
        pos = [position[all_cols[i]] for i in idx if all_cols[i] in position]
        if not pos:
            continue
        name = str(term)
        if name == "1":
            out.append((pos, np.ones(1), None))
            continue
        col = kind.get(name)
        if col is None or len(term.factors) != 1:
            return None  # formulaic wrote the term differently: let it build the matrix
        if name == col and col in numbers:
            out.append((pos, numbers[col], None))
            continue
        codes, k = lookups[col]
        if name in computed:
            table = _function_table(name, computed[name])
            if table is None or len(pos) != 1:
                return None
            out.append((pos, table, codes))
            continue
        table = mm.iloc[:k, [i for i in idx if all_cols[i] in position]].to_numpy(dtype=float)
        out.append((pos, np.ascontiguousarray(table), codes))
    return out


def _function_table(term: str, values: np.ndarray) -> np.ndarray | None:
    """The column of ``np.f(x)`` at ``x``'s distinct values, as formulaic evaluates it.

    formulaic calls the numpy function on the column as a pandas Series; so
    does this, on a Series of the distinct values in the column's dtype (the
    same ufunc on the same values: the same bits). None when a value is
    missing after it (formulaic would drop that row: it then builds the design).
    """
    m = _TERMS[2].match(term)
    if m is None:
        return None
    col = getattr(np, m.group(1))(pd.Series(values)).to_numpy(dtype=float)
    if np.isnan(col).any():
        return None
    return np.ascontiguousarray(col[:, None])


def _joint(blocks: list[_Part]) -> list[_Part]:
    """Adjacent looked-up blocks merged into one lookup of their joint codes.

    Blocks whose columns follow each other, each indexed by codes, are one
    block of those columns indexed by ``((c1 * m2 + c2) * m3 + c3) ...``; row
    ``r`` of its table is the tables' rows for ``r``'s digits side by side
    (the same values, copied: the matrix written is the same to the bit). The
    joint table is kept to :data:`_JOINT_ROWS` rows.

    >>> a = ([1, 2], np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), np.array([2, 0, 1]))
    >>> b = ([3], np.array([[0.0], [1.0]]), np.array([1, 1, 0]))
    >>> [(pos, t.tolist(), c.tolist()) for pos, t, c in _joint([a, b])][0][::2]
    ([1, 2, 3], [5, 1, 2])
    """
    out: list[_Part] = []
    for pos, table, codes in blocks:
        pos0, table0, codes0 = out[-1] if out else ([], table, None)
        if codes is not None and codes0 is not None:
            m = len(table)
            contiguous = pos == list(range(pos0[-1] + 1, pos0[-1] + 1 + len(pos)))
            if contiguous and len(table0) * m <= _JOINT_ROWS:
                joint = np.concatenate(
                    [np.repeat(table0, m, axis=0), np.tile(table, (len(table0), 1))], axis=1
                )
                both = codes0.astype(np.intp) * m
                both += codes
                out[-1] = ([*pos0, *pos], joint, both)
                continue
        out.append((pos, table, codes))
    return out


def _fill(n: int, k: int, blocks: list[_Part], step: int = 4096) -> np.ndarray:
    """Write the blocks into an (n, k) row-major matrix, a block of rows at a time.

    Adjacent looked-up blocks are written as one (:func:`_joint`): one
    gather per block of rows instead of one per term.
    """
    x = np.empty((n, k))
    parts = _joint(blocks)
    for i in range(0, n, step):
        rows = x[i : i + step]
        for pos, values, codes in parts:
            j = pos[0]
            cols = slice(j, j + len(pos)) if pos == list(range(j, j + len(pos))) else pos
            if codes is not None:
                rows[:, cols] = values.take(codes[i : i + step], axis=0)
            elif len(values) == 1:
                rows[:, cols] = values[0]
            else:
                rows[:, j] = values[i : i + step]
    return x
