"""National-scale calibration of the default config (slow: `make validate`)."""

from __future__ import annotations

import pytest

from reunistat.synthetic import default_config, generate


def assert_published_figures(r: dict, returns_home_at_least: int) -> None:
    """The generator's realised figures (``truth["realised"]``) match the published ones."""
    km = r["cumulative_reentry_km"]
    assert abs(km["3_months"] - 0.12) <= 0.015
    assert abs(km["1_year"] - 0.20) <= 0.015
    assert abs(km["6_years"] - 0.35) <= 0.02
    assert 0.25 <= r["returns_home_share_of_exits"] <= 0.34
    assert 0.45 <= r["section20_share_of_entries"] <= 0.55
    assert r["returns_home"] >= returns_home_at_least


@pytest.mark.slow
def test_default_config_hits_the_published_figures_at_national_size():
    d = generate(default_config(), seed=20240331, scale=1.0)
    r = d.truth["realised"]
    assert_published_figures(r, 150_000)
    assert r["episodes"] > 1_000_000
    # reaching 18 ends follow-up: no re-entry on or after the 18th birthday
    t = d.truth_returns
    assert ((t["censor_reason"] == "age18") & (t["reentered"] == 1)).sum() == 0
