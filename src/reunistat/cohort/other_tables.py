"""The rest of the 903 return: which tables the cohort uses, and how.

Besides header and episodes, an LA's 903 return holds uasc, missing,
reviews, oc2, oc3, ad1, placed_for_adoption, previous_permanence and (from
2023-24) sw_episodes, with DfE's column names (DOMAIN.md §5). The cohort
uses four of them:

- ``uasc`` (CHILD, SEX, DOB, DUC): a child with a row whose SEX or DUC is
  filled is an unaccompanied asylum-seeking child, as DfE's validator reads
  the table; so is a child whose header has ``UASC`` = 1 (the XML return).
  Spells get ``uasc``; ``[cohort] uasc = "exclude"`` removes these children.
- ``previous_permanence`` (CHILD, DOB, PREV_PERM, LA_PERM, DATE_PERM): the
  previous permanence order before the child came into care: P1 adoption,
  P2 special guardianship, P3 residence or child arrangements order, P4
  unknown, Z1 none. Spells get ``previous_permanence`` as known at the return
  (an order dated after the return, or reported only in a later collection
  year, does not count).
- ``missing`` (CHILD, DOB, MISSING, MIS_START, MIS_END): episodes missing (M)
  or away without authorisation (A) that start within the period of care just
  ended: ``missing_episodes`` and ``away_episodes``.
- ``oc3`` (CHILD, DOB, IN_TOUCH, ACTIV, ACCOM): care leavers' contact around
  their birthday in the collection year. IN_TOUCH = DIED says the young person
  died, but the return holds no date of death: the death is taken on that
  birthday (or on the child's last episode date if later, since they were
  alive then), and ends follow-up as ``death``.

The others (reviews, oc2, ad1, placed_for_adoption, sw_episodes) are read and
listed as not used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from reunistat.dates import add_years
from reunistat.errors import DataValidationError
from reunistat.tables.keys import SEP, UID, YEAR_COL, child_uid, uid_by_child
from reunistat.tables.rules import frame

#: What each used table gives the cohort.
USED: Final = {
    "uasc": "UASC flag (spells column uasc; [cohort] uasc = keep/exclude)",
    "previous_permanence": "PREV_PERM at the return (spells column previous_permanence)",
    "missing": "missing/away episodes in the period (missing_episodes, away_episodes)",
    "oc3": "IN_TOUCH = DIED: death on the birthday in the collection year (censor_reason death)",
}
#: 903 tables read but not used by the cohort.
NOT_USED: Final = ("reviews", "oc2", "ad1", "placed_for_adoption", "sw_episodes")
OTHER_TABLES: Final = (*USED, *NOT_USED)

#: PREV_PERM codes (DfE rule 631 list) and their group.
PREV_PERM_GROUP: Final = {
    "P1": "adoption",
    "P2": "sgo",
    "P3": "cao",
    "P4": "unknown",
    "Z1": "none",
}
_PREV_PERM_ORDER: Final = ("P1", "P2", "P3", "P4")
_DATE_FORMATS: Final = ("%d/%m/%Y", "%Y-%m-%d")


def per_value(s: pd.Series, fn: Callable[[Any], object]) -> pd.Series:
    """``s.astype(object).map(fn)``, ``fn`` called once per distinct text (a column of codes).

    Equal strings give equal results, so each distinct one is mapped once and
    its result put on every row holding it; a blank once per type (None, NaN,
    NA, NaT: ``fn`` must give every blank of one type one result, as a
    function of ``pd.isna`` and ``str`` does). A column not of text goes
    through ``map``.

    >>> per_value(pd.Series([" a", None, " a"]), lambda v: str(v).strip()).tolist()
    ['a', 'None', 'a']
    """
    values = s.astype(object).to_numpy()
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return s.astype(object).map(fn)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[: len(uniques)] = [fn(u) for u in uniques]
    out = mapped[codes]  # -1 (a blank): filled below
    blank = np.flatnonzero(codes < 0)
    if len(blank):
        # a blank's result is the same for every blank of its type (None, NaN, NA, NaT):
        # ``fn`` reads it as ``pd.isna`` and ``str`` do
        kinds = np.frompyfunc(type, 1, 1)(values[blank])
        for kind in set(kinds):
            of_kind = blank[kinds == kind]
            out[of_kind] = fn(values[of_kind[0]])
    return pd.Series(out, index=s.index, dtype=object)


def _upper_text(s: pd.Series) -> pd.Series:
    """``s.astype(str).str.strip().str.upper()`` (once per distinct value)."""
    return per_value(s, lambda v: str(v).strip().upper())


def as_dates(s: pd.Series, table: str, column: str) -> pd.Series:
    """Return a date column parsed with one format for the whole column.

    Already-parsed dates pass through; text is read as ``dd/mm/YYYY`` or ISO.
    A column that parses in neither format as a whole is an error naming the
    table, column and example values.

    >>> as_dates(pd.Series(["13/11/2017", None]), "missing", "MIS_START").dt.month.tolist()
    [11.0, nan]
    """
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(pd.to_datetime(s).to_numpy(dtype="datetime64[ns]"), index=s.index)
    text = per_value(s, lambda v: None if pd.isna(v) else (str(v).strip() or None))
    filled = text.notna()
    for fmt in _DATE_FORMATS:
        d = pd.to_datetime(text, format=fmt, errors="coerce")
        if not (d.isna() & filled).any():
            return d.astype("datetime64[ns]")
    bad = text[filled & pd.to_datetime(text, format=_DATE_FORMATS[0], errors="coerce").isna()]
    raise DataValidationError(
        f"table {table}, column {column}: dates not readable as dd/mm/YYYY (or YYYY-MM-DD) "
        f"for the whole column, e.g. {bad.head(3).tolist()}; fix the file or the export"
    )


def _stripped(s: pd.Series) -> np.ndarray:
    """``per_value(s, lambda v: str(v).strip())`` as an array: text with no space to strip as it is.

    >>> _stripped(pd.Series(["a", "b"])).tolist(), _stripped(pd.Series([" a", 1])).tolist()
    (['a', 'b'], ['a', '1'])
    """
    values = s.to_numpy(dtype=object)
    if len(values) and pd.api.types.infer_dtype(values, skipna=False) == "string":
        text = values.astype(str)  # str.strip and np.strings.strip strip the same spaces
        if (np.strings.strip(text) == text).all():
            return values
    return per_value(s, lambda v: str(v).strip()).to_numpy()


def child_keys(df: pd.DataFrame, episodes: pd.DataFrame, use_la: bool) -> pd.Series:
    """Return the child key (``_uid``) of each row of another 903 table.

    With LA keys and no LA column in the table (one LA's return), the child is
    found by CHILD among the episodes.
    """
    child = pd.Series(_stripped(df["CHILD"]), index=df.index, dtype=object)
    if not use_la:
        return child
    if "LA" in df.columns and df["LA"].notna().all():
        return df["LA"].astype(str) + SEP + child
    return child.map(uid_by_child(episodes, use_la))


def _filled(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series(False, index=df.index)
    s = df[col]
    return s.notna() & (s.astype(str).str.strip() != "")


def uasc_children(
    tables: Mapping[str, pd.DataFrame], episodes: pd.DataFrame, use_la: bool
) -> set[str] | None:
    """Return the keys of unaccompanied asylum-seeking children (``None``: no UASC data).

    A uasc row counts when its SEX or DUC is filled (as DfE's validator reads
    the table; a row with neither filled counts when the table has neither
    column); a header ``UASC`` of 1 counts too.
    """
    found: set[str] | None = None
    uasc = tables.get("uasc")
    if uasc is not None:
        has_cols = [c for c in ("SEX", "DUC") if c in uasc.columns]
        flagged = pd.Series(not has_cols, index=uasc.index)
        for c in has_cols:
            flagged |= _filled(uasc, c)
        found = set(child_keys(uasc.loc[flagged], episodes, use_la).dropna())
    header = tables.get("header")
    if header is not None and "UASC" in header.columns:
        flag = pd.to_numeric(header["UASC"], errors="coerce") == 1
        found = (found or set()) | set(child_uid(header.loc[flag], use_la))
    return found


def uasc_column(returns: pd.DataFrame, children: set[str] | None) -> pd.Series:
    """Return 1/0 per return (``<NA>`` when the extract has no UASC data)."""
    if children is None:
        return pd.Series(pd.NA, index=returns.index, dtype="Int64")
    return returns["_uid"].isin(children).astype("Int64")


def _row_year(df: pd.DataFrame, default: int) -> pd.Series:
    if YEAR_COL in df.columns:
        y = pd.to_numeric(df[YEAR_COL], errors="coerce")
        return y.fillna(default).astype(np.int64)
    return pd.Series(default, index=df.index, dtype=np.int64)


def previous_permanence(
    returns: pd.DataFrame, table: pd.DataFrame | None, episodes: pd.DataFrame, use_la: bool
) -> pd.Series:
    """Return the previous permanence group known at each return.

    An order (P1-P4) counts when its DATE_PERM is on or before the return date,
    or, undated, when it was reported in the return's collection year or
    earlier. A child with rows but no such order is ``none``; a child with no
    row (or no table) is missing.
    """
    out = pd.Series(pd.NA, index=returns.index, dtype=object)
    if table is None or table.empty or "PREV_PERM" not in table.columns:
        return out
    code = per_value(table["PREV_PERM"], lambda v: None if pd.isna(v) else str(v).strip().upper())
    dated = (
        as_dates(table["DATE_PERM"], "previous_permanence", "DATE_PERM")
        if "DATE_PERM" in table.columns
        else pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns]")
    )
    ret_key, key = _int_keys(returns, table, episodes, use_la)
    keep = key >= 0  # a row whose child is not found (no key) counts for nobody
    t = pd.DataFrame(
        {
            "_k": key[keep],
            "code": code.to_numpy()[keep],
            "date": dated.to_numpy()[keep],
            "year": _row_year(table, 0).to_numpy()[keep],
        }
    )
    out[frame.key_isin(ret_key, t["_k"].to_numpy())] = "none"
    orders = t[t["code"].isin(_PREV_PERM_ORDER)]
    if orders.empty:
        return out
    r = pd.DataFrame(
        {
            "_k": ret_key,
            "ret": returns["period_end"].to_numpy(),
            "_row": np.arange(len(returns)),
        }
    )
    j = r.merge(orders, on="_k")
    ret_year = j["ret"].dt.year + (j["ret"].dt.month >= 4).astype(np.int64)
    known = (j["date"] <= j["ret"]) | (j["date"].isna() & (j["year"] <= ret_year))
    j = j.loc[known.to_numpy()].sort_values(["_row", "date", "year"], na_position="first")
    last = j.drop_duplicates("_row", keep="last")
    groups = last["code"].map(PREV_PERM_GROUP).to_numpy()
    out.iloc[last["_row"].to_numpy()] = groups
    return out


def _int_keys(
    returns: pd.DataFrame, table: pd.DataFrame, episodes: pd.DataFrame, use_la: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Integer child keys of the returns (their ``_uid``) and of the table's rows.

    Equal text key (:func:`child_keys`), equal integer; a row with no key is -1.
    Matching and joining on the integers is quicker than on the text. With LA
    keys, LA and child are numbered apart and then their pairs (no text key
    made), which is the same when no LA holds the separator.
    """
    n = len(returns)
    if use_la and "LA" in table.columns and table["LA"].notna().all() and "LA" in returns:
        la, la_text = pd.factorize(
            np.concatenate(
                [returns["LA"].astype(str).to_numpy(), table["LA"].astype(str).to_numpy()]
            )
        )
        if not any(SEP in t for t in la_text):
            child, child_text = pd.factorize(
                np.concatenate([returns["CHILD"].astype(str).to_numpy(), _stripped(table["CHILD"])])
            )
            pair, _ = pd.factorize(la.astype(np.int64) * len(child_text) + child)
            return pair[:n], pair[n:]
    uid = child_keys(table, episodes, use_la)
    codes, _ = pd.factorize(
        np.concatenate([returns["_uid"].to_numpy(dtype=object), uid.to_numpy(dtype=object)])
    )
    return codes[:n], codes[n:]


def _count_in_period(
    returns: pd.DataFrame, ret_key: np.ndarray, key: np.ndarray, dates: pd.Series
) -> pd.Series:
    """Count rows (integer child key, date) whose date falls within each return's period."""
    d = dates.to_numpy()
    keep = (key >= 0) & ~pd.isna(d)
    rows = pd.DataFrame({"_k": key[keep], "date": d[keep]})
    r = pd.DataFrame(
        {
            "_k": ret_key,
            "start": returns["period_start"].to_numpy(),
            "end": returns["period_end"].to_numpy(),
            "_row": np.arange(len(returns)),
        }
    )
    j = r.merge(rows, on="_k")
    hit = (j["date"] >= j["start"]) & (j["date"] <= j["end"])
    counts = np.bincount(j.loc[hit.to_numpy(), "_row"].to_numpy(), minlength=len(returns))
    return pd.Series(counts, index=returns.index, dtype="Int64")


def missing_counts(
    returns: pd.DataFrame, table: pd.DataFrame | None, episodes: pd.DataFrame, use_la: bool
) -> pd.DataFrame:
    """Return ``missing_episodes`` and ``away_episodes`` started within each period.

    Both are ``<NA>`` when the extract has no missing table.
    """
    if table is None or "MIS_START" not in table.columns or "MISSING" not in table.columns:
        na = pd.Series(pd.NA, index=returns.index, dtype="Int64")
        return pd.DataFrame({"missing_episodes": na, "away_episodes": na.copy()})
    ret_key, key = _int_keys(returns, table, episodes, use_la)
    start = as_dates(table["MIS_START"], "missing", "MIS_START")
    kind = _upper_text(table["MISSING"]).to_numpy()
    # A missing episode open at 31 March is returned again (closed) the next year:
    # one child, start and kind is one episode, however many returns list it.
    once = ~pd.DataFrame({"u": key, "s": start.to_numpy(), "k": kind}).duplicated().to_numpy()
    key, start, kind = key[once], start[once], kind[once]
    m, a = kind == "M", kind == "A"
    return pd.DataFrame(
        {
            "missing_episodes": _count_in_period(returns, ret_key, key[m], start[m]),
            "away_episodes": _count_in_period(returns, ret_key, key[a], start[a]),
        },
        index=returns.index,
    )


def oc3_deaths(
    table: pd.DataFrame | None,
    header: pd.DataFrame,
    episodes: pd.DataFrame,
    use_la: bool,
    last_year: int,
) -> pd.DataFrame:
    """Return the deaths OC3 records (IN_TOUCH = DIED) as exits: ``_uid, EXIT_DATE``.

    The date taken is the young person's birthday in the row's collection year
    (``last_year`` when the row has none), or their last DECOM or DEC if later.
    """
    cols = {"_uid": pd.Series(dtype=object), "EXIT_DATE": pd.Series(dtype="datetime64[ns]")}
    if table is None or "IN_TOUCH" not in table.columns:
        return pd.DataFrame(cols)
    died = _upper_text(table["IN_TOUCH"]) == "DIED"
    t = table.loc[died]
    if t.empty:
        return pd.DataFrame(cols)
    uid = child_keys(t, episodes, use_la)
    # only the header and episode rows that can be these children's (their text keys made)
    h = _rows_of(header, uid)
    h = h.assign(**{UID: child_uid(h, use_la)}).drop_duplicates(UID)
    dob = pd.to_datetime(uid.map(h.set_index(UID)["DOB"]))
    if "DOB" in t.columns:
        dob = dob.fillna(as_dates(t["DOB"], "oc3", "DOB"))
    year = _row_year(t, last_year)
    # the birthday within 1 April (year - 1) .. 31 March (year)
    before_april = (dob.dt.month < 4).astype(np.int64)
    age = (year - 1 + before_april - dob.dt.year).astype("Int64")
    birthday = pd.Series(pd.NaT, index=t.index, dtype="datetime64[ns]")
    for a in age.dropna().unique():
        m = (age == a).fillna(False).to_numpy(dtype=bool)
        birthday[m] = add_years(dob[m], int(a)).to_numpy()
    seen = _rows_of(episodes, uid)
    last_seen = (
        pd.concat([seen["DECOM"], seen["DEC"]])
        .groupby(pd.concat([child_uid(seen, use_la)] * 2))
        .max()
    )
    date = pd.concat([birthday, pd.to_datetime(uid.map(last_seen))], axis=1).max(axis=1)
    out = pd.DataFrame({"_uid": uid.to_numpy(), "EXIT_DATE": date.to_numpy()})
    return out.dropna().sort_values("EXIT_DATE").drop_duplicates("_uid")


def _rows_of(df: pd.DataFrame, uid: pd.Series) -> pd.DataFrame:
    """The rows of ``df`` (header or episodes) whose text key may be one of ``uid``.

    A row's key (:func:`reunistat.tables.keys.child_uid`) is its CHILD as
    text, after its LA and the separator with LA keys: every row whose key is
    in ``uid`` has a CHILD equal to a key or to a part of one after a
    separator. Those rows are kept (a few, for a few keys), in their order.
    """
    if UID in df.columns:
        return df.loc[df[UID].isin(set(uid.dropna())).to_numpy()]
    return df.loc[frame.may_have_key(df["CHILD"], uid.dropna().astype(str))]


def table_uses(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, object]]:
    """Return, per other 903 table present, its rows and what the cohort did with it."""
    out: dict[str, dict[str, object]] = {}
    for name in OTHER_TABLES:
        if name in tables and tables[name] is not None:
            out[name] = {"rows": len(tables[name]), "use": USED.get(name, "not used")}
    return out
