"""New ticks copied from a fresh tick of the same axis instead of built, while a file is drawn.

Matplotlib 3.11 builds every new tick of an axis (``Axis._get_tick``: a
``Tick`` with three ``Line2D`` and two ``Text``, each set from the settings
one property at a time), about 0.7-1 ms a tick and ~480 ticks for the
release's figures; then it copies the axis' first tick's properties onto it.
Built twice with the same axis, tick settings and ``rcParams``, two ticks are
equal in every attribute: so the first tick an axis builds during a draw is
built by matplotlib, a copy of it is kept as it was built (a template), and
each later new tick of that axis and kind is a copy of the template
(:func:`clone_tick`: every artist's attributes, with their own containers,
callbacks, font properties and paths; the axes, figure, transforms and
markers shared, as a new tick shares them once the first tick's properties
are copied onto it). See :class:`TickTemplates`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from matplotlib.axis import Axis, XTick, YTick
from matplotlib.cbook import CallbackRegistry
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.text import Text

#: The artists a tick is made of (matplotlib 3.11's ``Tick.get_children``), and their classes.
_PARTS = (("tick1line", Line2D), ("tick2line", Line2D), ("gridline", Line2D))
_LABELS = (("label1", Text), ("label2", Text))
#: Matplotlib's own ``Axis._get_tick`` (an axis class that has another keeps it).
_AXIS_GET_TICK = getattr(Axis, "_get_tick")  # noqa: B009 (private, untyped)


class NotFresh(Exception):
    """A tick holds state a new tick would not (a callback connected): it is not copied."""


def _own(value: Any) -> Any:
    """``value`` as a clone's own: containers, callbacks, fonts and paths copied, others shared."""
    kind = type(value)
    if kind is list or kind is dict or kind is set:
        return kind(value)
    if kind is np.ndarray:
        return value.copy()
    if kind is CallbackRegistry:
        if value.callbacks or value._pickled_cids:
            raise NotFresh
        return CallbackRegistry(value.exception_handler, signals=value._signals)
    if kind is FontProperties:
        return value.copy()
    if kind is Path:
        return copy.deepcopy(value)
    return value


def _clone(artist: Any, cls: type) -> Any:
    """A new ``cls`` with ``artist``'s attributes (see :func:`_own`); ``NotFresh`` if unknown."""
    if type(artist) is not cls:
        raise NotFresh
    new = object.__new__(cls)
    new.__dict__.update({k: _own(v) for k, v in vars(artist).items()})
    return new


def clone_tick(tick: Any) -> Any:
    """A copy of ``tick`` (an ``XTick`` or ``YTick``) and of its lines and labels.

    Raises :class:`NotFresh` for another kind of tick or part, or one with a
    callback connected.
    """
    cls = type(tick)
    if cls is not XTick and cls is not YTick:
        raise NotFresh
    parts = {name: _clone(getattr(tick, name), kind) for name, kind in _PARTS + _LABELS}
    new = _clone(tick, cls)
    new.__dict__.update(parts)
    return new


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two tick settings are equal (settings that cannot be compared are not)."""
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. a colour given as an array
        return False


class TickTemplates:
    """An axis' ``_get_tick`` for the draw of one file: new ticks copied from a fresh one.

    The first tick of each kind (major, minor) asked for is built by
    matplotlib and a copy kept (with the tick settings it was built with);
    later ones are copies of that copy while the axis' tick settings are the
    same. Used only for an axis whose ``_get_tick`` is matplotlib's and whose
    ticks are ``XTick`` or ``YTick`` (:meth:`applies`).
    """

    def __init__(self, axis: Any) -> None:
        self.axis = axis
        self.kept: dict[bool, tuple[dict[str, Any], Any]] = {}

    @staticmethod
    def applies(axis: Any) -> bool:
        """Whether ``axis`` builds its ticks as matplotlib's ``Axis._get_tick`` does."""
        return type(axis)._get_tick is _AXIS_GET_TICK and axis._tick_class in (XTick, YTick)

    def get_tick(self, major: bool) -> Any:
        """A new tick, as ``Axis._get_tick(major)`` builds it."""
        axis = self.axis
        settings = axis._major_tick_kw if major else axis._minor_tick_kw
        kept = self.kept.get(major)
        if kept is not None and _same(kept[0], settings):
            try:
                return clone_tick(kept[1])
            except NotFresh:
                pass
        tick = _AXIS_GET_TICK(axis, major)
        try:
            self.kept[major] = (dict(settings), clone_tick(tick))
        except NotFresh:
            self.kept.pop(major, None)
        return tick


@contextmanager
def ticks_copied(*axes: Any) -> Iterator[None]:
    """While the block runs, new ticks of the Axes ``axes`` copied as :class:`TickTemplates` does.

    For a builder that sets many ticks by hand (``set_yticks``): matplotlib
    then copies the first tick's properties onto each new tick as usual.
    """
    axis_list = [a for ax in axes for a in ax._axis_map.values() if TickTemplates.applies(a)]
    for axis in axis_list:
        axis._get_tick = TickTemplates(axis).get_tick
    try:
        yield
    finally:
        for axis in axis_list:
            axis.__dict__.pop("_get_tick", None)
