"""Real, tiny media files for the emulator's results: PNG pictures and MP4 clips.

Pictures are drawn as rows of pixels in pure Python (and encoded as PNG by Pillow), as flat colour fields
with a vertical shade, so a 2x2 grid is recognisably four images. Clips are four short H.264 files
shipped as package data (made by ``tools/make_clips.py``).
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

Rgb = tuple[int, int, int]

#: Longest side of a grid or of an upscaled single image, in pixels.
IMAGE_SIDE = 256
#: Longest side of the full-size ("raw") image of a grid.
RAW_SIDE = 512
#: Side of the shipped clips and of their cover images.
CLIP_SIDE = 128
CLIP_COUNT = 4

_ASPECT = re.compile(r"--(?:ar|aspect)\s+(\d{1,3})\s*:\s*(\d{1,3})", re.IGNORECASE)


def palette(seed: str, count: int = 4) -> tuple[Rgb, ...]:
    """``count`` bright-ish colours derived from ``seed``."""
    digest = hashlib.sha256(seed.encode()).digest()
    channels = [64 + byte % 192 for byte in digest[: count * 3]]
    return tuple((channels[i], channels[i + 1], channels[i + 2]) for i in range(0, count * 3, 3))


def blend(base: Rgb, other: Rgb, weight: float) -> Rgb:
    """Mix ``other`` into ``base``; ``weight`` 0 keeps ``base``."""
    r, g, b = (round(x + (y - x) * weight) for x, y in zip(base, other, strict=True))
    return (r, g, b)


def aspect_size(prompt: str, side: int) -> tuple[int, int]:
    """Image size for a prompt's ``--ar W:H`` (square without one), longest side ``side``."""
    match = _ASPECT.search(prompt)
    if not match:
        return side, side
    w, h = int(match.group(1)), int(match.group(2))
    if w <= 0 or h <= 0:
        return side, side
    if w >= h:
        return side, max(2, round(side * h / w) // 2 * 2)
    return max(2, round(side * w / h) // 2 * 2), side


def png_bytes(width: int, height: int, rows: Sequence[bytes]) -> bytes:
    """Encode 8-bit RGB scanlines (``width * 3`` bytes each) as a PNG file."""
    from PIL import Image

    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError("scanlines do not match the image size")
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), b"".join(rows)).save(buffer, format="PNG")
    return buffer.getvalue()


def _shade(colour: Rgb, fraction: float) -> bytes:
    factor = 1.0 - 0.45 * fraction
    return bytes(min(255, int(c * factor)) for c in colour)


def render_grid(colours: tuple[Rgb, ...], width: int, height: int) -> bytes:
    """A 2x2 grid: quadrants 1-4 (top-left, top-right, bottom-left, bottom-right) in ``colours``."""
    left_w = width // 2
    top_h = height // 2
    rows: list[bytes] = []
    for y in range(height):
        top = y < top_h
        fraction = (y if top else y - top_h) / max(1, (top_h if top else height - top_h) - 1)
        first, second = (colours[0], colours[1]) if top else (colours[2], colours[3])
        rows.append(_shade(first, fraction) * left_w + _shade(second, fraction) * (width - left_w))
    return png_bytes(width, height, rows)


def render_single(colour: Rgb, width: int, height: int) -> bytes:
    """One image: a colour field with a vertical shade and a lighter centre band."""
    light = blend(colour, (255, 255, 255), 0.35)
    band_top, band_bottom = height * 2 // 5, height * 3 // 5
    rows = []
    for y in range(height):
        shade = _shade(light if band_top <= y < band_bottom else colour, y / max(1, height - 1))
        rows.append(shade * width)
    return png_bytes(width, height, rows)


@dataclass(frozen=True, slots=True)
class Picture:
    """What to draw for one image URL: a grid of four colours or a single colour."""

    colours: tuple[Rgb, ...]
    width: int
    height: int

    def render(self) -> bytes:
        if len(self.colours) == 4:
            return render_grid(self.colours, self.width, self.height)
        return render_single(self.colours[0], self.width, self.height)


class PictureCache:
    """Rendered PNGs by URL path; bounded, least recently used first out."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def get(self, key: str, picture: Picture) -> bytes:
        data = self._items.get(key)
        if data is None:
            data = picture.render()
            self._items[key] = data
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return data


def load_clips() -> tuple[bytes, ...]:
    """The shipped MP4 clips, in order."""
    folder = resources.files(__package__ or "bot.acedata.emulator") / "assets"
    return tuple((folder / f"clip{n}.mp4").read_bytes() for n in range(1, CLIP_COUNT + 1))


def free_box_header(size: int) -> bytes:
    """Header of an ISO-BMFF ``free`` box of ``size`` bytes in total (header included).

    Players skip ``free`` boxes, so appending one keeps the file valid while making it bigger.
    """
    if size < 8:
        raise ValueError("a box is at least 8 bytes")
    if size <= 0xFFFFFFFF:
        return struct.pack(">I", size) + b"free"
    return struct.pack(">I", 1) + b"free" + struct.pack(">Q", size)


def padding_box_size(padding: int) -> int:
    """Total size of the box that pads a clip by about ``padding`` bytes (0 for none)."""
    if padding <= 0:
        return 0
    size = max(8, padding)
    return size + 8 if size > 0xFFFFFFFF else size
