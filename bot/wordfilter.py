"""The word filter: ``match_filter`` finds the first rule a prompt breaks.

What rules are matched against: the prompt as ``bot.readings`` reads it (NFKC, case-folded, without invisible
characters or accents), whole; and, when the prompt writes a word in look-alike letters (``gore`` with a
Cyrillic o), the same text with those letters read as Latin (``bot.confusables``). Plain words are read the
same way, in both readings (``сука`` also as the look-alike reading shows it, ``cyka``); a regex that names a
character no reading holds (``ß``, which reads as ``ss``) is refused with the pattern it should be.

Plain words match whole words: the rule's text with no word character right before or after it. Every plain
word of a server is one entry of one RE2 set, matched against the prompt with word starts and ends marked,
so a whole-word test is a plain substring test, and all of them take one pass over the text. ``check_rules``
refuses words that outgrow one set; a stored set that does (saved before that check) is split into parts.

Regular expressions run on RE2, which never backtracks: a search takes time in proportion to the text times
the size of the compiled pattern, whatever the pattern. So instead of guessing which patterns are slow, the
filter bounds that size: a rule may compile to at most ``MAX_RULE_PROGRAM`` instructions, and all the regex
rules of a server together to ``MAX_REGEX_PROGRAM``; a server's rules are joined into one alternation searched
once. RE2 has no back-references or look-arounds; such a pattern is refused when it is added. Its classes
(``\\w``, ``\\d``, ``\\b``) are ASCII, which the look-alike folding makes the letters that matter.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import re2

from bot.readings import MAX_FILTERED_CHARS as MAX_FILTERED_CHARS
from bot.readings import folded_case, lookalike_word, marked, readings, unmarked
from bot.readings import normalise as normalise
from bot.readings import reading_length as reading_length

# The filter's warnings go out under the settings logger, beside the other warnings about a server's settings.
log = logging.getLogger("bot.settings")

#: Longest word-filter pattern a moderator may add.
MAX_PATTERN_CHARS: Final = 200
#: Rules a server may have.
MAX_FILTER_RULES: Final = 200
#: Compiled size all the regex rules of a server may take together (RE2 instructions: ``blood\\s*bath`` takes
#: 16, ``n[s5]fw`` 11, ``\\w{0,40}`` 364). A search does at most a few nanoseconds of work per instruction and
#: byte of the prompt, whatever the pattern; this keeps one whole ``match_filter`` under 10 ms on a prompt that
#: reads as ``MAX_FILTERED_CHARS`` characters, built to be the worst for the rules (``bench/bench_filter.py``).
MAX_REGEX_PROGRAM: Final = 400
#: Compiled size one regex rule may take: the whole budget.
MAX_RULE_PROGRAM: Final = MAX_REGEX_PROGRAM
#: A ``match_filter`` call slower than this is logged, naming the server's rule count.
SLOW_MATCH_S: Final = 0.01

MESSAGES: Final = {
    "empty": "The pattern is empty.",
    "too_long": "The pattern is {length} characters long; the limit is {limit}.",
    "bad_regex": "`{pattern}` is not a valid regular expression: {error}.",
    "unsupported": (
        "`{pattern}` can't be used ({error}): the filter's regular expressions have no back-references "
        "(`\\1`) or look-arounds (`(?=`, `(?!`, `(?<=`, `(?<!`), and end with `\\z` rather than `\\Z`. "
        "Rewrite it without them, or add the words as plain words."
    ),
    "too_complex": (
        "`{pattern}` is too large once compiled ({size} steps; the limit is {limit}). "
        "Use narrower repeats (`{{0,5}}` rather than `{{0,500}}`), or split it into several rules."
    ),
    "unreadable": (
        "`{pattern}` could never match: prompts are read in NFKC form, case-folded and without accents or other "
        "combining marks, so they never hold {chars}. Write it as `{suggestion}`."
    ),
    "words_too_large": (
        "This server's {count} plain words are too long to check together. "
        "Remove some long ones first (see `/admin filter list`)."
    ),
    "over_budget": (
        "This server's regular expressions would take {size} steps together; the limit is {limit}. "
        "Remove a regex rule first (see `/admin filter list`), or add words as plain words, which don't count."
    ),
}


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


# -- compiling -----------------------------------------------------------------------------------------------

#: Memory for one regex rule or a server's joined regexes. A small budget matters: when RE2's fast matcher
#: runs out of room on a hostile text it soon hands over to the slower one, whose cost is bounded, instead of
#: rebuilding its cache at every byte.
_REGEX_MEMORY: Final = 256 * 1024
#: Memory for a server's plain words (a set of literals, whose matcher never needs many states).
_WORDS_MEMORY: Final = 8 * 1024 * 1024


def _options(memory: int, *, any_case: bool) -> re2.Options:
    options = re2.Options()
    options.max_mem = memory
    options.case_sensitive = not any_case
    options.longest_match = False  # the first match found is enough; no need to look for a longer one
    options.never_capture = True  # whether a rule matches is all that counts: no groups to track
    options.log_errors = False  # a bad pattern is told to the moderator, not printed on the console
    return options


def _error_text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _compile_regex(pattern: str) -> re2._Regexp:
    """The RE2 program of one regex rule; ``RuleError`` if RE2 can't take it or it is too large."""
    try:
        compiled = re2.compile(pattern, _options(_REGEX_MEMORY, any_case=True))
    except re2.error as exc:
        error = _error_text(exc)
        if "too large" in error:
            raise RuleError("too_complex", pattern=pattern, size="?", limit=MAX_RULE_PROGRAM) from None
        try:
            re.compile(pattern)
        except re.error:
            raise RuleError("bad_regex", pattern=pattern, error=error) from None
        raise RuleError("unsupported", pattern=pattern, error=error) from None
    size = compiled.programsize
    if size > MAX_RULE_PROGRAM:
        raise RuleError("too_complex", pattern=pattern, size=size, limit=MAX_RULE_PROGRAM)
    return compiled


def compile_rule(pattern: str, regex: bool) -> FilterRule:
    """A rule ready to store; ``RuleError`` (a ``ValueError``) with a message for the moderator if it is unusable.

    Takes a fraction of a millisecond: RE2 compiles in time proportional to the pattern, and nothing is timed.
    """
    text = pattern.strip() if regex else normalise(pattern)
    if not text:
        raise RuleError("empty")
    if len(text) > MAX_PATTERN_CHARS:
        raise RuleError("too_long", length=len(text), limit=MAX_PATTERN_CHARS)
    if regex:
        _compile_regex(text)
        _check_readable(text)
    return FilterRule(text, regex)


def _check_readable(pattern: str) -> None:
    """``RuleError`` if a regex names a character the filter's reading of a prompt never holds (``ß`` reads as
    ``ss``, ``é`` as ``e``): such a rule could never match. The message offers the pattern as it should read."""
    unseen = [char for char in dict.fromkeys(pattern) if not char.isascii() and not _reads_as_itself(char)]
    if unseen:
        names = ", ".join(f"`{char}` (U+{ord(char):04X})" for char in unseen)
        suggestion = "".join(folded_case(unmarked(char)) if char in unseen else char for char in pattern)
        raise RuleError("unreadable", pattern=pattern, chars=names, suggestion=suggestion)


@functools.lru_cache(maxsize=4096)
def _reads_as_itself(char: str) -> bool:
    """Whether ``char`` in a regex (any case) matches the filter's reading of it."""
    reading = folded_case(unmarked(char))
    pattern = re2.compile(re2.escape(char), _options(_REGEX_MEMORY, any_case=True))
    return bool(reading) and pattern.fullmatch(reading) is not None


def check_rules(rules: Iterable[FilterRule]) -> None:
    """``RuleError`` if these rules can't be one server's filter: its regex rules are over their compiled-size
    budget, or its plain words don't compile as one set (a couple of hundred long words in scripts that take
    several bytes a letter can outgrow the set's memory). Compiling takes at most a few tens of milliseconds."""
    listed = tuple(rules)
    size = sum(_rule_size(rule.pattern) for rule in listed if rule.regex)
    if size > MAX_REGEX_PROGRAM:
        raise RuleError("over_budget", size=size, limit=MAX_REGEX_PROGRAM)
    plain, lookalike = _word_entries(listed)
    if _word_set(plain) is None or _word_set(lookalike) is None:
        raise RuleError("words_too_large", count=sum(not rule.regex for rule in listed))


@functools.lru_cache(maxsize=4096)
def _rule_size(pattern: str) -> int:
    try:
        return int(_compile_regex(pattern).programsize)
    except RuleError:
        return 0  # skipped when matching


# -- matching ------------------------------------------------------------------------------------------------


#: A compiled set of plain words, and the index in the server's list of the rule of each of its entries.
_WordSet = tuple[re2.Set, tuple[int, ...]]


def _word_entries(rules: tuple[FilterRule, ...]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The set entries of the plain words: as written, for every reading of a prompt; and as the look-alike
    reading shows them (``сука`` as ``cyka``), for that reading only, so that a Russian word written with Latin
    letters for some of its own is caught, while a Latin word is never refused by a Russian rule it resembles."""
    plain: list[tuple[str, int]] = []
    lookalike: list[tuple[str, int]] = []
    for index, rule in enumerate(rules):
        word = "" if rule.regex else normalise(rule.pattern)
        if word:
            plain.append((re2.escape(marked(word)), index))
            folded = lookalike_word(word)
            if folded != word:
                lookalike.append((re2.escape(marked(folded)), index))
    return plain, lookalike


def _word_set(entries: list[tuple[str, int]]) -> _WordSet | None:
    """``entries`` as one compiled set, or None when they don't fit in its memory."""
    words = re2.Set.SearchSet(_options(_WORDS_MEMORY, any_case=False))
    for entry, _ in entries:
        words.Add(entry)
    try:
        words.Compile()
    except re2.error:
        return None
    return words, tuple(index for _, index in entries)


def _word_sets(entries: list[tuple[str, int]]) -> tuple[_WordSet, ...]:
    """``entries`` as few compiled sets as they fit in: one, unless the words outgrow a set's memory (stored
    before ``check_rules`` refused that), when they are split in halves until each part compiles.

    Rather than failing closed (every prompt refused) or open (no word checked), such a server keeps its whole
    filter, read a few more times per prompt: each part is one more pass over the text."""
    if not entries:
        return ()
    whole = _word_set(entries)
    if whole is not None:
        return (whole,)
    if len(entries) == 1:
        log.warning("word filter: a plain word is skipped: it does not compile on its own")
        return ()
    middle = len(entries) // 2
    return _word_sets(entries[:middle]) + _word_sets(entries[middle:])


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One server's rules, compiled: its plain words as one set (more if they outgrow one), the same words as
    the look-alike reading shows them, and its regex rules as one alternation."""

    words: tuple[_WordSet, ...]
    lookalike_words: tuple[_WordSet, ...]
    regexes: re2._Regexp | None
    regex_rules: tuple[tuple[int, re2._Regexp], ...]

    def first_match(self, texts: tuple[str, ...]) -> int | None:
        found: list[int] = []
        for reading, text in enumerate(texts):
            text_marked = marked(text) if self.words or self.lookalike_words else ""
            for words, rules in self.words + (self.lookalike_words if reading else ()):
                found.extend(rules[hit] for hit in words.Match(text_marked) or ())
            if self.regex_rules:
                hit = self._regex_hit(text)
                found.extend(() if hit is None else (hit,))
        return min(found, default=None)

    def _regex_hit(self, text: str) -> int | None:
        if self.regexes is None:  # the joined rules did not compile: each rule on its own, slower but complete
            return next((index for index, rule in self.regex_rules if rule.search(text) is not None), None)
        hit = self.regexes.search(text)
        if hit is None:
            return None
        # The alternation took the first rule that matches where the match starts: the first rule that matches
        # exactly that stretch (with the text around it as context for anchors).
        start, end = hit.span()
        return next((index for index, rule in self.regex_rules if rule.fullmatch(text, start, end)), None)


@functools.lru_cache(maxsize=64)
def _matcher(rules: tuple[FilterRule, ...]) -> _Matcher:
    """Compiled once per version of a server's rules; what could not compile is logged here, once, and left out."""
    regex_rules: list[tuple[int, re2._Regexp]] = []
    budget = MAX_REGEX_PROGRAM
    for index, rule in enumerate(rules):
        if not rule.regex:
            continue
        try:
            compiled = _compile_regex(rule.pattern) if len(rule.pattern) <= MAX_PATTERN_CHARS else None
        except RuleError as exc:
            log.warning("word filter rule /%s/ is skipped: %s", rule.pattern, exc)
            continue
        if compiled is None or compiled.programsize > budget:
            log.warning("word filter rule /%s/ is skipped: too long, or over the server's budget", rule.pattern)
            continue
        budget -= compiled.programsize
        regex_rules.append((index, compiled))
    plain, lookalike = _word_entries(rules)
    words, lookalike_words = _word_sets(plain), _word_sets(lookalike)
    if len(words) > 1 or len(lookalike_words) > 1:
        log.warning(
            "word filter: %d plain words are too large for one set; matching them in %d parts",
            len(plain),
            len(words) + len(lookalike_words),
        )
    regexes = None
    if regex_rules:
        joined = "|".join(f"(?:{compiled.pattern})" for _, compiled in regex_rules)
        try:
            regexes = re2.compile(joined, _options(_REGEX_MEMORY, any_case=True))
        except re2.error as exc:
            log.warning("word filter: %d regex rules don't join (%s); matching them one by one", len(regex_rules), exc)
    return _Matcher(words, lookalike_words, regexes, tuple(regex_rules))


def match_filter(prompt: str, rules: Iterable[FilterRule]) -> FilterRule | None:
    """The first rule (in the server's order) ``prompt`` breaks, or None.

    Stored rules RE2 can't take (added by an older version) are skipped and logged.
    """
    listed = tuple(rules)
    if not listed:
        return None
    began = time.perf_counter()
    index = _matcher(listed).first_match(readings(prompt))
    spent = time.perf_counter() - began
    if spent > SLOW_MATCH_S:
        log.warning("word filter: %d rules took %.1f ms on one prompt", len(listed), spent * 1000)
    return None if index is None else listed[index]
