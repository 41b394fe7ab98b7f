"""Stacking marks rows by position and compares them by exact codes: the same as before.

The reference below is the earlier :mod:`reunistat.tables.stack`, which
dropped rows rule by rule on copies of the table and compared whole rows with
pandas (``DataFrame.duplicated``). Random annual returns (repeats across and
within returns, open episodes carried, corrected or vanished, clashes in one
return, blanks) must give the same rows kept, counts and problems.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reunistat.tables import stack
from reunistat.tables.keys import CID, YEAR_COL
from reunistat.tables.problems import empty_problems, problems_frame
from reunistat.tables.stack import (
    CLOSED_BY_NEXT,
    FILE_COL,
    IN_ONE_FILE,
    ORDER_COL,
    REASONS,
    key_of,
    value_columns,
)

# ---------------------------------------------------------------------------
# the reference (reunistat before this change)


def _drop(df: pd.DataFrame, mask: np.ndarray, reason: str, log: list[pd.DataFrame]) -> pd.DataFrame:
    if mask.any():
        log.append(pd.DataFrame({FILE_COL: df.loc[mask, FILE_COL].to_numpy(), "reason": reason}))
        return df.loc[~mask]
    return df


def _identical_exact(
    df: pd.DataFrame, maybe: np.ndarray, cols: list[str], log: list[pd.DataFrame]
) -> pd.DataFrame:
    """:func:`_identical` comparing whole rows (used when two row hashes collide)."""
    sub = df.loc[maybe]
    in_file = np.zeros(len(df), dtype=bool)
    in_file[maybe] = sub.duplicated(subset=[*cols, FILE_COL], keep="first").to_numpy()
    df = _drop(df, in_file, IN_ONE_FILE, log)
    maybe = maybe[~in_file]
    sub = df.loc[maybe].sort_values(ORDER_COL, kind="stable")
    later = sub.duplicated(subset=cols, keep="last")
    repeat = np.zeros(len(df), dtype=bool)
    repeat[maybe] = later.reindex(df.index[maybe]).to_numpy()
    return _drop(df, repeat, "identical_dropped", log)


def _superseded(
    df: pd.DataFrame, table: str, key: list[str], log: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one row per key (DEC filled, then latest return); report same-return clashes."""
    rep = df.duplicated(subset=key, keep=False).to_numpy()
    if not rep.any():
        return df, empty_problems()
    # only the key, the return's rank and whether DEC is filled: fast to sort
    slim = df.loc[rep, [*key, ORDER_COL]]
    slim["_f"] = df.loc[rep, "DEC"].notna().to_numpy() if "DEC" in df.columns else True
    clash = slim.duplicated(subset=[*key, ORDER_COL, "_f"], keep=False)
    problems = empty_problems()
    if clash.any():
        names = ["LA+CHILD" if k == CID else k for k in key]
        detail = f"more than one different row for {'+'.join(names)} in one return"
        column = "CHILD" if key[-1] == CID else key[-1]
        problems = problems_frame(
            df.loc[rep], clash.to_numpy(), table, column, "duplicate", detail=detail
        )
    order = slim.sort_values([*key, "_f", ORDER_COL], kind="stable")
    older = order.duplicated(subset=key, keep="last").reindex(df.index[rep]).to_numpy()
    mask = np.zeros(len(df), dtype=bool)
    mask[rep] = older
    return _drop(df, mask, "superseded", log), problems


def _neighbours(kept: pd.DataFrame, rows: np.ndarray) -> tuple[pd.Series, pd.Series]:
    """For the kept rows at positions ``rows``: the labels of the child's episodes around them."""
    order = kept.sort_values([CID, "DECOM"], kind="stable")
    same_prev = order[CID].eq(order[CID].shift(1))
    same_next = order[CID].eq(order[CID].shift(-1))
    labels = pd.Series(order.index, index=order.index)
    prev = labels.shift(1).where(same_prev)
    nxt = labels.shift(-1).where(same_next)
    at = kept.index[rows]
    return prev.reindex(at), nxt.reindex(at)


def _carried_over(
    read: pd.DataFrame, kept: pd.DataFrame, log: list[pd.DataFrame]
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Episodes open at the end of their last return but absent from the LA's next return.

    Returns the episodes, the problems (``open_not_carried``) and the number of
    episodes closed by the child's next episode (liia-tools' rule 1).
    """
    none = (kept, empty_problems(), 0)
    if YEAR_COL not in kept.columns or kept[YEAR_COL].isna().all() or CID not in kept.columns:
        return none
    la = read["LA"].astype(str) if "LA" in read.columns else pd.Series("", index=read.index)
    la_years = set(zip(la, read[YEAR_COL].astype("float64"), strict=True))
    k_la = kept["LA"].astype(str) if "LA" in kept.columns else pd.Series("", index=kept.index)
    year = kept[YEAR_COL].astype("float64")
    # open: DEC blank. A DEC after the return's 31 March is a date fault (DfE 354/385,
    # the cohort's after_data_end), not an episode left open: it must not be taken
    # for a stale copy and dropped, which would hide the fault
    open_end = kept["DEC"].isna()
    has_next = pd.Series(
        [(a, y + 1) in la_years for a, y in zip(k_la, year, strict=True)], index=kept.index
    )
    cand = np.flatnonzero((open_end & year.notna() & has_next).to_numpy())
    if not len(cand):
        return none
    cols = [CID, "DECOM", "RNE", "LS", "PLACE"]
    c = kept.iloc[cand][cols].assign(_next=year.iloc[cand] + 1)
    nxt = read[cols].assign(_next=read[YEAR_COL].astype("float64"))
    child_next = set(zip(nxt[CID], nxt["_next"], strict=True))
    in_next = np.array([(i, y) in child_next for i, y in zip(c[CID], c["_next"], strict=True)])
    same = c.reset_index().merge(nxt, on=[CID, "RNE", "LS", "PLACE", "_next"], suffixes=("", "_n"))
    corrected = c.index.isin(same.loc[same["DECOM"] != same["DECOM_n"], "index"])
    prev, after = _neighbours(kept, cand)
    prev_year = kept[YEAR_COL].reindex(prev.to_numpy()).to_numpy(dtype="float64", na_value=np.nan)
    rewritten = (prev_year > year.iloc[cand].to_numpy()) & in_next & ~corrected
    after_rne = kept["RNE"].reindex(after.to_numpy()).to_numpy(dtype=object)
    closes = in_next & ~corrected & ~rewritten & pd.notna(after).to_numpy()
    closes &= pd.Series(after_rne).notna().to_numpy() & (after_rne != "S")
    kept = kept.copy()
    if closes.any():
        at = kept.index[cand[closes]]
        kept.loc[at, "DEC"] = kept.loc[after.to_numpy()[closes], "DECOM"].to_numpy()
        kept.loc[at, "REC"] = "X1"
    vanished = np.zeros(len(kept), dtype=bool)
    vanished[cand[~(corrected | rewritten | closes)]] = True
    problems = empty_problems()
    if vanished.any():
        detail = (
            "open at the end of its last return and absent from the LA's next return, which "
            "holds no corrected copy and no continuation: what happened is unknown"
        )
        problems = problems_frame(
            kept, vanished, "episodes", "DEC", "open_not_carried", detail=detail
        )
    drop_corr = np.zeros(len(kept), dtype=bool)
    drop_corr[cand[corrected]] = True
    drop_rew = np.zeros(len(kept), dtype=bool)
    drop_rew[cand[rewritten]] = True
    kept = _drop(kept, drop_corr, "decom_corrected", log)
    kept = _drop(kept, drop_rew[~drop_corr], "deleted_in_next_return", log)
    return kept, problems, int(closes.sum())


def reference_stack_table(
    df: pd.DataFrame, table: str
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stacking of reunistat 0.1 (one copy of the table per rule), the reference."""
    log: list[pd.DataFrame] = []
    read = df
    key = key_of(table, df)
    cols = value_columns(table, df)
    maybe = df.duplicated(subset=key or cols, keep=False).to_numpy()
    if maybe.any():
        df = _identical_exact(df, maybe, cols, log)
    problems = [empty_problems()]
    if key:
        df, p = _superseded(df, table, key, log)
        problems.append(p)
    closed = 0
    if table == "episodes":
        df, p, closed = _carried_over(read, df, log)
        problems.append(p)
    dropped = (
        pd.concat(log, ignore_index=True).groupby([FILE_COL, "reason"]).size().unstack(fill_value=0)
        if log
        else pd.DataFrame()
    )
    dropped = dropped.reindex(columns=[*REASONS, IN_ONE_FILE], fill_value=0)
    dropped["identical_dropped"] += dropped[IN_ONE_FILE]
    dropped.attrs[CLOSED_BY_NEXT] = closed
    nonempty = [p for p in problems if not p.empty]
    probs = pd.concat(nonempty, ignore_index=True) if nonempty else empty_problems()
    df = df.drop(columns=[FILE_COL, ORDER_COL])
    df.index = pd.RangeIndex(len(df))  # a new frame: no need to copy it again
    return df, dropped, probs


# ---------------------------------------------------------------------------
# random returns

DAY = pd.Timestamp("2018-06-01")
episode = st.tuples(
    st.integers(0, 3),  # child (two LAs, two children each)
    st.integers(0, 2),  # return: 2019, 2020, 2021
    st.integers(0, 5),  # DECOM, in steps of 60 days (few values: repeats and ties)
    st.sampled_from([None, 20, 200]),  # DEC: open, or days after DECOM
    st.sampled_from(["S", "P", "B", None]),  # RNE
    st.sampled_from(["U1", "K2"]),  # PLACE
    st.booleans(),  # listed twice in its return
)
header_row = st.tuples(
    st.integers(0, 3), st.integers(0, 2), st.sampled_from(["1", "2", "M"]), st.booleans()
)


def _returns(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """One frame of every return's rows, as the reader gives it to stacking."""
    df = pd.DataFrame(rows, columns=columns)
    twice = df.pop("twice")
    df = pd.concat([df, df[twice]]).sort_values("year", kind="stable").reset_index(drop=True)
    df[CID] = df["child"].astype(np.int64)
    df.insert(0, "LA", np.where(df["child"] < 2, "A", "B"))
    df.insert(1, "CHILD", "C" + (df["child"] % 2).astype(str))
    df[FILE_COL] = df["year"].astype(np.int64)
    df[YEAR_COL] = (df["year"] + 2019).astype(np.int64)
    df[ORDER_COL] = df[YEAR_COL].astype(float)
    return df.drop(columns=["child", "year"])


def _episodes(rows: list[tuple]) -> pd.DataFrame:
    df = _returns(rows, ["child", "year", "DECOM", "DEC", "RNE", "PLACE", "twice"])
    df["DECOM"] = DAY + pd.to_timedelta(df["DECOM"] * 60, unit="D")
    df["DEC"] = df["DECOM"] + pd.to_timedelta(df["DEC"].astype(float), unit="D")
    df["LS"], df["REC"] = "C2", np.where(df["DEC"].isna(), None, "E4A")
    return df


def _same(table: str, df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    got, dropped, problems = stack.stack_table(df.copy(), table)
    want, want_dropped, want_problems = reference_stack_table(df.copy(), table)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    pd.testing.assert_frame_equal(problems, want_problems, check_exact=True)
    pd.testing.assert_frame_equal(
        dropped, want_dropped, check_names=False, check_index_type=False, check_column_type=False
    )
    assert dropped.attrs == want_dropped.attrs
    return got, dropped


@settings(max_examples=100, deadline=None)
@given(st.lists(episode, max_size=30))
def test_episodes_stack_as_the_reference_does(rows):
    got, dropped = _same("episodes", _episodes(rows))
    assert len(got) + int(dropped[list(REASONS)].to_numpy().sum()) == len(_episodes(rows))


@settings(max_examples=60, deadline=None)
@given(st.lists(header_row, max_size=20))
def test_headers_stack_as_the_reference_does(rows):
    df = _returns(rows, ["child", "year", "SEX", "twice"])
    df["DOB"], df["ETHNIC"] = pd.Timestamp("2010-01-01"), "WBRI"
    _same("header", df)


def test_each_rule_is_met_and_counted_as_the_reference_counts():
    """A case with every reason: repeats, a clash, a correction, a rewrite, a closure."""
    rows = [
        (0, 0, 0, None, "S", "U1", True),  # open, listed twice in 2019
        (0, 1, 0, 20, "S", "U1", False),  # closed in 2020: the open copy superseded
        (0, 1, 1, None, "P", "U1", False),  # open in 2020, absent from 2021: closed by next
        (0, 2, 3, None, "B", "U1", False),
        (1, 0, 2, None, "S", "K2", False),  # open in 2019, corrected in 2020 (DECOM moved)
        (1, 1, 3, None, "S", "K2", False),
        (1, 1, 3, None, "P", "K2", False),  # a clash in one return
        (2, 0, 1, None, "S", "U1", False),  # open in 2019, child absent from 2020: vanished
        (3, 0, 0, 20, "S", "U1", False),
        (3, 1, 0, 20, "S", "U1", False),  # a later return repeats it
    ]
    _, dropped = _same("episodes", _episodes(rows))
    total = dropped.sum()
    assert total["identical_dropped"] >= 2 and total[IN_ONE_FILE] == 1
    assert total["superseded"] >= 1 and total["decom_corrected"] == 1
    assert dropped.attrs[CLOSED_BY_NEXT] == 1


def test_row_codes_number_equal_rows_alike_blanks_equal():
    a = np.array(["x", None, "x", np.nan, "y"], dtype=object)
    b = pd.array([1, 2, 1, 2, 1], dtype="Int64")
    assert stack.row_codes([a, b]).tolist() == [0, 1, 0, 1, 2]
    many = [np.arange(1000) % k for k in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)]
    codes = stack.row_codes(many)  # past int64 when multiplied out: renumbered on the way
    assert len(np.unique(codes)) == len({tuple(r) for r in np.array(many).T})


def test_row_codes_in_any_order_group_rows_as_in_order_of_appearance():
    rng = np.random.default_rng(3)
    cols = [rng.integers(0, 4, 500), rng.integers(0, 3, 500)]
    ordered, unordered = stack.row_codes(cols), stack.row_codes(cols, ordered=False)
    # the same groups, numbered 0..k-1 either way
    assert sorted(set(unordered.tolist())) == list(range(ordered.max() + 1))
    pairs = set(zip(ordered.tolist(), unordered.tolist(), strict=True))
    assert len(pairs) == ordered.max() + 1
