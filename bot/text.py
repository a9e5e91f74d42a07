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
#: Invisible combining marks: the grapheme joiner, which never draws anything; Mongolian free variation
#: selectors, which choose a letter's shape in Mongolian; and variation selectors, which choose an emoji's or an
#: ideograph's drawing. Inside a Latin word they only hide it, so they stay only after what they can change.
_CGJ = "\u034f"
_MONGOLIAN_SELECTORS = frozenset("\u180b\u180c\u180d\u180f")
_VARIATION_SELECTORS = frozenset(map(chr, (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0))))
_SELECTORS = frozenset({_CGJ, *_MONGOLIAN_SELECTORS, *_VARIATION_SELECTORS})


def _hidden(char: str) -> bool:
    if char in _INVISIBLE:
        return True
    category = unicodedata.category(char)
    return (category in ("Cc", "Cf") and char not in _KEPT_CONTROLS) or category == "Cs"


def _selects(selector: str, before: str | None) -> bool:
    """Whether a variation selector (or the grapheme joiner) after ``before`` changes how it is drawn."""
    if before is None or selector == _CGJ:
        return False
    if selector in _MONGOLIAN_SELECTORS:
        return "\u1820" <= before <= "\u18af"  # a Mongolian letter
    category = unicodedata.category(before)
    # Emoji, symbols, keycap digits and East Asian ideographs take them; letters of an alphabet and marks don't.
    return category[0] not in "LMZ" or unicodedata.east_asian_width(before) in ("W", "F")


def _pictograph(char: str) -> bool:
    return unicodedata.category(char) in ("So", "Sk") or char == "\ufe0f"


def strip_invisible(text: str) -> str:
    """``text`` without control, format and zero-width characters (new lines and tabs stay), nor the invisible
    combining marks that would hide a word from the word filter: the grapheme joiner, and variation selectors
    except after an emoji, a symbol or an ideograph (or a Mongolian letter, for its own).

    A zero-width joiner between two pictographs stays, as it is what draws a family or a flag emoji as one.
    """
    if text.isprintable() and _ZWJ not in text and _SELECTORS.isdisjoint(text):
        return text  # no Cc, Cf, Cs, Zl, Zp or Zs other than a plain space, and no selector
    kept: list[str] = []
    for index, char in enumerate(text):
        following = text[index + 1 : index + 2]
        joins_pictographs = kept and _pictograph(kept[-1]) and following and unicodedata.category(following) == "So"
        if char in _SELECTORS:
            if _selects(char, kept[-1] if kept else None):
                kept.append(char)
        elif (char == _ZWJ and joins_pictographs) or not _hidden(char):
            kept.append(char)
    return "".join(kept)
