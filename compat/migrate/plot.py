"""A small PNG line chart of a pack's loudness and gain, with no plotting library.

Two panels stacked: loudness (top) and gain (bottom) against the first grid knob, one line
per combination of the other grid knobs (colours cycle), each point marked with a small
square. Axes carry tick marks at the x grid values and at 5 evenly spaced y levels; there
is no text (the manifest has the numbers). The PNG is 8-bit RGB, unfiltered rows, zlib
level 9; output is deterministic. `decode_png` reads such a file back (tests use it).
"""

from __future__ import annotations

import math
import struct
import zlib
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

__all__ = ["WIDTH", "HEIGHT", "COLORS", "BACKGROUND", "AXIS", "loudness_png", "line_chart", "encode_png", "decode_png"]

WIDTH, HEIGHT = 640, 480
BACKGROUND = (255, 255, 255)
AXIS = (0, 0, 0)
COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 50, 20, 20, 30
TICK = 5


def encode_png(image: np.ndarray) -> bytes:
    """(H, W, 3) uint8 → PNG bytes."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    h, w, c = image.shape
    if c != 3:
        raise ValueError("expected an RGB image")
    raw = b"".join(b"\x00" + image[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def decode_png(data: bytes) -> np.ndarray:
    """PNG bytes written by encode_png (8-bit RGB, filter 0) → (H, W, 3) uint8; checks CRCs."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if crc != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"bad CRC in {kind!r}")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    if header is None or header[2:] != (8, 2, 0, 0, 0):
        raise ValueError("only 8-bit RGB, non-interlaced PNGs are read")
    w, h = header[0], header[1]
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 3 * w)
    if np.any(raw[:, 0] != 0):
        raise ValueError("only filter type 0 is read")
    return raw[:, 1:].reshape(h, w, 3).copy()


class _Canvas:
    def __init__(self, width: int, height: int):
        self.img = np.empty((height, width, 3), dtype=np.uint8)
        self.img[:] = BACKGROUND

    def dot(self, x: int, y: int, color) -> None:
        h, w, _ = self.img.shape
        if 0 <= x < w and 0 <= y < h:
            self.img[y, x] = color

    def line(self, x0: int, y0: int, x1: int, y1: int, color) -> None:
        """Bresenham."""
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        while True:
            self.dot(x0, y0, color)
            if x0 == x1 and y0 == y1:
                return
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy

    def square(self, x: int, y: int, r: int, color) -> None:
        for yy in range(y - r, y + r + 1):
            for xx in range(x - r, x + r + 1):
                self.dot(xx, yy, color)


def _span(values: Sequence[float]) -> Tuple[float, float]:
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _panel(canvas: _Canvas, box: Tuple[int, int, int, int], xs: Sequence[float],
           series: Sequence[Sequence[Optional[float]]]) -> None:
    """Axes (left and bottom), ticks, and one line per series of y values over xs."""
    left, top, right, bottom = box
    canvas.line(left, bottom, right, bottom, AXIS)
    canvas.line(left, top, left, bottom, AXIS)
    x_lo, x_hi = _span(list(xs))
    ys = [y for s in series for y in s if y is not None and math.isfinite(y)]
    y_lo, y_hi = _span(ys)

    def px(x: float) -> int:
        return int(round(left + (x - x_lo) / (x_hi - x_lo) * (right - left)))

    def py(y: float) -> int:
        return int(round(bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top)))

    for x in xs:
        canvas.line(px(x), bottom, px(x), bottom + TICK, AXIS)
    for k in range(5):
        y = y_lo + (y_hi - y_lo) * (k + 0.5) / 5
        canvas.line(left - TICK, py(y), left, py(y), AXIS)
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        points = [(px(x), py(y)) for x, y in zip(xs, s) if y is not None and math.isfinite(y)]
        for (a, b), (c, d) in zip(points, points[1:]):
            canvas.line(a, b, c, d, color)
        for a, b in points:
            canvas.square(a, b, 2, color)


def line_chart(xs: Sequence[float], panels: Sequence[Sequence[Sequence[Optional[float]]]],
               width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """An image with `len(panels)` stacked panels; each panel is a list of series over xs."""
    canvas = _Canvas(width, height)
    n = max(1, len(panels))
    band = height // n
    for k, series in enumerate(panels):
        box = (MARGIN_LEFT, k * band + MARGIN_TOP, width - MARGIN_RIGHT, (k + 1) * band - MARGIN_BOTTOM)
        _panel(canvas, box, xs, series)
    return canvas.img


def _number(v: Any) -> Optional[float]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def loudness_png(grid: Sequence[Tuple[str, Sequence[float]]],
                 points: Sequence[Tuple[Mapping[str, float], Any, Any]]) -> bytes:
    """The pack's plot: loudness (and gain, when any is known) against the first grid knob,
    one line per combination of the other grid knobs. `points`: (knobs, loudness, gain)."""
    first, xs = grid[0][0], list(grid[0][1])
    others = [name for name, _ in grid[1:]]
    lines: Dict[Tuple[float, ...], Dict[float, Tuple[Optional[float], Optional[float]]]] = {}
    for knobs, loud, gain in points:
        key = tuple(knobs[n] for n in others)
        lines.setdefault(key, {})[knobs[first]] = (_number(loud), _number(gain))
    loudness = [[line.get(x, (None, None))[0] for x in xs] for line in lines.values()]
    gain = [[line.get(x, (None, None))[1] for x in xs] for line in lines.values()]
    panels: List = [loudness]
    if any(g is not None for s in gain for g in s):
        panels.append(gain)
    return encode_png(line_chart(xs, panels))
