"""Packages whose public names are imported from their modules when first read (PEP 562).

A package of models re-exports the functions of its modules; imported at once,
that imports every engine they use (scipy.stats, scikit-learn: about 1 s).
Made lazy, ``from reunistat.models.logistic import horizon_outcome`` imports
only the module that defines it: the release-wide suppression, built in a
process of its own (:mod:`reunistat.pipeline.forked_cohort`), needs a few such
names and none of the fits. The names and what they are stay the same:

>>> import sys, types
>>> pkg = types.ModuleType("demo_pkg")
>>> sys.modules["demo_pkg"] = pkg
>>> mod = types.ModuleType("demo_pkg.tool")
>>> mod.tool = lambda: "the function"
>>> sys.modules["demo_pkg.tool"] = mod
>>> lazy_package("demo_pkg", {"tool": "tool"})
>>> pkg.tool()
'the function'
>>> setattr(pkg, "tool", mod)  # what importing the submodule ``tool`` does
>>> pkg.tool()  # still the function, as an eager ``from .tool import tool`` left it
'the function'
>>> del sys.modules["demo_pkg"], sys.modules["demo_pkg.tool"]
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose names are imported on first read (:func:`lazy_package`).

    Importing a submodule binds it as the package's attribute of its name; a
    package that imported its names at once had bound, over a submodule named
    as one of them (``multilevel``, ``did``), the function. That is kept here:
    such a binding binds the submodule's name instead.
    """

    _defined_in: Mapping[str, str]

    def __getattr__(self, name: str) -> Any:
        module = self.__dict__.get("_defined_in", {}).get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{self.__name__}.{module}"), name)
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            isinstance(value, types.ModuleType)
            and self.__dict__.get("_defined_in", {}).get(name) == name
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_defined_in", {})})


def lazy_package(name: str, defined_in: Mapping[str, str]) -> None:
    """Make the package ``name`` import each of ``defined_in``'s names from its module on use.

    ``defined_in`` maps a public name to the package's module that defines it
    (relative: ``"fit"`` for ``name + ".fit"``). Call it at the end of the
    package's ``__init__`` (which imports the names only for type checkers).
    """
    package = sys.modules[name]
    package.__dict__["_defined_in"] = dict(defined_in)
    package.__class__ = _LazyPackage
