"""Griffe extension for the docs: Sphinx roles in docstrings shown as code.

reunistat's numpy-style docstrings use Sphinx roles (``:func:`cox```); MkDocs renders
them as plain inline code with the leading tilde dropped.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|ref):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Replace ``:role:`target``` by ```target``` in every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the object's docstring in place."""
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
