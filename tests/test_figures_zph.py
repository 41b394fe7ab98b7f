"""The smoothed scaled-Schoenfeld plot against R's plot.cox.zph (survival 3.8-11).

Reference: tests/reference/survival/zph_plot.R on synthetic_spells.csv (1,459 events,
whole-day ties, a 5-level factor).
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from reunistat.errors import InputError
from reunistat.models.logistic import logistic
from reunistat.models.survival import cox
from reunistat.report.zph_figure import _scaled, natural_spline_basis, zph_figure, zph_smooth

REF = Path(__file__).parent / "reference" / "survival"


@cache
def ref() -> dict:
    return json.loads((REF / "zph_plot.json").read_text())


@cache
def spells() -> pd.DataFrame:
    return pd.read_csv(REF / "synthetic_spells.csv")


def fit(**kw: object):
    return cox("~ " + ref()["formula"], spells(), "days_followed", "reentered", **kw)


def close(a: object, b: object, tol: float = 1e-9) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize(
    ("key", "kw", "df", "terms"),
    [
        ("efron", {}, 4, True),
        ("efron_cluster_df5", {"cluster": "CHILD"}, 5, True),
        ("strata_la", {"strata": "LA"}, 4, True),
        ("breslow_coefficients", {"ties": "breslow"}, 4, False),
    ],
)
def test_smooth_equals_plot_cox_zph(key: str, kw: dict, df: int, terms: bool) -> None:
    r = ref()[key]
    res = fit(**kw)
    sm = zph_smooth(res, df=df, terms=terms)
    names = list(pd.unique(sm["term"]))
    assert len(names) == len(r["terms"]) == len(r["curves"])
    _, var, const, _ = _scaled(res, terms)
    close(var, r["var"])
    for name, cv in zip(names, r["curves"], strict=True):
        g = sm.loc[sm["term"] == name]
        assert len(g) == 40
        close(g["x"], cv["x"])
        close(g["beta_t"], cv["yhat"])
        close(g["conf_low"], cv["lower"])
        close(g["conf_high"], cv["upper"])
    if not terms:  # one curve per coefficient, each at its own estimate
        close(sm.groupby("term", sort=False)["estimate"].first(), r["coef"], 1e-6)
        assert const.shape == (len(r["coef"]),)


def test_scaled_residuals_equal_cox_zph_y() -> None:
    r = ref()["efron"]
    y, _, const, tc = _scaled(fit())
    close(y[list(tc)].to_numpy(), r["y"])
    close(y["time"], r["time"])
    # a factor's curve is a multiplier of its log hazard ratios (1 = constant), others at beta
    assert const[0] == 1.0 and len(tc["age_band"]) > 1
    close(const[1:], np.asarray(r["coef"])[-3:], 1e-6)


def test_natural_spline_is_linear_beyond_the_boundary_knots() -> None:
    knots = np.array([0.0, 0.3, 0.7, 1.0])
    x = np.array([1.0, 1.5, 2.0, 2.5])
    b = natural_spline_basis(x, knots)
    assert np.allclose(np.diff(b, n=2, axis=0), 0)  # natural: linear outside the knots
    assert np.linalg.matrix_rank(natural_spline_basis(np.linspace(0, 1, 30), knots)) == 4


def test_figure_has_a_band_and_estimate_line_per_term_and_no_points() -> None:
    sm = zph_smooth(fit())
    fig = zph_figure(sm, labels={"placement_moves": "Placement moves"}, title="PH check")
    axes = [a for a in fig.axes if a.lines]
    assert len(axes) == 4
    for ax, (_, g) in zip(axes, sm.groupby("term", sort=False), strict=True):
        # the smoothed curve and a horizontal line at the Cox estimate
        curve, hline = ax.lines
        close(curve.get_ydata(), g["beta_t"])
        assert set(hline.get_ydata()) == {float(g["estimate"].iloc[0])}
        # no residual drawn: no scatter; the only collection is the band
        assert not [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(ax.collections) == 1
        assert all(t.get_text().isdigit() for t in ax.get_xticklabels())
    assert "Placement moves" in [a.get_title(loc="left") for a in axes]
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 1000


def test_not_a_cox_fit_and_bad_df() -> None:
    with pytest.raises(InputError, match=r"reunistat\.models\.survival\.cox"):
        zph_smooth(logistic("~ section20", spells(), outcome_col="reentered"))
    with pytest.raises(InputError, match="df"):
        zph_smooth(fit(), df=1)
