"""Server and member settings: one typed model over the JSON objects the store keeps.

``GuildSettings.from_dict`` and ``UserSettings.from_dict`` are tolerant: a missing key takes its
default, a value of the wrong type takes its default with a WARNING, and keys this version does not
know are kept in ``extra`` and written back by ``to_dict`` (so a newer or older release sharing the
file loses nothing). Validation that a moderator should hear about (a regex RE2 can't run, a limit
below zero) happens where the value is made: ``compile_rule``, ``Limits``.

The word filter (``FilterRule``, ``compile_rule``, ``match_filter``, ``normalise`` and its limits) is
``bot.wordfilter``; its names can be imported from here as well.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final, Literal, Self

from bot.costs import CONFIRM_OVER_UNITS
from bot.presets import Preset, presets_from_json
from bot.readers import Invalid, boolean, choice, id_tuple, int_at_least, optional, read, snowflake, units
from bot.store import Store
from bot.wordfilter import (
    MAX_FILTER_RULES,
    MAX_FILTERED_CHARS,
    MAX_PATTERN_CHARS,
    MAX_REGEX_PROGRAM,
    MAX_RULE_PROGRAM,
    MESSAGES,
    SLOW_MATCH_S,
    FilterRule,
    compile_rule,
    match_filter,
    normalise,
)

__all__ = [
    "BUTTON_POLICIES",
    "MAX_FILTERED_CHARS",
    "MAX_FILTER_RULES",
    "MAX_PATTERN_CHARS",
    "MAX_REGEX_PROGRAM",
    "MAX_RULE_PROGRAM",
    "MESSAGES",
    "SLOW_MATCH_S",
    "BlockEntry",
    "ButtonPolicy",
    "ConfirmChoice",
    "FilterRule",
    "GuildSettings",
    "Limits",
    "ResolutionChoice",
    "UserSettings",
    "VideoModeChoice",
    "compile_rule",
    "load_guild_settings",
    "load_user_settings",
    "match_filter",
    "normalise",
    "save_guild_settings",
    "save_user_settings",
    "update_guild_settings",
    "update_user_settings",
]

log = logging.getLogger(__name__)

ButtonPolicy = Literal["owner", "owner_and_mods", "everyone"]
BUTTON_POLICIES: Final[tuple[ButtonPolicy, ...]] = ("owner", "owner_and_mods", "everyone")
VideoModeChoice = Literal["fast", "turbo"]
ResolutionChoice = Literal["480p", "720p"]
ConfirmChoice = Literal["server", "always"]  # a card before jobs over the place's threshold, or before every job


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

    ``daily_budget`` is in cost units (see ``bot.costs``) for the whole server; a job of ``confirm_over`` units or
    more asks its member to confirm it first (None: never).
    """

    max_running_per_user: int | None = None
    max_jobs_per_user_per_day: int | None = None
    daily_budget: float | None = None
    allow_turbo: bool = True
    allow_720p: bool = True
    allow_private_results: bool = True
    confirm_over: float | None = CONFIRM_OVER_UNITS

    def __post_init__(self) -> None:
        if self.max_running_per_user is not None and self.max_running_per_user < 1:
            raise ValueError("running jobs per user must be at least 1 (or no limit)")
        if self.max_jobs_per_user_per_day is not None and self.max_jobs_per_user_per_day < 0:
            raise ValueError("jobs per user per day cannot be negative")
        if self.daily_budget is not None and not (self.daily_budget >= 0 and math.isfinite(self.daily_budget)):
            raise ValueError("the daily budget must be a finite number of units, zero or more")
        if self.confirm_over is not None and not (self.confirm_over >= 0 and math.isfinite(self.confirm_over)):
            raise ValueError("the units from which jobs ask to be confirmed must be a finite number, zero or more")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            max_running_per_user=read(data, "max_running_per_user", optional(int_at_least(1)), None),
            max_jobs_per_user_per_day=read(data, "max_jobs_per_user_per_day", optional(int_at_least(0)), None),
            daily_budget=read(data, "daily_budget", optional(units), None),
            allow_turbo=read(data, "allow_turbo", boolean, True),
            allow_720p=read(data, "allow_720p", boolean, True),
            allow_private_results=read(data, "allow_private_results", boolean, True),
            confirm_over=read(data, "confirm_over", optional(units), CONFIRM_OVER_UNITS),
        )

    def to_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}


#: Stars from members other than its owner that send a result to the server's gallery.
DEFAULT_GALLERY_THRESHOLD: Final = 3
MIN_GALLERY_THRESHOLD: Final = 1
MAX_GALLERY_THRESHOLD: Final = 50


def _gallery_threshold(value: object) -> int:
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_GALLERY_THRESHOLD <= value <= MAX_GALLERY_THRESHOLD
    ):
        return value
    raise Invalid(f"not a number of stars from {MIN_GALLERY_THRESHOLD} to {MAX_GALLERY_THRESHOLD}")


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
    #: Where results that members star are shown off (None: no gallery), and how many stars it takes.
    gallery_channel: int | None = None
    gallery_threshold: int = DEFAULT_GALLERY_THRESHOLD
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)  # keys this version does not know

    def __post_init__(self) -> None:
        if not MIN_GALLERY_THRESHOLD <= self.gallery_threshold <= MAX_GALLERY_THRESHOLD:
            raise ValueError(
                f"the gallery threshold must be {MIN_GALLERY_THRESHOLD} to {MAX_GALLERY_THRESHOLD} stars, "
                f"not {self.gallery_threshold}"
            )

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
            channels=read(data, "channels", id_tuple, ()),
            button_policy=read(data, "button_policy", _button_policy, "owner"),
            moderator_roles=read(data, "moderator_roles", id_tuple, ()),
            word_filter=read(data, "word_filter", _rules, ()),
            blocked=read(data, "blocked", _blocked, {}),
            limits=Limits.from_dict(limits_data or {}),
            audit_channel=read(data, "audit_channel", optional(snowflake), None),
            gallery_channel=read(data, "gallery_channel", optional(snowflake), None),
            gallery_threshold=read(data, "gallery_threshold", _gallery_threshold, DEFAULT_GALLERY_THRESHOLD),
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
            gallery_channel=self.gallery_channel,
            gallery_threshold=self.gallery_threshold,
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
    confirm: ConfirmChoice = "server"
    presets: tuple[Preset, ...] = ()  # saved from results (``bot.presets``), in the order saved
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UserSettings:
        known = {item.name for item in fields(cls)} - {"extra"}
        return cls(
            mode=read(data, "mode", choice(("fast", "turbo")), "fast"),
            resolution=read(data, "resolution", choice(("480p", "720p")), "720p"),
            loop=read(data, "loop", boolean, False),
            dm_on_done=read(data, "dm_on_done", boolean, False),
            private_results=read(data, "private_results", boolean, False),
            confirm=read(data, "confirm", choice(("server", "always")), "server"),
            presets=presets_from_json(data["presets"]) if isinstance(data.get("presets"), list) else (),
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
            confirm=self.confirm,
        )
        if self.presets:
            data["presets"] = [preset.to_json() for preset in self.presets]
        return data


# -- loading and saving ------------------------------------------------------------------------------


async def load_guild_settings(store: Store, guild_id: int) -> GuildSettings:
    """The server's settings (the defaults when none were saved)."""
    return GuildSettings.from_dict(await store.settings.guild_settings(guild_id))


async def save_guild_settings(store: Store, guild_id: int, settings: GuildSettings) -> None:
    """Replace the server's settings. Prefer ``update_guild_settings`` for a change based on the current value."""
    await store.settings.save_guild_settings(guild_id, settings.to_dict())


async def update_guild_settings(
    store: Store, guild_id: int, change: Callable[[GuildSettings], GuildSettings]
) -> GuildSettings:
    """Apply ``change`` to the current settings and save, in one transaction (two moderators never undo each other).

    ``change`` runs inside the transaction: keep it a quick, pure function. An exception it raises
    (``ValueError`` for a bad limit, say) leaves the settings as they were.
    """
    saved = await store.settings.update_guild_settings(
        guild_id, lambda data: change(GuildSettings.from_dict(data)).to_dict()
    )
    return GuildSettings.from_dict(saved)


async def load_user_settings(store: Store, user_id: int) -> UserSettings:
    """The member's settings (the defaults when none were saved)."""
    return UserSettings.from_dict(await store.settings.user_settings(user_id))


async def save_user_settings(store: Store, user_id: int, settings: UserSettings) -> None:
    """Replace the member's settings."""
    await store.settings.save_user_settings(user_id, settings.to_dict())


async def update_user_settings(
    store: Store, user_id: int, change: Callable[[UserSettings], UserSettings]
) -> UserSettings:
    """Like ``update_guild_settings``, for a member's own settings."""
    saved = await store.settings.update_user_settings(
        user_id, lambda data: change(UserSettings.from_dict(data)).to_dict()
    )
    return UserSettings.from_dict(saved)


# -- readers of this module's own types ------------------------------------------------------------------


def _button_policy(value: Any) -> ButtonPolicy:
    for policy in BUTTON_POLICIES:
        if value == policy:
            return policy
    raise Invalid(f"not one of {', '.join(BUTTON_POLICIES)}")


def _rules(value: Any) -> tuple[FilterRule, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid("not a list of rules")
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
        raise Invalid("not an object of blocked members")
    blocked: dict[int, BlockEntry] = {}
    for key, entry in value.items():
        try:
            user_id = snowflake(key)
        except Invalid:
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
