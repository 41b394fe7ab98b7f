"""New ticks copied from a fresh tick equal the ticks matplotlib builds, and share no state."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cbook import CallbackRegistry
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.markers import MarkerStyle
from matplotlib.path import Path

from reunistat.report import renderers
from reunistat.report.figures import _RC
from reunistat.report.tick_clones import NotFresh, TickTemplates, clone_tick

_PARTS = ("tick1line", "tick2line", "gridline", "label1", "label2")


def _value(v: object) -> object:
    """A value to compare: arrays, paths, markers, fonts and callbacks by their contents."""
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.tolist())
    if isinstance(v, Path):
        return ("path", v.vertices.tolist(), v.codes, v._interpolation_steps)
    if isinstance(v, FontProperties):
        return ("font", hash(v))
    if isinstance(v, MarkerStyle):  # shared by the clones of a tick (never changed in place)
        drawn = _value(v.get_path()), _value(v.get_transform().get_matrix())
        return ("marker", v.get_marker(), v.get_fillstyle(), drawn)
    if isinstance(v, CallbackRegistry):
        return ("callbacks", v._signals, v.exception_handler, dict(v.callbacks))
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return v


def _state(tick: object) -> dict[str, object]:
    """Every attribute of a tick and of its parts (other artists compared by identity)."""
    state = {k: _value(v) for k, v in vars(tick).items() if k not in _PARTS}
    for name in _PARTS:
        part = getattr(tick, name)
        state[name] = {k: _value(v) for k, v in vars(part).items()}
    return state


def _containers(obj: object) -> list[int]:
    """The ids of the mutable attributes a tick must own (containers, callbacks, fonts, paths)."""
    own = (list, dict, set, np.ndarray, CallbackRegistry, FontProperties, Path)
    ids = [id(v) for v in vars(obj).values() if isinstance(v, own)]
    for name in _PARTS if hasattr(obj, "label1") else ():
        ids += _containers(getattr(obj, name))
    return ids


@pytest.mark.parametrize("direction", ["out", "inout"])
def test_a_clone_equals_a_tick_built_by_matplotlib(direction: str) -> None:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4, 3))
        ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
        ax.tick_params(direction=direction, length=5, color="#123456", grid_alpha=0.4)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        for axis in (ax.xaxis, ax.yaxis):
            for major in (True, False):
                built = [axis._get_tick(major=major) for _ in range(2)]
                clone = clone_tick(built[0])
                assert _state(built[1]) == _state(built[0])  # what the test relies on
                assert _state(clone) == _state(built[0])
                shared = set(_containers(clone)) & set(_containers(built[0]))
                assert not shared
                clone.label1.set_fontsize(3)  # a clone's change is its own
                clone.gridline.get_path()
                assert _state(built[0]) == _state(built[1])


def test_a_tick_with_a_callback_is_not_copied() -> None:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4, 3))
        ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
        tick = ax.xaxis._get_tick(major=True)
        tick.label1.add_callback(lambda artist: None)
        with pytest.raises(NotFresh):
            clone_tick(tick)
        templates = TickTemplates(ax.xaxis)
        templates.kept[True] = (dict(ax.xaxis._major_tick_kw), tick)
        assert templates.get_tick(True) is not tick  # built by matplotlib instead
        assert templates.kept[True][1] is not tick


def _many_ticks(canvas: type) -> Figure:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(5, 3.5), dpi=100)
        canvas(fig)
        ax = fig.add_axes((0.15, 0.2, 0.6, 0.65))
        ax.plot(np.arange(40), np.linspace(0, 1, 40) ** 2)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.minorticks_on()
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0, decimals=0))
        ax.set_title("Many ticks", loc="left")
    return fig


def test_figures_with_copied_ticks_have_matplotlibs_bytes(monkeypatch) -> None:
    built = []
    real = TickTemplates.get_tick
    monkeypatch.setattr(
        TickTemplates, "get_tick", lambda s, major: built.append(major) or real(s, major)
    )
    files = []
    for canvas in (renderers.SharedRendererCanvas, FigureCanvasAgg):
        fig = _many_ticks(canvas)
        png, svg = io.BytesIO(), io.BytesIO()
        with matplotlib.rc_context(_RC):
            fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        files.append((png.getvalue(), svg.getvalue()))
        for axis in (fig.axes[0].xaxis, fig.axes[0].yaxis):
            assert "_get_tick" not in vars(axis)  # the axis' own method back after the draw
    assert files[0] == files[1]
    assert len(built) > 20  # the minor and major ticks were new while drawing


def test_only_matplotlibs_own_ticks_are_copied() -> None:
    class Own(Axis):
        def _get_tick(self, major: bool) -> object:
            return super()._get_tick(major)

    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=(4, 3))
        ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
        assert TickTemplates.applies(ax.xaxis) and TickTemplates.applies(ax.yaxis)
        ax.xaxis.__class__ = type("OwnX", (Own, type(ax.xaxis)), {})
        assert not TickTemplates.applies(ax.xaxis)


def test_ticks_set_by_hand_while_copied_give_the_same_bytes() -> None:
    from reunistat.report.tick_clones import ticks_copied

    files = []
    for copied in (True, False):
        fig = _many_ticks(renderers.SharedRendererCanvas)
        ax = fig.axes[0]
        with matplotlib.rc_context(_RC):
            if copied:
                with ticks_copied(ax):
                    ax.set_yticks(
                        np.linspace(0, 1, 12), [f"{v:.2f}" for v in np.linspace(0, 1, 12)]
                    )
                assert "_get_tick" not in vars(ax.yaxis)
            else:
                ax.set_yticks(np.linspace(0, 1, 12), [f"{v:.2f}" for v in np.linspace(0, 1, 12)])
            png, svg = io.BytesIO(), io.BytesIO()
            fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
            fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
        files.append((png.getvalue(), svg.getvalue()))
    assert files[0] == files[1]
