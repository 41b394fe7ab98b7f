"""The curve scripts' speed paths give what the slower code they replaced gave."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

_FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-7, -4e-4, 123456.5, 1234567.0, 0.1234565]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(_FLOATS, st.integers(-(10**6), 10**6), _FLOATS), min_size=0, max_size=30),
    st.booleans(),
)
def test_to_csv_text_as_pandas_float_format(rows, text_col: bool):
    import pandas as pd

    from reunistat.report.tables import to_csv_text

    df = pd.DataFrame(rows, columns=["a", "n", "a"]).astype({"n": "int64"})
    df["a"] = df["a"].astype("float64")
    if text_col:
        df.insert(0, "g", ["x,y" if i % 3 else "" for i in range(len(df))])
    want = df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    assert to_csv_text(df) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(_FLOATS, min_size=1, max_size=30), st.integers(0, 4))
def test_column_cells_as_num_text(values, digits: int):
    from reunistat.report.tables import _cell, _column_cells

    values = [float(v) for v in values]
    assert _column_cells(values, "estimate", digits) == [
        _cell(v, "estimate", digits) for v in values
    ]


def _simulate_all_rows(design, rng):
    """The power simulator before it skipped the rows the comparison design drops."""
    from reunistat.models.evaluation.power import DAYS, _baseline, _invert

    knots, rates = _baseline(design.baseline)
    n_la, years = design.n_authorities, int(np.ceil(design.years))
    lam = design.returns_per_year / n_la
    width = np.minimum(1.0, design.years - np.arange(years))
    counts = rng.poisson(lam * width[None, :], size=(n_la, years))
    la = np.repeat(np.repeat(np.arange(n_la), years), counts.ravel())
    yr = np.repeat(np.tile(np.arange(years), n_la), counts.ravel())
    entry = (yr + rng.random(la.size) * width[yr]) * DAYS
    frailty = rng.normal(0.0, design.la_sd_log_hr, n_la) if design.la_sd_log_hr > 0 else None
    pilot_la = np.arange(n_la) < design.n_pilot
    post = entry >= design.adoption_year * DAYS
    treated = pilot_la[la] & post
    lp = np.where(treated, np.log(design.hazard_ratio), 0.0)
    if frailty is not None:
        lp = lp + frailty[la]
    t_event = _invert(knots, rates, rng.exponential(size=la.size) / np.exp(lp))
    cens = design.years * DAYS - entry
    if design.max_followup_days is not None:
        cens = np.minimum(cens, design.max_followup_days)
    event_day = np.ceil(t_event)
    cens_day = np.floor(cens)
    reentered = event_day <= cens_day
    days_followed = np.where(reentered, event_day, cens_day)
    keep = days_followed > 0
    if design.design == "comparison":
        keep &= post
    return {
        "LA": la[keep],
        "entry_day": entry[keep],
        "days_followed": days_followed[keep],
        "reentered": reentered[keep].astype(np.int64),
        "treated": treated[keep].astype(np.int64),
        "pilot_la": pilot_la[la[keep]].astype(np.int64),
        "post": post[keep].astype(np.int64),
    }


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["comparison", "did"]),
    st.floats(100, 3000),
    st.sampled_from([0.0, 0.15]),
    st.sampled_from([None, 365.0]),
    st.floats(0.5, 4.5),
    st.integers(0, 2**32 - 1),
)
def test_power_simulation_as_all_rows(kind, per_year, sd, cap, adoption, seed):
    from reunistat.models.evaluation.power import PowerDesign, _simulate

    design = PowerDesign(
        hazard_ratio=0.75,
        n_authorities=20,
        n_pilot=5,
        years=5.5,
        adoption_year=adoption,
        returns_per_year=per_year,
        la_sd_log_hr=sd,
        max_followup_days=cap,
        design=kind,
    )
    got = _simulate(design, np.random.default_rng(seed))
    want = _simulate_all_rows(design, np.random.default_rng(seed))
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype
        np.testing.assert_array_equal(got[k], want[k])


def _svg_of_figure(plain_canvas: bool) -> bytes:
    import io

    import matplotlib
    import pandas as pd
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from reunistat.report.figures import _RC, curve_figure

    curve = pd.DataFrame(
        {
            "group": ["a"] * 3 + ["b = $x^2$"] * 3,
            "time": [0.0, 100.0, 400.0] * 2,
            "est": [0.0, 0.1, 0.2, 0.0, 0.15, 0.3],
            "lo": [0.0, 0.05, 0.15, 0.0, 0.1, 0.25],
            "hi": [0.0, 0.15, 0.25, 0.0, 0.2, 0.35],
        }
    )
    at_risk = pd.DataFrame({"group": ["a", "b"], "0": ["1200", "c"], "365": ["900", "15"]})
    fig = curve_figure(curve, at_risk, estimate="est", conf=("lo", "hi"), title="Re-entry")
    if plain_canvas:  # matplotlib's own SVG canvas then writes the file
        FigureCanvasAgg(fig)
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def test_svg_with_remembered_text_extents_as_matplotlib_writes_it():
    from reunistat.report import renderers

    renderers._SVG_EXTENTS.clear()
    first = _svg_of_figure(plain_canvas=False)  # extents measured
    again = _svg_of_figure(plain_canvas=False)  # extents remembered
    assert renderers._SVG_EXTENTS, "the SVG canvas of reunistat's figures was not used"
    assert first == again == _svg_of_figure(plain_canvas=True)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 80), st.integers(1, 4), st.booleans(), st.integers(0, 2**32 - 1))
def test_km_counts_on_shared_times_as_on_the_group_alone(n, n_groups, weighted, seed):
    from reunistat.models.survival.km import _counts

    rng = np.random.default_rng(seed)
    time = rng.integers(1, 30, n).astype(float)
    status = rng.integers(0, 3, n)
    w = rng.choice([0.0, 0.5, 1.0, 2.0], n) if weighted else np.ones(n)
    group = rng.integers(0, n_groups, n)
    every = np.unique(time, return_inverse=True)
    for g in range(n_groups):
        sel = group == g
        alone = _counts(time[sel], status[sel], w[sel], 2)
        shared = _counts(time[sel], status[sel], w[sel], 2, shared=(every[0], every[1][sel]))
        for a, b in zip(alone, shared, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
