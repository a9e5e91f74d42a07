"""A minimal PNG writer (and size reader) in pure Python, for pictures the bot draws itself.

A PNG is a signature, an IHDR chunk, zlib-compressed scanlines and an IEND chunk; each scanline
starts with a filter byte, here always 0 (none): the pictures are flat colour fields that zlib
packs well without filtering. Only 8-bit RGB is written.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Final

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"


def png_bytes(width: int, height: int, rows: Sequence[bytes | bytearray]) -> bytes:
    """Encode 8-bit RGB scanlines (``width * 3`` bytes each) as a PNG file."""
    if len(rows) != height or any(len(row) != width * 3 for row in rows):
        raise ValueError("scanlines do not match the image size")
    return _encode(width, height, b"".join(b"\x00" + row for row in rows))


def png_from_pixels(width: int, height: int, pixels: bytes | bytearray, *, level: int = 6) -> bytes:
    """Encode a packed RGB canvas (``width * height * 3`` bytes, row after row) as a PNG file."""
    stride = width * 3
    if width <= 0 or height <= 0 or len(pixels) != stride * height:
        raise ValueError("the pixels do not match the image size")
    view = memoryview(pixels)
    raw = b"".join(b"\x00" + view[y * stride : (y + 1) * stride] for y in range(height))
    return _encode(width, height, raw, level)


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _encode(width: int, height: int, raw: bytes, level: int = 6) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (PNG_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw, level)), _chunk(b"IEND", b""))
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
