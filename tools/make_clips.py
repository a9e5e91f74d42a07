"""Render the four short MP4 clips that the API emulator serves as "generated" videos.

Run once, by hand, when the clips need to change; the output is committed:

    .venv/bin/pip install av        # PyAV bundles FFmpeg with libx264; it is not a project dependency
    .venv/bin/python tools/make_clips.py
    .venv/bin/pip uninstall -y av

Each clip is tiny (128x128, 1.5 s, H.264, moov atom first) and visibly different from the
others, so a human looking at the bot's replies can tell the four variants apart.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import av

SIZE = 128
FPS = 24
FRAMES = 36  # 1.5 s
OUT_DIR = Path(__file__).resolve().parent.parent / "bot" / "acedata" / "emulator" / "assets"

Pixel = tuple[int, int, int]
Painter = Callable[[int, int, float], Pixel]


def _clamp(value: float) -> int:
    return max(0, min(255, int(value)))


def sliding_square(x: int, y: int, t: float) -> Pixel:
    """A pale square crossing a warm diagonal gradient."""
    left = int(t * (SIZE + 40)) - 40
    if left <= x < left + 40 and 44 <= y < 84:
        return (250, 240, 200)
    return (_clamp(200 + (x + y) / 5), _clamp(60 + y / 3), 40)


def bouncing_ball(x: int, y: int, t: float) -> Pixel:
    """A white ball bouncing on a deep blue floor."""
    cx = 24 + t * 80
    cy = 100 - abs(math.sin(t * math.pi * 2)) * 70
    if (x - cx) ** 2 + (y - cy) ** 2 < 14**2:
        return (240, 240, 255)
    return (20, _clamp(40 + y / 2), _clamp(120 + y))


def scrolling_stripes(x: int, y: int, t: float) -> Pixel:
    """Green stripes scrolling upwards."""
    band = ((y + int(t * 64)) // 16) % 2
    return (30, 200 if band else 110, _clamp(60 + x / 4))


def pulsing_rings(x: int, y: int, t: float) -> Pixel:
    """Purple rings expanding from the centre."""
    distance = math.hypot(x - SIZE / 2, y - SIZE / 2)
    wave = (math.sin(distance / 6 - t * math.pi * 4) + 1) / 2
    return (_clamp(90 + wave * 140), _clamp(30 + wave * 40), _clamp(140 + wave * 100))


def render(path: Path, painter: Painter) -> int:
    with av.open(str(path), mode="w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = SIZE
        stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "24", "preset": "veryslow"}
        for index in range(FRAMES):
            t = index / (FRAMES - 1)
            pixels = bytearray()
            for y in range(SIZE):
                for x in range(SIZE):
                    pixels.extend(painter(x, y, t))
            frame = av.VideoFrame(SIZE, SIZE, "rgb24")
            frame.planes[0].update(bytes(pixels))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path.stat().st_size


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    painters = (sliding_square, bouncing_ball, scrolling_stripes, pulsing_rings)
    for number, painter in enumerate(painters, start=1):
        path = OUT_DIR / f"clip{number}.mp4"
        size = render(path, painter)
        print(f"{path.name}: {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
