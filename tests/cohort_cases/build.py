"""Tiny linked tables written by hand: one call per header row or episode."""

from __future__ import annotations

import pandas as pd

LA = "E09000001"


def child(
    cid: str, dob: str, sex: str = "1", ethnic: str = "WBRI", upn: str | None = None, la: str = LA
) -> dict:
    return {
        "LA": la,
        "CHILD": cid,
        "SEX": sex,
        "DOB": dob,
        "ETHNIC": ethnic,
        "UPN": upn,
        "MOTHER": None,
        "MC_DOB": None,
    }


def ep(
    cid: str,
    decom: str,
    rne: str,
    dec: str | None = None,
    rec: str | None = None,
    *,
    ls: str = "C2",
    cin: str = "N1",
    place: str = "U4",
    home_post: str | None = "AB1",
    la: str = LA,
) -> dict:
    return {
        "LA": la,
        "CHILD": cid,
        "DECOM": decom,
        "RNE": rne,
        "LS": ls,
        "CIN": cin,
        "PLACE": place,
        "PLACE_PROVIDER": "PR1",
        "DEC": dec,
        "REC": rec,
        "REASON_PLACE_CHANGE": None,
        "HOME_POST": home_post,
        "PL_POST": None,
        "URN": None,
    }


def tables(header: list[dict], episodes: list[dict], **extra: pd.DataFrame) -> dict:
    """Return raw tables with ISO date strings turned into datetimes."""
    h = pd.DataFrame(header)
    e = pd.DataFrame(episodes)
    for c in ("DOB", "MC_DOB"):
        h[c] = pd.to_datetime(h[c])
    for c in ("DECOM", "DEC"):
        e[c] = pd.to_datetime(e[c])
    return {"header": h, "episodes": e, **extra}
