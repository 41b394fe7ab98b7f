"""The fonts our figure renderers draw with, read from memory: the same faces, no file reads.

Matplotlib's ``FT2Font`` reads its font through a Python file object: FreeType
asks for each glyph's outline and hinting program by a ``seek`` and a ``read``
of the file, a buffered reader's lock and system calls each time, and that was
about two thirds of laying out, measuring and rasterising a text (``_layout``,
``set_text``, ``_render_glyph``). Here each font file is read once a process
and the fonts :func:`get_font` makes read its bytes from memory (a ``BytesIO``
on them). FreeType is given the same bytes, so the glyphs, metrics and pixels
are the same.

:func:`get_font` is matplotlib 3.11's ``font_manager.get_font`` and
:func:`_get_font` its ``_get_font``, line for line but for the file objects.
Only :mod:`reunistat.report.renderers` uses them: matplotlib's own
``get_font`` (and so any other canvas, PDF and PS among them, which read
``FT2Font.fname`` as a path) is left alone.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from typing import Any

import matplotlib
from matplotlib import cbook, font_manager, ft2font
from matplotlib.font_manager import FontPath

_cached_realpath: Any = getattr(font_manager, "_cached_realpath")  # noqa: B009 (private)
#: The bytes of each font file read, by its real path (shared by every file object on it).
_DATA: dict[str, bytes] = {}


def font_file(path: str) -> io.BytesIO:
    """A file object on the bytes of the font file ``path`` (read once a process)."""
    data = _DATA.get(path)
    if data is None:
        with open(path, "rb") as fh:
            data = _DATA[path] = fh.read()
    return io.BytesIO(data)  # shares the bytes until written to (never)


@functools.lru_cache(64)
def _get_font(
    font_filepaths: tuple[tuple[str, int], ...],
    *,
    _kerning_factor: Any,
    thread_id: int,
    enable_last_resort: bool,
) -> Any:
    """``matplotlib.font_manager._get_font`` (3.11), each font read by :func:`font_file`."""
    (first_fontpath, first_fontindex), *rest = font_filepaths
    fallback_list = [
        ft2font.FT2Font(font_file(fpath), face_index=index, _kerning_factor=_kerning_factor)
        for fpath, index in rest
    ]
    last_resort_path = _cached_realpath(
        cbook._get_data_path("fonts", "ttf", "LastResortHE-Regular.ttf")
    )
    try:
        last_resort_index = font_filepaths.index((last_resort_path, 0))
    except ValueError:
        last_resort_index = -1
        if enable_last_resort:
            fallback_list.append(
                ft2font.FT2Font(
                    font_file(last_resort_path),
                    _kerning_factor=_kerning_factor,
                    _warn_if_used=True,
                )
            )
            last_resort_index = len(fallback_list)
    font = ft2font.FT2Font(
        font_file(first_fontpath),
        face_index=first_fontindex,
        _fallback_list=fallback_list,
        _kerning_factor=_kerning_factor,
    )
    if last_resort_index == 0:
        font.set_charmap(0)
    elif last_resort_index > 0:
        fallback_list[last_resort_index - 1].set_charmap(0)
    return font


# as matplotlib does for its own: a forked child makes its fonts again
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_get_font.cache_clear)


def get_font(font_filepaths: Any) -> Any:
    """``matplotlib.font_manager.get_font`` (3.11, without ``hinting_factor``), read from memory."""
    match font_filepaths:
        case FontPath(path, index):
            paths: tuple[tuple[str, int], ...] = ((_cached_realpath(path), index),)
        case str() | bytes() | os.PathLike() as path:
            paths = ((_cached_realpath(path), 0),)
        case _:
            paths = tuple(
                (_cached_realpath(fname.path), fname.face_index)
                if isinstance(fname, FontPath)
                else (_cached_realpath(fname), 0)
                for fname in font_filepaths
            )
    rc: Any = matplotlib.rcParams
    font = _get_font(
        paths,
        _kerning_factor=rc["text.kerning_factor"],
        thread_id=threading.get_ident(),
        enable_last_resort=rc["font.enable_last_resort"],
    )
    font._set_transform([[0x10000, 0], [0, 0x10000]], [0, 0])
    return font
