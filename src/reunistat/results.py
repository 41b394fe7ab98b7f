"""Result objects shared by every model: tidy(), glance(), confint(), provenance.

A model function fits and returns a frozen :class:`ModelResult`; the result
never refits. Column names follow broom: ``term, estimate, std_error,
statistic, p_value, conf_low, conf_high``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata as md
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from reunistat import _rowhash
from reunistat.errors import InputError

#: Columns of every ``tidy()`` frame, in order (broom's names).
TIDY_COLUMNS = ("term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high")
#: The one output vocabulary of curve tables and horizon tables: a model's
#: curve or horizon table uses these names for what they mean (and only these):
#: ``n_risk`` (weighted number at risk), ``n_events``, ``n_censored``,
#: ``surv`` (still home: no event of any type), ``cumulative_incidence`` (of
#: re-entry) with ``std_error``, ``conf_low`` and ``conf_high`` (its standard
#: error and interval); ``horizon_days`` for a horizon. Per-cause columns of a
#: competing-risks curve add ``_<cause>`` (``cumulative_incidence_1``, ...).
CURVE_COLUMNS = (
    "group",
    "time",
    "n_risk",
    "n_events",
    "n_censored",
    "surv",
    "cumulative_incidence",
    "std_error",
    "conf_low",
    "conf_high",
)
HORIZON_COLUMNS = (
    "group",
    "horizon_days",
    "n_risk",
    "cumulative_incidence",
    "conf_low",
    "conf_high",
)
_VERSIONED = ("reunistat", "numpy", "pandas", "scipy", "statsmodels", "lifelines", "scikit-learn")


def data_hash(
    df: pd.DataFrame,
    columns: Collection[str] | None = None,
    coded: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    hashes: Mapping[str, np.ndarray] | None = None,
) -> str:
    """Return a SHA-256 of a DataFrame's values, index and column names.

    Stable across runs and machines for the same data and column order.
    ``columns`` restricts it to those columns (in ``df``'s order, the index
    kept): the same as hashing ``df[[c for c in df.columns if c in columns]]``,
    without the copy. The digest is of pandas' row hashes (``pd.util.hash_pandas_object(df,
    index=True)``), computed column by column as pandas does; columns of
    Python strings are hashed without pandas' categorisation when most of
    their values are distinct (same values, less work: :func:`_string_hash`).
    ``coded`` gives, for some text columns, their codes over ``df``'s rows and
    distinct values (``pd.factorize(column, sort=False)``, already made by the
    caller): pandas' hash is then taken from them without factorising again.
    ``hashes`` gives, for some columns, their hash already made
    (:func:`column_hash` of the same values), used as it is.

    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> data_hash(a) == data_hash(a.copy()), data_hash(a) == data_hash(a + 1)
    (True, False)
    """
    keep = None if columns is None else [c in set(columns) for c in df.columns]
    h = hashlib.sha256()
    h.update(
        "\x1f".join(str(c) for j, c in enumerate(df.columns) if keep is None or keep[j]).encode()
    )
    h.update(_row_hashes(df, keep, coded, hashes).tobytes())
    return h.hexdigest()


def column_hash(col: pd.Series) -> np.ndarray:
    """Return the hash :func:`data_hash` combines for a column (pandas' ``hash_array`` of it).

    >>> f = pd.DataFrame({"a": ["x", "y"], "b": [1.5, 2.0]})
    >>> data_hash(f, hashes={"a": column_hash(f["a"]), "b": column_hash(f["b"])}) == data_hash(f)
    True
    """
    plain = _rowhash.plain_values(col.to_numpy()) if isinstance(col.dtype, np.dtype) else None
    return _rowhash.hash_plain(plain) if plain is not None else _column_hash(col)


def _row_hashes(
    df: pd.DataFrame,
    keep: list[bool] | None = None,
    coded: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    hashes: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Return ``pd.util.hash_pandas_object(df, index=True).to_numpy()``, the same values.

    Combines the column hashes and the index hash as pandas'
    ``combine_hash_arrays`` does (CPython's tuple hash), in place.

    >>> f = pd.DataFrame({"a": ["x", None, "y"], "b": [1.5, 2.0, None]}, index=[3, 1, 2])
    >>> bool((_row_hashes(f) == pd.util.hash_pandas_object(f).to_numpy()).all())
    True
    """
    if not isinstance(df, pd.DataFrame):
        return pd.util.hash_pandas_object(df, index=True).to_numpy()
    known = coded if coded and df.columns.is_unique else {}
    made = hashes if hashes and df.columns.is_unique else {}
    items: list[tuple[np.ndarray, bool]] = []  # plain numeric values are hashed in blocks
    for j in range(df.shape[1]):
        if (keep is None or keep[j]) and df.columns[j] in made:
            items.append((made[df.columns[j]], False))
        elif keep is None or keep[j]:
            col = df.iloc[:, j]
            numpy_backed = isinstance(col.dtype, np.dtype) and df.columns[j] not in known
            plain = _rowhash.plain_values(col.to_numpy()) if numpy_backed else None
            if plain is not None:
                items.append((plain, True))
            else:
                items.append((_column_hash(col, known.get(df.columns[j])), False))
    index = _rowhash.index_values(df.index)
    if index is not None:
        items.append((index, True))
    else:
        items.append((pd.util.hash_pandas_object(df.index, index=False).to_numpy(), False))
    return _rowhash.combine(items, len(df))


def _column_hash(col: pd.Series, coded: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Return pandas' hash of one column's values (``hash_array(col._values)``).

    With ``coded`` (the text column's codes and distinct values, as
    ``pd.factorize(values, sort=False)`` gives them), the hash is pandas' own
    for a text column, which factorises it and hashes the categorical.

    >>> s = pd.Series(["b", None, "a", "b"])
    >>> codes, uniques = pd.factorize(s.to_numpy(), sort=False)
    >>> bool((_column_hash(s, (codes, uniques)) == _column_hash(s)).all())
    True
    """
    if coded is not None and col.dtype == object and len(coded[0]) == len(col):
        dtype = pd.CategoricalDtype(pd.Index(coded[1]), ordered=False)
        cat = pd.Categorical.from_codes(coded[0], dtype=dtype)  # type: ignore[arg-type]
        return pd.util.hash_array(cat)
    values = col.to_numpy() if col.dtype == object else None
    if values is not None and len(values) > 1000:
        fast = _string_hash(values)
        if fast is not None:
            return fast
    return pd.util.hash_pandas_object(col, index=False).to_numpy()


def _string_hash(values: np.ndarray) -> np.ndarray | None:
    """Hash an object array of strings (and missing values) as pandas does, or return None.

    pandas first factorises an object column and hashes each distinct value
    once; with mostly distinct values (child identifiers) that costs about
    five times hashing each value directly, which gives the same numbers
    (each value's hash depends on that value only; a missing value hashes to
    the largest uint64, as pandas' categorical path gives it). Columns that
    are not all strings, or have many repeats, go through pandas.
    """
    from pandas.api.types import infer_dtype

    head = values[:10_000]
    if len(pd.unique(head)) < len(head) // 2:  # many repeats: pandas' path is faster
        return None
    if infer_dtype(values, skipna=True) != "string":
        return None
    out: np.ndarray = pd.util.hash_array(values, categorize=False)
    if infer_dtype(values, skipna=False) != "string":
        out[pd.isna(values)] = np.iinfo(np.uint64).max
    return out


def package_versions() -> dict[str, str]:
    """Return the installed versions of reunistat and the engines it uses.

    The package metadata is read once per process (a new dictionary each call).
    """
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    from reunistat import __version__

    out = {"reunistat": __version__}  # the one source, even in a stale editable install
    for name in _VERSIONED[1:]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return tuple(out.items())


@dataclass(frozen=True)
class Provenance:
    """What made a result: the data, the call and the software."""

    function: str
    data_sha256: str
    formula: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=package_versions)

    def as_dict(self) -> dict[str, Any]:
        """Return the provenance as a JSON-ready dictionary."""
        return {
            "function": self.function,
            "data_sha256": self.data_sha256,
            "formula": self.formula,
            "options": {k: jsonable(v) for k, v in self.options.items()},
            "versions": dict(self.versions),
        }


def jsonable(v: Any) -> Any:
    """Return ``v`` as JSON-ready data: scalars kept, lists and dicts converted, others as repr.

    >>> jsonable({"a": (1, 2), "b": None})
    {'a': [1, 2], 'b': None}
    """
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    return repr(v)


_jsonable = jsonable  # the older private name (pipeline.context); use jsonable


def restamp(
    result: ModelResult, function: str, model: str | None = None, **options: Any
) -> ModelResult:
    """Return ``result`` with provenance naming ``function`` (and ``model``) and more options.

    For a model function built on another (Andersen-Gill on Cox, a design on a
    logistic fit): the result then says which function made it.
    """
    p = result.provenance
    prov = Provenance(
        function=function,
        data_sha256=p.data_sha256,
        formula=p.formula,
        options={**p.options, **options},
        versions=p.versions,
    )
    out = dataclasses.replace(result, provenance=prov)
    return out if model is None else dataclasses.replace(out, model=model)


@dataclass(frozen=True)
class ModelResult:
    """A fitted model's estimates, their covariance and its fit statistics.

    Parameters
    ----------
    model : str
        A short name of the model ("cox", "fine_gray", "logistic", ...).
    params : pandas.Series
        Estimates on the linear-predictor scale, indexed by term.
    cov : pandas.DataFrame
        Their variance-covariance matrix (robust if ``vcov_type`` says so).
    vcov_type : str
        How ``cov`` was computed ("model", "robust", "cluster(child_id)").
    n_obs : int
        Rows used in the fit.
    n_events : int or None
        Events (survival) or positive outcomes (logistic).
    fit_stats : dict
        Log-likelihood, AIC, concordance and the like, for :meth:`glance`.
    provenance : Provenance
        What made the result.
    dist : {"normal", "t"}
        Reference distribution for tests and intervals.
    df_resid : float or None
        Residual degrees of freedom when ``dist == "t"``.
    exp_label : str
        The name of exponentiated estimates ("HR", "OR", "SHR").
    extras : dict
        Model-specific objects (baseline hazard, residuals, ...).
    """

    model: str
    params: pd.Series
    cov: pd.DataFrame
    vcov_type: str
    n_obs: int
    n_events: int | None
    fit_stats: dict[str, float]
    provenance: Provenance
    dist: Literal["normal", "t"] = "normal"
    df_resid: float | None = None
    exp_label: str = "exp(estimate)"
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors: the square roots of the covariance diagonal."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index)

    def _quantile(self, conf_level: float) -> float:
        from scipy import stats  # on use: the spells' hash (data_hash) needs no scipy.stats

        q = 0.5 + conf_level / 2
        if self.dist == "t" and self.df_resid is not None:
            return float(stats.t.ppf(q, self.df_resid))
        return float(stats.norm.ppf(q))

    def tidy(self, exponentiate: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
        """Return one row per term: estimate, error, test and confidence interval.

        With ``exponentiate=True`` the estimate and interval are exponentiated
        (hazard or odds ratios); ``std_error`` stays on the linear scale, as in
        broom.
        """
        if not 0 < conf_level < 1:
            raise InputError(f"conf_level must lie strictly between 0 and 1, got {conf_level}")
        est = self.params.to_numpy(dtype=float)
        se = self.std_errors.to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = est / se
        from scipy import stats

        if self.dist == "t" and self.df_resid is not None:
            p = 2 * stats.t.sf(np.abs(z), self.df_resid)
        else:
            p = 2 * stats.norm.sf(np.abs(z))
        q = self._quantile(conf_level)
        lo, hi = est - q * se, est + q * se
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        values = (self.params.index.astype(str), est, se, z, p, lo, hi)
        return pd.DataFrame(dict(zip(TIDY_COLUMNS, values, strict=True)))

    def confint(self, conf_level: float = 0.95, exponentiate: bool = False) -> pd.DataFrame:
        """Return the confidence interval of each term, indexed by term."""
        t = self.tidy(exponentiate=exponentiate, conf_level=conf_level)
        return t.set_index("term")[["conf_low", "conf_high"]]

    def glance(self) -> pd.DataFrame:
        """Return a one-row summary: model, n, events and the fit statistics."""
        row: dict[str, Any] = {
            "model": self.model,
            "n_obs": self.n_obs,
            "n_events": self.n_events,
            "vcov_type": self.vcov_type,
        }
        row.update(self.fit_stats)
        return pd.DataFrame([row])

    def summary_text(self, exponentiate: bool = True, digits: int = 3) -> str:
        """Return the readable printout of the result."""
        t = self.tidy(exponentiate=exponentiate)
        t = t.rename(columns={"estimate": self.exp_label if exponentiate else "estimate"})
        head = [
            f"reunistat {self.model} model",
            f"  formula: {self.provenance.formula}",
            f"  observations: {self.n_obs:,}"
            + (f"   events: {self.n_events:,}" if self.n_events is not None else ""),
            f"  variance: {self.vcov_type}",
        ]
        stats_line = ", ".join(f"{k} = {v:.{digits + 1}g}" for k, v in self.fit_stats.items())
        if stats_line:
            head.append(f"  {stats_line}")
        body = t.to_string(index=False, float_format=lambda x: f"{x:.{digits}f}")
        return "\n".join(head) + "\n\n" + body

    def __str__(self) -> str:
        return self.summary_text()


def etable(
    results: dict[str, ModelResult] | list[ModelResult],
    exponentiate: bool = True,
    digits: int = 2,
    stats: tuple[str, ...] | list[str] = (),
    show: Literal["ci", "se"] = "ci",
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Lay several fitted models side by side, one column per model.

    Each cell reads ``estimate (conf_low, conf_high)`` (``show="ci"``) or
    ``estimate (std_error)`` (``show="se"``); fit statistics follow the terms.
    Terms missing from a model are left blank.

    Parameters
    ----------
    results : dict of str to ModelResult, or list of ModelResult
        The models; dictionary keys become column names.
    exponentiate : bool
        Show exponentiated estimates and limits (HR, OR).
    digits : int
        Decimal places.
    stats : sequence of str
        Keys of ``fit_stats`` to add as rows after N, events and variance
        (e.g. ``"aic"``, ``"auc"``, ``"n_excluded_censored"``, ``"mor"``);
        blank for models without them.
    show : {"ci", "se"}
        What the parentheses hold.
    labels : dict of str to str, optional
        Display names of terms (e.g. ``{"section20": "Section 20"}``).
    """
    if show not in ("ci", "se"):
        raise InputError(f"show must be 'ci' or 'se', got {show!r}")
    items = (
        results.items()
        if isinstance(results, dict)
        else ((f"({i + 1}) {r.model}", r) for i, r in enumerate(results))
    )
    fmt = f".{digits}f"
    cols: dict[str, pd.Series] = {}
    for name, r in items:
        t = r.tidy(exponentiate=exponentiate).set_index("term")
        if show == "ci":
            cells = t.apply(
                lambda s: f"{s.estimate:{fmt}} ({s.conf_low:{fmt}}, {s.conf_high:{fmt}})", axis=1
            )
        else:
            cells = t.apply(lambda s: f"{s.estimate:{fmt}} ({s.std_error:{fmt}})", axis=1)
        g = r.glance().iloc[0]
        events = g["n_events"]
        extra = {
            "N": f"{int(g['n_obs']):,}",
            "events": "" if events is None or pd.isna(events) else f"{int(events):,}",
            "variance": str(g["vcov_type"]),
        }
        for key in stats:
            v = r.fit_stats.get(key)
            extra[key] = "" if v is None else f"{float(v):.{max(digits, 3)}g}"
        cols[name] = pd.concat([cells, pd.Series(extra)])
    table = pd.DataFrame(cols).fillna("")
    stat_rows = ["N", "events", "variance", *stats]
    order = [t for t in table.index if t not in stat_rows] + stat_rows
    table = table.loc[order]
    if labels:
        table = table.rename(index=labels)
    return table
