"""The faster paths of the analysis scripts give what the plain ones gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models.evaluation import _common
from reunistat.models.evaluation._common import as_datetimes, mark_adoption, marked_view
from reunistat.report.labels import with_references


def _with_references_before(data: pd.DataFrame, refs: dict[str, str]) -> pd.DataFrame:
    """The reference: every column through the string dtype into pd.Categorical."""
    out = data.copy()
    for col, ref in refs.items():
        if col not in out.columns or pd.api.types.is_numeric_dtype(out[col]):
            continue
        levels = sorted(str(x) for x in pd.unique(out[col].dropna()))
        if ref in levels:
            order = [ref, *(x for x in levels if x != ref)]
            out[col] = pd.Categorical(out[col].astype("string"), categories=order)
    return out


values = st.one_of(st.sampled_from(["female", "male", "other", "b", "a"]), st.none())
mixed = st.one_of(values, st.sampled_from([np.nan, 1, 2]))


@settings(max_examples=120, deadline=None)
@given(st.lists(values, min_size=0, max_size=30), st.lists(mixed, min_size=0, max_size=30))
def test_with_references_same_categoricals(sex: list, other: list) -> None:
    n = min(len(sex), len(other))
    data = pd.DataFrame({"sex": sex[:n], "placement": other[:n], "k": range(n)}, dtype=object)
    data["k"] = data["k"].astype(np.int64)
    formula = "C(placement, contr.treatment('a')) + sex"
    got = with_references(data, formula)
    want = _with_references_before(data, {"sex": "female", "placement": "a"})
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for c in ("sex", "placement"):
        assert got[c].dtype == want[c].dtype
        if isinstance(want[c].dtype, pd.CategoricalDtype):
            assert got[c].cat.categories.dtype == want[c].cat.categories.dtype
            np.testing.assert_array_equal(got[c].cat.codes, want[c].cat.codes)


def _spells() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "LA": rng.choice(["A", "B", "C", "D"], n),
            "return_date": pd.Timestamp("2016-01-01")
            + pd.to_timedelta(rng.integers(0, 2500, n), unit="D"),
            "post": rng.integers(0, 2, n),  # a column the marking replaces
            "x": rng.normal(size=n),
        }
    )


def test_marked_view_leaves_the_spells_alone_and_equals_mark_adoption() -> None:
    sp = _spells()
    before = sp.copy()
    adoption = {"A": "2018-04-01", "B": "2019-01-01"}
    view = marked_view(sp, adoption)
    pd.testing.assert_frame_equal(view, mark_adoption(sp, adoption), check_exact=True)
    pd.testing.assert_frame_equal(sp, before, check_exact=True)
    text = sp.assign(return_date=sp["return_date"].dt.strftime("%Y-%m-%d"))
    pd.testing.assert_frame_equal(
        marked_view(text, adoption).drop(columns="return_date"),
        view.drop(columns="return_date"),
        check_exact=True,
    )


@pytest.mark.parametrize("values", [["2020-01-02", None], [pd.Timestamp("2020-01-02"), pd.NaT]])
def test_as_datetimes_is_to_datetime(values: list) -> None:
    s = pd.Series(values)
    pd.testing.assert_series_equal(as_datetimes(s), pd.to_datetime(s))
    d = pd.to_datetime(s)
    pd.testing.assert_series_equal(as_datetimes(d), pd.to_datetime(d))


def test_horizon_frame_names_the_outcome_y_without_touching_the_input() -> None:
    sp = pd.DataFrame({"days_followed": [10, 400, 100, 500], "reentered": [1, 0, 0, 1]})
    before = sp.copy()
    out, counts = _common.horizon_frame(sp, 365)
    assert list(out.columns) == ["days_followed", "reentered", "y"]
    assert out["y"].tolist() == [1, 0, 0] and counts.horizon_days == 365
    pd.testing.assert_frame_equal(sp, before)


def _two_figures(tmp, figures_module) -> dict[str, bytes]:
    """Two curve figures of one size and a smaller one, saved in turn; their files' bytes."""
    curve = pd.DataFrame(
        {
            "group": ["a"] * 4 + ["b"] * 4,
            "time": [0, 100, 400, 900] * 2,
            "est": [0, 0.1, 0.2, 0.3, 0, 0.05, 0.15, 0.2],
            "lo": [0, 0.05, 0.15, 0.25, 0, 0.02, 0.1, 0.15],
            "hi": [0, 0.15, 0.25, 0.35, 0, 0.08, 0.2, 0.25],
        }
    )
    at_risk = pd.DataFrame({"group": ["a", "b"], "0": ["1234", "c"], "365": ["987", "12"]})
    out = {}
    for k, (title, ar) in enumerate([("one", at_risk), ("two", at_risk), ("three", None)]):
        fig = figures_module.curve_figure(
            curve, ar, estimate="est", conf=("lo", "hi"), title=title, xmax_days=1000
        )
        for p in figures_module.save_figure(fig, tmp / f"f{k}", "alt", "source"):
            out[p.name] = p.read_bytes()
    return out


def test_shared_renderers_give_the_bytes_of_one_renderer_per_figure(tmp_path, monkeypatch) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from reunistat.report import figures, renderers

    shared = _two_figures(tmp_path / "shared", figures)
    assert len(renderers._RENDERERS.kept) <= renderers.KEEP_RENDERERS
    monkeypatch.setattr(figures, "SharedRendererCanvas", FigureCanvasAgg)
    plain = _two_figures(tmp_path / "plain", figures)
    assert shared.keys() == plain.keys() and len(shared) == 9
    for name in shared:
        assert shared[name] == plain[name], name


def test_shared_renderers_are_few(monkeypatch) -> None:
    from reunistat.report import figures, renderers

    monkeypatch.setattr(renderers, "KEEP_RENDERERS", 2)
    for w in (3.0, 4.0, 5.0, 4.0):
        fig = figures.new_figure(w, 2.0)
        r = fig.canvas.get_renderer()
        assert r is renderers._RENDERERS.kept[(w * 100, 200, 100)]
    assert list(renderers._RENDERERS.kept) == [(500, 200, 100), (400, 200, 100)]
