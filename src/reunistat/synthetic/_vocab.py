"""Integer codes for the generator's text columns, turned into text once, at the end.

Inside the generator an episode's RNE, LS, CIN, PLACE, PLACE_PROVIDER, REC and
REASON_PLACE_CHANGE are small integers into a :class:`Vocab` made for the run,
postcodes are indices into the table of postcode districts and URNs are their
numbers. Sorting, gathering and concatenating millions of episodes then moves
two bytes a value, not a pointer to a Python string made for each row (whose
reference counts scatter the work over memory as the data grow); the table's
text columns are made by :meth:`Vocab.decode` in their final order, each value
one shared string object.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from reunistat.synthetic._draw import shares

#: The dtype of the codes (a vocabulary holds the codes of the config, a few hundred at most).
CODE = np.int16
#: The code of a blank (None).
BLANK = 0


class Vocab:
    """A run's numbering of text values: code 0 is blank (None), then in order of first use.

    >>> v = Vocab()
    >>> c = v.encode(np.array(["b", None, "a", "b"], dtype=object))
    >>> c.tolist(), v.decode(c).tolist()
    ([1, 0, 2, 1], ['b', None, 'a', 'b'])
    """

    def __init__(self) -> None:
        self._index: dict[Any, int] = {None: BLANK}
        self._values: list[Any] = [None]

    def __len__(self) -> int:
        return len(self._values)

    def code(self, value: Any) -> int:
        """The code of one value, numbered now if new."""
        c = self._index.get(value)
        if c is None:
            c = len(self._values)
            if c > np.iinfo(CODE).max:
                raise ValueError("too many distinct text values for the generator's codes")
            self._index[value] = c
            self._values.append(value)
        return c

    def codes(self, values: Iterable[Any]) -> np.ndarray:
        """The codes of a few values (keys of a share table, a code set)."""
        return np.array([self.code(v) for v in values], dtype=CODE)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Codes of an array of text (None and NaN are blank), hashing each row once."""
        idx, uniques = pd.factorize(values, use_na_sentinel=True)
        lut = np.append(self.codes(uniques), CODE(BLANK))  # idx -1 (missing) -> blank
        return lut[idx]

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The text of codes as an object array (one shared string object per value)."""
        return np.array(self._values, dtype=object)[codes]

    def decode_arrow(self, codes: np.ndarray) -> pa.Array:
        """The text of codes as an Arrow string array (null where blank): no Python string a row."""
        return pa.array(self._values, type=pa.string()).take(codes)

    def isin(self, codes: np.ndarray, items: Collection[Any]) -> np.ndarray:
        """Whether each code's value is one of ``items`` (compares integers only)."""
        known = [self._index[v] for v in items if v in self._index]
        return np.isin(codes, np.array(known, dtype=CODE))

    def sorted_levels(self, codes: np.ndarray) -> list[tuple[Any, np.ndarray]]:
        """Each value present, in text order, with its rows: :func:`_draw.rows_by_level` on codes.

        Blanks are left out, as ``rows_by_level`` leaves out None.

        >>> v = Vocab()
        >>> c = v.encode(np.array(["b", "a", "b"], dtype=object))
        >>> [(s, r.tolist()) for s, r in v.sorted_levels(c)]
        [('a', [1]), ('b', [0, 2])]
        """
        present = np.flatnonzero(np.bincount(codes, minlength=len(self)))
        present = present[present != BLANK]
        levels = sorted(present.tolist(), key=lambda c: self._values[c])
        return [(self._values[c], np.flatnonzero(codes == c)) for c in levels]


def choice_codes(
    rng: np.random.Generator, vocab: Vocab, table: Mapping[str, float], size: int
) -> np.ndarray:
    """:func:`_draw.choice` as codes: the same draws from ``rng``, coded by ``vocab``."""
    keys, p = shares(table)
    return vocab.codes(keys)[rng.choice(len(keys), size=size, p=p)]


def choice_by_group_codes(
    rng: np.random.Generator,
    vocab: Vocab,
    tables: list[Mapping[str, float]],
    group: np.ndarray,
) -> np.ndarray:
    """:func:`_draw.choice_by_group` as codes: the same draws from ``rng``."""
    out = np.full(group.size, BLANK, dtype=CODE)
    for g, table in enumerate(tables):
        rows = np.flatnonzero(group == g)
        if rows.size:
            out[rows] = choice_codes(rng, vocab, table, rows.size)
    return out


def urn_text(urn: np.ndarray) -> np.ndarray:
    """URNs from their numbers: ``"SC"`` and the number, ``"XXXXXXX"`` where 0 (none).

    Each distinct number is formatted once (found by hashing, not sorting).

    >>> urn_text(np.array([0, 123456, 0, 123456])).tolist()
    ['XXXXXXX', 'SC123456', 'XXXXXXX', 'SC123456']
    """
    idx, text = urn_levels(urn)
    return text[idx]


def urn_levels(urn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's index into the distinct URNs' text, and that text (see :func:`urn_text`)."""
    idx, uniques = pd.factorize(urn)
    text = np.char.add("SC", uniques.astype(str)).astype(object)
    text[uniques == 0] = "XXXXXXX"
    return idx, text
