"""The figures' PNG writer gives Pillow's bytes: its rows' filters, chunks and compression."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from reunistat.report import png_writer

pytestmark = pytest.mark.skipif(
    not png_writer.available(), reason="Python's zlib is not the one Pillow compresses with"
)


def _pillow(rgba: np.ndarray, dpi: float, text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    out = io.BytesIO()
    h, w, _ = rgba.shape
    image = Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(rgba), "raw", "RGBA", 0, 1)
    image.save(out, format="png", dpi=(dpi, dpi), pnginfo=info)
    return out.getvalue()


def _drawing(h: int, w: int, seed: int) -> np.ndarray:
    """A figure-like image: white, with flat boxes, lines, a gradient and some noise."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 4), 255, dtype=np.uint8)
    for _ in range(6):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        img[y0 : y0 + rng.integers(1, h + 1), x0 : x0 + rng.integers(1, w + 1), :3] = rng.integers(
            0, 256, 3
        )
    img[h // 3, :, :3] = 0  # a line
    img[:, w // 2, 1] = np.arange(h) % 256  # a gradient down a column
    noise = rng.random((h, w)) < 0.05
    img[noise] = rng.integers(0, 256, (int(noise.sum()), 4))
    img[: h // 5, : w // 4, 3] = rng.integers(0, 256)  # some alpha
    return img


@pytest.mark.parametrize(("h", "w", "seed"), [(40, 37, 0), (61, 120, 1), (300, 500, 2), (1, 1, 3)])
def test_images_are_written_as_pillow_writes_them(h: int, w: int, seed: int) -> None:
    img = _drawing(h, w, seed)
    assert png_writer.png_bytes(img, 200, []) == _pillow(img, 200)


@pytest.mark.parametrize("block", [1, 3, 7])
def test_rows_filtered_a_block_at_a_time_as_pillow(monkeypatch, block: int) -> None:
    """None's and Sub's sums carried from block to block; the reused buffers' old bytes unseen."""
    monkeypatch.setattr(png_writer, "BLOCK_ROWS", block)
    for h, w, seed in [(40, 37, 8), (23, 61, 9), (2, 5, 10)]:  # the larger image first
        img = _drawing(h, w, seed)
        assert png_writer.png_bytes(img, 200, []) == _pillow(img, 200)
        given = np.full((h, 1 + 4 * w), 77, dtype=np.uint8)
        assert png_writer.filtered_rows(img, given) is given
        assert np.array_equal(given, png_writer.filtered_rows(img))


def test_ties_and_blank_rows_take_pillows_filter() -> None:
    """All-zero rows, rows equal to the one above, and equal sums (the first filter is kept)."""
    rng = np.random.default_rng(5)
    img = np.zeros((48, 16, 4), dtype=np.uint8)
    img[3:9] = 255  # white rows after zero rows: Up from zero, then repeated
    img[10, :, 0] = np.arange(16) * 16  # a ramp: Sub beats none
    img[11] = img[10]  # repeated: Up gives 0
    img[12:30] = rng.integers(0, 4, (18, 16, 4))  # small values: many equal sums
    img[30:40] = rng.integers(0, 256, (10, 16, 4))  # noise: none or Paeth
    img[41, :, 2] = 128  # distance 128 (the byte Pillow counts as 128)
    img[42, :, 2] = 129
    assert png_writer.png_bytes(img, 100, []) == _pillow(img, 100)
    types = png_writer.filtered_rows(img)[:, 0]
    assert set(types.tolist()) >= {0, 1, 2}


def test_several_idat_chunks_and_text_as_pillow() -> None:
    rng = np.random.default_rng(7)
    img = rng.integers(0, 256, (200, 150, 4), dtype=np.uint8)  # > 64 KiB compressed
    texts = png_writer.text_chunks({"Software": "reunistat", "Skipped": None, "Title": "km é"})
    assert texts is not None
    mine = png_writer.png_bytes(img, 72, texts)
    assert mine == _pillow(img, 72, {"Software": "reunistat", "Title": "km é"})
    assert mine.count(b"IDAT") > 1


def test_text_that_is_not_latin1_is_left_to_pillow() -> None:
    assert png_writer.text_chunks({"Title": "→"}) is None
    assert png_writer.text_chunks({"Software": None}) == []
