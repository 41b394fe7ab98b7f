"""The figures' renderers remember text work yet write matplotlib's own bytes (PNG and SVG)."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg, RenderMode, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager, get_font
from matplotlib.ft2font import LoadFlags

from reunistat.report import renderers
from reunistat.report.figures import _RC


def _figure(canvas: type, shift: float) -> Figure:
    """Texts of many kinds: rotated, multi-line, bold, math, not antialiased, at odd places."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4.3 + shift, 3.1), dpi=100)
        canvas(fig)
        ax = fig.add_axes((0.15 + shift / 10, 0.2, 0.6, 0.65))
        ax.plot([0, 1, 2], [0.1, 0.4, 0.35], label="line: 1,234")
        ax.set_title("A title that wraps\nonto a second line", loc="left")
        ax.set_ylabel("Cumulative re-entry (%)")
        ax.set_xlabel(r"Years $t_0 + \Delta$")
        ax.text(0.3 + shift, 0.2, "rotated 30°", rotation=30, weight="bold", fontsize=7)
        ax.text(0.5, 0.3 + shift, "not antialiased", antialiased=False, fontsize=6.5)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
        fig.text(0.01, 0.005, "Source: reunistat 0.0, 03 (x); data", fontsize=6.5, color="#505050")
    return fig


def _bytes(fig: Figure) -> tuple[bytes, bytes]:
    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


@pytest.mark.parametrize("shift", [0.0, 0.137])
def test_remembered_text_gives_matplotlibs_bytes(shift: float) -> None:
    for cache in (
        renderers._AGG_EXTENTS,
        renderers._LAYOUTS,
        renderers._GLYPHS,
        renderers._GLYPH_BOXES,
        renderers._TEXT_LAYOUTS,
    ):
        cache.clear()
    cold = _bytes(_figure(renderers.SharedRendererCanvas, shift))  # measured and rendered
    assert renderers._GLYPHS and renderers._LAYOUTS and renderers._LINE_METRICS
    assert renderers._TEXT_LAYOUTS
    warm = _bytes(_figure(renderers.SharedRendererCanvas, shift))  # remembered
    plain = _bytes(_figure(FigureCanvasAgg, shift))  # matplotlib's canvases
    assert cold[0] == warm[0] == plain[0]
    assert cold[1] == warm[1] == plain[1]


@pytest.mark.parametrize("angle", [0.0, 90.0, 30.0])
def test_glyph_moved_by_whole_pixels_is_the_same_bitmap_moved(angle: float) -> None:
    font = get_font(fontManager._find_fonts_by_props(FontProperties(family="DejaVu Sans")))
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    matrix = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
    rng = np.random.default_rng(1)
    for glyph in (font.get_char_index(ord(c)) for c in "g%4W,"):
        for _ in range(6):
            fx, fy = (int(v) for v in rng.integers(0, 64, 2))
            qx, qy = (int(v) for v in rng.integers(-300, 3000, 2))
            out = []
            for ox, oy in ((fx, fy), (qx * 64 + fx, qy * 64 + fy)):
                font.set_size(7.5, 200)
                font._set_transform(matrix, [ox, oy])
                b = font._render_glyph(glyph, get_hinting_flag(), RenderMode.NORMAL)
                out.append((np.array(b.buffer), b.left, b.top))
            (b0, l0, t0), (b1, l1, t1) = out
            np.testing.assert_array_equal(b0, b1)
            assert (l1 - l0, t1 - t0) == (qx, qy)


def test_line_metrics_answered_only_while_a_figure_is_drawn() -> None:
    fig = _figure(renderers.SharedRendererCanvas, 0.0)
    renderer = fig.canvas.get_renderer()
    prop = FontProperties(family="DejaVu Sans", size=9)
    assert renderer._get_font_height_metrics(prop) == (None, None, None)
    _bytes(fig)
    assert renderer.metrics_dpi is None  # reset after the PNG was written


def _titled(canvas: type, case: str) -> Figure:
    """A titled axes whose automatic title placement may or may not move the title."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4.0, 3.0), dpi=100)
        canvas(fig)
        ax = fig.add_axes((0.2, 0.15, 0.7, 0.7))
        ax.plot([0, 1, 2], [1e7, 1e7 + 3, 1e7 + 5] if case == "offset" else [1, 3, 2])
        ax.set_yticks([1, 2, 3], ["one", "two", "three"]) if case == "fixed" else None
        if case == "top":
            ax.xaxis.tick_top()
        ax.set_title("A title\nof two lines", loc="left", pad=0 if case == "no pad" else None)
    return fig


@pytest.mark.parametrize("case", ["fixed", "scalar", "offset", "top", "no pad"])
def test_titles_kept_in_place_only_where_matplotlib_keeps_them(case: str) -> None:
    fig = _titled(renderers.SharedRendererCanvas, case)
    stays = renderers._title_stays(fig.axes[0], fig.canvas.get_renderer())
    assert stays == (case == "fixed")
    assert _bytes(fig) == _bytes(_titled(FigureCanvasAgg, case))
    assert fig.axes[0]._autotitlepos is not False  # restored after each file


def test_extent_from_the_layout_is_matplotlibs_measure() -> None:
    """Width, height and descent from the drawn layout equal ``FT2Font.set_text``'s.

    Kerned pairs, ligatures (fi, ffi), spaces at either end, symbols, bold, several sizes and
    resolutions, hinted (the PNG) and not (as matplotlib measures for the SVG).
    """
    words = ["Years", "fi", "ffi", " ", "AV", "To", "−0.25", "£1,234", "(95% CI)", "é", "ß"]
    words += ["Number at risk", "—", "≤", "·", "Wa", "\u00a0", "ℓ", "Ω", "→", "jig", "10%", "."]
    rng = np.random.default_rng(7)
    texts = ["", " lead", "trail ", " ", "."]
    texts += [" ".join(rng.choice(words, int(rng.integers(1, 5)))) for _ in range(60)]
    for size, weight, dpi, flags in (
        (6.5, "normal", 200, get_hinting_flag()),
        (9, "bold", 200, get_hinting_flag()),
        (8, "normal", 100, get_hinting_flag()),
        (100, "normal", 72, LoadFlags.NO_HINTING),
    ):
        font = get_font(
            fontManager._find_fonts_by_props(FontProperties(family="DejaVu Sans", weight=weight))
        )
        for text in texts:
            font.set_size(size, dpi)
            font.set_text(text, 0.0, flags=flags)
            w, h = font.get_width_height()
            want = (w / 64.0, h / 64.0, font.get_descent() / 64.0)
            items = font._layout(text, flags=flags)
            glyphs = tuple((it.ft_object, it.glyph_index, it.x, it.y) for it in items)
            assert renderers._extent(glyphs, size, dpi, flags) == want, (text, size, dpi)


def test_svg_extent_measured_once_serves_every_size() -> None:
    """A text measured at one size gives matplotlib's SVG extent at every other size."""
    from matplotlib.backends.backend_svg import RendererSVG

    ours = renderers._SVGRenderer(100, 100, io.StringIO())
    plain = RendererSVG(100, 100, io.StringIO())
    for size in (9, 6.5, 8, 7, 100, 12.3):
        for weight in ("normal", "bold"):
            prop = FontProperties(family="DejaVu Sans", size=size, weight=weight)
            for text in ("Years since return home", "fi 10%", " ", "", "Ω ≤ 0.25"):
                want = plain.get_text_width_height_descent(text, prop, False)
                assert ours.get_text_width_height_descent(text, prop, False) == want


def _ticked(canvas: type) -> Figure:
    """Axes whose ticks matplotlib updates many times a draw: aligned, shared, twinned, log."""
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(6.0, 4.0), dpi=100)
        canvas(fig)
        axs = fig.subplots(2, 2, sharex="col")
        axs[0, 0].plot([1, 10, 100], [1e7, 1e7 + 3, 1e7 + 5])  # an offset text
        axs[0, 0].set_xscale("log")  # minor ticks
        axs[1, 0].plot([1, 10, 100], [0.5, 3, 2])
        axs[0, 1].plot([0, 1], [0, 1])
        axs[0, 1].set_aspect("equal")  # placed by apply_aspect while drawn
        axs[0, 1].twinx().plot([0, 1], [5, 2], color="C2")
        axs[1, 1].plot([0, 1], [1000, 2000])
        axs[1, 1].set_ylabel("count")
        axs[1, 0].set_ylabel("share")
        for ax in axs.ravel():
            ax.set_title("a title", loc="left")
        fig.align_ylabels(axs[:, 0])
        fig.suptitle("Ticks updated once a state")
    return fig


def test_ticks_updated_once_a_state_give_matplotlibs_bytes(monkeypatch) -> None:
    from matplotlib.axis import Axis

    calls = []
    real = Axis._update_ticks
    monkeypatch.setattr(Axis, "_update_ticks", lambda self: calls.append(self) or real(self))
    fig = _ticked(renderers.SharedRendererCanvas)
    ours = _bytes(fig)
    fewer = len(calls)
    calls.clear()
    assert ours == _bytes(_ticked(FigureCanvasAgg))
    assert fewer < len(calls) / 2  # each axis' ticks updated about once a file, not 3-4 times
    for ax in fig.axes:  # the axes' own methods back after each file
        for axis in ax._axis_map.values():
            assert "_update_ticks" not in vars(axis)
            assert "_get_ticklabel_bboxes" not in vars(axis)
            assert "_copy_tick_props" not in vars(axis)


def _value(v: object) -> object:
    """A value to compare: arrays and paths by their numbers, other objects by type or equality."""
    from matplotlib.path import Path

    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return [_value(x) for x in v]
    if isinstance(v, Path):
        return v.vertices.tolist(), v.codes
    if callable(v) or type(v).__eq__ is object.__eq__:
        return type(v).__name__  # each line's own (callbacks, transforms it made)
    return v


def _line_state(line: object) -> dict[str, object]:
    """A line's attributes, its marker by what it draws (path, transform, styles)."""
    state = {k: _value(v) for k, v in vars(line).items() if k != "_marker"}
    m = line._marker  # type: ignore[attr-defined]
    state["_marker"] = _value(
        (
            m.get_marker(),
            m.get_fillstyle(),
            m.get_path().vertices.tolist(),
            m.get_path().codes,
            m.get_transform().get_matrix().tolist(),
            m.get_joinstyle(),
            m.get_capstyle(),
            m.is_filled(),
        )
    )
    return state


@pytest.mark.parametrize("direction", ["out", "inout"])
def test_new_ticks_take_the_first_ticks_properties_as_matplotlib_gives_them(
    direction: str,
) -> None:
    from matplotlib.axis import Axis

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4, 3))
        ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
        ax.tick_params(direction=direction, length=5, color="#123456", grid_alpha=0.4)
        ax.xaxis.majorTicks[0].tick1line.set_gapcolor("red")
        ax.xaxis.majorTicks[0].tick2line.set_marker("o")  # one marker unlike a new tick's
        for axis in (ax.xaxis, ax.yaxis):
            src = axis.majorTicks[0]
            ours, theirs = axis._get_tick(major=True), axis._get_tick(major=True)
            renderers._copy_tick_props(axis, src, ours)
            Axis._copy_tick_props(axis, src, theirs)
            for name in ("tick1line", "tick2line", "gridline"):
                assert _line_state(getattr(ours, name)) == _line_state(getattr(theirs, name))
            assert ours.tick2line._marker is not src.tick2line._marker
    assert renderers._same_marker(ours.tick1line._marker, theirs.tick1line._marker)
