"""Multiple imputation of missing covariates by chained equations (MICE).

Each incomplete column is imputed in turn from a model of it given every other
column of the imputation model, cycling ``n_iter`` times (van Buuren and
Groothuis-Oudshoorn 2011, R's ``mice``). For a survival or fixed-horizon outcome
the imputation model includes the **event indicator and the Nelson-Aalen
cumulative hazard at each spell's follow-up time** (White and Royston 2009),
without which the imputed covariates' effects are biased towards zero.

Methods (as ``mice``'s of the same name):

``"logreg"``
    A 0/1 column: logistic regression on the observed rows, coefficients drawn
    from their approximate posterior ``N(beta, V)``, then Bernoulli draws.
``"polyreg"``
    A categorical column: multinomial logistic regression fitted to a
    bootstrap sample of the observed rows (so that parameter uncertainty is
    propagated; ``mice``'s polyreg uses the point estimate), then draws from
    the predicted probabilities.
``"pmm"``
    A numeric column (deprivation decile): predictive mean matching (Bayesian
    linear regression draw, type-1 matching, 5 donors), so imputed values are
    values that occur.

The ``m`` imputations are independent chains, each with its own random stream
spawned from ``seed`` (``numpy.random.SeedSequence``), so they can run in
parallel (``n_jobs``, joblib) and give identical datasets whatever ``n_jobs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd
from scipy import special

from reunistat.errors import InputError, ModelError
from reunistat.models.imputation.design_rows import Patterned
from reunistat.models.imputation.multinomial import RIDGE, fit_sample
from reunistat.replicates import ParallelBackend, run_replicates

Method = Literal["logreg", "polyreg", "pmm"]
NA_COL = "_nelson_aalen"
EVENT_COL = "_event"


def nelson_aalen(duration: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Nelson-Aalen cumulative hazard at each row's own follow-up time (``sum d / n``).

    Examples
    --------
    >>> nelson_aalen(np.array([1.0, 2.0, 2.0, 3.0]), np.array([1, 1, 0, 1])).round(4).tolist()
    [0.25, 0.5833, 0.5833, 1.5833]
    """
    t = np.asarray(duration, dtype=float)
    e = np.asarray(event, dtype=float)
    times, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=len(times))
    n_at = np.bincount(inv, minlength=len(times))
    at_risk = np.cumsum(n_at[::-1])[::-1]
    return np.asarray(np.cumsum(d / at_risk)[inv], dtype=float)


def choose_method(s: pd.Series) -> Method:
    """Default method of a column: logreg for 0/1, pmm for other numbers, polyreg otherwise."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals = set(pd.unique(s.dropna()))
        return "logreg" if vals <= {0, 1} else "pmm"
    return "polyreg"


def _design(n: int, blocks: Sequence[np.ndarray]) -> np.ndarray:
    """An imputation model's design: intercept, then the predictors' blocks (:func:`_block`)."""
    return np.hstack([np.ones((n, 1)), *blocks])


def _block(s: pd.Series) -> np.ndarray:
    """A predictor's block of the design: the number, or its dummies (first level dropped)."""
    if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s):
        cats = pd.Categorical(s)
        return (cats.codes[:, None] == np.arange(1, len(cats.categories))).astype(float)
    return s.to_numpy(float)[:, None]


def _logit_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logistic regression by Newton (tiny ridge); returns coefficients and covariance."""
    k = x.shape[1]
    beta = np.zeros(k)
    pen = RIDGE * np.eye(k)
    for _ in range(50):
        p = special.expit(x @ beta)
        w = p * (1 - p)
        info = x.T @ (x * w[:, None]) + pen
        step = np.linalg.solve(info, x.T @ (y - p) - pen @ beta)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = special.expit(x @ beta)
    info = x.T @ (x * (p * (1 - p))[:, None]) + pen
    return beta, np.linalg.inv(info)


def _row_logsumexp(eta: np.ndarray) -> np.ndarray:
    """``log(sum(exp(eta), axis=1))``, stable (scipy's own spends most of its time checking).

    Up to 7 columns, worked a column at a time (:func:`_lse_columns`): reducing
    short rows one by one costs about five times as much. The row sums then add
    the columns in order, first to last, as numpy's own sums of rows of up to 7
    values do, so the result is the same to the bit. Longer rows, which numpy
    sums in an unrolled order, keep its row-by-row sums.

    >>> _row_logsumexp(np.array([[0.0, 0.0], [1000.0, 1000.0]])).round(6).tolist()
    [0.693147, 1000.693147]
    """
    if eta.shape[1] <= 7:
        return _lse_columns(np.asarray(eta, dtype=float))
    rows = np.ascontiguousarray(eta, dtype=float)
    top = rows.max(axis=1)
    return np.asarray(top + np.log(np.exp(rows - top[:, None]).sum(axis=1)), dtype=float)


def _lse_columns(eta: np.ndarray) -> np.ndarray:
    """:func:`_row_logsumexp` of ``eta``'s rows (up to 7 columns), a column at a time, in place.

    The maximum, ``exp(value - maximum)`` and the running sum take one column
    at a time into two vectors: the same operations on the same values as on
    the whole matrix, without its temporaries (at national size each is
    megabytes of fresh pages).
    """
    cols = list(eta.T)
    top = cols[0].copy()
    for c in cols[1:]:
        np.maximum(top, c, out=top)
    total, tmp = np.empty_like(top), np.empty_like(top)
    for j, c in enumerate(cols):
        out = total if j == 0 else tmp
        np.subtract(c, top, out=out)
        np.exp(out, out=out)
        if j:
            total += tmp
    np.log(total, out=total)
    return np.add(top, total, out=total)


def _draw_logreg(
    x_obs: np.ndarray, y_obs: np.ndarray, x_mis: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    beta, cov = _logit_fit(x_obs, y_obs)
    star = beta + np.linalg.cholesky((cov + cov.T) / 2) @ rng.standard_normal(len(beta))
    return (rng.random(len(x_mis)) < special.expit(x_mis @ star)).astype(float)


def _draw_polyreg(
    x_obs: np.ndarray,
    codes_obs: np.ndarray,
    n_cat: int,
    x_mis: np.ndarray,
    rng: np.random.Generator,
    finite: bool | None = None,
    sorted_obs: Patterned | None = None,
) -> np.ndarray:
    """Draw the missing rows' categories (``finite``: whether ``x_obs`` is, if known).

    ``sorted_obs``: ``x_obs`` and ``codes_obs`` sorted by the rows' 0/1 patterns
    (:class:`~reunistat.models.imputation.design_rows.Patterned`), if made.
    """
    boot = rng.integers(0, len(x_obs), len(x_obs))
    obs = x_obs if sorted_obs is None else sorted_obs
    b = fit_sample(obs, codes_obs, n_cat, boot, finite)
    eta = x_mis @ b
    prob = np.exp(eta - _row_logsumexp(eta)[:, None])
    u = rng.random(len(x_mis))
    return np.minimum((np.cumsum(prob, axis=1) < u[:, None]).sum(axis=1), n_cat - 1)


def _draw_pmm(
    x_obs: np.ndarray,
    y_obs: np.ndarray,
    x_mis: np.ndarray,
    rng: np.random.Generator,
    donors: int = 5,
) -> np.ndarray:
    k = x_obs.shape[1]
    xtx = x_obs.T @ x_obs
    v = np.linalg.inv(xtx + RIDGE * np.diag(np.diag(xtx)))
    beta = v @ (x_obs.T @ y_obs)
    resid = y_obs - x_obs @ beta
    sigma = np.sqrt(resid @ resid / rng.chisquare(max(len(y_obs) - k, 1)))
    star = beta + sigma * (np.linalg.cholesky((v + v.T) / 2) @ rng.standard_normal(k))
    yhat_obs, yhat_mis = x_obs @ beta, x_mis @ star
    order = np.argsort(yhat_obs, kind="stable")
    sorted_obs = yhat_obs[order]
    pos = np.searchsorted(sorted_obs, yhat_mis)
    lo = np.clip(pos - donors, 0, len(order) - 2 * donors if len(order) > 2 * donors else 0)
    win = lo[:, None] + np.arange(min(2 * donors, len(order)))[None, :]
    win = np.clip(win, 0, len(order) - 1)
    dist = np.abs(sorted_obs[win] - yhat_mis[:, None])
    nearest = np.argsort(dist, axis=1, kind="stable")[:, :donors]
    pick = nearest[np.arange(len(yhat_mis)), rng.integers(0, nearest.shape[1], len(yhat_mis))]
    return y_obs[order[win[np.arange(len(yhat_mis)), pick]]]


@dataclass(frozen=True)
class _Shared:
    """What every chain reads and none changes: built once by :func:`impute`.

    Only the columns being imputed differ between chains and cycles, so the
    design blocks of the complete predictors, each column's observed values
    and, when none of a column's predictors is imputed, its whole design (split
    into observed and missing rows) are made once, not in every cycle of every
    chain. The chains then compute exactly what they computed from a copy of
    the whole frame.
    """

    frame: pd.DataFrame  # the columns to impute, with their missing values
    methods: dict[str, Method]
    predictors: list[str]
    missing: dict[str, np.ndarray]
    fixed: dict[str, np.ndarray]  # design blocks of the complete predictors
    observed: dict[str, np.ndarray]  # observed values (polyreg: category codes)
    categories: dict[str, np.ndarray]  # polyreg columns' categories
    designs: dict[str, tuple[np.ndarray, np.ndarray]]  # (observed, missing rows) if fixed
    coded: tuple[str, ...] = ()  # categorical polyreg columns: imputed by their codes
    finite: frozenset[str] = frozenset()  # columns whose fixed observed design is all finite
    patterned: Mapping[str, Patterned] = field(default_factory=dict)  # fixed designs, sorted


def _shared(frame: pd.DataFrame, methods: dict[str, Method], predictors: list[str]) -> _Shared:
    """The :class:`_Shared` of an imputation: ``frame`` holds every predictor and column."""
    missing = {c: frame[c].isna().to_numpy() for c in methods}
    fixed = {p: _block(frame[p]) for p in predictors if p not in methods}
    observed, categories, designs = {}, {}, {}
    for c, how in methods.items():
        miss = missing[c]
        if how == "polyreg":
            cats = pd.Categorical(frame[c])
            observed[c], categories[c] = cats.codes[~miss], np.asarray(cats.categories)
        else:
            observed[c] = frame.loc[~miss, c].to_numpy(float)
        others = [p for p in predictors if p != c]
        if miss.any() and all(p in fixed for p in others):
            x = _design(len(frame), [fixed[p] for p in others])
            designs[c] = (x[~miss], x[miss])
    coded = tuple(
        c
        for c, how in methods.items()
        if how == "polyreg" and isinstance(frame[c].dtype, pd.CategoricalDtype)
    )
    finite = frozenset(  # the multinomial fits' check of their bootstrap rows, made once
        c
        for c, (x_obs, _) in designs.items()
        if methods[c] == "polyreg" and np.isfinite(x_obs).all()
    )
    patterned = {
        c: p for c in finite if (p := Patterned.of(designs[c][0], observed[c])) is not None
    }
    return _Shared(
        frame[list(methods)],
        methods,
        predictors,
        missing,
        fixed,
        observed,
        categories,
        designs,
        coded,
        finite,
        patterned,
    )


def _chain_from_seed(seed: np.random.SeedSequence, shared: _Shared, n_iter: int) -> pd.DataFrame:
    """One imputation as a replicate of :func:`reunistat.replicates.run_replicates`."""
    return _one_chain(shared, n_iter, seed)


def _one_chain(shared: _Shared, n_iter: int, seed: np.random.SeedSequence) -> pd.DataFrame:
    """One imputation of the columns: start from random observed values, then ``n_iter`` cycles.

    A categorical column imputed by polyreg is written by its codes (the
    observed values' codes drawn at the start, the category drawn in a cycle):
    the same values as writing the categories themselves into the frame.
    """
    rng = np.random.default_rng(seed)
    work = shared.frame.copy()
    codes = {c: work[c].cat.codes.to_numpy().copy() for c in shared.coded}
    dtypes = {c: cast(pd.CategoricalDtype, work[c].dtype) for c in shared.coded}

    def put(c: str, miss: np.ndarray, values: np.ndarray) -> None:
        codes[c][miss] = values
        work[c] = pd.Categorical.from_codes(codes[c].copy(), dtype=dtypes[c])  # type: ignore[arg-type]

    for c, miss in shared.missing.items():
        if c in codes:
            obs = shared.observed[c]
            put(c, miss, obs[rng.integers(0, len(obs), miss.sum())])
            continue
        obs = work.loc[~miss, c].to_numpy()
        work.loc[miss, c] = obs[rng.integers(0, len(obs), miss.sum())]
    for _ in range(n_iter):
        for c, how in shared.methods.items():
            miss = shared.missing[c]
            if not miss.any():
                continue
            if c in shared.designs:
                x_obs, x_mis = shared.designs[c]
            else:
                others = [p for p in shared.predictors if p != c]
                blocks = [shared.fixed[p] if p in shared.fixed else _block(work[p]) for p in others]
                x = _design(len(work), blocks)
                x_obs, x_mis = x[~miss], x[miss]
            if how == "logreg":
                work.loc[miss, c] = _draw_logreg(x_obs, shared.observed[c], x_mis, rng)
            elif how == "pmm":
                work.loc[miss, c] = _draw_pmm(x_obs, shared.observed[c], x_mis, rng)
            else:
                cats = shared.categories[c]
                known = True if c in shared.finite else None  # else checked in each draw
                drawn = _draw_polyreg(
                    x_obs, shared.observed[c], len(cats), x_mis, rng, known, shared.patterned.get(c)
                )
                if c in codes:
                    put(c, miss, drawn)
                else:
                    work.loc[miss, c] = cats[drawn]
    return work


def impute(
    data: pd.DataFrame,
    columns: Sequence[str] | Mapping[str, Method],
    *,
    duration_col: str | None = "days_followed",
    event_col: str = "reentered",
    predictors: Sequence[str] = (),
    m: int = 20,
    n_iter: int = 10,
    seed: int = 20240331,
    n_jobs: int = 1,
    backend: ParallelBackend | str | None = None,
    copy: bool = True,
) -> list[pd.DataFrame]:
    """Impute missing values of ``columns`` ``m`` times by chained equations.

    Parameters
    ----------
    data : pandas.DataFrame
        The spells, with missing values (NaN / None) in ``columns``.
    columns : sequence of str, or mapping of column to method
        The columns to impute; a mapping sets each one's method (``"logreg"``,
        ``"polyreg"``, ``"pmm"``), else it is chosen by
        :func:`choose_method`.
    duration_col, event_col : str
        Follow-up and re-entry: the imputation model includes the event
        indicator and the Nelson-Aalen cumulative hazard at each spell's
        follow-up (White and Royston 2009). ``None`` for ``duration_col``
        leaves them out.
    predictors : sequence of str
        The complete covariates of the analysis model (and any auxiliary
        ones), also predictors of the imputation model.
    m : int
        Number of imputations.
    n_iter : int
        Cycles through the columns per imputation.
    seed : int
        Seed of the ``m`` independent random streams.
    n_jobs : int
        Imputations run in parallel (joblib); same results for any value.
    backend : ParallelBackend, str or None
        Where they run (:mod:`reunistat.replicates`; ``"dask"`` for a
        cluster); same results on every backend.
    copy : bool
        Each completed dataset a copy of every column of ``data``. With
        ``False`` the columns not imputed are ``data``'s own (shallow copies,
        as :meth:`pandas.DataFrame.copy` with ``deep=False``: a change made in
        place to one of them shows in ``data`` and every dataset); the imputed
        columns are new arrays either way. Fitting a model to each dataset
        reads them only, and finds the unchanged columns are the same memory.

    Returns
    -------
    list of pandas.DataFrame
        ``m`` completed copies of ``data`` (same index and columns).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = pd.DataFrame({"x": rng.integers(0, 2, 200).astype(float),
    ...                   "days_followed": rng.integers(1, 900, 200),
    ...                   "reentered": rng.integers(0, 2, 200)})
    >>> d.loc[:30, "x"] = np.nan
    >>> done = impute(d, ["x"], m=3, n_iter=2, seed=1)
    >>> len(done), int(done[0]["x"].isna().sum())
    (3, 0)
    """
    methods = _methods(data, columns)
    if m < 2:
        raise InputError(f"m (imputations) must be at least 2, got {m}")
    if n_iter < 1:
        raise InputError(f"n_iter must be at least 1, got {n_iter}")
    missing_cols = [c for c in [*methods, *predictors] if c not in data.columns]
    if missing_cols:
        raise InputError(f"the data have no column(s) {missing_cols}")
    incomplete = [c for c in predictors if data[c].isna().any()]
    if incomplete:
        raise InputError(
            f"predictor(s) {incomplete} have missing values: impute them too (columns=)"
        )
    outcome = [] if duration_col is None else [duration_col, event_col]
    used = [c for c in dict.fromkeys([*predictors, *methods, *outcome]) if c in data.columns]
    frame = data[used].copy()
    extra: list[str] = []
    if duration_col is not None:
        for c in (duration_col, event_col):
            if c not in data.columns:
                raise InputError(f"the data have no column {c!r}")
        frame[EVENT_COL] = pd.to_numeric(frame[event_col]).to_numpy(float)
        frame[NA_COL] = nelson_aalen(
            frame[duration_col].to_numpy(float), frame[EVENT_COL].to_numpy(float)
        )
        extra = [EVENT_COL, NA_COL]
    preds = [*dict.fromkeys([*predictors, *methods, *extra])]
    for c in predictors:  # text predictors as categoricals once, not in every cycle
        if c not in methods and not pd.api.types.is_numeric_dtype(frame[c]):
            frame[c] = pd.Categorical(frame[c])
    done = run_replicates(
        _chain_from_seed,
        m,
        seed=seed,
        args=(_shared(frame, methods, preds), n_iter),
        backend=backend,
        n_jobs=n_jobs,
        desc="imputations",
    )
    return [_completed(data, d, copy) for d in done]


def _completed(data: pd.DataFrame, imputed: pd.DataFrame, copy: bool = True) -> pd.DataFrame:
    """``data`` with the imputed columns (in ``data``'s dtypes) in place of its own.

    ``copy=False``: the other columns are ``data``'s (a shallow copy; putting the
    imputed columns in it does not change ``data``).
    """
    out = data.copy(deep=copy)
    for c in imputed.columns:
        out[c] = imputed[c].astype(data[c].dtype)
    return out


def _methods(
    data: pd.DataFrame, columns: Sequence[str] | Mapping[str, Method]
) -> dict[str, Method]:
    """Each column's method, checked."""
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, Mapping):
        out = dict(columns)
    else:
        out = {c: choose_method(data[c]) if c in data.columns else "pmm" for c in columns}
    if not out:
        raise InputError("columns: name at least one column to impute")
    for c, how in out.items():
        if how not in ("logreg", "polyreg", "pmm"):
            raise InputError(f"method of {c!r} must be 'logreg', 'polyreg' or 'pmm', got {how!r}")
        if c in data.columns and data[c].notna().sum() < 2:
            raise ModelError(
                f"column {c!r} has fewer than 2 observed values: nothing to impute from"
            )
    return out
