"""The word filter: ``match_filter`` finds the first rule a prompt breaks.

What rules are matched against: the prompt in NFKC form, without invisible characters (format and control
characters, zero-width spaces, bidi controls), white space collapsed, case-folded; and, when the prompt writes
a word in look-alike letters (``gore`` with a Cyrillic o), the same text with those letters read as Latin
(``bot.confusables``).

Plain words match whole words: the rule's text with no word character right before or after it. Every plain
word of a server is one entry of one RE2 set, matched against the prompt with word starts and ends marked,
so a whole-word test is a plain substring test, and all of them take one pass over the text.

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
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import re2

from bot.confusables import skeleton

# The filter's warnings go out under the settings logger, beside the other warnings about a server's settings.
log = logging.getLogger("bot.settings")

#: Longest word-filter pattern a moderator may add.
MAX_PATTERN_CHARS: Final = 200
#: The filter reads at most this much of a prompt (the bot accepts prompts up to 2,000 characters).
MAX_FILTERED_CHARS: Final = 2048
#: Rules a server may have.
MAX_FILTER_RULES: Final = 200
#: Compiled size all the regex rules of a server may take together (RE2 instructions: ``blood\\s*bath`` takes
#: 16, ``n[s5]fw`` 11, ``\\w{0,40}`` 364). A search does at most a few nanoseconds of work per instruction and
#: byte of the prompt, whatever the pattern; this keeps one whole ``match_filter`` under 10 ms on a 2,000-
#: character prompt built to be the worst for the rules (``bench/bench_filter.py``).
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


# -- text --------------------------------------------------------------------------------------------------

#: Characters that draw nothing: format and control characters (but not the white space among the controls),
#: lone surrogates, and the Hangul fillers that render as blanks inside a word.
#: (Planes 0 and 1 and the tags of plane 14 hold every one of them.)
_INVISIBLE: Final = {
    code: None
    for code in (*range(0x20000), *range(0xE0000, 0xE1000))
    if (unicodedata.category(chr(code)) in ("Cf", "Cc", "Cs") and not chr(code).isspace())
    or code in (0x115F, 0x1160, 0x3164, 0xFFA0)
}


def _visible(text: str) -> str:
    """NFKC, without invisible characters, white space collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_INVISIBLE).split())


def normalise(text: str) -> str:
    """NFKC, case-folded, without invisible characters, white space collapsed: what plain words match."""
    return _visible(text).casefold()


# Word starts and ends, marked in the text so that "a whole word" is a substring test: a run of word characters
# is wrapped in _START ... _END, and a non-word character not right after a word gets _LONE before it (and so
# does the end of a text that does not end in a word). A rule's marks then say what must be around it.
_START, _END, _LONE = "\x02", "\x03", "\x04"
_RUNS: Final = re.compile(r"(\w+)")


def _marked(text: str) -> str:
    parts = _RUNS.split(text)  # not-word, word, not-word, ..., not-word: the words are at the odd places
    marked = [
        f"{_START}{part}{_END}" if index % 2 else _LONE.join(part) if index else _LONE + _LONE.join(part)
        for index, part in enumerate(parts)
        if part
    ]
    if parts[-1]:  # ends with a character that is not part of a word
        marked.append(_LONE)
    return "".join(marked)


def _readings(prompt: str) -> tuple[str, ...]:
    """The prompt as rules see it; a second reading with look-alike letters made Latin, when there are any."""
    text = _visible(prompt[: MAX_FILTERED_CHARS * 2])[:MAX_FILTERED_CHARS]
    plain = text.casefold()
    folded = skeleton(text).casefold()
    return (plain,) if folded == plain else (plain, folded)


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
    return FilterRule(text, regex)


def check_rules(rules: Iterable[FilterRule]) -> None:
    """``RuleError`` if these rules, as one server's filter, are over the compiled-size budget of regex rules."""
    size = sum(_rule_size(rule.pattern) for rule in rules if rule.regex)
    if size > MAX_REGEX_PROGRAM:
        raise RuleError("over_budget", size=size, limit=MAX_REGEX_PROGRAM)


@functools.lru_cache(maxsize=4096)
def _rule_size(pattern: str) -> int:
    try:
        return int(_compile_regex(pattern).programsize)
    except RuleError:
        return 0  # skipped when matching


# -- matching ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Matcher:
    """One server's rules, compiled: its plain words as one set, its regex rules as one alternation."""

    words: re2.Set | None
    word_rules: tuple[int, ...]  # the index in the server's list of each entry of ``words``
    regexes: re2._Regexp | None
    regex_rules: tuple[tuple[int, re2._Regexp], ...]

    def first_match(self, texts: tuple[str, ...]) -> int | None:
        found: list[int] = []
        for text in texts:
            if self.words is not None:
                hits = self.words.Match(_marked(text))
                found.extend(self.word_rules[hit] for hit in hits or ())
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
    words = re2.Set.SearchSet(_options(_WORDS_MEMORY, any_case=False))
    word_rules: list[int] = []
    regex_rules: list[tuple[int, re2._Regexp]] = []
    budget = MAX_REGEX_PROGRAM
    for index, rule in enumerate(rules):
        if not rule.regex:
            word = normalise(rule.pattern)
            if word:
                words.Add(re2.escape(_marked(word)))
                word_rules.append(index)
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
    if word_rules:
        words.Compile()
    regexes = None
    if regex_rules:
        joined = "|".join(f"(?:{compiled.pattern})" for _, compiled in regex_rules)
        try:
            regexes = re2.compile(joined, _options(_REGEX_MEMORY, any_case=True))
        except re2.error as exc:
            log.warning("word filter: %d regex rules don't join (%s); matching them one by one", len(regex_rules), exc)
    return _Matcher(words if word_rules else None, tuple(word_rules), regexes, tuple(regex_rules))


def match_filter(prompt: str, rules: Iterable[FilterRule]) -> FilterRule | None:
    """The first rule (in the server's order) ``prompt`` breaks, or None.

    Stored rules RE2 can't take (added by an older version) are skipped and logged.
    """
    listed = tuple(rules)
    if not listed:
        return None
    began = time.perf_counter()
    index = _matcher(listed).first_match(_readings(prompt))
    spent = time.perf_counter() - began
    if spent > SLOW_MATCH_S:
        log.warning("word filter: %d rules took %.1f ms on one prompt", len(listed), spent * 1000)
    return None if index is None else listed[index]
