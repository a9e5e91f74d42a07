"""Look-alike letters folded to the Latin letters they imitate: ``gore`` written with a Cyrillic o reads as ``gore``.

NFKC already turns fullwidth, mathematical and circled letters into plain ones; this table adds the common
look-alikes NFKC keeps: Cyrillic, Greek, Armenian and Cherokee letters drawn like Latin ones, Latin small
capitals, and Latin letters with a stroke (``ø``, ``ł``), which no accent-stripping takes apart.

Folding every Cyrillic es would make an ordinary Russian word like "sor" (rubbish) read as the English ``cop``, so a
word is folded only when it can only be a trick: it mixes look-alikes with Latin letters, or it is written
entirely in look-alikes while the prompt holds no other letter of their scripts (a Russian sentence always has
letters like el, i or ya that look like nothing Latin).
"""

from __future__ import annotations

import re
from typing import Final

#: Each Latin letter and the letters drawn like it that NFKC leaves alone: Cyrillic and Greek capitals and small
#: letters (a capital often imitates another letter than its small form: Greek capital eta is an H, small eta an
#: n), Armenian and Cherokee letters, and Latin small capitals, letters with a stroke and the like. Written as
#: escapes so that no look-alike hides in this source.
_LOOKS_LIKE: Final = {
    "a": "\u0410\u0430\u0391\u03b1\u1d00\u0251\u13aa",
    "b": "\u0412\u0432\u0392\u0299\u0180\u13cf\u13f4",
    "c": "\u0421\u0441\u1d04\u13df",
    "d": "\u0501\u1d05\u0111\u13a0\u13e7",
    "e": "\u0415\u0435\u0395\u03b5\u1d07\u13ac",
    "g": "\u0262\u0261\u13c0",
    "h": "\u041d\u04ba\u04bb\u043d\u0397\u029c\u0127\u0570\u13bb\u13c2",
    "i": "\u0406\u04c0\u0456\u0399\u03b9\u026a\u0131\u0268\u13a5",
    "j": "\u0408\u0458\u1d0a\u13ab",
    "k": "\u041a\u043a\u039a\u03ba\u1d0b\u13e6",
    "l": "\u04cf\u029f\u0142\u13de",
    "m": "\u041c\u043c\u039c\u1d0d\u13b7",
    "n": "\u039d\u03b7\u0274\u0578",
    "o": "\u041e\u043e\u039f\u03bf\u1d0f\u00d8\u00f8\u0275\u0555\u0585\u13eb",
    "p": "\u0420\u0440\u03a1\u03c1\u1d18\u13e2",
    "q": "\u051a\u051b",
    "r": "\u0280\u13a1\u13d2",
    "s": "\u0405\u0455\ua731\u017f\u13d5\u13da",
    "t": "\u0422\u0442\u03a4\u03c4\u1d1b\u13a2",
    "u": "\u03c5\u1d1c\u054d\u057d",
    "v": "\u0474\u0475\u03bd\u1d20\u13d9",
    "w": "\u051c\u051d\u03c9\u1d21\u13b3\u13d4",
    "x": "\u0425\u0445\u03a7\u03c7",
    "y": "\u0423\u04ae\u0443\u04af\u03a5\u03b3\u028f\u13a9",
    "z": "\u0396\u1d22\u13c3",
}
_CHEROKEE: Final = range(0x13A0, 0x1400)
#: Cherokee's small letters are drawn as its capitals, smaller: they imitate the same Latin letters.
_TABLE: Final = {
    variant: latin
    for latin, chars in _LOOKS_LIKE.items()
    for char in chars
    for variant in ((char, char.lower()) if ord(char) in _CHEROKEE else (char,))
}
_TRANSLATION: Final = str.maketrans(_TABLE)
_LOOKALIKES: Final = frozenset(_TABLE)
_WORD: Final = re.compile(r"\w+")


def _is_latin(char: str) -> bool:
    code = ord(char)
    return char.isalpha() and (code < 0x370 or 0x1D00 <= code < 0x1F00 or 0xA720 <= code < 0xA800)


def _is_other_script(char: str) -> bool:
    """A Greek, Cyrillic, Armenian or Cherokee letter (the scripts the table draws from)."""
    code = ord(char)
    return char.isalpha() and (
        0x370 <= code < 0x590 or 0x1F00 <= code < 0x2000 or code in _CHEROKEE or 0xAB70 <= code < 0xABC0
    )


def skeleton(text: str) -> str:
    """``text`` with the look-alikes of the words that can only be tricks replaced by Latin letters.

    Expects NFKC text without invisible characters; keeps the case of everything else, and the length.
    """
    if _LOOKALIKES.isdisjoint(text):
        return text
    genuine = any(_is_other_script(char) and char not in _LOOKALIKES for char in text)

    def fold(found: re.Match[str]) -> str:
        word = found.group()
        if _LOOKALIKES.isdisjoint(word):
            return word
        letters = [char for char in word if char.isalpha()]
        mixed = any(_is_latin(char) for char in letters)
        only_lookalikes = all(char in _LOOKALIKES for char in letters)
        if mixed or (only_lookalikes and not genuine):
            return word.translate(_TRANSLATION)
        return word

    return _WORD.sub(fold, text)
