"""The canvas and renderers that write reunistat's figures: matplotlib's, remembering text work.

Matplotlib measures, lays out and rasterises every text again for each figure
and each file: the tick labels, titles and legends of twenty figures are mostly
the same strings in the same fonts, and text was about half of drawing a PNG.
The renderers here give the same pixels and the same SVG text (the figures'
bytes are hashed in the release's manifest) and remember, for the process:

- a text's extent (width, height, descent) by text, font and resolution, for
  the PNG (Agg) and the SVG renderer;
- a font's line metrics (ascent, descent, line gap), which matplotlib reads
  from the font file's tables for every text it lays out;
- the glyphs and offsets of a text (:meth:`_TextAgg.draw_text`), and each
  glyph's bitmap by its sub-pixel offset (:meth:`_TextAgg._draw_text_glyphs_and_boxes`):
  FreeType places a glyph moved by whole pixels on the same pixels, moved.

The Agg renderers are also shared by the figures of one size and resolution
(:class:`SharedRendererCanvas`).
"""

from __future__ import annotations

import codecs
import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
from matplotlib import cbook
from matplotlib.artist import Artist
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import (
    FigureCanvasAgg,
    RendererAgg,
    RenderMode,
    get_hinting_flag,
)
from matplotlib.backends.backend_mixed import MixedModeRenderer
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.font_manager import fontManager
from matplotlib.ft2font import LoadFlags
from matplotlib.lines import Line2D
from matplotlib.markers import MarkerStyle
from matplotlib.text import Text
from matplotlib.textpath import TextToPath
from matplotlib.ticker import FixedFormatter, Formatter, FuncFormatter

from reunistat.report import png_writer
from reunistat.report.figure_fonts import get_font
from reunistat.report.tick_clones import ticks_copied

#: Agg renderers of this thread's figures, by (width px, height px, dpi): the latest few.
_RENDERERS = threading.local()
#: How many renderers a thread keeps (each a pixel buffer, ~6 MB for a PNG of 7 x 5 inches).
KEEP_RENDERERS = 4
#: Most entries a text cache keeps (it is emptied when full); a glyph bitmap is ~200 bytes.
KEEP_TEXTS = 4096
KEEP_GLYPHS = 32768
_FONT_RC = (
    "font.family",
    "font.serif",
    "font.sans-serif",
    "font.monospace",
    "font.cursive",
    "font.fantasy",
)
#: Text extents of the SVG files at 100 points (72 dpi, no hinting), by text and font files.
_SVG_EXTENTS: dict[tuple[Any, ...], tuple[float, float, float]] = {}
#: Text extents of the PNG files, by text, font, font settings, dpi and hinting.
_AGG_EXTENTS: dict[tuple[Any, ...], tuple[float, float, float]] = {}
#: Font line metrics (what ``Text._get_layout`` reads from the font's tables), by font and dpi.
_LINE_METRICS: dict[tuple[Any, ...], tuple[float, float, float]] = {}
#: A text's glyphs: (point size, ((font, glyph index, x, y), ...)), by text, font and dpi.
_LAYOUTS: dict[tuple[Any, ...], tuple[float, tuple[tuple[Any, int, float, float], ...]]] = {}
#: A glyph's bottom, top and advance (26.6 pixels), by font, glyph, size, dpi and hinting.
_GLYPH_BOXES: dict[tuple[Any, ...], tuple[int, int, int]] = {}
#: Glyph bitmaps: (pixels, left, top) at whole-pixel offset 0, by glyph and sub-pixel offset.
_GLYPHS: dict[tuple[Any, ...], tuple[np.ndarray, int, int]] = {}
#: Texts' layouts (``Text._get_layout``), by renderer kind, dpi, text, font and placement.
_TEXT_LAYOUTS: dict[tuple[Any, ...], tuple[Any, list[Any], Any]] = {}
#: The settings besides the font's that a text's measure depends on (read once a draw).
_TEXT_RC = ("text.hinting", "text.hinting_factor", "text.kerning_factor", "font.enable_last_resort")


#: The font settings of the file being drawn (this thread's), read once a draw (see _drawing).
_DRAWN = threading.local()


def _font_rc() -> tuple[tuple[str, ...], ...]:
    """The settings that resolve a font's family (``font.family`` and the lists it names)."""
    rc: Any = matplotlib.rcParams
    return tuple(tuple(rc[k]) for k in _FONT_RC)


def _font_key(prop: Any) -> tuple[Any, ...]:
    """The font of ``prop`` as a key: its properties and the settings that resolve them.

    The properties are those ``FontProperties`` compares (its hash and
    equality), as values; the settings are read once while a file is drawn.
    """
    rc = getattr(_DRAWN, "font_rc", None) or _font_rc()
    return (
        tuple(prop._family),
        prop._slant,
        prop._variant,
        prop._weight,
        prop._stretch,
        prop._size,
        prop._file,
        prop._math_fontfamily,
        rc,
    )


def _remember(cache: dict[Any, Any], limit: int, key: Any, value: Any) -> Any:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value


def _glyph_box(font: Any, glyph: int, size: float, dpi: float, flags: Any) -> tuple[int, int, int]:
    """A glyph's bottom and top (26.6 pixels, its box as FreeType measures it) and advance."""
    key = (font, glyph, size, dpi, flags)
    hit = _GLYPH_BOXES.get(key)
    if hit is None:
        font.set_size(size, dpi)  # also resets the transform a drawing may have set
        loaded = font.load_glyph(glyph, flags=flags)
        font.clear()  # the loaded glyph is not kept by the font
        _, y0, _, y1 = loaded.bbox
        hit = _remember(_GLYPH_BOXES, KEEP_GLYPHS, key, (y0, y1, loaded.horiAdvance))
    return hit


def _extent(
    glyphs: tuple[tuple[Any, int, float, float], ...], size: float, dpi: float, flags: Any
) -> tuple[float, float, float] | None:
    """Width, height and descent of laid-out glyphs, as ``FT2Font.set_text`` measures them.

    Matplotlib 3.11's ``set_text`` lays the text out as ``FT2Font._layout``
    does and loads each glyph: the width runs from the origin to the last
    glyph's position plus its advance, the height and descent are those of
    the union of the glyphs' boxes, each moved by its position (1/64 pixel).
    ``None`` when the glyphs do not run left to right on one line (then the
    text is measured by matplotlib).
    """
    if not glyphs:
        return 0.0, 0.0, 0.0
    xs = [x for _, _, x, _ in glyphs]
    if any(y != 0 for _, _, _, y in glyphs) or xs != sorted(xs):
        return None
    boxes = [_glyph_box(font, glyph, size, dpi, flags) for font, glyph, _, _ in glyphs]
    bottom, top = min(b[0] for b in boxes), max(b[1] for b in boxes)
    end = round(xs[-1] * 64) + boxes[-1][2]  # the last glyph's origin, moved by its advance
    return end / 64.0, (top - bottom) / 64.0, -bottom / 64.0


class _LineMetrics:
    """``_get_font_height_metrics``: the hook ``Text._get_layout`` asks a renderer first.

    Matplotlib otherwise finds the font and reads two of its tables for every
    text it lays out; here they are read once per font and dpi, by the same
    arithmetic. Only while a renderer draws one figure (``metrics_dpi`` set to
    that figure's dpi, which ``_get_layout`` scales by) does it answer;
    otherwise it returns ``None`` and matplotlib reads the tables itself.
    """

    metrics_dpi: float | None = None

    def _get_font_height_metrics(self, prop: Any) -> tuple[Any, Any, Any]:
        dpi = self.metrics_dpi
        if dpi is None:
            return None, None, None
        key = (_font_key(prop), dpi)
        hit = _LINE_METRICS.get(key)
        if hit is not None:
            return hit
        font: Any = get_font(fontManager._find_fonts_by_props(prop))
        possible = [
            ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
            ("hhea", "lineGap", "ascent", "descent"),
        ]
        for table_name, linegap_key, ascent_key, descent_key in possible:  # as matplotlib 3.11
            table = font.get_sfnt_table(table_name)
            if table is None:
                continue
            fontsize = prop.get_size_in_points()
            units_per_em = font.get_sfnt_table("head")["unitsPerEm"]
            scale = 1 / units_per_em * fontsize * dpi / 72
            line_gap = table[linegap_key] * scale
            min_ascent = table[ascent_key] * scale
            min_descent = -table[descent_key] * scale
            found = (min_ascent, min_descent, line_gap)
            return _remember(_LINE_METRICS, KEEP_TEXTS, key, found)
        return None, None, None


class _TextAgg(_LineMetrics, RendererAgg):
    """Matplotlib's Agg renderer, remembering text extents, layouts and glyph bitmaps."""

    def _prepare_font(self, font_prop: Any) -> Any:
        """``RendererAgg._prepare_font``: the font (read from memory) cleared, at its size."""
        font = get_font(fontManager._find_fonts_by_props(font_prop))
        font.clear()
        font.set_size(font_prop.get_size_in_points(), self.dpi)
        return font

    def get_text_width_height_descent(
        self, s: str, prop: Any, ismath: Any
    ) -> tuple[float, float, float]:
        """Return the extent of ``s`` as :class:`RendererAgg` does, measured once a process.

        Matplotlib lays the text out and loads its glyphs (``FT2Font.set_text``)
        to measure it, then lays it out again to draw it; here the extent comes
        from the layout that draws it (:meth:`_glyph_layout`) and each glyph's
        box and advance, loaded once (:func:`_extent`: the same numbers).
        """
        if ismath:
            w, h, d = super().get_text_width_height_descent(s, prop, ismath)
            return w, h, d
        flags = get_hinting_flag()
        key = (s, _font_key(prop), self.dpi, flags)
        hit = _AGG_EXTENTS.get(key)
        if hit is None:
            size, glyphs = self._glyph_layout(s, prop, flags, None, None)
            found = _extent(glyphs, size, self.dpi, flags)
            if found is None:  # not laid out left to right: measured as matplotlib does
                found = super().get_text_width_height_descent(s, prop, ismath)
            hit = _remember(_AGG_EXTENTS, KEEP_TEXTS, key, found)
        return hit

    def _glyph_layout(
        self, s: str, prop: Any, flags: Any, features: Any, language: Any
    ) -> tuple[float, tuple[tuple[Any, int, float, float], ...]]:
        """The glyphs of ``s`` (font, glyph index, x, y) and its size in points, laid out once.

        Raises ``TypeError`` for features or language given as a list (not remembered).
        """
        # the thread too: a layout holds the thread's own font objects (see get_font)
        key = (s, _font_key(prop), self.dpi, flags, features, language, threading.get_ident())
        hit = _LAYOUTS.get(key)
        if hit is None:
            font = self._prepare_font(prop)
            items = font._layout(s, flags=flags, features=features, language=language)
            glyphs = tuple((it.ft_object, it.glyph_index, it.x, it.y) for it in items)
            hit = _remember(_LAYOUTS, KEEP_TEXTS, key, (prop.get_size_in_points(), glyphs))
        return hit

    def draw_text(
        self,
        gc: Any,
        x: float,
        y: float,
        s: str,
        prop: Any,
        angle: float,
        ismath: Any = False,
        mtext: Any = None,
    ) -> None:
        """Draw ``s`` as :meth:`RendererAgg.draw_text` does, its layout found once a process."""
        if ismath:
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        try:
            size, glyphs = self._glyph_layout(s, prop, get_hinting_flag(), features, language)
        except TypeError:  # features or language given as a list: not remembered
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return
        self._draw_text_glyphs_and_boxes(
            gc, x, y, angle, ((f, size, g, 0, 1, gx, gy) for f, g, gx, gy in glyphs), []
        )

    def _draw_text_glyphs_and_boxes(
        self, gc: Any, x: float, y: float, angle: float, glyphs: Any, boxes: Any
    ) -> None:
        """Draw glyphs as matplotlib 3.11 does, each bitmap rendered once per sub-pixel offset."""
        cos = math.cos(math.radians(angle))
        sin = math.sin(math.radians(angle))
        load_flags = get_hinting_flag()
        antialiased = gc.get_antialiased()
        height = int(self.height)
        matrices: dict[tuple[float, float], tuple[np.ndarray, tuple[int, ...]]] = {}
        for font, size, glyph_index, slant, extend, dx, dy in glyphs:  # dy is upwards.
            shape = matrices.get((slant, extend))  # one per text, as a rule (slant 0, extend 1)
            if shape is None:
                m = (
                    (
                        0x10000
                        * np.array([[cos, -sin], [sin, cos]])
                        @ [[extend, extend * slant], [0, 1]]
                    )
                    .round()
                    .astype(int)
                )
                shape = matrices[(slant, extend)] = (m, tuple(m.ravel().tolist()))
            matrix, matrix_key = shape
            # the glyph's origin in FreeType's 1/64 pixels (y upwards), as matplotlib sets it
            ox = round(0x40 * (x + dx * cos - dy * sin))
            oy = round(0x40 * (self.height - y + dx * sin + dy * cos))
            key = (
                font,
                size,
                self.dpi,
                glyph_index,
                matrix_key,
                ox & 0x3F,
                oy & 0x3F,
                load_flags,
                antialiased,
            )
            hit = _GLYPHS.get(key)
            if hit is None:
                font.set_size(size, self.dpi)
                font._set_transform(matrix, [ox & 0x3F, oy & 0x3F])
                bitmap = font._render_glyph(
                    glyph_index,
                    load_flags,
                    RenderMode.NORMAL if antialiased else RenderMode.MONO,
                )
                buffer = np.array(bitmap.buffer)  # a copy: kept beyond FreeType's glyph slot
                if not antialiased:
                    buffer *= 0xFF
                hit = _remember(_GLYPHS, KEEP_GLYPHS, key, (buffer, bitmap.left, bitmap.top))
            buffer, left, top = hit
            # draw_text_image's y is downwards & the bitmap bottom side.
            self._renderer.draw_text_image(
                buffer, left + (ox >> 6), height - (top + (oy >> 6)) + buffer.shape[0], 0, gc
            )
        if boxes:
            super()._draw_text_glyphs_and_boxes(gc, x, y, angle, (), boxes)


class _SVGRenderer(_LineMetrics, RendererSVG):
    """The SVG renderer, remembering text extents and line metrics across files (the same numbers).

    An SVG renderer is made for each file, and matplotlib's cache of text
    extents is kept per renderer, so every label was measured again for each
    figure (about a millisecond each, a third of writing an SVG). Matplotlib
    measures an SVG text at 100 points and 72 dpi, without hinting, and scales
    the result to the text's size (``TextToPath.get_text_width_height_descent``):
    measured once for its font files, a text serves every figure and size.
    """

    metrics_dpi = 72.0  # the figure's dpi while it is written as SVG (see print_svg)

    def get_text_width_height_descent(
        self, s: str, prop: Any, ismath: Any
    ) -> tuple[float, float, float]:
        """Return the extent of ``s`` as :class:`RendererSVG` does, measured once a process."""
        if ismath:  # mathtext and TeX: measured each time, as before
            w, h, d = super().get_text_width_height_descent(s, prop, ismath)
            return w, h, d
        rc: Any = matplotlib.rcParams
        files = tuple(fontManager._find_fonts_by_props(prop))
        key = (s, files, rc["text.kerning_factor"], rc["font.enable_last_resort"])
        hit = _SVG_EXTENTS.get(key)
        if hit is None:  # TextToPath's arithmetic, at its own size (matplotlib 3.11)
            font = get_font(files)  # as TextToPath._get_font, read from memory
            font.set_size(TextToPath.FONT_SCALE, TextToPath.DPI)
            font.set_text(s, 0.0, flags=LoadFlags.NO_HINTING)
            w, h = font.get_width_height()
            hit = _remember(
                _SVG_EXTENTS, KEEP_TEXTS, key, (w / 64.0, h / 64.0, font.get_descent() / 64.0)
            )
        scale = prop.get_size_in_points() / TextToPath.FONT_SCALE
        return hit[0] * scale, hit[1] * scale, hit[2] * scale


#: Formatters whose offset text ("1e6", "+1000") is the one set by hand, never the ticks'.
_FIXED_OFFSET = (Formatter.get_offset, FixedFormatter.get_offset, FuncFormatter.get_offset)


def _title_stays(ax: Any, renderer: Any) -> bool:
    """Whether matplotlib's automatic title placement would leave ``ax``'s titles where they are.

    ``Axes._update_title_position`` (matplotlib 3.11) moves the titles up only
    over an x axis with ticks or label on top, over the y axis' offset text,
    over twinned, aligned or child axes, or when a title's bottom falls below
    the top of the axes; to know about the offset text it measures every tick
    label of the y axis (about 7% of drawing a figure). Here: titles at y = 1
    (where it starts them), none of those, and an offset text that no tick can
    set (the formatter's is fixed and empty): the placement changes nothing.
    """
    titles = (ax.title, ax._left_title, ax._right_title)
    fig = ax.get_figure(root=False)
    fmt = ax.yaxis.get_major_formatter()
    if (
        ax._autotitlepos is False
        or not any(t.get_text() for t in titles)
        or any(t.get_position()[1] != 1.0 for t in titles)
        or ax.child_axes
        or ax._twinned_axes.get_siblings(ax) != [ax]
        or fig._align_label_groups["title"].get_siblings(ax) != [ax]
        or ax.xaxis.get_ticks_position() in ("top", "unknown")
        or ax.xaxis.get_label_position() == "top"
        or "outline" in ax.spines
        or ax.get_axes_locator() is not None
        or ax.get_aspect() != "auto"
        or ax.get_box_aspect() is not None
        or ax.get_position(original=True).bounds != ax.get_position(original=False).bounds
        or (ax.yaxis.offsetText.get_visible() and type(fmt).get_offset not in _FIXED_OFFSET)
        or fmt.get_offset()
    ):
        return False
    top = ax.get_window_extent().ymax
    return all(t.get_window_extent(renderer).ymin >= top for t in titles if t.get_text())


@contextmanager
def _titles_in_place(fig: Any, renderer: Any) -> Iterator[None]:
    """Skip the automatic title placement of the axes where it would change nothing."""
    kept = [(ax, ax._autotitlepos) for ax in fig.axes if _title_stays(ax, renderer)]
    for ax, _ in kept:
        ax._autotitlepos = False
    try:
        yield
    finally:
        for ax, auto in kept:
            ax._autotitlepos = auto


def _tick_state(axis: Any) -> tuple[Any, ...]:
    """What an axis' ticks depend on within one draw: its limits, place, locators, formatters."""
    fig = axis.axes.get_figure(root=True)
    return (
        tuple(axis.get_view_interval()),
        axis.axes.bbox.bounds,
        fig.dpi,
        axis.major.locator,
        axis.major.formatter,
        axis.minor.locator,
        axis.minor.formatter,
    )


class _TicksOnce:
    """An axis' ``_update_ticks`` and ``_get_ticklabel_bboxes``, each worked out once per state.

    Matplotlib 3.11 updates an axis' ticks (locating, formatting, placing
    each tick and setting its label) three or four times while drawing a
    figure (the title placement, the axis label's placement, the spines, the
    axis itself), and measures the tick labels' boxes as often: for the same
    limits, place and tickers the second time sets the same positions and
    texts and measures the same boxes. Here the ticks drawn and the boxes are
    kept while the axis' state (:func:`_tick_state`) is unchanged, only for
    the draw of one file (see :func:`_ticks_once`).
    """

    def __init__(self, axis: Any) -> None:
        self.axis = axis
        self.ticks: tuple[tuple[Any, ...], list[Any]] | None = None
        self.boxes: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}

    def update_ticks(self) -> list[Any]:
        state = _tick_state(self.axis)
        if self.ticks is None or self.ticks[0] != state:
            self.boxes.clear()
            self.ticks = (state, type(self.axis)._update_ticks(self.axis))
        return list(self.ticks[1])

    def ticklabel_bboxes(self, ticks: list[Any], renderer: Any) -> tuple[list[Any], list[Any]]:
        if self.ticks is None or self.ticks[0] != _tick_state(self.axis):
            return type(self.axis)._get_ticklabel_bboxes(self.axis, ticks, renderer)
        key = (id(renderer), *map(id, ticks))
        hit = self.boxes.get(key)
        if hit is None:
            hit = self.boxes[key] = type(self.axis)._get_ticklabel_bboxes(
                self.axis, ticks, renderer
            )
        return list(hit[0]), list(hit[1])


#: What ``Line2D.update_from`` copies besides ``Artist.update_from``'s and the marker (3.11).
_LINE_COPIED = (
    "_linestyle",
    "_linewidth",
    "_color",
    "_gapcolor",
    "_markersize",
    "_markerfacecolor",
    "_markerfacecoloralt",
    "_markeredgecolor",
    "_markeredgewidth",
    "_unscaled_dash_pattern",
    "_dash_pattern",
    "_dashcapstyle",
    "_dashjoinstyle",
    "_solidcapstyle",
    "_solidjoinstyle",
    "_drawstyle",
)
#: Matplotlib's own ``Axis._copy_tick_props`` (an axis class that has another keeps it).
_AXIS_COPY_TICK_PROPS = getattr(Axis, "_copy_tick_props")  # noqa: B009 (private, untyped)
#: Matplotlib's marker class (its private attributes are read by _same_marker).
_MARKER: Any = MarkerStyle


def _same_marker(a: Any, b: Any) -> bool:
    """Whether two markers were made from the same named marker and settings (the same marker).

    A marker named by a string or a number is built from its name, fill
    style and the transform, cap and join style given by hand alone; two
    such markers with the same values are the same marker.
    """
    spec = a._marker
    return (
        type(a) is _MARKER
        and type(b) is _MARKER
        and isinstance(spec, (str, int))
        and type(spec) is type(b._marker)
        and spec == b._marker
        and a._fillstyle == b._fillstyle
        and a._user_transform is None
        and b._user_transform is None
        and a._user_capstyle == b._user_capstyle
        and a._user_joinstyle == b._user_joinstyle
    )


def _copy_line(dest: Any, src: Any) -> None:
    """``dest.update_from(src)`` for the lines of a new tick, the marker copied only if it differs.

    Matplotlib 3.11's ``Line2D.update_from`` deep-copies the marker (about
    0.15 ms a line, most of the cost of a new tick); a new tick's marker is
    made from the same name and fill style as the first tick's, so it is
    kept then (the same drawing).
    """
    Artist.update_from(dest, src)
    for name in _LINE_COPIED:
        setattr(dest, name, getattr(src, name))
    if not _same_marker(dest._marker, src._marker):
        dest._marker = MarkerStyle(marker=src._marker)


def _copy_tick_props(axis: Any, src: Any, dest: Any) -> None:
    """``Axis._copy_tick_props`` (matplotlib 3.11), the tick lines copied by :func:`_copy_line`."""
    if src is None or dest is None:
        return
    dest.label1.update_from(src.label1)
    dest.label2.update_from(src.label2)
    for name in ("tick1line", "tick2line", "gridline"):
        d, s = getattr(dest, name), getattr(src, name)
        if type(d) is Line2D and type(s) is Line2D:
            _copy_line(d, s)
        else:
            d.update_from(s)
    dest.update_from(src)
    dest._loc = src._loc
    dest._size = src._size
    dest._width = src._width
    dest._base_pad = src._base_pad
    dest._labelrotation = src._labelrotation
    dest._zorder = src._zorder
    dest._tickdir = src._tickdir


@contextmanager
def _ticks_once(fig: Any) -> Iterator[None]:
    """While one file of ``fig`` is drawn, each axis' ticks updated and measured once a state.

    New ticks are copies of a fresh one (:func:`~reunistat.report.tick_clones.ticks_copied`)
    and take the first tick's properties by :func:`_copy_tick_props`.
    """
    axes = [axis for ax in fig.axes for axis in ax._axis_map.values()]
    for axis in axes:
        once = _TicksOnce(axis)
        axis._update_ticks = once.update_ticks
        axis._get_ticklabel_bboxes = once.ticklabel_bboxes
        if type(axis)._copy_tick_props is _AXIS_COPY_TICK_PROPS:
            axis._copy_tick_props = functools.partial(_copy_tick_props, axis)
    try:
        with ticks_copied(*fig.axes):
            yield
    finally:
        for axis in axes:
            del axis._update_ticks, axis._get_ticklabel_bboxes
            axis.__dict__.pop("_copy_tick_props", None)


@contextmanager
def _drawing(fig: Any, renderer: Any) -> Iterator[None]:
    """What the canvas changes while it draws one file: titles left in place, ticks once.

    The font settings are read once for the file (:func:`_font_key`).
    """
    _DRAWN.font_rc = _font_rc()
    rc: Any = matplotlib.rcParams
    inner = getattr(renderer, "_renderer", None)  # an SVG file's renderer, in a MixedModeRenderer
    if isinstance(renderer, _TextAgg):
        kind: tuple[Any, ...] | None = ("agg", renderer.dpi, get_hinting_flag())
    elif isinstance(renderer, MixedModeRenderer) and isinstance(inner, _SVGRenderer):
        kind = ("svg",)
    else:
        kind = None
    _DRAWN.layouts = (renderer, (*kind, *(rc[k] for k in _TEXT_RC))) if kind else None
    try:
        with _titles_in_place(fig, renderer), _ticks_once(fig):
            yield
    finally:
        _DRAWN.font_rc = _DRAWN.layouts = None


_TEXT: Any = Text  # its private layout method is replaced below
_text_layout = _TEXT._get_layout  # matplotlib's


def _remembered_layout(self: Text, renderer: Any) -> tuple[Any, list[Any], Any]:
    """``Text._get_layout``, remembered while one of this module's renderers draws a file.

    A text's layout (its box, each line's extent and place, relative to the
    text's position) depends on the text, its font, spacing, rotation and
    alignment, the figure's dpi and the renderer's measures, which the
    renderers here take from their own caches by the same values: so the
    same tick labels and legends of many figures are laid out once per
    format. Wrapped, TeX and math texts, texts with font features or a
    language, and any text outside such a draw (or measured with another
    renderer) are laid out by matplotlib. The box is given as a copy.
    """
    drawn = getattr(_DRAWN, "layouts", None)
    t: Any = self
    text = t._text
    if (
        drawn is None
        or renderer is not drawn[0]
        or t._wrap
        or t.get_usetex()
        or (t._parse_math and "$" in text)
        or t._features is not None
        or t._language is not None
    ):
        return _text_layout(self, renderer)
    key = (
        drawn[1],
        t.get_figure(root=True).dpi,
        text,
        _font_key(t._fontproperties),
        t._linespacing,
        t._multialignment,
        t._rotation,
        t._horizontalalignment,
        t._verticalalignment,
        t._rotation_mode,
    )
    hit = _TEXT_LAYOUTS.get(key)
    if hit is None:
        hit = _remember(_TEXT_LAYOUTS, KEEP_TEXTS, key, _text_layout(self, renderer))
    return hit[0].frozen(), list(hit[1]), hit[2]


_TEXT._get_layout = _remembered_layout


class SharedRendererCanvas(FigureCanvasAgg):
    """The Agg canvas, drawing on a renderer shared by the figures of one size and resolution.

    Agg clears its renderer before each draw, so the pixels are the same; what sharing adds
    is matplotlib's cache of text extents (kept per renderer), which then serves every figure
    of that size: tick labels, axis titles and legends are measured once, not per figure
    (about 13% of the curve figures' CPU; the same PNG and SVG bytes). A figure's pixels are
    therefore only read right after its own draw, as ``savefig`` does.
    """

    def get_renderer(self) -> RendererAgg:
        """Return this thread's renderer for the figure's size and dpi (made when missing)."""
        w, h = self.get_width_height(physical=True)
        key = (w, h, self.figure.dpi)
        kept: OrderedDict[tuple[float, float, float], RendererAgg] | None = getattr(
            _RENDERERS, "kept", None
        )
        if kept is None:
            kept = _RENDERERS.kept = OrderedDict()
        renderer = kept.pop(key, None)
        if renderer is None:
            renderer = _TextAgg(w, h, self.figure.dpi)
        kept[key] = renderer  # the most recent last
        while len(kept) > KEEP_RENDERERS:
            kept.popitem(last=False)
        self.renderer = renderer
        self._lastKey = key
        return renderer

    def _print_pil(
        self, filename_or_obj: Any, fmt: str, pil_kwargs: Any, metadata: Any = None
    ) -> None:
        """Draw and write the figure as matplotlib does, the renderer answering line metrics.

        A PNG is written by :mod:`reunistat.report.png_writer` (Pillow's bytes,
        its rows' filters chosen in numpy) when it can give Pillow's bytes.
        """
        renderer: Any = self.get_renderer()  # the one FigureCanvasAgg.draw will use
        renderer.metrics_dpi = self.figure.dpi
        texts = None
        if fmt == "png" and not pil_kwargs and png_writer.available():
            software = f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/"
            texts = png_writer.text_chunks({"Software": software, **(metadata or {})})
        try:
            with _drawing(self.figure, renderer):
                if texts is None:
                    super()._print_pil(filename_or_obj, fmt, pil_kwargs, metadata)
                    return
                FigureCanvasAgg.draw(self)
            png = png_writer.png_bytes(np.asarray(self.buffer_rgba()), self.figure.dpi, texts)
            png_writer.write_png(filename_or_obj, png)
        finally:
            renderer.metrics_dpi = None

    def print_svg(
        self,
        filename: Any,
        *,
        bbox_inches_restore: Any = None,
        metadata: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """Write the figure as SVG: matplotlib's ``FigureCanvasSVG.print_svg``, line for line.

        Only the renderer differs (:class:`_SVGRenderer`: text extents measured
        once a process). The other keywords of ``savefig`` (face and edge
        colours, orientation) are left out, as matplotlib leaves them out for
        its SVG canvas.
        """
        with cbook.open_file_cm(filename, "w", encoding="utf-8") as opened:
            fh: Any = opened
            if not cbook.file_requires_unicode(fh):
                fh = codecs.getwriter("utf-8")(fh)
            dpi = self.figure.dpi
            self.figure.dpi = 72
            width, height = self.figure.get_size_inches()
            w, h = width * 72, height * 72
            renderer: Any = MixedModeRenderer(
                self.figure,
                width,
                height,
                dpi,
                _SVGRenderer(w, h, fh, image_dpi=dpi, metadata=metadata),
                bbox_inches_restore=bbox_inches_restore,
            )
            with _drawing(self.figure, renderer):
                self.figure.draw(renderer)
            renderer.finalize()
