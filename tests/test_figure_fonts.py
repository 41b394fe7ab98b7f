"""Fonts read from memory give the faces, layouts, measures and pixels of fonts read from files."""

from __future__ import annotations

import io
import warnings

import matplotlib
import numpy as np
import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import RenderMode
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ft2font import LoadFlags

from reunistat.report import figure_fonts, renderers
from reunistat.report.figures import _RC, new_figure


def _paths(weight: str) -> list[object]:
    return fontManager._find_fonts_by_props(FontProperties(family="DejaVu Sans", weight=weight))


def test_fonts_kept_per_thread_apart_from_matplotlibs() -> None:
    paths = _paths("normal")
    ours = figure_fonts.get_font(paths)
    assert ours is figure_fonts.get_font(paths)
    assert ours is not font_manager.get_font(paths)  # matplotlib's own, from the file
    assert isinstance(font_manager.get_font(paths).fname, str)  # left as it was
    assert ours.family_name == font_manager.get_font(paths).family_name


@pytest.mark.parametrize("weight", ["normal", "bold"])
def test_layout_measure_and_pixels_are_the_files(weight: str) -> None:
    on_file = font_manager.get_font(_paths(weight))
    in_memory = figure_fonts.get_font(_paths(weight))
    texts = ["Years since return home", "0%", "12,345", "AVAWTo fi", "Under 1 (n = 9)", "中"]
    for font in (on_file, in_memory):
        font.set_size(9, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing glyph's warning, the same from both
        for s in texts:
            got = [
                [
                    (it.ft_object.family_name, it.glyph_index, it.x, it.y)
                    for it in f._layout(s, LoadFlags.DEFAULT)
                ]
                for f in (on_file, in_memory)
            ]
            assert got[0] == got[1]
            measures = []
            for f in (on_file, in_memory):
                f.set_text(s, 0.0, flags=LoadFlags.NO_HINTING)
                measures.append((f.get_width_height(), f.get_descent()))
            assert measures[0] == measures[1]
    pixels = []
    for f in (on_file, in_memory):
        f.set_size(6.5, 200)
        f._set_transform([[0x10000, 0], [0, 0x10000]], [13, 41])
        g = f._render_glyph(f.get_char_index(ord("R")), LoadFlags.DEFAULT, RenderMode.NORMAL)
        pixels.append((np.array(g.buffer).tobytes(), g.left, g.top))
    assert pixels[0] == pixels[1]


def _figure_bytes() -> tuple[bytes, bytes]:
    for cache in (
        renderers._AGG_EXTENTS,
        renderers._SVG_EXTENTS,
        renderers._LAYOUTS,
        renderers._GLYPHS,
        renderers._GLYPH_BOXES,
        renderers._TEXT_LAYOUTS,
    ):
        cache.clear()
    with matplotlib.rc_context(_RC):
        fig = new_figure(4.0, 3.0)
        ax = fig.add_axes((0.15, 0.2, 0.6, 0.65))
        ax.plot([0, 1, 2], [0.1, 0.4, 0.35], label="line: 1,234")
        ax.set_title("Cumulative re-entry", loc="left", weight="bold")
        ax.text(0.5, 0.3, "rotated 30°", rotation=30, fontsize=7)
        ax.legend(frameon=False)
        png, svg = io.BytesIO(), io.BytesIO()
        fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def test_figure_bytes_are_those_of_fonts_read_from_files(monkeypatch: pytest.MonkeyPatch) -> None:
    in_memory = _figure_bytes()
    monkeypatch.setattr(renderers, "get_font", font_manager.get_font)  # fonts from their files
    assert _figure_bytes() == in_memory
