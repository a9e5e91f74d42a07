"""Words and embeds for /admin: each setting as text (for replies and audit posts) and the settings overview.

Pure functions of the settings, so a reply, an audit post and ``/admin settings`` always say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import discord

from bot.settings import BlockEntry, FilterRule, GuildSettings, Limits
from bot.text import shorten
from cogs.ui.render import fit_escaped, relative_time

# -- user-facing words (kept together so they can move into locale files) -----------------------------------
EVERYWHERE: Final = "everywhere"
NONE: Final = "none"
NO_LIMIT: Final = "no limit"
ALLOWED: Final = "allowed"
NOT_ALLOWED: Final = "not allowed"
POLICY_WORDS: Final[dict[str, str]] = {
    "owner": "the job's owner (and members with Manage Messages)",
    "owner_and_mods": "the job's owner and moderators (Manage Messages or a moderator role)",
    "everyone": "everyone in the server",
}
LIMIT_NAMES: Final[dict[str, str]] = {
    "max_running_per_user": "Running jobs per member",
    "max_jobs_per_user_per_day": "Jobs per member per day",
    "daily_budget": "Server budget per day",
    "allow_turbo": "Turbo mode",
    "allow_720p": "720p videos",
    "allow_private_results": "Private results",
}
SETTINGS_TITLE: Final = "⚙️ Server settings"
LIMITS_TITLE: Final = "📏 Limits and word filter"
FIELD_CHANNELS: Final = "Allowed channels"
FIELD_POLICY: Final = "Buttons and reactions"
FIELD_ROLES: Final = "Moderator roles"
FIELD_AUDIT: Final = "Audit-log channel"
FIELD_BLOCKED: Final = "Blocked members"
FIELD_LIMITS: Final = "Limits"
FIELD_FILTER: Final = "Word filter"
NO_BLOCKED: Final = "nobody"
NO_FILTER: Final = "no words or patterns"
BLOCK_LINE: Final = "<@{user}>: {reason} ({by}{when})"
BLOCKED_BY: Final = "by <@{user}>, "
NO_REASON: Final = "no reason given"
UNKNOWN_TIME: Final = "some time ago"
REASON_CHARS: Final = 300
RESET_NOTE: Final = "Daily limits reset at 00:00 UTC."
#: Embed field values hold at most this many characters.
FIELD_CHARS: Final = 1024


def channels_text(channels: Sequence[int]) -> str:
    return ", ".join(f"<#{channel}>" for channel in channels) if channels else EVERYWHERE


def roles_text(roles: Sequence[int]) -> str:
    return ", ".join(f"<@&{role}>" for role in roles) if roles else NONE


def policy_text(policy: str) -> str:
    return POLICY_WORDS.get(policy, policy)


def channel_text(channel_id: int | None) -> str:
    return f"<#{channel_id}>" if channel_id is not None else NONE


def code(text: str) -> str:
    """``text`` in inline code, where markdown and mentions mean nothing (a pattern shows exactly as stored)."""
    return f"`{text}`" if "`" not in text else f"`` {text.replace('``', '` `')} ``"


def rule_text(rule: FilterRule) -> str:
    """A word-filter rule as moderators see it: `"word"` or `/regex/`."""
    return code(rule.describe())


def filter_text(rules: Iterable[FilterRule]) -> str:
    lines = [rule_text(rule) for rule in rules]
    return "\n".join(lines) if lines else NO_FILTER


def reason_text(reason: str) -> str:
    """A block's reason as moderators read it (markdown shown as typed)."""
    return fit_escaped(reason, REASON_CHARS) if reason.strip() else NO_REASON


def block_text(user_id: int, entry: BlockEntry) -> str:
    by = BLOCKED_BY.format(user=entry.by) if entry.by is not None else ""
    when = relative_time(entry.at) if entry.at > 0 else UNKNOWN_TIME
    return BLOCK_LINE.format(user=user_id, reason=reason_text(entry.reason), by=by, when=when)


def blocked_text(blocked: Mapping[int, BlockEntry]) -> str:
    lines = [block_text(user_id, entry) for user_id, entry in blocked.items()]
    return "\n".join(lines) if lines else NO_BLOCKED


def limit_value(name: str, limits: Limits) -> str:
    """One limit in words: ``2``, ``no limit``, ``50 units``, ``allowed``..."""
    value = getattr(limits, name)
    if isinstance(value, bool):
        return ALLOWED if value else NOT_ALLOWED
    if value is None:
        return NO_LIMIT
    if name == "daily_budget":
        return f"{value:g} units"
    return f"{value:g}" if isinstance(value, float) else str(value)


def limits_text(limits: Limits) -> str:
    return "\n".join(f"{label}: **{limit_value(name, limits)}**" for name, label in LIMIT_NAMES.items())


def limit_changes(old: Limits, new: Limits) -> list[str]:
    """``Running jobs per member: no limit → 2`` for each limit that changed."""
    return [
        f"{label}: {limit_value(name, old)} → {limit_value(name, new)}"
        for name, label in LIMIT_NAMES.items()
        if getattr(old, name) != getattr(new, name)
    ]


def _field(text: str) -> str:
    return shorten(text, FIELD_CHARS)


def settings_embeds(settings: GuildSettings, *, usage: str | None = None) -> list[discord.Embed]:
    """``/admin settings``: who may use the bot where, and the limits and filter (two embeds)."""
    access = discord.Embed(title=SETTINGS_TITLE, colour=discord.Colour.blurple())
    access.add_field(name=FIELD_CHANNELS, value=_field(channels_text(settings.channels)), inline=False)
    access.add_field(name=FIELD_POLICY, value=policy_text(settings.button_policy), inline=False)
    access.add_field(name=FIELD_ROLES, value=_field(roles_text(settings.moderator_roles)), inline=False)
    access.add_field(name=FIELD_AUDIT, value=channel_text(settings.audit_channel), inline=False)
    access.add_field(
        name=f"{FIELD_BLOCKED} ({len(settings.blocked)})", value=_field(blocked_text(settings.blocked)), inline=False
    )
    limits = discord.Embed(title=LIMITS_TITLE, colour=discord.Colour.blurple())
    limits_value = limits_text(settings.limits) + (f"\n{usage}" if usage else "")
    limits.add_field(name=FIELD_LIMITS, value=_field(limits_value), inline=False)
    limits.add_field(name=FIELD_FILTER, value=_field(filter_text(settings.word_filter)), inline=False)
    limits.set_footer(text=RESET_NOTE)
    return [access, limits]
