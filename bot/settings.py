"""Server and member settings: one typed model over the JSON objects the store keeps.

``GuildSettings.from_dict`` and ``UserSettings.from_dict`` are tolerant: a missing key takes its
default, a value of the wrong type takes its default with a WARNING, and keys this version does not
know are kept in ``extra`` and written back by ``to_dict`` (so a newer or older release sharing the
file loses nothing). Validation that a moderator should hear about (a regex that is too slow, a limit
below zero) happens where the value is made: ``compile_rule``, ``Limits``.

The word filter lives here too: ``match_filter`` finds the first rule a prompt breaks. Plain words
match whole words, case-insensitively, on the prompt in NFKC form with invisible format characters
removed and runs of white space collapsed (so fullwidth letters, capitals and a zero-width space
inside a word all read as the plain word).

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
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, Literal, Self, TypeVar

from bot.store import Store

log = logging.getLogger(__name__)

ButtonPolicy = Literal["owner", "owner_and_mods", "everyone"]
BUTTON_POLICIES: Final[tuple[ButtonPolicy, ...]] = ("owner", "owner_and_mods", "everyone")
VideoModeChoice = Literal["fast", "turbo"]
ResolutionChoice = Literal["480p", "720p"]

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


class _Invalid(Exception):
    """A stored value of the wrong type or out of range; the caller falls back to the default."""


# -- the word filter -------------------------------------------------------------------------------


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
        raise ValueError(MESSAGES["empty"])
    if len(text) > MAX_PATTERN_CHARS:
        raise ValueError(MESSAGES["too_long"].format(length=len(text), limit=MAX_PATTERN_CHARS))
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
        raise ValueError(MESSAGES["bad_regex"].format(pattern=pattern, error=exc)) from exc
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
                raise ValueError(
                    MESSAGES["too_slow"].format(
                        pattern=compiled.pattern, millis=spent * 1000, limit=PROBE_BUDGET_S * 1000
                    )
                )


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
                raise ValueError(MESSAGES["backreference"].format(pattern=pattern))
            i += 2
        elif char == "[":
            i = _skip_class(pattern, i)
        elif char == "(":
            if pattern.startswith("(?P=", i):
                raise ValueError(MESSAGES["backreference"].format(pattern=pattern))
            if pattern.startswith("(?(", i):  # a conditional on a group: a back-reference in disguise
                raise ValueError(MESSAGES["backreference"].format(pattern=pattern))
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
                    raise ValueError(MESSAGES["nested"].format(pattern=pattern))
                if variable:
                    stack[-1].repeats = True
                if i < size and pattern[i] in "?+":  # lazy or possessive marker
                    i += 1
        else:
            i += 1
        last_group = closed
    if wide > MAX_WIDE_REPEATS:
        raise ValueError(MESSAGES["too_many_repeats"].format(pattern=pattern, count=wide, limit=MAX_WIDE_REPEATS))


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


# -- settings models -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockEntry:
    """A member the server blocked: why (shown to them), by which moderator, when (Unix seconds)."""

    reason: str
    by: int | None = None
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Limits:
    """A server's quotas; None means no limit. Days are UTC calendar days.

    ``daily_budget`` is in cost units (see ``bot.costs``) for the whole server.
    """

    max_running_per_user: int | None = None
    max_jobs_per_user_per_day: int | None = None
    daily_budget: float | None = None
    allow_turbo: bool = True
    allow_720p: bool = True
    allow_private_results: bool = True

    def __post_init__(self) -> None:
        if self.max_running_per_user is not None and self.max_running_per_user < 1:
            raise ValueError("running jobs per user must be at least 1 (or no limit)")
        if self.max_jobs_per_user_per_day is not None and self.max_jobs_per_user_per_day < 0:
            raise ValueError("jobs per user per day cannot be negative")
        if self.daily_budget is not None and not (self.daily_budget >= 0 and math.isfinite(self.daily_budget)):
            raise ValueError("the daily budget must be a finite number of units, zero or more")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            max_running_per_user=_read(data, "max_running_per_user", _optional(_int_at_least(1)), None),
            max_jobs_per_user_per_day=_read(data, "max_jobs_per_user_per_day", _optional(_int_at_least(0)), None),
            daily_budget=_read(data, "daily_budget", _optional(_units), None),
            allow_turbo=_read(data, "allow_turbo", _bool, True),
            allow_720p=_read(data, "allow_720p", _bool, True),
            allow_private_results=_read(data, "allow_private_results", _bool, True),
        )

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """Everything a server's moderators configure with ``/admin``."""

    channels: tuple[int, ...] = ()  # where commands work; empty: everywhere
    button_policy: ButtonPolicy = "owner"
    moderator_roles: tuple[int, ...] = ()
    word_filter: tuple[FilterRule, ...] = ()
    blocked: Mapping[int, BlockEntry] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    audit_channel: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)  # keys this version does not know

    def channel_allowed(self, channel_id: int | None) -> bool:
        """Whether commands work in this channel (pass the parent channel's id for a thread)."""
        return not self.channels or channel_id in self.channels

    def block_of(self, user_id: int) -> BlockEntry | None:
        return self.blocked.get(user_id)

    def with_limits(self, **changes: Any) -> GuildSettings:
        """A copy with some limits changed (``ValueError`` for a bad value)."""
        return replace(self, limits=replace(self.limits, **changes))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GuildSettings:
        known = {item.name for item in fields(cls)} - {"extra"}
        limits_data = data.get("limits")
        if limits_data is not None and not isinstance(limits_data, Mapping):
            log.warning("guild setting limits has the wrong type (%s); using the defaults", type(limits_data).__name__)
            limits_data = None
        return cls(
            channels=_read(data, "channels", _id_tuple, ()),
            button_policy=_read(data, "button_policy", _button_policy, "owner"),
            moderator_roles=_read(data, "moderator_roles", _id_tuple, ()),
            word_filter=_read(data, "word_filter", _rules, ()),
            blocked=_read(data, "blocked", _blocked, {}),
            limits=Limits.from_dict(limits_data or {}),
            audit_channel=_read(data, "audit_channel", _optional(_snowflake), None),
            extra={key: value for key, value in data.items() if key not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.extra)
        data.update(
            channels=list(self.channels),
            button_policy=self.button_policy,
            moderator_roles=list(self.moderator_roles),
            word_filter=[{"pattern": rule.pattern, "regex": rule.regex} for rule in self.word_filter],
            blocked={
                str(user_id): {"reason": entry.reason, "by": entry.by, "at": entry.at}
                for user_id, entry in self.blocked.items()
            },
            limits=self.limits.to_dict(),
            audit_channel=self.audit_channel,
        )
        return data


@dataclass(frozen=True, slots=True)
class UserSettings:
    """A member's own defaults and wishes, set with ``/settings``."""

    mode: VideoModeChoice = "fast"
    resolution: ResolutionChoice = "720p"
    loop: bool = False
    dm_on_done: bool = False
    private_results: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserSettings:
        known = {item.name for item in fields(cls)} - {"extra"}
        return cls(
            mode=_read(data, "mode", _choice(("fast", "turbo")), "fast"),
            resolution=_read(data, "resolution", _choice(("480p", "720p")), "720p"),
            loop=_read(data, "loop", _bool, False),
            dm_on_done=_read(data, "dm_on_done", _bool, False),
            private_results=_read(data, "private_results", _bool, False),
            extra={key: value for key, value in data.items() if key not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.extra)
        data.update(
            mode=self.mode,
            resolution=self.resolution,
            loop=self.loop,
            dm_on_done=self.dm_on_done,
            private_results=self.private_results,
        )
        return data


# -- loading and saving ------------------------------------------------------------------------------


async def load_guild_settings(store: Store, guild_id: int) -> GuildSettings:
    """The server's settings (the defaults when none were saved)."""
    return GuildSettings.from_dict(await store.guild_settings(guild_id))


async def save_guild_settings(store: Store, guild_id: int, settings: GuildSettings) -> None:
    """Replace the server's settings. Prefer ``update_guild_settings`` for a change based on the current value."""
    await store.save_guild_settings(guild_id, settings.to_dict())


async def update_guild_settings(
    store: Store, guild_id: int, change: Callable[[GuildSettings], GuildSettings]
) -> GuildSettings:
    """Apply ``change`` to the current settings and save, in one transaction (two moderators never undo each other).

    ``change`` runs inside the transaction: keep it a quick, pure function. An exception it raises
    (``ValueError`` for a bad limit, say) leaves the settings as they were.
    """
    saved = await store.update_guild_settings(guild_id, lambda data: change(GuildSettings.from_dict(data)).to_dict())
    return GuildSettings.from_dict(saved)


async def load_user_settings(store: Store, user_id: int) -> UserSettings:
    """The member's settings (the defaults when none were saved)."""
    return UserSettings.from_dict(await store.user_settings(user_id))


async def save_user_settings(store: Store, user_id: int, settings: UserSettings) -> None:
    """Replace the member's settings."""
    await store.save_user_settings(user_id, settings.to_dict())


async def update_user_settings(
    store: Store, user_id: int, change: Callable[[UserSettings], UserSettings]
) -> UserSettings:
    """Like ``update_guild_settings``, for a member's own settings."""
    saved = await store.update_user_settings(user_id, lambda data: change(UserSettings.from_dict(data)).to_dict())
    return UserSettings.from_dict(saved)


# -- tolerant readers ------------------------------------------------------------------------------------

_T = TypeVar("_T")
_Reader = Callable[[Any], _T]


def _read(data: Mapping[str, Any], key: str, reader: _Reader[_T], default: _T) -> _T:
    if key not in data:
        return default
    try:
        return reader(data[key])
    except _Invalid as exc:
        log.warning("setting %s has an unusable value %r (%s); using the default %r", key, data[key], exc, default)
        return default


def _optional(reader: _Reader[_T]) -> _Reader[_T | None]:
    def read(value: Any) -> _T | None:
        return None if value is None else reader(value)

    return read


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("not true or false")
    return value


def _int_at_least(minimum: int) -> _Reader[int]:
    def read(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("not a whole number")
        if value < minimum:
            raise _Invalid(f"below {minimum}")
        return value

    return read


def _units(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("not a number")
    if not (value >= 0 and math.isfinite(value)):
        raise _Invalid("not a finite number of units, zero or more")
    return float(value)


def _snowflake(value: Any) -> int:
    # Discord ids are sometimes stored as strings (JSON numbers lose precision in some tools).
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Invalid("not a Discord id")
    return value


def _id_tuple(value: Any) -> tuple[int, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _Invalid("not a list of ids")
    ids: list[int] = []
    for item in value:
        ident = _snowflake(item)
        if ident not in ids:
            ids.append(ident)
    return tuple(ids)


def _choice(allowed: tuple[str, ...]) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if value not in allowed:
            raise _Invalid(f"not one of {', '.join(allowed)}")
        return value

    return read


def _button_policy(value: Any) -> ButtonPolicy:
    for policy in BUTTON_POLICIES:
        if value == policy:
            return policy
    raise _Invalid(f"not one of {', '.join(BUTTON_POLICIES)}")


def _rules(value: Any) -> tuple[FilterRule, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _Invalid("not a list of rules")
    rules: list[FilterRule] = []
    for item in value:
        # One bad entry is dropped, not the whole filter: a server's filter must not vanish over one typo.
        if isinstance(item, str):
            rules.append(FilterRule(item))
        elif isinstance(item, Mapping) and isinstance(item.get("pattern"), str) and item["pattern"]:
            rules.append(FilterRule(item["pattern"], item.get("regex") is True))
        else:
            log.warning("word filter entry %r is unusable; dropped", item)
    return tuple(rules)


def _blocked(value: Any) -> dict[int, BlockEntry]:
    if not isinstance(value, Mapping):
        raise _Invalid("not an object of blocked members")
    blocked: dict[int, BlockEntry] = {}
    for key, entry in value.items():
        try:
            user_id = _snowflake(key)
        except _Invalid:
            log.warning("blocked member entry %r is unusable; dropped", key)
            continue
        if isinstance(entry, str):
            blocked[user_id] = BlockEntry(entry)
            continue
        if not isinstance(entry, Mapping):
            entry = {}
        reason = entry.get("reason")
        by = entry.get("by")
        at = entry.get("at")
        blocked[user_id] = BlockEntry(
            reason=reason if isinstance(reason, str) else "",
            by=by if isinstance(by, int) and not isinstance(by, bool) else None,
            at=float(at) if isinstance(at, int | float) and not isinstance(at, bool) else 0.0,
        )
    return blocked
