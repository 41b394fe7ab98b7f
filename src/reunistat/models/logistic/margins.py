"""Interpretation for policy: predicted probabilities, marginal effects, calibration by group.

All three work on a fitted logistic result (:func:`~reunistat.models.logistic.logistic`,
:func:`~reunistat.models.logistic.gee`, or the fixed part of
:func:`~reunistat.models.logistic.multilevel`, i.e. for an authority with a
random effect of zero). Confidence intervals use the delta method with the
result's own covariance (cluster-robust if it was fitted so).

These describe populations (e.g. "among returns home of children aged 10-15
under section 20, about 1 in 4 re-entered within a year"), not individual
children: they are not for decisions about a particular child.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from reunistat.models.logistic._errors import LogisticInputError
from reunistat.results import ModelResult


def _parts(result: ModelResult) -> tuple[Any, pd.DataFrame, np.ndarray, np.ndarray]:
    for key in ("model_spec", "data"):
        if key not in result.extras:
            raise LogisticInputError(
                f"this result has no {key!r}: pass a result of reunistat's logistic models"
            )
    return (
        result.extras["model_spec"],
        result.extras["data"],
        result.params.to_numpy(dtype=float),
        result.cov.to_numpy(dtype=float),
    )


def _matrix(spec: Any, data: pd.DataFrame) -> np.ndarray:
    try:
        return np.asarray(spec.get_model_matrix(data, na_action="raise"), dtype=float)
    except Exception as exc:
        raise LogisticInputError(f"cannot build the design for these rows: {exc}") from exc


def _ci(est: np.ndarray, se: np.ndarray, conf_level: float) -> dict[str, np.ndarray]:
    q = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    return {
        "estimate": est,
        "std_error": se,
        "statistic": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)),
        "conf_low": est - q * se,
        "conf_high": est + q * se,
    }


def _typical(col: pd.Series) -> Any:
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return float(col.mean())
    return col.mode(dropna=True).iloc[0]


def predict_profiles(
    result: ModelResult, profiles: pd.DataFrame, conf_level: float = 0.95
) -> pd.DataFrame:
    """Return the predicted probability of re-entry for covariate profiles, with CIs.

    Parameters
    ----------
    result : ModelResult
        A fitted logistic result.
    profiles : pandas.DataFrame
        One row per profile. Covariates the model uses but ``profiles`` omits
        are set to their mean (numeric) or most common level (otherwise) in
        the fitted data; the filled values are returned too.
    conf_level : float
        Confidence level of the intervals, computed on the log-odds scale and
        transformed (so they stay within 0 and 1).

    Returns
    -------
    pandas.DataFrame
        The profiles (completed) with ``probability``, ``std_error`` (delta
        method, probability scale), ``conf_low`` and ``conf_high``.
    """
    spec, data, beta, cov = _parts(result)
    prof = profiles.reset_index(drop=True).copy()
    for v in sorted(spec.required_variables):
        if v not in prof.columns and v in data.columns:
            prof[v] = _typical(data[v])
            if isinstance(data[v].dtype, pd.CategoricalDtype):
                prof[v] = pd.Categorical(prof[v], categories=data[v].cat.categories)
    X = _matrix(spec, prof)
    eta = X @ beta
    se_eta = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
    q = stats.norm.ppf(0.5 + conf_level / 2)
    p = expit(eta)
    prof["probability"] = p
    prof["std_error"] = p * (1 - p) * se_eta
    prof["conf_low"] = expit(eta - q * se_eta)
    prof["conf_high"] = expit(eta + q * se_eta)
    return prof


def _mean_prob_and_grad(
    X: np.ndarray, beta: np.ndarray, constant: dict[int, float] | None = None
) -> tuple[float, Any]:
    p = expit(X @ beta)
    w = p * (1 - p)
    if not X.flags.f_contiguous:
        return float(p.mean()), (X * w[:, None]).mean(axis=0)
    columns = [X[:, j] for j in range(X.shape[1])]
    return float(p.mean()), _mean_products(columns, w, constant=constant)


def _mean_products(
    columns: list[np.ndarray],
    w: np.ndarray,
    minus: list[np.ndarray] | None = None,
    w_minus: np.ndarray | None = None,
    constant: dict[int, float] | None = None,
) -> np.ndarray:
    """``(X * w[:, None]).mean(axis=0)`` of the matrix of ``columns`` (contiguous, one per column).

    With ``minus``: ``(X * w[:, None] - X0 * w_minus[:, None]).mean(axis=0)``.
    One column at a time into a buffer that stays in cache, not an n x k
    product matrix: the products are the same, and the mean over the rows of
    a column-major matrix sums each contiguous column as :func:`numpy.add.reduce`
    sums it on its own (the same pairwise sum) and divides by n, so the
    result is the same to the bit.

    ``constant`` (without ``minus``): columns known to hold one value, 0 or 1, in
    every row (the intercept, a level's own columns). For weights that are all
    finite and not negative (``p (1 - p)``), ``1.0 * w`` is ``w`` and ``0.0 * w`` is
    ``+0.0``: such a column's sum is the sum of ``w`` (taken once) or 0, the same
    bits without its products.
    """
    buf, other = np.empty(len(w)), np.empty(len(w))
    sums = np.empty(len(columns))
    known: dict[int, float] = {}
    if constant and minus is None:
        total = np.add.reduce(w)
        if np.isfinite(total) and not (w < 0).any():
            known = {j: total if v == 1.0 else 0.0 for j, v in constant.items() if v in (0.0, 1.0)}
    for j, x in enumerate(columns):
        if j in known:
            sums[j] = known[j]
            continue
        np.multiply(x, w, out=buf)
        if minus is not None and w_minus is not None:
            np.subtract(buf, np.multiply(minus[j], w_minus, out=other), out=buf)
        sums[j] = np.add.reduce(buf)
    return np.true_divide(sums, len(w))


def _derivative(
    spec: Any, beta: np.ndarray, data: pd.DataFrame, v: str, designs: _LevelDesigns | None = None
) -> tuple[float, np.ndarray]:
    """Average derivative of the probability in ``v`` and its gradient in beta.

    Central differences, one-sided at the edges of the data (spline bases are
    not defined beyond the fitted range). ``designs`` builds the shifted
    designs from the fitted one (:meth:`_LevelDesigns.shifted`).
    """
    x = data[v].to_numpy(dtype=float)
    h = 1e-5 * max(float(np.std(x)), 1e-8)
    lo, hi = float(np.min(x)), float(np.max(x))
    up = np.where(x + h > hi, x, x + h)
    down = np.where(x - h < lo, x, x - h)
    den = up - down
    parts = designs.shifted_parts(v, up, down) if designs is not None else None
    if parts is not None:
        return _derivative_in_place(designs, beta, den, *parts)  # type: ignore[arg-type]
    if designs is None:
        X1, X0 = _matrix(spec, _set(data, v, up)), _matrix(spec, _set(data, v, down))
    else:
        X1, X0 = designs.shifted(v, up), designs.shifted(v, down)
    p1, p0 = expit(X1 @ beta), expit(X0 @ beta)
    w1, w0 = p1 * (1 - p1) / den, p0 * (1 - p0) / den
    est = float(((p1 - p0) / den).mean())
    grad = (X1 * w1[:, None] - X0 * w0[:, None]).mean(axis=0)
    return est, grad


def _derivative_in_place(
    designs: _LevelDesigns,
    beta: np.ndarray,
    den: np.ndarray,
    cols: list[int],
    up: np.ndarray,
    down: np.ndarray,
) -> tuple[float, np.ndarray]:
    """:func:`_derivative` with the shifted columns ``up`` and ``down`` written into the design.

    The fitted design (column-major) gets the shifted columns in place for
    the two predictions and is put back after, instead of two copies with
    them: the same matrices in the same memory layout, so the same products.
    The gradient's means are taken a column at a time (:func:`_mean_products`).
    """
    X = designs.base()
    kept = X[:, cols].copy()
    try:
        X[:, cols] = up
        p1 = expit(X @ beta)
        X[:, cols] = down
        p0 = expit(X @ beta)
    finally:
        X[:, cols] = kept
    w1, w0 = p1 * (1 - p1) / den, p0 * (1 - p0) / den
    est = float(((p1 - p0) / den).mean())
    at = {c: i for i, c in enumerate(cols)}
    c1 = [up[:, at[j]] if j in at else X[:, j] for j in range(X.shape[1])]
    c0 = [down[:, at[j]] if j in at else X[:, j] for j in range(X.shape[1])]
    return est, _mean_products(c1, w1, c0, w0)


class _LevelDesigns:
    """Design matrices of the fitted rows with one covariate set to a level, built cheaply.

    When every term holding the covariate holds no other variable and its
    columns come out 0/1 (a category or a 0/1 column), only those columns change:
    they are taken from a small design (one row per level asked for, all
    built in one call by :meth:`prepare`) and the rest of the fitted design is
    reused, which gives the very matrix formulaic builds for all the rows (same
    values, same memory layout). Otherwise the whole design is built again.
    """

    def __init__(self, spec: Any, data: pd.DataFrame, fitted: np.ndarray | None = None) -> None:
        self.spec, self.data = spec, data
        self._fitted = fitted
        self._base: np.ndarray | None = None
        self._ones: dict[int, float] | None = None
        self._rows: dict[tuple[str, Any], np.ndarray] = {}

    def _own_columns(self, v: str) -> list[int] | None:
        names = set(self.data.columns)
        cols: list[int] = []
        for term in self.spec.variable_terms.get(v, ()):
            if {str(u) for u in self.spec.term_variables[term]} & names != {v}:
                return None
            cols += self.spec.term_indices[term]
        return sorted(cols) or None

    def prepare(self, wanted: list[tuple[str, list[Any]]]) -> None:
        """Build the one-row designs of every ``(variable, levels)`` in one formulaic call.

        Row ``i`` of the small frame is the first fitted row with one variable
        set to one level, as :meth:`matrix` would build it on its own; the
        encoding of each row does not depend on the others (the spec fixes
        levels, contrasts and any transform's state).
        """
        asks = [(v, lev) for v, levels in wanted if self._own_columns(v) for lev in levels]
        if len(asks) < 2:
            return
        small = self.data.iloc[np.zeros(len(asks), dtype=np.intp)].reset_index(drop=True)
        for v in dict.fromkeys(v for v, _ in asks):
            at = [i for i, (u, _) in enumerate(asks) if u == v]
            dtype = self.data[v].dtype
            if isinstance(dtype, pd.CategoricalDtype):
                codes = small[v].cat.codes.to_numpy().copy()
                for i in at:
                    codes[i] = int(dtype.categories.get_indexer(pd.Index([asks[i][1]]))[0])
                small[v] = pd.Categorical.from_codes(codes, dtype=dtype)  # type: ignore[arg-type]
            else:
                values = small[v].to_numpy().copy()
                for i in at:
                    values[i] = asks[i][1]
                if not all(values[i] == asks[i][1] for i in at):  # the dtype would change it
                    return
                small[v] = values
        try:
            rows = _matrix(self.spec, small)
        except LogisticInputError:  # e.g. a level the spec lacks: each row on its own says so
            return
        self._rows = {(v, lev): rows[i] for i, (v, lev) in enumerate(asks)}

    def _row(self, v: str, level: Any) -> np.ndarray:
        found = self._rows.get((v, level))
        if found is not None:
            return found
        return _matrix(self.spec, _set(self.data.iloc[:1], v, level))[0]

    def _ones_columns(self) -> dict[int, float]:
        """The fitted design's first column if it is 1 in every row (the intercept)."""
        if self._ones is None:
            X = self.base()
            self._ones = {0: 1.0} if X.shape[1] and bool((X[:, 0] == 1.0).all()) else {}
        return self._ones

    def base(self) -> np.ndarray:
        """The design of the fitted rows as formulaic builds it (built once).

        Given the matrix the model was fitted on (the same values: the
        simple-terms design writes what formulaic would), a column-major copy
        of it, the layout formulaic's matrix has, instead of building it again.
        """
        if self._base is None and self._fitted is not None:
            self._base = np.array(self._fitted, dtype=float, order="F")  # a copy: written to
        if self._base is None:
            self._base = _matrix(self.spec, self.data)
        return self._base

    def matrix(self, v: str, level: Any) -> np.ndarray:
        cols = self._own_columns(v)
        if cols is not None:
            row = self._row(v, level)[cols]
            if np.isin(row, (0.0, 1.0)).all():
                X = self.base().copy(order="K")
                X[:, cols] = row
                return X
        return _matrix(self.spec, _set(self.data, v, level))

    def shifted(self, v: str, values: np.ndarray) -> np.ndarray:
        """The design of the fitted rows with ``v`` replaced by ``values`` (numbers).

        When ``v``'s terms hold no other variable, only their columns are built
        (formulaic's design of those terms alone, the same values elementwise)
        and written into a copy of the fitted design; otherwise the whole
        design is built again.
        """
        found = self._shifted_columns(v, values)
        if found is not None:
            X = self.base().copy(order="K")
            X[:, found[0]] = found[1]
            return X
        return _matrix(self.spec, _set(self.data, v, values))

    def _shifted_columns(self, v: str, values: np.ndarray) -> tuple[list[int], np.ndarray] | None:
        """``v``'s columns of the design and their values with ``v`` set to ``values``.

        None unless only those columns change (see :meth:`shifted`).
        """
        cols = self._own_columns(v)
        if cols is None:
            return None
        sub = self.spec.subset(list(self.spec.variable_terms[v]))
        if tuple(sub.column_names) != tuple(self.spec.column_names[c] for c in cols):
            return None
        return cols, _matrix(sub, pd.DataFrame({v: values}, index=self.data.index))

    def shifted_parts(
        self, v: str, up: np.ndarray, down: np.ndarray
    ) -> tuple[list[int], np.ndarray, np.ndarray] | None:
        """``v``'s columns and their values at ``up`` and at ``down``, column-major.

        None unless only those columns change and the fitted design is column-major.
        """
        if not self.base().flags.f_contiguous:
            return None
        hi, lo = self._shifted_columns(v, up), self._shifted_columns(v, down)
        if hi is None or lo is None:
            return None
        return hi[0], np.asfortranarray(hi[1]), np.asfortranarray(lo[1])

    def mean_prob_and_grad(
        self, v: str, levels: list[Any], beta: np.ndarray
    ) -> list[tuple[float, np.ndarray]]:
        """:func:`_mean_prob_and_grad` of :meth:`matrix` ``(v, level)`` for each level.

        Where only 0/1 columns change they are written into the fitted design
        in place (and put back after), not into a copy of it: the same matrix,
        in the same memory layout, so the same sums.
        """
        cols = self._own_columns(v)
        rows = None
        if cols is not None:
            rows = [self._row(v, lev)[cols] for lev in levels]
            if not all(np.isin(r, (0.0, 1.0)).all() for r in rows):
                rows = None
        if cols is None or rows is None:
            return [_mean_prob_and_grad(self.matrix(v, lev), beta) for lev in levels]
        X = self.base()
        kept = X[:, cols].copy()
        ones = self._ones_columns()
        try:
            out = []
            for r in rows:
                X[:, cols] = r
                constant = {**ones, **dict(zip(cols, map(float, r), strict=True))}
                out.append(_mean_prob_and_grad(X, beta, constant))
        finally:
            X[:, cols] = kept
        return out


def _set(data: pd.DataFrame, var: str, value: Any) -> pd.DataFrame:
    """Return ``data`` (a shallow copy) with every row's ``var`` set to ``value``."""
    d = data.copy(deep=False)
    dtype = data[var].dtype
    if isinstance(dtype, pd.CategoricalDtype):
        code = int(dtype.categories.get_indexer(pd.Index([value]))[0])  # -1 if not a level
        d[var] = pd.Categorical.from_codes(np.full(len(d), code), dtype=dtype)  # type: ignore[arg-type]
    else:
        d[var] = value
    return d


def _levels(col: pd.Series) -> list[Any] | None:
    """Levels of a categorical or 0/1 column (reference first), None if continuous."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return list(col.cat.categories)
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        vals = pd.unique(col.dropna())
        return [0, 1] if set(vals) <= {0, 1} else None
    return sorted(pd.unique(col.dropna()), key=str)


def average_marginal_effects(
    result: ModelResult,
    variables: list[str] | None = None,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Return average marginal effects on the probability of re-entry, with delta-method CIs.

    For a categorical or 0/1 covariate: the average over the fitted spells of
    the change in probability when every spell is set to a level instead of
    the reference level (first level; 0 for a 0/1 column). For a continuous
    covariate: the average derivative of the probability per unit (central
    difference, so splines, transforms and interactions are handled).

    Parameters
    ----------
    result : ModelResult
        A fitted logistic result.
    variables : list of str, optional
        Data columns to report (default: every column the formula uses).
    conf_level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``variable, contrast, estimate, std_error, statistic, p_value,
        conf_low, conf_high`` (estimates in probability units: 0.05 is 5
        percentage points).
    """
    spec, data, beta, cov = _parts(result)
    avail = sorted(spec.required_variables)
    variables = variables if variables is not None else avail
    data = data[[v for v in avail if v in data.columns]]  # the design needs no other column
    designs = _LevelDesigns(spec, data, result.extras.get("design_matrix"))
    for v in variables:
        if v not in avail:
            raise LogisticInputError(f"{v!r} is not a covariate of the model (have {avail})")
    levels_of = {v: _levels(data[v]) for v in variables}
    designs.prepare([(v, lv) for v, lv in levels_of.items() if lv is not None])
    rows: list[dict[str, Any]] = []
    grads: list[np.ndarray] = []
    for v in variables:
        levels = levels_of[v]
        if levels is None:
            est, grad = _derivative(spec, beta, data, v, designs)
            rows.append({"variable": v, "contrast": "dp/dx", "est": est})
            grads.append(grad)
            continue
        (p_ref, g_ref), *others = designs.mean_prob_and_grad(v, levels, beta)
        for lev, (p1, g1) in zip(levels[1:], others, strict=True):
            rows.append({"variable": v, "contrast": f"{lev} - {levels[0]}", "est": p1 - p_ref})
            grads.append(g1 - g_ref)
    G = np.vstack(grads)
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, cov, G))
    out = pd.DataFrame({k: [r[k] for r in rows] for k in ("variable", "contrast")})
    for k, col in _ci(np.array([r["est"] for r in rows]), se, conf_level).items():
        out[k] = col
    return out


def observed_vs_predicted(result: ModelResult, by: str | list[str] | None = None) -> pd.DataFrame:
    """Return observed and mean predicted re-entry by level of risk factors.

    Parameters
    ----------
    result : ModelResult
        A fitted logistic result.
    by : str or list of str, optional
        Columns of the fitted data to group by; default: tenths of predicted
        risk (``risk_tenth`` 1 lowest to 10 highest).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n``, ``observed`` (re-entries), ``observed_rate``,
        ``predicted_rate`` (mean predicted probability), ``expected``
        (predicted re-entries) and ``difference`` (observed minus predicted
        rate). Counts are exact: apply disclosure control before publishing.
    """
    spec, data, beta, _ = _parts(result)
    ycol = result.extras.get("outcome_col")
    if ycol is None or ycol not in data.columns:
        raise LogisticInputError("this result does not carry its outcome column")
    p = expit(_matrix(spec, data) @ beta)
    frame = pd.DataFrame({"y": data[ycol].to_numpy(dtype=float), "p": p}, index=data.index)
    if by is None:
        keys: list[str] = ["risk_tenth"]
        frame["risk_tenth"] = pd.qcut(
            pd.Series(p).rank(method="first"), 10, labels=range(1, 11)
        ).to_numpy()
    else:
        keys = [by] if isinstance(by, str) else list(by)
        for k in keys:
            if k not in data.columns:
                raise LogisticInputError(f"cannot group by {k!r}: not a column of the fitted data")
            frame[k] = data[k]
    g = frame.groupby(keys, observed=True, dropna=False)
    out = g.agg(n=("y", "size"), observed=("y", "sum"), predicted_rate=("p", "mean"))
    out["observed"] = out["observed"].astype(int)
    out["observed_rate"] = out["observed"] / out["n"]
    out["expected"] = out["predicted_rate"] * out["n"]
    out["difference"] = out["observed_rate"] - out["predicted_rate"]
    cols = ["n", "observed", "observed_rate", "predicted_rate", "expected", "difference"]
    return out[cols].reset_index()
