"""The 903 header and the linked CIN census and NPD tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reunistat import codes
from reunistat.synthetic._draw import blank_where, stable_order, to_datetime
from reunistat.synthetic.population import Children

DISABILITY_CODES = tuple(c for c in codes.DISABILITY if c != "NONE")


def pseudonyms(
    rng: np.random.Generator, n: int, la: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return pseudonymous CHILD identifiers, UPN-like pupil references, and sort keys.

    The identifiers are zero-padded, so they sort as text in the order of the
    integer keys returned third. Given each child's authority index ``la``,
    the strings are made in the order the tables list the children (by LA,
    then key), so that reading them in that order reads memory in order: the
    same values, faster to gather and to write when there are millions.
    """
    perm = rng.permutation(n).astype(np.int64)
    child, upn = id_strings(perm, la, id_width(n))
    return child, upn, perm


def id_width(n: int) -> int:
    """Digits of the CHILD identifiers among ``n`` children (at least 8).

    >>> id_width(10**9)
    9
    """
    return max(8, len(str(n - 1)))


def id_strings(
    perm: np.ndarray, la: np.ndarray | None, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """CHILD and UPN strings of children with keys ``perm`` (see :func:`pseudonyms`)."""
    n = perm.size
    order = np.arange(n) if la is None else stable_order(perm, la)
    child = np.empty(n, dtype=object)
    upn = np.empty(n, dtype=object)
    p = perm[order]
    child[order] = np.char.add("C", np.char.zfill(p.astype(str), width)).astype(object)
    upn[order] = np.char.add("A", np.char.zfill(upn_numbers(p).astype(str), 12)).astype(object)
    return child, upn


def upn_numbers(perm: np.ndarray) -> np.ndarray:
    """The number in each child's UPN (``"A"`` and 12 digits): UPNs sort as these numbers do.

    A bijection of the children's ``perm`` keys onto numbers below 10**12.

    >>> upn_numbers(np.array([0, 1])).tolist()
    [104729, 112648]
    """
    return (perm.astype(np.int64) * 7919 + 104729) % 10**12


def header_table(
    rng: np.random.Generator,
    cfg: dict[str, Any],
    kids: Children,
    la_codes: np.ndarray,
    child_id: np.ndarray,
    upn: np.ndarray,
    data_end: int,
) -> pd.DataFrame:
    """The 903 header: one row per child, with UPN only for school-age children."""
    pop = cfg["population"]
    n = kids.n
    school_age = (data_end - kids.dob) >= 4 * 365.25
    has_upn = school_age & (rng.random(n) < pop["upn_rate"])
    girl = kids.sex == "2"
    age_at_end = (data_end - kids.dob) / 365.25
    mother = girl & (age_at_end >= 14.5) & (rng.random(n) < pop["mother_rate"])
    mc_age = 14.0 + rng.random(n) * np.clip(np.minimum(age_at_end, 18.0) - 14.0, 0.0, None)
    mc_dob = kids.dob + (mc_age * 365.25).astype(np.int64)
    return pd.DataFrame(
        {
            "LA": la_codes[kids.la],
            "CHILD": child_id,
            "SEX": kids.sex,
            "DOB": to_datetime(kids.dob),
            "ETHNIC": kids.ethnic,
            "UPN": blank_where(~has_upn, upn),
            "MOTHER": blank_where(~girl, np.where(mother, "1", "0")),
            "MC_DOB": to_datetime(mc_dob, missing=~mother),
        }
    )


def cin_table(
    rng: np.random.Generator,
    kids: Children,
    header: pd.DataFrame,
    keep: np.ndarray | None = None,
    sort_key: np.ndarray | None = None,
) -> pd.DataFrame:
    """The CIN census disability rows: one or two codes per disabled child, else NONE.

    ``keep`` (one flag per child) limits the rows to some children, after the draws.
    ``sort_key`` (one integer per child, in the order of its LA and CHILD, as
    ``child_key``) returns the rows sorted by LA and CHILD (stable), as
    ``sort_values(["LA", "LAchildID"])`` does, without sorting text.
    """
    n_codes = np.where(kids.disabled, 1 + (rng.random(kids.n) < 0.3), 1)
    rows = np.repeat(np.arange(kids.n), n_codes)
    pick = rng.integers(0, len(DISABILITY_CODES), rows.size)
    disability = np.where(
        kids.disabled[rows], np.array(DISABILITY_CODES, dtype=object)[pick], "NONE"
    )
    # a child's second code repeating its first is the only repeated row (CHILD is unique):
    # what drop_duplicates() removes, found on integers
    repeat = np.zeros(rows.size, dtype=bool)
    repeat[1:] = (rows[1:] == rows[:-1]) & (pick[1:] == pick[:-1])
    used = ~repeat if keep is None else ~repeat & keep[rows]
    kept = np.flatnonzero(used)
    if sort_key is not None:
        kept = kept[stable_order(sort_key[rows[kept]])]
    # the rows kept, gathered once in their final order
    child = rows[kept]
    return pd.DataFrame(
        {
            "LA": header["LA"].to_numpy()[child],
            "LAchildID": header["CHILD"].to_numpy()[child],
            "UPN": header["UPN"].to_numpy()[child],
            "DISABILITY": disability[kept],
        }
    )


def npd_table(
    rng: np.random.Generator,
    kids: Children,
    header: pd.DataFrame,
    keep: np.ndarray | None = None,
    sort_key: np.ndarray | None = None,
) -> pd.DataFrame:
    """NPD pupil rows for children with a UPN: FSM, IDACI decile of home, SEN.

    ``keep`` (one flag per child) limits the rows to some children, after the draws.
    ``sort_key`` (one integer per child that sorts as its UPN, :func:`upn_numbers`)
    returns the rows sorted by UPN, as ``sort_values("UPN")`` does (UPNs are
    distinct), without sorting text.
    """
    has = header["UPN"].notna().to_numpy()
    idx = np.flatnonzero(has)
    idaci = kids.idaci[idx]
    fsm = rng.random(idx.size) < (0.75 - 0.05 * (idaci - 1))
    u = rng.random(idx.size)
    dis = kids.disabled[idx]
    sen = np.where(u < np.where(dis, 0.55, 0.12), 0, np.where(u < np.where(dis, 0.9, 0.45), 1, 2))
    rows = np.arange(idx.size) if keep is None else np.flatnonzero(keep[idx])
    if sort_key is not None:
        rows = rows[stable_order(sort_key[idx[rows]])]
    # the rows kept, gathered once in their final order
    return pd.DataFrame(
        {
            "UPN": header["UPN"].to_numpy()[idx[rows]],
            "FSM_EVER": fsm[rows].astype(np.int8),
            "IDACI_DECILE": idaci[rows].astype(np.int8),
            "SEN": np.array(["E", "K", "N"], dtype=object)[sen[rows]],
        }
    )
