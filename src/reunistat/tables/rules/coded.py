"""A coded column as small integers: each distinct value checked once, not each row.

A 903 code column holds a few dozen distinct codes over millions of rows;
:class:`Coded` factorises it once, so membership of a code set (``isin``),
equality with one code and blanks are integer look-ups, with the same results
as pandas' ``isin``, ``==`` and ``isna`` on the text (a blank is in no set and
equals no code).

Examples
--------
>>> c = Coded(pd.Series(["P1", None, "U1", "P1"]))
>>> c.isin({"P1", "A3"}).tolist(), c.eq("U1").tolist(), c.isna().tolist()
([True, False, False, True], [False, False, True, False], [False, True, False, False])

A ``category`` column (validation keeps code columns so, see
:func:`reunistat.codes.normalise_to_categories`) is taken as it is factorised:

>>> Coded(pd.Series(["P1", None, "U1", "P1"], dtype="category")).isin({"P1"}).tolist()
[True, False, False, True]
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

#: Up to this many codes, :meth:`Coded.isin` compares them with every row (a
#: vectorised pass each, 20 times quicker than looking up each row's code).
_FEW = 6


class Coded:
    """One column factorised: ``codes`` (-1 for a blank) into ``values`` (distinct, as read)."""

    def __init__(self, s: pd.Series):
        if isinstance(s.dtype, pd.CategoricalDtype):  # factorised already: no hashing
            self.codes = s.cat.codes.to_numpy()
            self.values = s.cat.categories.to_numpy(dtype=object)
            return
        codes, values = pd.factorize(s, use_na_sentinel=True)
        self.codes = np.asarray(codes)
        self.values = np.asarray(values, dtype=object)

    def member(self, allowed: Collection[object]) -> np.ndarray:
        """Per distinct value, whether it is in ``allowed``; one more False for a blank."""
        return np.fromiter(
            (*(v in allowed for v in self.values), False), dtype=bool, count=len(self.values) + 1
        )

    def isin(self, allowed: Collection[object]) -> np.ndarray:
        """Mask of rows whose value is in ``allowed`` (a blank never is).

        A few codes in (or out of) the set are compared with every row (a
        vectorised pass each), else each row's code is looked up.
        """
        member = self.member(allowed)
        inside = np.flatnonzero(member[:-1])
        if len(inside) <= _FEW:
            out = np.zeros(len(self.codes), dtype=bool)
            for i in inside.tolist():
                out |= self.codes == i
            return out
        outside = np.flatnonzero(~member[:-1])
        if len(outside) <= _FEW:
            out = self.codes >= 0
            for i in outside.tolist():
                out &= self.codes != i
            return out
        return member[self.codes]

    def eq(self, value: object) -> np.ndarray:
        """Mask of rows equal to ``value``."""
        return self.isin((value,))

    def isna(self) -> np.ndarray:
        """Mask of blank rows."""
        return self.codes < 0
