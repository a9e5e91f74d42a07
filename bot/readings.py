"""How the word filter reads a prompt, and a plain word: one reading for both, so a rule matches what it says.

The reading is the text in NFKC form, without invisible characters (format and control characters, zero-width
spaces, bidi controls) or combining marks (accents, the grapheme joiner, variation selectors), white space
collapsed, case-folded. So accents and marks can neither split a word nor disguise it: ``g\u0301ore``,
``go\u034fre`` and ``FİST`` read as ``gore`` and ``fist``, and a rule written with accents matches the word with
or without them (words that differ only in their marks, in any script, read alike). When a prompt writes a
word in look-alike letters (``gore`` with a Cyrillic o) there is a second reading, with those letters made
Latin (``bot.confusables``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from bot.confusables import skeleton

#: The longest a prompt may read to the filter (NFKC, case-folded: ligatures and symbols such as U+FDFA spell
#: out into several letters). The bot accepts prompts of up to 2,000 characters; this leaves room for a
#: normal amount of them, and ``clean_prompt`` refuses the rest, since the filter always reads a prompt whole.
MAX_FILTERED_CHARS: Final = 2200

#: Characters the filter reads past: format and control characters (but not the white space among the controls),
#: lone surrogates, the Hangul fillers that render as blanks inside a word, and combining marks (accents, and
#: invisible ones such as the grapheme joiner and variation selectors), which would otherwise split a word or
#: disguise it. The kana voicing marks stay: NFKC puts them back on their kana, where they make another word.
#: (Planes 0 and 1 and plane 14 hold every one of them.)
_SKIPPED: Final = {
    code: None
    for code in (*range(0x20000), *range(0xE0000, 0xE1000))
    if (unicodedata.category(chr(code)) in ("Cf", "Cc", "Cs") and not chr(code).isspace())
    or (unicodedata.category(chr(code)) in ("Mn", "Me") and code not in (0x3099, 0x309A))
    or code in (0x115F, 0x1160, 0x3164, 0xFFA0)
}


def unmarked(text: str) -> str:
    """NFKC, without invisible characters and combining marks: ``g\\u0301o\\u034fre`` reads as ``gore``."""
    if text.isascii():  # no marks, and already NFKC: only control characters may go
        return text if text.isprintable() else text.translate(_SKIPPED)
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKD", text).translate(_SKIPPED))


def _visible(text: str) -> str:
    """NFKC, without invisible characters and combining marks, white space collapsed."""
    return " ".join(unmarked(text).split())


def folded_case(text: str) -> str:
    """``text`` (a reading: NFKC, without marks) case-folded.

    Folding a reading brings back no mark (a test checks every character): a capital I with a dot, which folds
    to i and a combining dot, has already lost its dot."""
    return text.casefold()


def normalise(text: str) -> str:
    """NFKC, case-folded, without invisible characters or accents, white space collapsed: what plain words match."""
    return folded_case(_visible(text))


def lookalike_word(word: str) -> str:
    """A plain word (already ``normalise``d) as the look-alike reading of a prompt shows it: ``сука`` (in
    Cyrillic, where every letter has a Latin twin) reads as the Latin ``cyka``."""
    return folded_case(skeleton(word))


# Word starts and ends, marked in the text so that "a whole word" is a substring test: a run of word characters
# is wrapped in _START ... _END, and a non-word character not right after a word gets _LONE before it (and so
# does the end of a text that does not end in a word). A rule's marks then say what must be around it.
_START, _END, _LONE = "\x02", "\x03", "\x04"
_RUNS: Final = re.compile(r"(\w+)")


def marked(text: str) -> str:
    """``text`` with its word starts and ends marked."""
    parts = _RUNS.split(text)  # not-word, word, not-word, ..., not-word: the words are at the odd places
    out = [
        f"{_START}{part}{_END}" if index % 2 else _LONE.join(part) if index else _LONE + _LONE.join(part)
        for index, part in enumerate(parts)
        if part
    ]
    if parts[-1]:  # ends with a character that is not part of a word
        out.append(_LONE)
    return "".join(out)


def reading_length(prompt: str) -> int:
    """How many characters the filter reads in ``prompt``: ``clean_prompt`` bounds it by ``MAX_FILTERED_CHARS``."""
    return len(normalise(prompt))


def readings(prompt: str) -> tuple[str, ...]:
    """The prompt as rules see it, whole; a second reading with look-alike letters made Latin, when there are any.

    Nothing is cut: a word pushed past any limit would be a word the filter never sees. ``clean_prompt`` refuses
    prompts that read longer than ``MAX_FILTERED_CHARS``, which keeps a search within its time bound.
    """
    text = _visible(prompt)
    plain = folded_case(text)
    lookalike = skeleton(text)
    if lookalike == text:
        return (plain,)
    folded = folded_case(lookalike)
    return (plain,) if folded == plain else (plain, folded)
