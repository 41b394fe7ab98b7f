"""Cumulative re-entry plots and the at-risk table."""

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from reunistat.models.survival import aalen_johansen, kaplan_meier
from reunistat.models.survival.plots import plot_cumulative_reentry, risk_table

matplotlib.use("Agg")
REF = Path(__file__).parent / "reference" / "survival"


@pytest.fixture(scope="module")
def spells():
    return pd.read_csv(REF / "synthetic_spells.csv")


def test_risk_table_counts(spells):
    km = kaplan_meier(spells, "days_followed", "reentered")
    tab = risk_table(km, [0, 365])
    first = tab.iloc[0]
    assert first["n_risk"] == len(spells) and first["n_events"] == 0
    at365 = tab.iloc[1]
    assert at365["n_risk"] == (spells.days_followed >= 365).sum()
    assert at365["n_events"] == ((spells.days_followed <= 365) & (spells.reentered == 1)).sum()
    assert at365["n_censored"] == ((spells.days_followed <= 365) & (spells.reentered == 0)).sum()


@pytest.mark.filterwarnings("ignore:plot_cumulative_reentry is deprecated")
def test_plots(spells, tmp_path):
    import matplotlib.pyplot as plt

    fig = plot_cumulative_reentry(
        kaplan_meier(spells, "days_followed", "reentered", by="section20"),
        times=[0, 365, 730, 1826],
    )
    fig.savefig(tmp_path / "km.png")
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[0].texts) > 20
    aj = aalen_johansen(spells, "days_followed", "event_type")
    fig2 = plot_cumulative_reentry(aj)
    y = fig2.axes[0].lines[0].get_ydata()
    assert np.all(np.diff(y) >= 0)
    plt.close("all")
    with pytest.raises(ValueError, match="curve must"):
        plot_cumulative_reentry(pd.DataFrame({"time": [1]}))


def test_plot_duplicate_is_deprecated(spells):
    """report.figures.curve_figure draws the published curves; the duplicate here warns."""
    import matplotlib.pyplot as plt

    with pytest.warns(DeprecationWarning, match="curve_figure"):
        plot_cumulative_reentry(kaplan_meier(spells, "days_followed", "reentered"))
    plt.close("all")
