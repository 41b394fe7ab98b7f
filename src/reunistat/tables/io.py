"""Read an SSDA903 extract: CSV as DfE ships it, or Parquet from the generator.

A directory holds one file per table (``header.csv``, ``episodes.parquet``...)
or one file per table and annual return (``episodes_2019.csv``,
``2020/episodes.csv``...). Several annual returns are stacked and
de-duplicated as a 903 analyst does (:func:`stack_returns`): the same episode
appears in consecutive years, open (blank DEC) in one and closed in the next.

Every problem met while reading (an unreadable date, two different rows for
one key in one return) is recorded in the same form as validation problems
(:data:`reunistat.tables.schema.PROBLEM_COLUMNS`), never silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from reunistat.tables import schema
from reunistat.tables.keys import CID, UID, child_uid, has_la

#: Internal column: the rank of the annual return a row came from (0 = earliest).
RETURN_COL = "_RETURN"
#: Matching order: more specific names first, so ``la_2019_episodes`` is episodes.
_MATCH_ORDER = ("episodes", "header", "postcodes", "npd", "cin", "exits", "la")
#: Date formats accepted in CSV files, the DfE one first (a midnight time, as
#: spreadsheets export it, and ISO dates are also read).
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S")
_YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


@dataclass
class Extract:
    """Linked tables read and stacked, with what happened on the way.

    Attributes
    ----------
    tables : dict of str to DataFrame
        One frame per table, parsed (dates as datetime64, codes as strings),
        one row per key.
    problems : DataFrame
        Problems met while reading, in :data:`~reunistat.tables.schema.PROBLEM_COLUMNS`.
    stacking : DataFrame
        Per table: ``files``, ``rows_read``, ``identical_dropped`` (exact
        duplicates), ``superseded`` (an earlier or open version of a row a later
        return holds) and ``rows_kept``.
    """

    tables: dict[str, pd.DataFrame]
    problems: pd.DataFrame = field(default_factory=lambda: empty_problems())
    stacking: pd.DataFrame = field(default_factory=pd.DataFrame)


def empty_problems() -> pd.DataFrame:
    """Return an empty problems frame."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in schema.PROBLEM_COLUMNS})


def problems_frame(
    df: pd.DataFrame, mask: np.ndarray | pd.Series, table: str, column: str, rule: str, **kw: str
) -> pd.DataFrame:
    """Return one problem row per row of ``df`` selected by ``mask``.

    Parameters
    ----------
    df : DataFrame
        The table checked.
    mask : array of bool
        Rows that break ``rule``.
    table, column, rule : str
        What to name in each problem.
    **kw
        ``detail`` (text, same for every row) and ``value_col`` (the column
        whose value to report; ``column`` by default).
    """
    m = np.asarray(mask, dtype=bool)
    sub = df.loc[m]
    n = len(sub)
    value_col = kw.get("value_col", column)

    def col(name: str) -> pd.Series:
        if name in sub.columns:
            return sub[name].reset_index(drop=True).astype(object)
        return pd.Series([None] * n, dtype=object)

    child_col = "CHILD" if "CHILD" in sub.columns else "LAchildID"
    out = pd.DataFrame(
        {
            "table": table,
            "column": column,
            "LA": col("LA"),
            "CHILD": col(child_col),
            "DECOM": col("DECOM"),
            "rule": rule,
            "value": col(value_col).astype(object),
            "detail": kw.get("detail", schema.RULES.get(rule, "")),
        },
        index=range(n),
    )
    return out[list(schema.PROBLEM_COLUMNS)]


# ---------------------------------------------------------------------------
# parsing


def _as_text(s: pd.Series) -> pd.Series:
    """Return ``s`` as stripped strings in an object column, blanks as None.

    Works on the distinct values only (codes repeat a lot), so it is fast on
    millions of rows.
    """
    if pd.api.types.is_float_dtype(s):
        whole = s.notna() & (s == np.floor(s.fillna(0)))
        s = s.astype(object).where(~whole, s.where(whole).astype("Int64").astype(str))
    idx, uniques = pd.factorize(s, use_na_sentinel=True)
    text = pd.Index(uniques).astype(str).str.strip().to_numpy(dtype=object)
    text[text == ""] = None
    values = np.empty(len(text) + 1, dtype=object)  # idx -1 (missing) picks the trailing None
    values[:-1] = text
    return pd.Series(values[idx], index=s.index, dtype=object, name=s.name)


def _parse_dates(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse dates (:data:`DATE_FORMATS`); return the dates and a mask of bad values."""
    if pd.api.types.is_datetime64_any_dtype(s):
        d = pd.Series(pd.to_datetime(s).to_numpy(dtype="datetime64[ns]"), index=s.index)
        return d.dt.normalize(), pd.Series(False, index=s.index)
    txt = _as_text(s)
    d = pd.to_datetime(txt, format=DATE_FORMATS[0], errors="coerce")
    for fmt in DATE_FORMATS[1:]:
        retry = d.isna() & txt.notna()
        if not retry.any():
            break
        d = d.copy()
        d[retry] = pd.to_datetime(txt[retry], format=fmt, errors="coerce")
    bad = d.isna() & txt.notna()
    return d.astype("datetime64[ns]").dt.normalize(), bad


def _parse_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.astype("Int64"), pd.Series(False, index=s.index)
    txt = _as_text(s)
    num = pd.to_numeric(txt, errors="coerce")
    bad = num.isna() & txt.notna()
    whole = num.notna() & (num == np.floor(num.fillna(0)))
    bad |= num.notna() & ~whole
    return num.where(whole).astype("Int64"), bad


def parse_table(df: pd.DataFrame, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse one raw table by its declaration; return it and its parsing problems.

    Declared columns absent from ``df`` are added blank; undeclared columns
    are kept as they are.
    """
    out = df.copy()
    probs = []
    for c in schema.TABLES[table]:
        if c.name not in out.columns:
            out[c.name] = pd.Series([None] * len(out), index=out.index, dtype=object)
            if c.kind == "date":
                out[c.name] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
            continue
        if c.kind == "date":
            raw = out[c.name]
            out[c.name], bad = _parse_dates(raw)
            if bad.any():
                p = out.loc[bad].copy()
                p[c.name] = raw[bad]
                probs.append(problems_frame(p, np.ones(len(p), bool), table, c.name, "bad_date"))
        elif c.kind == "int":
            raw = out[c.name]
            out[c.name], bad = _parse_int(raw)
            if bad.any():
                p = out.loc[bad].copy()
                p[c.name] = raw[bad]
                probs.append(
                    problems_frame(
                        p, np.ones(len(p), bool), table, c.name, "code", detail="not a whole number"
                    )
                )
        else:
            out[c.name] = _as_text(out[c.name])
    problems = pd.concat(probs, ignore_index=True) if probs else empty_problems()
    return out, problems


# ---------------------------------------------------------------------------
# stacking annual returns


def _key(table: str, df: pd.DataFrame) -> list[str]:
    base = {
        "header": ["CHILD"],
        "episodes": ["CHILD", "DECOM"],
        "npd": ["UPN"],
        "postcodes": ["HOME_POST"],
        "la": ["LA"],
    }.get(table)
    if base is None:
        return []
    if CID in df.columns and table in ("header", "episodes"):
        return [CID, *base[1:]]
    if "LA" in df.columns and table in ("header", "episodes"):
        return ["LA", *base]
    return base


def _resolve(df: pd.DataFrame, table: str, key: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep one row per key (DEC filled, then latest return); report unresolvable clashes."""
    problems = empty_problems()
    dec_filled = df["DEC"].notna() if "DEC" in df.columns else pd.Series(True, index=df.index)
    clash = df.assign(_f=dec_filled).duplicated(subset=[*key, RETURN_COL, "_f"], keep=False)
    if clash.any():
        names = ["LA+CHILD" if k == CID else k for k in key]
        detail = f"more than one different row for {'+'.join(names)} in one return"
        column = "CHILD" if key[-1] == CID else key[-1]
        problems = problems_frame(df, clash.to_numpy(), table, column, "duplicate", detail=detail)
    df = df.assign(_dec_filled=dec_filled).sort_values(
        [*key, "_dec_filled", RETURN_COL], kind="stable"
    )
    df = df.loc[~df.duplicated(subset=key, keep="last")]
    return df.drop(columns="_dec_filled"), problems


def stack_returns(
    df: pd.DataFrame, table: str
) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    """De-duplicate a table stacked from one or several annual returns.

    Rules, in order: rows identical in every declared column are dropped
    (``identical_dropped``); of several rows for one key (episodes: LA, CHILD,
    DECOM; header: LA, CHILD) the one with DEC filled and then from the latest
    return is kept (``superseded`` counts the others: open copies of a closed
    episode, and earlier returns' versions). Two different rows for one key in
    the same return, both open or both closed, cannot be resolved and are
    reported as rule ``duplicate`` (the latest-listed row is kept so the table
    stays keyed).

    Returns
    -------
    table : DataFrame
    counts : dict
        ``rows_read``, ``identical_dropped``, ``superseded``, ``rows_kept``.
    problems : DataFrame
    """
    n0 = len(df)
    if RETURN_COL not in df.columns:
        df = df.assign(**{RETURN_COL: 0})
    declared = [c.name for c in schema.TABLES[table] if c.name in df.columns]
    key = _key(table, df)
    # identical rows share the key: compare whole rows only where the key repeats
    maybe = df.duplicated(subset=key or declared, keep=False).to_numpy()
    ident = np.zeros(len(df), dtype=bool)
    if maybe.any():
        ident[maybe] = df.loc[maybe].duplicated(subset=declared, keep="last").to_numpy()
    if ident.any():
        df = df.loc[~ident]
    problems = empty_problems()
    superseded = 0
    if key and maybe.any():  # rows sharing a key exist: resolve only those
        cand = np.flatnonzero(maybe[~ident])
        rep = np.zeros(len(df), dtype=bool)
        rep[cand] = df.iloc[cand].duplicated(subset=key, keep=False).to_numpy()
        sub, problems = _resolve(df.loc[rep], table, key)
        superseded = int(rep.sum()) - len(sub)
        df = pd.concat([df.loc[~rep], sub])
    counts = {
        "rows_read": n0,
        "identical_dropped": int(ident.sum()),
        "superseded": superseded,
        "rows_kept": len(df),
    }
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        df = df.reset_index(drop=True)
    return df, counts, problems


# ---------------------------------------------------------------------------
# entry points


def _normalise_names(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return a copy with column names stripped and matched to the declared case."""
    declared = {c.name.upper(): c.name for c in schema.TABLES[table]}
    names = {c: declared.get(str(c).strip().upper(), str(c).strip()) for c in df.columns}
    return df.rename(columns=names)


def prepare_tables(
    raw: Mapping[str, pd.DataFrame | Iterable[pd.DataFrame]],
    files: Mapping[str, int] | None = None,
) -> Extract:
    """Parse, stack and de-duplicate tables already in memory.

    Parameters
    ----------
    raw : mapping of str to DataFrame or list of DataFrames
        A table name of :data:`~reunistat.tables.schema.TABLES` to its frame,
        or to one frame per annual return, earliest first. Unknown names are
        ignored.
    files : mapping of str to int, optional
        How many files each table came from (for the stacking report).
    """
    parsed: dict[str, tuple[pd.DataFrame, int]] = {}
    probs = []
    for name, value in raw.items():
        if name not in schema.TABLES or value is None:
            continue
        frames = [value] if isinstance(value, pd.DataFrame) else list(value)
        parts = []
        for i, f in enumerate(frames):
            f = _normalise_names(f, name)
            if RETURN_COL not in f.columns:
                f[RETURN_COL] = i
            parts.append(f)
        df = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        missing = [c for c in schema.MUST_HAVE[name] if c not in df.columns]
        if missing:
            raise ValueError(
                f"table {name!r} lacks column(s) {missing} (rule missing_column); "
                f"it has {list(df.columns)}"
            )
        df, p = parse_table(df, name)
        parsed[name] = (df, len(frames))
        probs.append(p)
    for name in schema.REQUIRED_TABLES:
        if name not in parsed:
            raise ValueError(f"the extract has no {name!r} table (required)")
    _add_child_keys(parsed["header"][0], parsed["episodes"][0])
    tables: dict[str, pd.DataFrame] = {}
    rows = []
    for name, (df, n_frames) in parsed.items():
        df, counts, p2 = stack_returns(df, name)
        tables[name] = df.drop(columns=[RETURN_COL])
        probs.append(p2)
        rows.append({"table": name, "files": (files or {}).get(name, n_frames), **counts})
    problems = pd.concat(probs, ignore_index=True) if probs else empty_problems()
    return Extract(tables=tables, problems=problems, stacking=pd.DataFrame(rows))


def _add_child_keys(header: pd.DataFrame, episodes: pd.DataFrame) -> None:
    """Add the child key ``_uid`` (text) and ``_cid`` (integer, shared) to both tables."""
    use_la = has_la(header, episodes)
    uid_h = child_uid(header.drop(columns=UID, errors="ignore"), use_la)
    uid_e = child_uid(episodes.drop(columns=UID, errors="ignore"), use_la)
    codes, _ = pd.factorize(pd.concat([uid_h, uid_e], ignore_index=True))
    header[UID] = uid_h.to_numpy()
    header[CID] = codes[: len(header)]
    episodes[UID] = uid_e.to_numpy()
    episodes[CID] = codes[len(header) :]


def _table_of(path: Path) -> str | None:
    stem = path.name.split(".")[0].lower()
    for name in _MATCH_ORDER:
        if re.search(rf"(^|[_\-\s]){name}($|[_\-\s])", stem):
            return name
    return None


def _return_order(path: Path) -> tuple[int, str]:
    found = _YEAR.search(path.name) or _YEAR.search(str(path.parent))
    return (int(found.group(0)) if found else 0, str(path))


def find_files(directory: str | Path) -> dict[str, list[Path]]:
    """Return the files of each table under ``directory``, earliest return first.

    Parquet files are preferred: where a table has any, its CSV files (the
    generator writes both) are ignored.
    """
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    found: dict[str, dict[str, list[Path]]] = {}
    for p in sorted(root.rglob("*")):
        suffix = p.suffix.lower()
        if not p.is_file() or suffix not in (".csv", ".parquet"):
            continue
        name = _table_of(p)
        if name is not None:
            found.setdefault(name, {}).setdefault(suffix, []).append(p)
    out = {}
    for name, by_suffix in found.items():
        chosen = by_suffix.get(".parquet") or by_suffix[".csv"]
        out[name] = sorted(chosen, key=_return_order)
    return out


def _read_one(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")


def read_extract(directory: str | Path) -> Extract:
    """Read every table of an extract directory; stack and de-duplicate annual returns.

    Parameters
    ----------
    directory : str or Path
        Holds ``header`` and ``episodes`` (required) and optionally ``cin``,
        ``npd``, ``postcodes``, ``la`` and ``exits`` tables, as ``.csv``
        (``dd/mm/YYYY`` dates) or ``.parquet``, one file per table or one per
        table and annual return (a year in the file or folder name orders them).

    Returns
    -------
    Extract
    """
    files = find_files(directory)
    raw = {name: [_read_one(p) for p in paths] for name, paths in files.items()}
    return prepare_tables(raw, files={k: len(v) for k, v in files.items()})
