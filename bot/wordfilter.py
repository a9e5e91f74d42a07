"""The word filter: ``match_filter`` finds the first rule a prompt breaks.

Plain words match whole words, case-insensitively, on the prompt in NFKC form with invisible format
characters removed and runs of white space collapsed (so fullwidth letters, capitals and a zero-width
space inside a word all read as the plain word).

Regular expressions need care: Python's ``re`` backtracks and has no timeout, so one bad pattern
could hold the bot for minutes on one prompt. ``compile_rule`` therefore refuses, when a rule is
added: patterns over ``MAX_PATTERN_CHARS``; a repeat of a group that itself repeats or has
alternatives (``(a+)+``, ``(a|aa)*``: exponential); back-references; more than
``MAX_WIDE_REPEATS`` wide repeats (``*``, ``+``, ``{2,50}``...: each one more multiplies the work by
the prompt's length); and, measured, a pattern that takes over ``PROBE_BUDGET_S`` on a probe text
of a few hundred characters (long runs of one character, where backtracking is slowest): that
refuses what would take seconds on a long prompt, while patterns whose work grows with the square
of the length stay around a tenth of a second at worst. A search reads at most
``MAX_FILTERED_CHARS`` characters (the bot takes prompts up to 2,000), and one slower than
``SLOW_SEARCH_S`` is logged, naming the rule.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# The filter's warnings go out under the settings logger, beside the other warnings about a server's settings.
log = logging.getLogger("bot.settings")

#: Longest word-filter pattern a moderator may add.
MAX_PATTERN_CHARS: Final = 200
#: Wide repeats (unbounded, or spanning more than ``_NARROW_SPAN`` counts) allowed in one regex.
MAX_WIDE_REPEATS: Final = 2
#: The filter reads at most this much of a prompt (the bot accepts prompts up to 2,000 characters).
MAX_FILTERED_CHARS: Final = 2048
#: Longest time a new regex may take on one probe text when it is added.
PROBE_BUDGET_S: Final = 0.025
#: Probe texts grow through these lengths; a pattern too slow at one length is not tried at the next. At these
#: lengths a pattern whose work grows with the cube of the text (or faster) takes far over the budget, while one
#: that grows with its square (``\w+z``: every search is) stays far under it.
_PROBE_LENGTHS: Final = (256, 512, 768)
#: Rules a server may have; each is one search per submitted prompt.
MAX_FILTER_RULES: Final = 200
#: A search slower than this is logged, naming the rule, so a moderator can be told to simplify it.
SLOW_SEARCH_S: Final = 0.05

MESSAGES: Final = {
    "empty": "The pattern is empty.",
    "too_long": "The pattern is {length} characters long; the limit is {limit}.",
    "bad_regex": "`{pattern}` is not a valid regular expression: {error}.",
    "nested": (
        "`{pattern}` repeats a group that itself repeats or has alternatives (like `(a+)+` or `(a|b)*`); "
        "such patterns can take minutes on one prompt. Write the repeat once, for example `a+` instead of `(a+)+`."
    ),
    "backreference": "`{pattern}` uses a back-reference (`\\1`, `(?P=name)`), which the filter does not allow.",
    "too_many_repeats": (
        "`{pattern}` has {count} open-ended repeats (`*`, `+`, `{{n,}}`, or wide ranges like `{{0,50}}`); "
        "the limit is {limit}. Use narrow ones like `{{0,5}}`, or split it into several rules."
    ),
    "too_slow": (
        "`{pattern}` is too slow on long prompts ({millis:.0f} ms on one test text; the limit is {limit:.0f} ms). "
        "Start it with a fixed word, or use fewer and narrower repeats."
    ),
}

#: A bounded repeat whose range is wider than this counts as wide (``a{0,5000}`` is as slow as ``a*``).
_NARROW_SPAN: Final = 8


class RuleError(ValueError):
    """A pattern a moderator can't add, and why. ``key`` and ``params`` name the same message for the bot's
    language files (``filter_rule.*``), so a moderator reads it in their own language."""

    def __init__(self, name: str, **params: object) -> None:
        super().__init__(MESSAGES[name].format(**params))
        self.key = f"filter_rule.{name}"
        self.params = params


@dataclass(frozen=True, slots=True)
class FilterRule:
    """One word-filter entry: a plain word or phrase, or a regular expression (checked by ``compile_rule``)."""

    pattern: str
    regex: bool = False

    def describe(self) -> str:
        """How the rule reads in a refusal or a list: ``"word"`` or ``/regex/``."""
        return f"/{self.pattern}/" if self.regex else f'"{self.pattern}"'


_SPACES: Final = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, case-folded, without invisible format characters, white space collapsed: what plain words match."""
    return _fold(text).casefold()


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = "".join(char for char in text if unicodedata.category(char) != "Cf")
    return _SPACES.sub(" ", text).strip()


def compile_rule(pattern: str, regex: bool) -> FilterRule:
    """A rule ready to store; ``ValueError`` with a message for the moderator if the pattern is unusable.

    A regex is also timed on probe texts (a fraction of a second at most, once, when it is added).
    """
    text = pattern.strip() if regex else normalise(pattern)
    if not text:
        raise RuleError("empty")
    if len(text) > MAX_PATTERN_CHARS:
        raise RuleError("too_long", length=len(text), limit=MAX_PATTERN_CHARS)
    if regex:
        _probe(_checked_regex(text))
    return FilterRule(text, regex)


def match_filter(prompt: str, rules: Iterable[FilterRule]) -> FilterRule | None:
    """The first rule ``prompt`` breaks, or None. Stored rules that fail the checks are skipped (and logged)."""
    folded = _fold(prompt[: MAX_FILTERED_CHARS * 2])[:MAX_FILTERED_CHARS]
    lowered = folded.casefold()
    for rule in rules:
        compiled = _compiled(rule.pattern, rule.regex)
        if compiled is None:
            continue
        began = time.perf_counter()
        found = compiled.search(folded if rule.regex else lowered) is not None
        spent = time.perf_counter() - began
        if spent > SLOW_SEARCH_S:
            log.warning("word filter rule %s took %.0f ms on one prompt; consider simplifying it", rule, spent * 1000)
        if found:
            return rule
    return None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str, regex: bool) -> re.Pattern[str] | None:
    if not regex:
        word = normalise(pattern)
        if not word:
            return None
        # Whole words: no word character right before or after (a phrase matches across single spaces).
        return re.compile(rf"(?<!\w){re.escape(word)}(?!\w)")
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        log.warning("word filter rule /%s/ is skipped: it is empty or too long", pattern)
        return None
    try:
        # Stored rules were probed when they were added; the structural checks are repeated in case the
        # settings were edited by hand.
        return _checked_regex(pattern)
    except ValueError as exc:
        log.warning("word filter rule /%s/ is skipped: %s", pattern, exc)
        return None


def _checked_regex(pattern: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RuleError("bad_regex", pattern=pattern, error=str(exc)) from exc
    _check_complexity(pattern)
    return compiled


def _probe(compiled: re.Pattern[str]) -> None:
    """Time the search on long runs of one character, the texts backtracking is slowest on; refuse a slow one."""
    own = list(dict.fromkeys(char.lower() for char in compiled.pattern if char.isalnum()))[:8]
    characters = dict.fromkeys(["a", " ", "1", ".", *own])
    for length in _PROBE_LENGTHS:
        for char in characters:
            text = char * length
            began = time.perf_counter()
            compiled.search(text)
            spent = time.perf_counter() - began
            if spent > PROBE_BUDGET_S:
                raise RuleError("too_slow", pattern=compiled.pattern, millis=spent * 1000, limit=PROBE_BUDGET_S * 1000)


@dataclass(slots=True)
class _Group:
    repeats: bool = False  # holds a quantifier that can match a variable number of times
    alternates: bool = False  # holds a top-level or nested "|"


def _check_complexity(pattern: str) -> None:
    """Refuse patterns whose backtracking can blow up: nested repeats, back-references, many wide repeats."""
    stack: list[_Group] = [_Group()]
    wide = 0
    last_group: _Group | None = None  # the group that just closed, if the next token may quantify it
    i, size = 0, len(pattern)
    while i < size:
        char = pattern[i]
        closed: _Group | None = None
        if char == "\\":
            following = pattern[i + 1 : i + 2]
            if following.isdigit() and following != "0":
                raise RuleError("backreference", pattern=pattern)
            i += 2
        elif char == "[":
            i = _skip_class(pattern, i)
        elif char == "(":
            if pattern.startswith("(?P=", i):
                raise RuleError("backreference", pattern=pattern)
            if pattern.startswith("(?(", i):  # a conditional on a group: a back-reference in disguise
                raise RuleError("backreference", pattern=pattern)
            if pattern.startswith("(?#", i):  # a comment: nothing to count
                end = pattern.find(")", i)
                i = size if end < 0 else end + 1
                last_group = None
                continue
            stack.append(_Group())
            i += 1
        elif char == ")":
            closed = stack.pop() if len(stack) > 1 else _Group()
            parent = stack[-1]
            parent.repeats |= closed.repeats
            parent.alternates |= closed.alternates
            i += 1
        elif char == "|":
            stack[-1].alternates = True
            i += 1
        elif char in "*+?{":
            quantifier, i = _read_quantifier(pattern, i)
            if quantifier is not None:
                low, high = quantifier
                variable = high is None or high != low
                if high is None or high - low > _NARROW_SPAN:
                    wide += 1
                many = high is None or high > 1
                if last_group is not None and many and (last_group.repeats or last_group.alternates):
                    raise RuleError("nested", pattern=pattern)
                if variable:
                    stack[-1].repeats = True
                if i < size and pattern[i] in "?+":  # lazy or possessive marker
                    i += 1
        else:
            i += 1
        last_group = closed
    if wide > MAX_WIDE_REPEATS:
        raise RuleError("too_many_repeats", pattern=pattern, count=wide, limit=MAX_WIDE_REPEATS)


def _skip_class(pattern: str, start: int) -> int:
    """The index just past the character class that opens at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


_BRACES: Final = re.compile(r"\{(\d*)(,?)(\d*)\}")


def _read_quantifier(pattern: str, i: int) -> tuple[tuple[int, int | None] | None, int]:
    """The (min, max) of the quantifier at ``i`` (max None: unbounded) and the index after it.

    A ``{`` that does not form a quantifier is a literal, as in ``re``.
    """
    char = pattern[i]
    if char == "*":
        return (0, None), i + 1
    if char == "+":
        return (1, None), i + 1
    if char == "?":
        return (0, 1), i + 1
    found = _BRACES.match(pattern, i)
    if found is None or (not found.group(1) and not found.group(3)):
        return None, i + 1
    low = int(found.group(1) or 0)
    if not found.group(2):
        return (low, low), found.end()
    return (low, int(found.group(3)) if found.group(3) else None), found.end()
