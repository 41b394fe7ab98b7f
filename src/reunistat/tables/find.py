"""Which file is which table, and which collection year.

A file belongs to a table by its name with the collection year and the
separators removed, compared with the sector's names for the 903 tables and
DfE's own spellings (``SSDA903_2020_episodes.csv``, ``2019-episodes.csv``,
``Episodes.csv`` and ``2020/episodes.csv`` are all episodes; ``sw_episodes.csv``
and ``SWEpisodes.csv`` are the social-worker table, never episodes). A name
that only *contains* a table name (``episodes_old.csv``, ``copy of
episodes.csv``) is not read: it is listed as not used, with the reason, so a
stray copy can never be stacked with the real return.

The collection year (the year the collection ends: 2018 for 2017-18) comes
from the file name, else from the folder (``2019/``, ``2019-20/``), else from
a ``YEAR`` column in the file (read later, by :mod:`reunistat.tables.formats`).

Examples
--------
>>> table_of_name("SSDA903_2020_episodes.csv")
'episodes'
>>> table_of_name("SWEpisodes.csv"), table_of_name("episodes_old.csv")
('sw_episodes', None)
>>> year_of_name("2019-20_header.csv"), year_of_name("header.csv")
(2020, None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reunistat.codes.lists import RETURN_TABLE_COLUMNS
from reunistat.errors import ConfigError, ReadError

#: The 903 return's tables and the linked tables, by the name reunistat uses,
#: with every spelling that names them (compared lower-case, separators removed).
TABLE_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "header": ("header", "headers"),
    "episodes": ("episodes", "episode"),
    "uasc": ("uasc",),
    "missing": ("missing", "missings", "amissing"),
    "reviews": ("reviews", "review", "areview"),
    "oc2": ("oc2",),
    "oc3": ("oc3",),
    "ad1": ("ad1",),
    "placed_for_adoption": ("placedforadoption", "placedadoption", "adplaced", "sbpfa"),
    "previous_permanence": ("previouspermanence", "prevperm", "permanence"),
    "sw_episodes": ("swepisodes", "socialworkerepisodes", "swepisode"),
    "dolo": ("dolo",),
    "cin": ("cin",),
    "npd": ("npd",),
    "postcodes": ("postcodes", "postcode"),
    "la": ("la",),
    "exits": ("exits",),
}
#: Tables of the SSDA903 return itself (the rest are linked tables).
RETURN_TABLES: Final = (
    "header",
    "episodes",
    "uasc",
    "missing",
    "reviews",
    "oc2",
    "oc3",
    "ad1",
    "placed_for_adoption",
    "previous_permanence",
    "sw_episodes",
    "dolo",
)
_ALIAS: Final = {a: t for t, names in TABLE_ALIASES.items() for a in names}
#: File formats read, by suffix.
FORMATS: Final = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xml": "xml",
    ".dta": "stata",
    ".sav": "spss",
    ".zsav": "spss",
    ".parquet": "parquet",
}
#: Words around a table name that say nothing about it (``SSDA903_2020_episodes``).
_NOISE: Final = frozenset({"ssda903", "ssda", "903", "lac", "cla", "return", "data", "extract"})
_TOKEN = re.compile(r"[a-z]+|\d+")
_YEAR4 = re.compile(r"^(19|20)\d{2}$")


def _tokens(stem: str) -> list[str]:
    """Split a name into lower-case words and numbers (``SWEpisodes`` -> sw, episodes)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)  # camelCase: DfE's SWEpisodes
    return _TOKEN.findall(spaced.lower())


def _strip_year(tokens: list[str]) -> tuple[list[str], int | None]:
    """Remove year tokens (``2019``, ``2019 20``, ``201920``); return the rest and the year."""
    rest: list[str] = []
    year: int | None = None
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if _YEAR4.match(t):
            y = int(t)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if nxt.isdigit() and len(nxt) in (2, 4) and int(nxt) % 100 == (y + 1) % 100:
                y, i = y + 1, i + 1  # 2019-20 or 2019_2020: the collection ending in 2020
            year = y if year is None else max(year, y)
        elif len(t) == 6 and t.isdigit() and _YEAR4.match(t[:4]):
            if int(t[4:]) == (int(t[:4]) + 1) % 100:
                year = int(t[:4]) + 1
            else:
                rest.append(t)
        else:
            rest.append(t)
        i += 1
    return rest, year


def _stem(name: str) -> str:
    return name.split(".")[0] if not name.startswith(".") else name


def table_of_name(name: str) -> str | None:
    """Return the table a file or sheet name stands for, or None.

    The name's year and separators are removed, and the words ``SSDA903``,
    ``903``, ``LAC``, ``CLA``, ``return``, ``data`` and ``extract``; what is
    left must be one of :data:`TABLE_ALIASES` exactly.
    """
    rest, _ = _strip_year(_tokens(_stem(name)))
    rest = [t for t in rest if t not in _NOISE]
    return _ALIAS.get("".join(rest))


def mentions_table(name: str) -> str | None:
    """Return a table whose name appears as a word of ``name`` (for a stray copy), or None."""
    tokens = _tokens(_stem(name))
    joined = "".join(tokens)
    for alias, table in sorted(_ALIAS.items(), key=lambda kv: -len(kv[0])):
        if len(alias) >= 4 and alias in joined:
            return table
    return None


def year_of_name(name: str) -> int | None:
    """Return the collection year (the year it ends) a file or folder name carries, or None."""
    return _strip_year(_tokens(_stem(name)))[1]


def is_year_folder(name: str) -> bool:
    """Return whether a folder name is only a collection year (``2019``, ``2019-20``)."""
    rest, year = _strip_year(_tokens(name))
    return year is not None and not rest


@dataclass(frozen=True)
class Found:
    """One file of the extract.

    Attributes
    ----------
    path : Path
    format : str
        One of the values of :data:`FORMATS`.
    table : str or None
        The table its name stands for; None for a workbook or XML return whose
        sheets or elements say which tables it holds.
    year : int or None
        The collection year from its name or folder.
    year_from : str
        ``"name"``, ``"folder"`` or ``""``.
    """

    path: Path
    format: str
    table: str | None
    year: int | None
    year_from: str


@dataclass
class Listing:
    """The files found under a directory, and those not used with the reason."""

    found: list[Found]
    not_used: list[tuple[Path, str]]


def _year_of(path: Path, root: Path) -> tuple[int | None, str]:
    y = year_of_name(path.name)
    if y is not None:
        return y, "name"
    for parent in path.relative_to(root).parents:
        if parent.name:
            y = year_of_name(parent.name)
            if y is not None:
                return y, "folder"
    return None, ""


def _walk(root: Path, recursive: bool, not_used: list[tuple[Path, str]]) -> list[Path]:
    """Files under ``root``: its own, those of year folders, and all when ``recursive``."""
    files: list[Path] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith((".", "~$")):
            continue
        if p.is_file():
            files.append(p)
        elif p.is_dir() and (recursive or is_year_folder(p.name)):
            files += _walk(p, recursive, not_used)
        elif p.is_dir():
            not_used.append((p, "a subfolder that is not a collection year: use --recursive"))
    return files


def classify(path: Path, root: Path) -> tuple[Found | None, str]:
    """Return the file as a :class:`Found`, or None and why it is not used."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        return None, "not a table format (CSV, XLSX, XML, Stata, SPSS, Parquet)"
    year, year_from = _year_of(path, root)
    table = table_of_name(path.name)
    if table is None and fmt in ("xlsx", "xml"):
        return Found(path, fmt, None, year, year_from), ""
    if table is None:
        near = mentions_table(path.name)
        if near is not None:
            why = (
                f"its name contains {near!r} but is not a table name (a copy?): not read; "
                f"rename it (e.g. {near}_{year or 2020}.csv) to read it"
            )
            return None, why
        return None, "its name is not a table name"
    return Found(path, fmt, table, year, year_from), ""


def list_files(path: str | Path, recursive: bool = False) -> Listing:
    """Return the table files of an extract directory (or one file) and those not used.

    Parameters
    ----------
    path : str or Path
        A directory, or one file (an XLSX workbook or XML return, or a table).
    recursive : bool
        Read every subfolder. Subfolders named as a collection year
        (``2019/``, ``2019-20/``) are always read.

    Raises
    ------
    ReadError
        When ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise ReadError(f"{root}: no such file or directory; give the folder of the extract")
    not_used: list[tuple[Path, str]] = []
    if root.is_file():
        found, why = classify(root, root.parent)
        if found is None:
            raise ReadError(f"{root}: cannot be read as a table of an extract ({why})")
        return Listing([found], [])
    out = []
    for p in _walk(root, recursive, not_used):
        found, why = classify(p, root)
        if found is None:
            not_used.append((p, why))
        else:
            out.append(found)
    return Listing(out, not_used)


#: How :func:`choose_form` picks between one return held in two forms.
PREFER_CHOICES: Final = ("auto", "tables", "xml")
#: The tables a per-table file set must hold to stand for a whole return.
_WHOLE: Final = ("header", "episodes")


def _few(files: list[Found]) -> str:
    names = [f.path.name for f in files]
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _whole_tables(files: list[Found]) -> bool:
    """Whether per-table files hold a whole return (header and episodes, or a workbook)."""
    tables = {f.table for f in files}
    return all(t in tables for t in _WHOLE) or any(f.table is None for f in files)


def choose_form(
    found: list[Found], prefer: str = "auto", xml_tables: tuple[str, ...] | None = None
) -> tuple[list[Found], list[tuple[Path, str]]]:
    """Keep one form of a return held twice: as an XML return and as per-table files.

    A folder (or a collection year of it) may hold DfE's XML return beside the
    same return as one file per table (``header.csv``, ``episodes.csv``...),
    as the sector's validator fixtures do. Both read would stack each child
    twice, so one form is read and the other listed as not used:

    - ``"auto"`` (the default): the per-table files when they hold a whole
      return (header and episodes, or a workbook), else the XML. The per-table
      files are what DfE's validator and the sector's tools (liia-tools) read,
      each file is named for its table, and they may hold tables the XML has
      no place for (sw_episodes, DoLo, the linked tables).
    - ``"tables"``: the per-table files.
    - ``"xml"``: the XML return; per-table files of tables the XML does not
      hold (``xml_tables``) are still read.

    Files of different collection years (from their names or folders) are
    never a choice: they are separate returns.

    Parameters
    ----------
    found : list of Found
        The files of the extract, from :func:`list_files`.
    prefer : {"auto", "tables", "xml"}
        Which form to read, as above.
    xml_tables : tuple of str, optional
        The tables an XML return holds (by default those of
        :data:`reunistat.codes.lists.RETURN_TABLE_COLUMNS`, as the XML reader
        gives them).

    Returns
    -------
    kept : list of Found
    not_used : list of (Path, str)
        The files of the form not read, with the reason.

    Examples
    --------
    >>> xml = Found(Path("fake_903.xml"), "xml", None, None, "")
    >>> csvs = [Found(Path(f"{t}.csv"), "csv", t, None, "") for t in ("header", "episodes")]
    >>> kept, unused = choose_form([xml, *csvs])
    >>> [f.path.name for f in kept], [p.name for p, _ in unused]
    (['header.csv', 'episodes.csv'], ['fake_903.xml'])
    >>> kept, unused = choose_form([xml, *csvs], prefer="xml")
    >>> [f.path.name for f in kept]
    ['fake_903.xml']
    """
    if prefer not in PREFER_CHOICES:
        raise ConfigError(f"prefer must be one of {', '.join(PREFER_CHOICES)}, not {prefer!r}")
    if xml_tables is None:
        xml_tables = tuple(RETURN_TABLE_COLUMNS)
    xml = [f for f in found if f.format == "xml" and f.table is None]
    not_used: list[tuple[Path, str]] = []
    drop: set[Path] = set()
    for year in sorted({f.year for f in xml}, key=lambda y: -1 if y is None else y):
        here = [f for f in xml if f.year == year]
        twice = [
            f
            for f in found
            if f.year == year and f not in here and (f.table is None or f.table in xml_tables)
        ]
        if not twice:
            continue
        use_xml = prefer == "xml" or (prefer == "auto" and not _whole_tables(twice))
        when = f" of collection year {year}" if year is not None else ""
        if use_xml:
            why = (
                f"the same return{when} is read from the XML return "
                f"{', '.join(f.path.name for f in here)} ("
                + (
                    "these files hold no header and episodes"
                    if prefer == "auto"
                    else "--prefer xml"
                )
                + "); to read these files instead, use --prefer tables"
            )
        else:
            why = (
                f"the same return{when} is read from the per-table files "
                f"{_few(twice)} ("
                + ("they hold header and episodes" if prefer == "auto" else "--prefer tables")
                + "); to read the XML instead, use --prefer xml"
            )
        for f in twice if use_xml else here:
            drop.add(f.path)
            not_used.append((f.path, why))
    return [f for f in found if f.path not in drop], not_used
