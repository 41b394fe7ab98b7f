"""The figures' PNG files, byte for byte as Pillow writes them, with the rows' filters in numpy.

Pillow's PNG encoder (``ZipEncode.c``) filters each row of pixels before
compressing it: it measures the row unfiltered, then filtered by Up, Sub and
Paeth, and keeps the first with the least sum of distances from zero. It does
that byte by byte over the whole image, and for a figure (1400 x 1100 RGBA,
mostly blank) that was half the CPU of writing the PNG. Every filtered byte is
zero where a pixel equals its left, upper and upper-left neighbours, so here
the filters are worked out only at the other pixels (a few per cent of a
figure), the rows are then filtered as Pillow filters them and compressed with
Pillow's settings (level 6, window 15, memory level 9, ``Z_FILTERED``) by the
same zlib, and the chunks written in Pillow's order and sizes: the same bytes.

:func:`available` says when that holds (Python's zlib is the one Pillow uses);
otherwise, and for anything but an RGBA image with text metadata, the caller
lets Pillow write the file.
"""

from __future__ import annotations

import functools
import os
import struct
import threading
import zlib
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pillow's block for encoded data (``ImageFile.MAXBLOCK``): one IDAT chunk each.
_BLOCK = 65536
#: The filter types in the order Pillow tries them (a later one must be strictly better).
_ORDER = np.array([0, 2, 1, 4], dtype=np.uint8)  # none, Up, Sub, Paeth
#: Rows filtered at a time: a block's work arrays are small, so memory is reused, not new pages.
BLOCK_ROWS = 64
#: This thread's work buffers (see :func:`_scratch`).
_SCRATCH = threading.local()


def _scratch(name: str, n: int, dtype: type) -> np.ndarray:
    """``n`` items of this thread's buffer ``name`` (made, or grown, when shorter), not cleared.

    A figure's filtering needs about 9 MB of work arrays; new ones for every
    figure were fresh pages, a page fault each when first written (about 4,000
    a figure, more CPU than the filtering itself): kept, their pages are
    written again.
    """
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.size < n:
        buf = np.empty(n, dtype=dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:n]


@functools.cache
def available() -> bool:
    """Whether Python's zlib is the one Pillow compresses with (then the bytes are Pillow's)."""
    from PIL import features

    return features.version_codec("zlib") == zlib.ZLIB_RUNTIME_VERSION


def _distance(v: np.ndarray) -> np.ndarray:
    """Pillow's distance from zero of filtered bytes ``v`` (uint8): v below 128, else 256 - v."""
    return np.abs(v.view(np.int8)).view(np.uint8)  # |-128| stays -128, which is 128 as uint8


def _pixel_sums(v: np.ndarray) -> np.ndarray:
    """Each pixel's sum of the distances of its four filtered bytes ``v`` (uint8), uint32."""
    d = _distance(v).view(np.uint32)
    pairs = (d & 0x00FF00FF) + ((d >> 8) & 0x00FF00FF)
    return (pairs & 0xFFFF) + (pairs >> 16)


def filtered_rows(rgba: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Each row of an RGBA image as Pillow's PNG encoder compresses it: filter type, bytes.

    ``rgba`` is (height, width, 4) uint8, C-contiguous; the result is
    (height, 1 + 4 width) uint8, written in ``out`` when given (C-contiguous, any
    content; it is returned). As in Pillow the row above the first and the
    pixel left of each row's first are zero, and each row takes the first of
    none, Up, Sub and Paeth with the least sum of distances from zero.

    Where a pixel and its left neighbour equal the two above them (x = b,
    a = c), Up and Paeth give 0 and none and Sub give what they gave the pixel
    above; so the sums are found from the other pixels alone (none's and Sub's
    as changes from the row above), and Up and Paeth are worked out only there,
    :data:`BLOCK_ROWS` rows at a time (:func:`_filter_block`).
    """
    h, w, _ = rgba.shape
    px = rgba.view(np.uint32).reshape(h, w)
    up_diff = _scratch("up_diff", h * w, bool).reshape(h, w)
    np.not_equal(px[1:], px[:-1], out=up_diff[1:])
    np.not_equal(px[0], 0, out=up_diff[0])
    near = _scratch("near", h * w, bool).reshape(h, w)  # it or its left neighbour differs above
    near[:, 0] = up_diff[:, 0]
    np.logical_or(up_diff[:, 1:], up_diff[:, :-1], out=near[:, 1:])
    if out is None:
        out = np.empty((h, 1 + 4 * w), dtype=np.uint8)
    out.fill(0)
    choice = np.empty(h, dtype=np.intp)
    above = (0, 0)  # none's and Sub's sums of the row above the block
    for r0 in range(0, h, BLOCK_ROWS):
        above = _filter_block(px, near, r0, min(h, r0 + BLOCK_ROWS), above, choice, out)
    out[:, 0] = _ORDER[choice]
    raw = rgba.reshape(h, 4 * w)
    plain = np.flatnonzero(choice == 0)
    out[plain, 1:] = raw[plain]
    by_sub = np.flatnonzero(choice == 2)
    out[by_sub, 1:5] = raw[by_sub, :4]
    out[by_sub, 5:] = raw[by_sub, 4:] - raw[by_sub, :-4]
    return out


def _filter_block(
    px: np.ndarray,
    near: np.ndarray,
    r0: int,
    r1: int,
    above: tuple[int, int],
    choice: np.ndarray,
    out: np.ndarray,
) -> tuple[int, int]:
    """Rows ``r0:r1``: their filters' sums and ``choice``, Up's or Paeth's bytes in ``out``.

    ``above`` holds none's and Sub's sums of row ``r0 - 1`` (0 above the
    first); the block's last row's are returned.
    """
    w = px.shape[1]
    at = np.flatnonzero(near[r0:r1])
    at += r0 * w
    rows, cols = np.divmod(at, w)
    cells = px.ravel()
    x = cells[at].view(np.uint8)
    a, b, c = (  # the neighbours left, above and above-left (0 outside the image)
        np.where(inside, cells.take(at - step, mode="clip"), 0).astype(np.uint32).view(np.uint8)
        for inside, step in ((cols > 0, 1), (rows > 0, w), ((cols > 0) & (rows > 0), w + 1))
    )
    xi, ai, bi, ci = (v.astype(np.int16) for v in (x, a, b, c))
    pa, pb, pc = np.abs(bi - ci), np.abs(ai - ci), np.abs(ai + bi - 2 * ci)
    paeth = (xi - np.where((pa <= pb) & (pa <= pc), ai, np.where(pb <= pc, bi, ci))).astype(
        np.uint8
    )
    up = x - b  # uint8: wraps as Pillow's bytes do
    sums = np.zeros((6, r1 - r0), dtype=np.int64)  # at most 128 a byte
    if len(at):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # rows come in order
        for k, v in enumerate((x, b, up, x - a, b - c, paeth)):
            sums[k, rows[starts] - r0] = np.add.reduceat(_pixel_sums(v), starts)
    none = np.cumsum(sums[0] - sums[1])  # each row's sum, from the row above's
    none += above[0]
    sub = np.cumsum(sums[3] - sums[4])
    sub += above[1]
    chosen = np.stack([none, sums[2], sub, sums[5]]).argmin(axis=0)  # the first least, as Pillow
    choice[r0:r1] = chosen
    kind = chosen[rows - r0]  # Up and Paeth: 0 but where the pixel was worked out
    worked = np.where(kind == 1, up.view(np.uint32), paeth.view(np.uint32)).view(np.uint8)
    first = rows * (1 + 4 * w) + 1 + 4 * cols  # each worked-out pixel's first byte in ``out``
    out.reshape(-1)[(first[:, None] + np.arange(4)).ravel()] = worked
    return int(none[-1]), int(sub[-1])


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk as Pillow's ``putchunk`` writes it: length, type, data, CRC."""
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def text_chunks(metadata: Mapping[str, Any]) -> list[bytes] | None:
    """The tEXt chunks of ``metadata`` as Pillow's ``PngInfo.add_text`` makes them.

    ``None`` values are left out (as matplotlib leaves them); ``None`` is
    returned for a value that is not Latin-1 text (then Pillow writes the file).
    """
    out = []
    for key, value in metadata.items():
        if value is None:
            continue
        if not isinstance(key, str) or not isinstance(value, str):
            return None
        try:
            out.append(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
        except UnicodeError:
            return None
    return out


def png_bytes(rgba: np.ndarray, dpi: float, texts: list[bytes]) -> bytes:
    """The PNG file Pillow writes for ``Image.save(format="png", dpi=(dpi, dpi))``."""
    h, w, _ = rgba.shape
    head = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8 bits, RGBA, no interlace
    ppm = struct.pack(">I", int(dpi / 0.0254 + 0.5))
    packer = zlib.compressobj(-1, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
    rows = _scratch("rows", h * (1 + 4 * w), np.uint8).reshape(h, 1 + 4 * w)
    stream = packer.compress(filtered_rows(np.ascontiguousarray(rgba), rows).data)
    stream += packer.flush()
    block = max(_BLOCK, 4 * w)
    parts = [_SIGNATURE, _chunk(b"IHDR", head), *texts, _chunk(b"pHYs", ppm + ppm + b"\x01")]
    parts += [_chunk(b"IDAT", stream[i : i + block]) for i in range(0, len(stream), block)]
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def write_png(target: str | os.PathLike[str] | IO[bytes], data: bytes) -> None:
    """Write ``data`` to a path or a binary file object."""
    if hasattr(target, "write"):
        target.write(data)
    else:
        with open(target, "wb") as fh:
            fh.write(data)
