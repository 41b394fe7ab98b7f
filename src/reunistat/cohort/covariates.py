"""Covariates at the index return (DOMAIN.md §3), from the linked tables.

Every function takes the returns (one row per return home, with the child key
``_uid`` and the last episode's codes) and the tables, and returns columns
aligned with the returns. Codes and groupings come from :mod:`reunistat.codes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reunistat import codes
from reunistat.dates import age_years, financial_year
from reunistat.tables.keys import CID, child_uid, uid_by_child
from reunistat.tables.rules import frame
from reunistat.tables.rules.coded import Coded

_CIN_DISABILITY: Final = "N2"  # codes.CIN: child's disability
_NO_DISABILITY: Final = "NONE"  # codes.DISABILITY
assert _CIN_DISABILITY in codes.CIN and _NO_DISABILITY in codes.DISABILITY
RETURN_TYPE: Final = {"E4A": "planned", "E4B": "unplanned", "E13": "e13"}
assert set(RETURN_TYPE) == set(codes.REC_RETURN_HOME)


def age_bands(age: pd.Series) -> pd.Series:
    """Return the DfE age band of each age (vectorised :func:`reunistat.codes.age_band`)."""
    labels = np.array([name for name, _ in codes.AGE_BANDS], dtype=object)
    lowers = np.array([lower for _, lower in codes.AGE_BANDS], dtype=float)
    idx = np.searchsorted(lowers, age.to_numpy(dtype=float), side="right") - 1
    return pd.Series(labels[np.clip(idx, 0, len(labels) - 1)], index=age.index)


class ChildRows:
    """Each return's child's header row, a column at a time: ``cid.map(header[col])``.

    The header row of every return is found once from the integer child key
    (an array indexed by key, no hashing); a column is then taken by position.
    When a child has no header row, columns are mapped as before.
    """

    def __init__(self, header: pd.DataFrame, cid: pd.Series) -> None:
        self.header = frame.first_per_key(header, CID)  # one row per child
        self.cid = cid
        rows = frame.rows_of(self.header[CID].to_numpy(), cid.to_numpy())
        self.rows = None if (rows < 0).any() else rows

    def __getitem__(self, col: str) -> pd.Series:
        """The column's value for each return (indexed and named like ``cid``)."""
        if self.rows is None:
            return self.cid.map(self.header.set_index(CID)[col])
        out = self.header[col].take(self.rows)
        out.index, out.name = self.cid.index, self.cid.name
        return out


def disability_children(
    tables: Mapping[str, pd.DataFrame], episodes: pd.DataFrame, use_la: bool
) -> tuple[set[int], set[str]]:
    """Return the children with CIN category N2 (``_cid``) and with a CIN census disability.

    The first by the integer key of the episodes (no text made per row), the
    second by the text key (:func:`reunistat.tables.keys.child_uid`) of the CIN
    census rows.
    """
    n2 = Coded(episodes["CIN"]).eq(_CIN_DISABILITY)
    by_cid = set(np.unique(episodes[CID].to_numpy()[n2]).tolist())
    out: set[str] = set()
    cin = tables.get("cin")
    if cin is not None and not cin.empty:
        la_ok = bool(use_la and "LA" in cin.columns and cin["LA"].notna().all())
        disability = Coded(cin["DISABILITY"])
        has = ~disability.isna() & ~disability.eq(_NO_DISABILITY)
        cin = cin.loc[has]  # the text key of these rows only
        uid = child_uid(cin, la_ok, "LAchildID")
        if use_la and not la_ok:
            # CIN without LA: match on CHILD alone.
            uid = cin["LAchildID"].map(uid_by_child(episodes, use_la))
        out |= set(uid.dropna())
    return by_cid, out


def demographic(returns: pd.DataFrame, header: ChildRows) -> pd.DataFrame:
    """Age at return and band, sex and ethnicity."""
    dob = header["DOB"]
    ret = returns["period_end"]
    age = age_years(dob, ret)
    ethnic = header["ETHNIC"]
    return pd.DataFrame(
        {
            "age_at_return_years": age,
            "age_band": age_bands(age),
            "sex": header["SEX"].map(codes.SEX),
            "ethnic_code": ethnic,
            "ethnic_group": ethnic.map(codes.ETHNIC_GROUP),
        },
        index=returns.index,
        copy=False,
    )


def care_history(returns: pd.DataFrame, disabled: tuple[set[int], set[str]]) -> pd.DataFrame:
    """Covariates of the period just ended and the child's care history.

    ``disabled``: from :func:`disability_children`.
    """
    ls = returns["last_LS"]
    rec = returns["end_rec"]
    by_cid, by_uid = disabled
    disability = frame.key_isin(returns[CID].to_numpy(), np.fromiter(by_cid, np.int64, len(by_cid)))
    if by_uid:  # each key looked up in the set (its text hashed once), not the set hashed again
        uid = returns["_uid"].to_numpy()
        disability |= np.fromiter(map(by_uid.__contains__, uid), dtype=bool, count=len(uid))
    return pd.DataFrame(
        {
            "disability": disability.astype(np.int64),
            "section20": (ls == codes.SECTION20_LS).astype(np.int64),
            "legal_status_group": ls.map(codes.LS_GROUP),
            "prior_periods": returns["prior_periods"].astype(np.int64),
            "prior_returns_home": (returns["spell_number"] - 1).astype(np.int64),
            "placement_moves": returns["placement_moves"].astype(np.int64),
            "last_placement_type": returns["last_PLACE"].map(codes.PLACE_GROUP),
            "period_length_days": (returns["period_end"] - returns["period_start"]).dt.days.astype(
                np.int64
            ),
            "category_of_need": returns["last_CIN"],
            "return_type": rec.map(RETURN_TYPE),
            "return_year": financial_year(returns["period_end"]).astype(np.int64).to_numpy(),
        },
        index=returns.index,
        copy=False,
    )


def truncation(returns: pd.DataFrame, truncated_children: set[int]) -> pd.DataFrame:
    """Flags of left-truncated history at each return.

    ``history_truncated`` is 1 for a child in care when the data begin (their
    first episode in the data has RNE other than S, or starts before the
    extract start): ``prior_periods`` and ``prior_returns_home`` count only
    what the data show. ``period_truncated`` is 1 when the period just ended
    is such a child's first, begun before the data (its first episode is not
    RNE S): ``period_start``, ``period_length_days`` and ``placement_moves``
    are then what the data show, lower bounds.
    """
    return pd.DataFrame(
        {
            "history_truncated": returns[CID].isin(truncated_children).astype(np.int64),
            "period_truncated": (returns["first_rne"] != "S").astype(np.int64),
        },
        index=returns.index,
    )


def _int_lookup(keys: pd.Series, table: pd.DataFrame | None, key: str, value: str) -> pd.Series:
    """``value`` of the last row of ``table`` with each key (``Int64``, NA if none).

    As ``keys.map`` of the table without blank keys, last row per key, gives.
    Keys of text on both sides are matched by Arrow's hash look-up
    (:func:`_last_rows_of_text`); others are factorised together once.
    """
    if table is None or table.empty or value not in table.columns:
        return pd.Series(pd.NA, index=keys.index, dtype="Int64")
    t_keys, k_keys = _objects(table[key]), _objects(keys)
    rows = _last_rows_of_text(t_keys, k_keys)
    if rows is None:
        rows = _last_rows(t_keys, k_keys)
    values = table[value].astype("Int64").array
    out = values.take(rows, allow_fill=True)  # -1: NA
    return pd.Series(out, index=keys.index, dtype="Int64")


def _last_rows(table_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Per key, the last row of ``table_keys`` holding it (-1: none, or a blank key)."""
    n_table = len(table_keys)
    codes, uniques = pd.factorize(np.concatenate([table_keys, keys]), use_na_sentinel=True)
    row_of = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last: a blank key
    t_codes = codes[:n_table]
    filled = np.flatnonzero(t_codes >= 0)
    last = pd.Series(t_codes[filled]).drop_duplicates(keep="last")
    row_of[last.to_numpy()] = filled[last.index.to_numpy()]
    return row_of[codes[n_table:]]


def _last_rows_of_text(table_keys: np.ndarray, keys: np.ndarray) -> np.ndarray | None:
    """:func:`_last_rows` when both sides hold text or blanks only (else None).

    Arrow hashes the smaller side and looks the other up in it: each key in
    the table read backwards (its first row there is its last row), or each
    row of the table among the keys, then each key among the keys (its first
    place): a key's row is the last row found at its first place. A blank
    (None or NaN) matches nothing. Text equal in Python is equal in Arrow,
    so the rows are those ``pd.factorize`` matches.
    """
    if any(
        pd.api.types.infer_dtype(a, skipna=True) not in ("string", "empty")
        for a in (table_keys, keys)
    ):
        return None
    wanted = pa.array(keys, type=pa.string(), from_pandas=True)
    if len(table_keys) <= len(keys):
        backwards = pa.array(table_keys[::-1], type=pa.string(), from_pandas=True)
        at = _places(pc.index_in(wanted, value_set=backwards, skip_nulls=True))  # -1: none
        return np.where(at >= 0, len(table_keys) - 1 - at, -1)
    table = pa.array(table_keys, type=pa.string(), from_pandas=True)
    place = _places(pc.index_in(table, value_set=wanted, skip_nulls=True))  # -1: no key's
    found = np.flatnonzero(place >= 0)
    last = np.full(len(keys), -1, dtype=np.int64)
    np.maximum.at(last, place[found], found)  # per first place of a key: its last row
    first = _places(pc.index_in(wanted, value_set=wanted, skip_nulls=True))  # -1: blank
    return np.where(first >= 0, last[first], -1)


def _places(found: pa.Array) -> np.ndarray:
    """Arrow's ``index_in`` answer as integers, -1 where null (not found)."""
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _objects(s: pd.Series) -> np.ndarray:
    """The values as objects (a ``category`` column's blanks as None)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return codes.category_values(s)
    return s.to_numpy(dtype=object)


def linked(
    returns: pd.DataFrame, header: ChildRows, tables: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """IDACI decile of the home postcode, FSM from the NPD, and the LA pilot flag."""
    idaci = _int_lookup(
        returns["last_HOME_POST"], tables.get("postcodes"), "HOME_POST", "IDACI_DECILE"
    )
    upn = header["UPN"]
    fsm = _int_lookup(upn, tables.get("npd"), "UPN", "FSM_EVER")
    la = tables.get("la")
    pilot = pd.Series(0, index=returns.index, dtype=np.int64)
    if la is not None and not la.empty and "PILOT" in la.columns:
        t = la.drop_duplicates("LA", keep="last").set_index("LA")
        # each LA of the returns looked up once (their rows come in runs), a blank as None
        at, names = frame.factorize_runs(returns["LA"].to_numpy())
        each = pd.Series(
            np.append(names.astype(object), np.array([None], dtype=object))
        )  # the last: a blank
        on = (each.map(t["PILOT"]).fillna(0).astype(int) == 1).to_numpy()[at]
        start = pd.to_datetime(each.map(t["PILOT_START"])).to_numpy()[at]
        pilot = pd.Series(
            on & (start <= returns["period_end"].to_numpy()), index=returns.index
        ).astype(np.int64)
    return pd.DataFrame(
        {"idaci_decile": idaci, "fsm": fsm, "pilot": pilot}, index=returns.index, copy=False
    )
