"""Prediction checks of a logistic re-entry model, by cross-validation (scikit-learn).

Reports discrimination (AUC), accuracy (Brier score) and calibration
(intercept: calibration-in-the-large, ideal 0; slope: ideal 1, below 1 means
over-fitted) of out-of-fold predicted probabilities, and a calibration table
and plot. A penalised (ridge, lasso) fit is an option.

These checks describe how well a model summarises re-entry in a *population*
of returns home. A well-calibrated model with an AUC around 0.6-0.7 (typical
here: Wulczyn et al. report 0.61) sorts groups, not children: these models are
not for decisions about an individual child, and must not be used to score one.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reunistat.horizons import DEFAULT_HORIZON_DAYS
from reunistat.models import _options
from reunistat.models.logistic._errors import LogisticInputError
from reunistat.models.logistic.design import Design, build_design
from reunistat.models.logistic.fit import _unique_index, irls
from reunistat.models.logistic.outcome import Competing
from reunistat.results import Provenance

Penalty = Literal["none", "l2", "l1"]


@dataclass(frozen=True)
class PredictionCheck:
    """Out-of-fold prediction metrics of a logistic re-entry model.

    Attributes
    ----------
    metrics : pandas.DataFrame
        One row per fold (unless ``fold_metrics=False``) and a row ``pooled``
        (all out-of-fold predictions):
        ``n, events, auc, brier, calibration_intercept, calibration_slope``.
    calibration : pandas.DataFrame
        Pooled out-of-fold predictions in ``n_bins`` groups of predicted risk:
        ``bin, n, mean_predicted, observed_rate`` (made when first read).
    predicted : pandas.Series
        The out-of-fold probability of each spell used, indexed as the data.
    provenance : Provenance
        What made the check.
    """

    metrics: pd.DataFrame
    predicted: pd.Series = field(repr=False)
    provenance: Provenance
    #: The out-of-fold predictions, the outcome and ``n_bins`` the calibration is made from.
    binned: tuple[np.ndarray, np.ndarray, int] = field(repr=False, compare=False)

    @cached_property
    def calibration(self) -> pd.DataFrame:
        """The calibration table (:func:`_calibration`), made on the first read."""
        return _calibration(*self.binned)

    def plot(self, ax: Any = None) -> Any:
        """Draw the calibration plot (observed vs predicted by risk group) and return the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 4.5))
        c = self.calibration
        top = float(max(c["mean_predicted"].max(), c["observed_rate"].max()) * 1.1)
        ax.plot([0, top], [0, top], color="grey", lw=1, ls="--", label="perfect calibration")
        ax.plot(c["mean_predicted"], c["observed_rate"], "o-", label="cross-validated")
        pooled = self.metrics.set_index("fold").loc["pooled"]
        ax.set_title(
            f"AUC {pooled['auc']:.3f}, slope {pooled['calibration_slope']:.2f}, "
            f"intercept {pooled['calibration_intercept']:.2f}",
            fontsize=9,
        )
        ax.set_xlabel("predicted probability of re-entry (group mean)")
        ax.set_ylabel("observed re-entry rate")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.legend(loc="upper left", fontsize=8)
        return ax

    def summary_text(self) -> str:
        """Return a readable printout."""
        return (
            "reunistat prediction checks (out-of-fold; describes populations, not for "
            "decisions about an individual child)\n"
            f"  formula: {self.provenance.formula}\n"
            f"  options: {self.provenance.options}\n\n"
            + self.metrics.to_string(index=False, float_format=lambda x: f"{x:.3f}")
        )

    def __str__(self) -> str:
        return self.summary_text()


def calibration_intercept_slope(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Return the calibration intercept and slope of predicted probabilities.

    Slope: the coefficient of ``logit(p)`` in a logistic regression of ``y``
    on it. Intercept: calibration-in-the-large, the intercept of a logistic
    regression of ``y`` with ``logit(p)`` as an offset (0 when the mean
    predicted risk is right).
    """
    lp = logit(np.clip(p, 1e-12, 1 - 1e-12))
    slope = float(irls(np.column_stack([np.ones_like(lp), lp]), y).params[1])
    a = 0.0
    for _ in range(100):
        q = expit(a + lp)
        step = (y - q).sum() / (q * (1 - q)).sum()
        a += step
        if abs(step) < 1e-12:
            break
    return a, slope


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float | int]:
    ci, cs = calibration_intercept_slope(y, p)
    return {
        "n": len(y),
        "events": int(y.sum()),
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "calibration_intercept": ci,
        "calibration_slope": cs,
    }


def _estimator(penalty: Penalty, C: float, seed: int) -> Any:
    if penalty == "none":
        return LogisticRegression(C=np.inf, max_iter=1000, tol=1e-8)
    if penalty == "l2":
        return LogisticRegression(C=C, l1_ratio=0.0, max_iter=1000, tol=1e-8)
    return LogisticRegression(
        C=C, l1_ratio=1.0, solver="saga", max_iter=5000, tol=1e-6, random_state=seed
    )


def standardise(X: np.ndarray, *, transform: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The mean and scale that scikit-learn's ``StandardScaler().fit(X)`` learns.

    The arithmetic of its fit on a dense float array with no missing value
    (``_incremental_mean_and_var`` from nothing seen, then
    ``_is_constant_feature`` and ``_handle_zeros_in_scale``), operation for
    operation, so the same bits; without its input checks and its passes for
    missing values. ``(X - mean) / scale`` is then its ``transform``.

    ``transform=True`` also writes that transform over ``X``, centring it with the
    subtraction the variance is computed from (the same values: the centre is
    ``mean`` to the bit unless a column sums to -0.0, which goes the long way).
    """
    seen = np.zeros(X.shape[1])  # n_samples_seen_ before the first batch, as float
    new_sum = _column_sums(X)
    new_count = X.shape[0] - np.zeros(X.shape[1])  # no missing value to leave out
    count = seen + new_count
    mean = (0.0 * seen + new_sum) / count
    centre = new_sum / new_count
    in_place = transform and centre.tobytes() == mean.tobytes()
    temp = np.subtract(X, centre, out=X if in_place else None)
    correction = _column_sums(temp)
    squares = np.square(temp, out=None if in_place else temp)
    unnormalised = _column_sums(squares)
    del squares
    unnormalised -= correction**2 / new_count
    var = unnormalised / count  # the first batch's own (nothing seen before it)
    n = count[0]
    eps = np.finfo(np.float64).eps
    scale = np.sqrt(var)
    scale[var <= n * eps * var + (n * mean * eps) ** 2] = 1.0  # constant columns
    if in_place:
        np.divide(X, scale, out=X)
    elif transform:
        _scaled(X, mean, scale)
    return mean, scale


def _column_sums(X: np.ndarray) -> np.ndarray:
    """``np.sum(X, axis=0)`` to the bit: each column summed row after row, in order.

    For a row-major array of 2+ columns by ``einsum`` (which adds each row to the
    sums, as ``np.sum`` does along axis 0 of such an array, in half the time);
    anything else (one column: pairwise) by ``np.sum``.

    >>> X = np.array([[1e16, 1.0], [1.0, 2.0], [-1e16, 3.0]])
    >>> _column_sums(X).tolist() == np.sum(X, axis=0).tolist() == [0.0, 6.0]
    True
    """
    if X.ndim == 2 and X.shape[1] >= 2 and X.flags.c_contiguous and X.flags.aligned:
        return np.einsum("ij->j", X)
    return np.sum(X, axis=0)


def _fit_predict(
    penalty: Penalty,
    C: float,
    seed: int,
    X_tr: np.ndarray,
    y_tr: np.ndarray,
    X_te: np.ndarray,
    finite: bool | None = None,
) -> np.ndarray:
    """``make_pipeline(StandardScaler(), estimator).fit(X_tr, y_tr).predict_proba(X_te)[:, 1]``.

    The scaler by :func:`standardise` (the same numbers), written over ``X_tr``
    and ``X_te`` (the caller's copies, e.g. ``X[tr]``); a design that is not
    finite goes through scikit-learn's own scaler (which rejects it).
    ``finite``: whether both are finite, if the caller knows.
    """
    est = _estimator(penalty, C, seed)
    if finite is None:
        finite = bool(np.isfinite(X_tr).all() and np.isfinite(X_te).all())
    if not finite:
        est = make_pipeline(StandardScaler(), est).fit(X_tr, y_tr)
        return np.asarray(est.predict_proba(X_te)[:, 1])
    mean, scale = standardise(X_tr, transform=True)
    with config_context(assume_finite=True):  # known finite: no pass of sklearn's to check
        est.fit(X_tr, y_tr)
        return np.asarray(est.predict_proba(_scaled(X_te, mean, scale))[:, 1])


def _scaled(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(X - mean) / scale`` written over ``X``: the same values, no new arrays."""
    np.subtract(X, mean, out=X)
    np.divide(X, scale, out=X)
    return X


def _constant(y: np.ndarray) -> bool:
    """True if the 0/1 outcome ``y`` takes one value (``len(np.unique(y)) < 2``, without a sort)."""
    return len(y) == 0 or bool(y.min() == y.max())


def _check(penalty: str, C: float, n_splits: int, n_bins: int) -> None:
    if penalty not in ("none", "l2", "l1"):
        raise LogisticInputError(f"penalty must be 'none', 'l2' or 'l1', got {penalty!r}")
    if not (isinstance(C, (int, float)) and C > 0):
        raise LogisticInputError(f"C (inverse penalty strength) must be positive, got {C!r}")
    if not (isinstance(n_splits, int) and n_splits >= 2):
        raise LogisticInputError(f"n_splits must be a whole number >= 2, got {n_splits!r}")
    if not (isinstance(n_bins, int) and n_bins >= 2):
        raise LogisticInputError(f"n_bins must be a whole number >= 2, got {n_bins!r}")


def prediction_checks(
    formula: str,
    data: pd.DataFrame,
    *,
    outcome_col: str | None = None,
    duration_col: str = "days_followed",
    event_col: str = "reentered",
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    competing: Competing = "exclude",
    potential_followup_col: str | None = None,
    n_splits: int = 5,
    folds_by: str | None = None,
    penalty: Penalty = "none",
    C: float = 1.0,
    n_bins: int = 10,
    seed: int = 0,
    fold_metrics: bool = True,
    **deprecated: Any,
) -> PredictionCheck:
    """Cross-validate a logistic re-entry model: AUC, Brier, calibration intercept and slope.

    Population-level checks; not for decisions about an individual child.

    Parameters
    ----------
    formula, data, outcome_col, duration_col, event_col, horizon_days, competing
        As for :func:`~reunistat.models.logistic.logistic`.
    potential_followup_col : str, optional
        As for :func:`~reunistat.models.logistic.logistic`. The design
        (category levels, spline knots) is built once from all the spells'
        covariates, which uses no outcome information; coefficients are
        learnt on each training fold.
    n_splits : int
        Number of folds.
    folds_by : str, optional
        Keep each value of this column (e.g. "LA") within one fold: checks how
        the model carries to authorities it has not seen. Default: folds
        stratified by the outcome. (Replaces ``group=``, deprecated: these are
        folds, not clusters of a variance.)
    penalty : {"none", "l2", "l1"}
        Unpenalised maximum likelihood, ridge or lasso (on standardised
        covariates; the intercept is not penalised).
    C : float
        Inverse penalty strength (scikit-learn's ``C``) when penalised.
    n_bins : int
        Risk groups (equal counts) in the calibration table and plot.
    seed : int
        Seed of the fold assignment (and of the lasso solver).
    fold_metrics : bool
        Also a row of metrics per fold (default); False gives the pooled row
        only (the same numbers, without five more AUCs and calibrations).
    **deprecated
        The older spelling group=, with a :class:`DeprecationWarning`.
    """
    group = _options.take_deprecated("prediction_checks", deprecated, {"group": "folds_by="}).get(
        "group", folds_by
    )
    return _checks(formula, data, (group,), locals())[0]


def prediction_checks_by(
    formula: str, data: pd.DataFrame, folds_by: Sequence[str | None], **options: Any
) -> list[PredictionCheck]:
    """:func:`prediction_checks` with each fold assignment in ``folds_by``, from one design.

    ``folds_by``: for each check, None (folds stratified by the outcome) or a
    column whose values each stay within one fold. ``options``: the other
    keywords of :func:`prediction_checks`, with its defaults. Returns the same
    checks as a call of :func:`prediction_checks` for each, in that order: the
    design is built once (a column of ``folds_by`` with no missing value on
    the design's rows leaves the same rows; one with missing values has its
    own design, without those rows).
    """
    bound = inspect.signature(prediction_checks).bind(formula, data, **options)
    unknown = list(bound.arguments.get("deprecated", {}))  # group= too: folds_by is given
    if unknown:
        raise TypeError(f"prediction_checks_by() got unexpected keyword(s) {unknown}")
    bound.apply_defaults()
    return _checks(formula, data, tuple(folds_by), bound.arguments)


def _checks(
    formula: str, data: pd.DataFrame, folds_by: tuple[str | None, ...], o: Mapping[str, Any]
) -> list[PredictionCheck]:
    """The checks for each of ``folds_by``, with ``o`` the keywords of :func:`prediction_checks`."""
    penalty, C, n_splits, n_bins, seed = (
        o[k] for k in ("penalty", "C", "n_splits", "n_bins", "seed")
    )
    _check(penalty, C, n_splits, n_bins)
    for c in folds_by:
        if c is not None and c not in data.columns:
            raise LogisticInputError(f"data has no column {c!r}")
    data = _unique_index(data)
    design_keys = ("outcome_col", "duration_col", "event_col", "horizon_days", "competing")
    options = {k: o[k] for k in (*design_keys, "potential_followup_col")}
    options["function"] = "prediction_checks"
    shared = build_design(formula, data, **options)
    covariates = _covariates(shared)
    out = []
    for group in folds_by:
        d, X, finite = shared, *covariates
        if group is not None and shared.frame[group].isna().to_numpy().any():
            d = build_design(formula, data, extra_cols=(group,), **options)  # fewer rows
            X, finite = _covariates(d)
        oof, metrics = _cross_validated(
            d, X, finite, group, n_splits, penalty, C, seed, o["fold_metrics"]
        )
        out.append(
            PredictionCheck(
                metrics=metrics,
                predicted=pd.Series(oof, index=d.frame.index, name="predicted"),
                binned=(oof.copy(), d.y, n_bins),  # its own copy: predicted may be changed
                provenance=Provenance(
                    function="reunistat.models.logistic.prediction_checks",
                    data_sha256=d.data_sha256(data, group),
                    formula=d.formula,
                    options={
                        "horizon_days": o["horizon_days"],
                        "n_splits": n_splits,
                        "group": group,
                        "penalty": penalty,
                        "C": C,
                        "n_bins": n_bins,
                        "seed": seed,
                        "competing": o["competing"],
                    },
                ),
            )
        )
    return out


def _covariates(d: Design) -> tuple[np.ndarray, bool]:
    """The design without its intercept, row-major, and whether it is finite."""
    # take() keeps a row-major design row-major (d.X[:, cols] makes it column-major): each
    # fold gathers whole rows, X[tr] as C-contiguous as before, the same values
    X = d.X.take([i for i, t in enumerate(d.terms) if t != "Intercept"], axis=1)
    return X, bool(np.isfinite(X).all())  # once, not for each fold's rows


def _cross_validated(
    d: Design,
    X: np.ndarray,
    finite: bool,
    group: str | None,
    n_splits: int,
    penalty: Penalty,
    C: float,
    seed: int,
    fold_metrics: bool,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Out-of-fold predictions of ``d.y`` and their metrics (by fold if asked, and pooled)."""
    y = d.y
    if group is None:
        splitter: Any = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(np.zeros(len(y)), y)
    else:
        # GroupKFold shuffles the sorted distinct groups (np.unique) and finds each fold's
        # rows with np.isin: integer codes in the sorted order of the values (not of a
        # categorical's categories) give the same folds without comparing text
        groups, n_groups = _options.sorted_codes(pd.Series(d.frame[group].to_numpy()))
        if n_groups < n_splits:
            raise LogisticInputError(f"{n_splits} folds need {n_splits}+ groups in {group!r}")
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        folds = splitter.split(np.zeros(len(y)), y, groups=groups)
    oof = np.full(len(y), np.nan)
    rows = []
    for k, (tr, te) in enumerate(folds, start=1):
        y_tr = y.take(tr)
        if _constant(y_tr) or _constant(y[te]):
            raise LogisticInputError(f"fold {k} has only one outcome value; use fewer folds")
        X_tr, X_te = _rows(X, tr), _rows(X, te)
        oof[te] = _fit_predict(penalty, C, seed, X_tr, y_tr, X_te, finite)
        if fold_metrics:
            rows.append({"fold": str(k), **_metrics(y[te], oof[te])})
    rows.append({"fold": "pooled", **_metrics(y, oof)})
    return oof, pd.DataFrame(rows)


def _rows(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``X[rows]``: by ``take`` for a row-major ``X`` (the same row-major array, faster)."""
    return X.take(rows, axis=0) if X.flags.c_contiguous else X[rows]


def _calibration(oof: np.ndarray, y: np.ndarray, n_bins: int) -> pd.DataFrame:
    """The predictions in ``n_bins`` groups of equal counts: size, mean prediction, rate."""
    bins = pd.qcut(pd.Series(_first_ranks(oof)), n_bins, labels=range(1, n_bins + 1))
    return (
        pd.DataFrame({"bin": bins.to_numpy(), "p": oof, "y": y})
        .groupby("bin", observed=True)
        .agg(n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
        .reset_index()
    )


def _first_ranks(p: np.ndarray) -> np.ndarray:
    """``pd.Series(p).rank(method="first").to_numpy()``: ranks 1..n, ties in order of the rows.

    From one stable sort (the same ranks, whole numbers as floats); with a
    missing value pandas ranks them.

    >>> _first_ranks(np.array([0.3, 0.1, 0.3, 0.2])).tolist()
    [3.0, 1.0, 4.0, 2.0]
    """
    if np.isnan(p).any():
        return pd.Series(p).rank(method="first").to_numpy()
    ranks = np.empty(len(p))
    ranks[np.argsort(p, kind="stable")] = np.arange(1, len(p) + 1, dtype=float)
    return ranks
