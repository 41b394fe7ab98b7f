"""Stack annual returns and clean them as sector analysts do, every row accounted for.

An LA's return for a collection year holds every episode open at any time in
the year, so an episode open at 31 March appears again, closed or still open,
in the next return; LAs also correct earlier returns. Stacking keeps one row
per key (episodes: LA, CHILD, DECOM; header: LA, CHILD) and counts every row
read under exactly one of (:data:`REASONS`):

``identical_dropped``
    identical in every column to a row kept: a later return repeats it, or
    the same file repeats it (of which :data:`IN_ONE_FILE`, ``identical_in_one_file``,
    counts those repeated within one file: a fault of that file, not of stacking);
``superseded``
    the same key in a later return with other values, or an open copy of an
    episode whose closed version is held (the closed, then latest, is kept);
``decom_corrected``
    episodes: open at the end of its last return, absent from the LA's next
    return, which holds the child with an episode of the same RNE, LS and
    PLACE starting on another day: the later return corrected DECOM and this
    is the stale copy (liia-tools' rule 3);
``deleted_in_next_return``
    episodes: open at the end of its last return, absent from the LA's next
    return, and the child's episode before it comes from a later return (the
    later return rewrote the child's history: liia-tools' rule 3A);
``rows_kept``
    the rest.

An open episode absent from the LA's next return, neither corrected nor
rewritten, that the child's next episode continues (RNE not S) is kept and
closed on that episode's DECOM with REC X1 (liia-tools' rule 1; counted as
:data:`CLOSED_BY_NEXT`, a repair of a kept row). Any other open episode absent
from the next return (the child absent from it, or re-entering with RNE S) is
kept as it was and recorded as problem ``open_not_carried``: what happened is
unknown (liia-tools closes it with the invalid code E99; the validation rules
decide). Two different rows for one key in one return are kept once (the last
listed) and recorded as problem ``duplicate``. A header whose SEX, DOB or
ETHNIC changes between returns keeps the latest return's row; DfE's rules on
such changes (202-204, and 502/503 on episodes) are validation's, applied to
:attr:`reunistat.tables.Extract.returns` (every return's rows before stacking).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from reunistat.tables import schema
from reunistat.tables.keys import CID, YEAR_COL
from reunistat.tables.problems import empty_problems, problems_frame

#: Internal columns: the index of the file a row came from, and its return's rank.
FILE_COL: Final = "_FILE"
ORDER_COL: Final = "_ORDER"
#: What happens to a row read, in the order the rules apply (see the module docstring).
REASONS: Final = (
    "identical_dropped",
    "superseded",
    "decom_corrected",
    "deleted_in_next_return",
)
#: Of ``identical_dropped``, the rows repeated within one file (not a separate reason).
IN_ONE_FILE: Final = "identical_in_one_file"
#: Episodes kept but repaired: closed (DEC = next DECOM, REC = X1) by the child's next episode.
CLOSED_BY_NEXT: Final = "closed_by_next_episode"


def key_of(table: str, df: pd.DataFrame) -> list[str]:
    """Return the columns that identify one row of ``table`` (empty: rows have no key)."""
    if table in ("header", "episodes"):
        child = (
            [CID] if CID in df.columns else (["LA", "CHILD"] if "LA" in df.columns else ["CHILD"])
        )
        return [*child, "DECOM"] if table == "episodes" else child
    return {"npd": ["UPN"], "postcodes": ["HOME_POST"], "la": ["LA"]}.get(table, [])


def value_columns(table: str, df: pd.DataFrame) -> list[str]:
    """Columns compared to call two rows identical: declared ones, else every non-internal one."""
    if table in schema.TABLES:
        return [c.name for c in schema.TABLES[table] if c.name in df.columns]
    return [c for c in df.columns if not str(c).startswith("_")]


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


def _row_hash(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """A 64-bit hash of each row's ``cols`` (LA and CHILD by the integer child key)."""
    if CID in df.columns:
        cols = [CID, *(c for c in cols if c not in ("LA", "CHILD"))]
    return pd.util.hash_pandas_object(df[cols], index=False).to_numpy()


def _same_rows(df: pd.DataFrame, cols: list[str], a: np.ndarray, b: np.ndarray) -> bool:
    """Whether rows at positions ``a`` equal those at ``b`` in every column (blanks equal)."""
    for c in cols:
        x, y = df[c].to_numpy()[a], df[c].to_numpy()[b]
        same = pd.Series(x).eq(pd.Series(y)).to_numpy() | (pd.isna(x) & pd.isna(y))
        if not same.all():
            return False
    return True


def _identical(
    df: pd.DataFrame, key: list[str], cols: list[str], log: list[pd.DataFrame]
) -> pd.DataFrame:
    """Drop rows repeated in one file, then rows a later return repeats.

    Only rows whose key repeats are compared, by a 64-bit hash of the row;
    every row dropped is then checked equal, column by column, to the row kept
    in its place (a hash collision falls back to comparing whole rows).
    """
    maybe = df.duplicated(subset=key or cols, keep=False).to_numpy()
    if not maybe.any():
        return df
    pos = np.flatnonzero(maybe)
    sub = df.iloc[pos]
    h = _row_hash(sub, cols)
    f = sub[FILE_COL].to_numpy()
    at = np.arange(len(pos))
    # in one file: the first of each (hash, file) is kept
    first_in_file = pd.Series(at).groupby([h, f], sort=False).transform("first").to_numpy()
    in_file = first_in_file != at
    # across returns, among the rest: the latest return's copy is kept
    rest = at[~in_file][np.argsort(sub[ORDER_COL].to_numpy()[~in_file], kind="stable")]
    kept_later = pd.Series(rest).groupby(h[rest], sort=False).transform("last").to_numpy()
    later = rest[kept_later != rest]
    dropped = np.concatenate([at[in_file], later])
    kept = np.concatenate([first_in_file[in_file], kept_later[kept_later != rest]])
    if not _same_rows(sub, cols, dropped, kept):
        return _identical_exact(df, maybe, cols, log)
    mask = np.zeros(len(df), dtype=bool)
    mask[pos[at[in_file]]] = True
    df_rest = _drop(df, mask, IN_ONE_FILE, log)
    repeat = np.zeros(len(df), dtype=bool)
    repeat[pos[later]] = True
    return _drop(df_rest, repeat[~mask], "identical_dropped", log)


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


def _year_end(year: pd.Series) -> pd.Series:
    y = year.astype("float64")
    return pd.to_datetime(pd.DataFrame({"year": y.fillna(2000), "month": 3, "day": 31})).where(
        y.notna()
    )


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


#: Columns of each return the rules between returns compare (DfE 202-204 and 208 on
#: header, 502 and 503A-J on episodes), besides the child key, LA, CHILD and the year.
BETWEEN_RETURNS: Final = {
    "header": ("SEX", "DOB", "ETHNIC", "UPN"),
    "episodes": (
        "DECOM",
        "DEC",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "URN",
        "PL_DISTANCE",
        "PL_LA",
        "PL_LOCATION",
    ),
}


def rows_between_returns(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """The rows and columns of every return that the rules between returns compare.

    They compare a child's rows of return ``y`` with those of ``y - 1``:
    header rows by child and return (the last listed, DfE 202-204, 208), and
    episodes: the child's first and last episode of each return (by DECOM,
    ties in the order read) and its open ones (DEC blank; DfE 502, 503A-J).
    Only those rows (of a known year) and the columns of
    :data:`BETWEEN_RETURNS` are kept, with ``LA``, ``CHILD``, the integer
    child key and :data:`~reunistat.tables.keys.YEAR_COL`: the rules find the
    same problems on them as on every row, at a fraction of the memory.

    Parameters
    ----------
    df : DataFrame
        Every return's rows of ``table`` (``header`` or ``episodes``), parsed,
        with the child key and ``YEAR_COL``, in the order read.
    table : str
        ``header`` or ``episodes``.

    Returns
    -------
    DataFrame
        The rows kept, in the order read, with a fresh index.
    """
    cols = [c for c in ("LA", "CHILD", *BETWEEN_RETURNS[table]) if c in df.columns]
    cols += [c for c in (YEAR_COL, CID) if c in df.columns]
    year = df[YEAR_COL].to_numpy(dtype="float64", na_value=np.nan)
    known = np.flatnonzero(~np.isnan(year))
    child = df[CID].to_numpy()[known] if CID in df.columns else pd.factorize(df["CHILD"])[0][known]
    years, n_years = pd.factorize(year[known])
    group = child.astype(np.int64) * max(len(n_years), 1) + years  # child and return
    if table == "header":  # the last row listed of each
        keep = ~pd.Series(group).duplicated(keep="last").to_numpy()
    else:  # first and last by DECOM (blank last, ties in the order read), and open ones
        decom = df["DECOM"].to_numpy(dtype="datetime64[ns]")[known].view(np.int64)
        decom = np.where(decom == np.iinfo(np.int64).min, np.iinfo(np.int64).max, decom)
        order = np.lexsort((decom, group))
        g = group[order]
        ends = np.ones(len(g), dtype=bool)
        ends[1:] = g[1:] != g[:-1]  # first of its group
        last = np.ones(len(g), dtype=bool)
        last[:-1] = g[1:] != g[:-1]
        keep = np.zeros(len(g), dtype=bool)
        keep[order[ends | last]] = True
        keep |= df["DEC"].isna().to_numpy()[known]
    rows = known[keep]
    # column by column: taking rows of the whole frame would first consolidate it
    return pd.DataFrame({c: df[c].array.take(rows) for c in cols})


def stack_table(df: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Stack and clean one table read from one or several files and returns.

    Parameters
    ----------
    df : DataFrame
        Parsed rows of every file of the table, with :data:`FILE_COL`,
        :data:`ORDER_COL` (the rank of the return: later is larger) and
        :data:`~reunistat.tables.keys.YEAR_COL`.
    table : str
        Its name (the key and the cleaning rules depend on it).

    Returns
    -------
    table : DataFrame
        One row per key; internal columns dropped except ``YEAR_COL``.
    dropped : DataFrame
        Per file (:data:`FILE_COL`) the rows dropped for each of :data:`REASONS`,
        and :data:`IN_ONE_FILE` (part of ``identical_dropped``).
    problems : DataFrame
    """
    log: list[pd.DataFrame] = []
    read = df
    key = key_of(table, df)
    df = _identical(df, key, value_columns(table, df), log)
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
