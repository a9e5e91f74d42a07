"""Small text helpers shared by the CLI and the Discord messages."""

from __future__ import annotations


def progress_bar(percent: int | None, width: int = 10) -> str:
    """``▰▰▰▱▱ 60%``-style bar; an unknown progress shows an empty bar."""
    value = max(0, min(100, percent or 0))
    filled = round(value * width / 100)
    return f"{'▰' * filled}{'▱' * (width - filled)} {value}%"


def duration(seconds: float) -> str:
    """``0:42``, ``12:05`` or ``1:02:03``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)].rstrip() + "…"
