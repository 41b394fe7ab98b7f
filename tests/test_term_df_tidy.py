"""``TermDfResult.tidy`` for all terms at once equals the row-by-row ``ModelResult.tidy``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.models._term_df import TermDfResult
from reunistat.results import Provenance


def _result(est: list[float], se: list[float], df: list[float]) -> TermDfResult:
    terms = [f"t{i}" for i in range(len(est))]
    return TermDfResult(
        model="test",
        params=pd.Series(est, index=terms),
        cov=pd.DataFrame(np.diag(np.square(se)), index=terms, columns=terms),
        vcov_type="CR2",
        n_obs=100,
        n_events=None,
        fit_stats={},
        provenance=Provenance("test", "0"),
        dist="t",
        df_resid=min(df),
        df_terms=tuple(df),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-10, 10),
            st.floats(1e-6, 5),
            st.one_of(st.floats(0.5, 1e6), st.just(float("inf"))),
        ),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_tidy_of_all_terms_is_the_term_by_term_tidy_to_the_bit(
    rows: list[tuple[float, float, float]], exponentiate: bool, level: float
) -> None:
    res = _result(*(list(c) for c in zip(*rows, strict=True)))
    got = res.tidy(exponentiate=exponentiate, conf_level=level)
    pd.testing.assert_frame_equal(got, res._tidy_by_term(exponentiate, level), check_exact=True)


def test_tidy_checks_the_level_and_reads_no_df_for_a_normal_reference() -> None:
    res = _result([0.5, -1.0], [0.2, 0.4], [3.0, 40.0])
    with pytest.raises(Exception, match="conf_level"):
        res.tidy(conf_level=1.5)
    normal = TermDfResult(**{**res.__dict__, "dist": "normal"})
    pd.testing.assert_frame_equal(
        normal.tidy(), normal._tidy_by_term(False, 0.95), check_exact=True
    )
