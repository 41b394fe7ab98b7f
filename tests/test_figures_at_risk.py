"""The numbers-at-risk rows under a curve figure keep their labels inside the figure."""

from __future__ import annotations

import pandas as pd

from reunistat.report.figures import curve_figure

GROUPS = ["E13 (to relatives)", "planned (E4A)", "a much longer group label here"]


def test_at_risk_labels_stay_inside_the_figure_and_short_ones_do_not_move_it() -> None:
    curve = pd.DataFrame(
        {"group": [g for g in GROUPS for _ in range(3)], "time": [0, 300, 900] * 3}
    ).assign(e=[0, 0.1, 0.2] * 3)
    at_risk = pd.DataFrame({"group": GROUPS, "0": [261, 1161, 273], "365": [189, 853, 178]})
    fig = curve_figure(curve, at_risk, estimate="e", conf=None, title="t")
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = [t for ax in fig.axes for t in ax.texts if t.get_text() in {*GROUPS, "Number at risk"}]
    assert len(texts) == len(GROUPS) + 1
    assert min(t.get_window_extent(renderer).x0 for t in texts) >= 0
    assert max(a.get_position().x1 for a in fig.axes) < 1  # the curves still on the page
    short = at_risk.assign(group=["a", "b", "c"])
    fig2 = curve_figure(
        curve.assign(group=curve["group"].map(dict(zip(GROUPS, "abc", strict=True)))),
        short,
        estimate="e",
        conf=None,
        title="t",
    )
    assert fig2.axes[0].get_position().x0 == 0.17  # the usual place when the labels fit
