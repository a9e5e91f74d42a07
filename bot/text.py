"""Small text helpers shared by the CLI and the Discord messages."""

from __future__ import annotations

import unicodedata


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


#: Characters a prompt never needs and that can hide or reorder what a reader sees: bidi embeddings, overrides
#: and isolates, zero-width spaces and joiners, the word joiner and the byte-order mark. Other format (Cf) and
#: control (Cc) characters go too, apart from new lines and tabs.
_INVISIBLE = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\u2060\ufeff")
_ZWJ = "\u200d"
_KEPT_CONTROLS = frozenset("\n\t")


def _hidden(char: str) -> bool:
    if char in _INVISIBLE:
        return True
    category = unicodedata.category(char)
    return (category in ("Cc", "Cf") and char not in _KEPT_CONTROLS) or category == "Cs"


def _pictograph(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def strip_invisible(text: str) -> str:
    """``text`` without control, format and zero-width characters (new lines and tabs stay).

    A zero-width joiner between two pictographs stays, as it is what draws a family or a flag emoji as one.
    """
    if text.isprintable() and _ZWJ not in text:  # no Cc, Cf, Cs, Zl, Zp or Zs other than a plain space
        return text
    kept: list[str] = []
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        joins_pictographs = kept and _pictograph(kept[-1]) and following and unicodedata.category(following) == "So"
        if (char == _ZWJ and joins_pictographs) or not _hidden(char):
            kept.append(char)
    return "".join(kept)
