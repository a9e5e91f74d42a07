"""Words and embeds for /admin: each setting as text (for replies and audit posts) and the settings overview.

Pure functions of the settings, so a reply, an audit post and ``/admin settings`` always say the same thing,
each in its reader's language (``admin.words.*``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import discord

from bot.settings import BlockEntry, FilterRule, GuildSettings, Limits
from bot.text import shorten
from cogs.i18n import LocaleLike, t
from cogs.ui.render import fit_escaped, relative_time

#: The limits, in the order they are listed.
LIMIT_NAMES: Final = (
    "max_running_per_user",
    "max_jobs_per_user_per_day",
    "daily_budget",
    "allow_turbo",
    "allow_720p",
    "allow_private_results",
    "confirm_over",
)
REASON_CHARS: Final = 300
#: Embed field values hold at most this many characters.
FIELD_CHARS: Final = 1024


def words(locale: LocaleLike, name: str, /, **params: object) -> str:
    return t(locale, f"admin.words.{name}", **params)


def none_text(locale: LocaleLike = None) -> str:
    """ "none": no channel, no role."""
    return words(locale, "none")


def channels_text(channels: Sequence[int], locale: LocaleLike = None) -> str:
    return ", ".join(f"<#{channel}>" for channel in channels) if channels else words(locale, "everywhere")


def roles_text(roles: Sequence[int], locale: LocaleLike = None) -> str:
    return ", ".join(f"<@&{role}>" for role in roles) if roles else none_text(locale)


def policy_text(policy: str, locale: LocaleLike = None) -> str:
    return words(locale, f"policy.{policy}") if policy in ("owner", "owner_and_mods", "everyone") else policy


def channel_text(channel_id: int | None, locale: LocaleLike = None) -> str:
    return f"<#{channel_id}>" if channel_id is not None else none_text(locale)


def code(text: str) -> str:
    """``text`` in inline code, where markdown and mentions mean nothing (a pattern shows exactly as stored)."""
    return f"`{text}`" if "`" not in text else f"`` {text.replace('``', '` `')} ``"


def rule_text(rule: FilterRule) -> str:
    """A word-filter rule as moderators see it: `"word"` or `/regex/`."""
    return code(rule.describe())


def filter_text(rules: Iterable[FilterRule], locale: LocaleLike = None) -> str:
    lines = [rule_text(rule) for rule in rules]
    return "\n".join(lines) if lines else words(locale, "no_filter")


def reason_text(reason: str, locale: LocaleLike = None) -> str:
    """A block's reason as moderators read it (markdown shown as typed)."""
    return fit_escaped(reason, REASON_CHARS) if reason.strip() else words(locale, "no_reason")


def block_text(user_id: int, entry: BlockEntry, locale: LocaleLike = None) -> str:
    by = words(locale, "blocked_by", user=entry.by) if entry.by is not None else ""
    when = relative_time(entry.at) if entry.at > 0 else words(locale, "unknown_time")
    return words(locale, "block_line", user=user_id, reason=reason_text(entry.reason, locale), by=by, when=when)


def blocked_text(blocked: Mapping[int, BlockEntry], locale: LocaleLike = None) -> str:
    lines = [block_text(user_id, entry, locale) for user_id, entry in blocked.items()]
    return "\n".join(lines) if lines else words(locale, "no_blocked")


def limit_label(name: str, locale: LocaleLike = None) -> str:
    """ "Running jobs per member", "Turbo mode"..."""
    return words(locale, f"limit.{name}")


def limit_value(name: str, limits: Limits, locale: LocaleLike = None) -> str:
    """One limit in words: ``2``, ``no limit``, ``50 units``, ``allowed``..."""
    value = getattr(limits, name)
    if isinstance(value, bool):
        return words(locale, "allowed" if value else "not_allowed")
    if name == "confirm_over":
        return words(locale, "never") if value is None else words(locale, "units", value=f"{value:g}")
    if value is None:
        return words(locale, "no_limit")
    if name == "daily_budget":
        return words(locale, "units", value=f"{value:g}")
    return f"{value:g}" if isinstance(value, float) else str(value)


def limits_text(limits: Limits, locale: LocaleLike = None) -> str:
    return "\n".join(
        words(locale, "limit_line", label=limit_label(name, locale), value=limit_value(name, limits, locale))
        for name in LIMIT_NAMES
    )


def limit_changes(old: Limits, new: Limits, locale: LocaleLike = None) -> list[str]:
    """``Running jobs per member: no limit → 2`` for each limit that changed."""
    return [
        words(
            locale,
            "limit_change",
            label=limit_label(name, locale),
            old=limit_value(name, old, locale),
            new=limit_value(name, new, locale),
        )
        for name in LIMIT_NAMES
        if getattr(old, name) != getattr(new, name)
    ]


def _field(text: str) -> str:
    return shorten(text, FIELD_CHARS)


def settings_embeds(
    settings: GuildSettings, *, usage: str | None = None, locale: LocaleLike = None
) -> list[discord.Embed]:
    """``/admin settings``: who may use the bot where, and the limits and filter (two embeds)."""
    access = discord.Embed(title=words(locale, "settings_title"), colour=discord.Colour.blurple())
    access.add_field(
        name=words(locale, "field.channels"), value=_field(channels_text(settings.channels, locale)), inline=False
    )
    access.add_field(
        name=words(locale, "field.policy"), value=policy_text(settings.button_policy, locale), inline=False
    )
    access.add_field(
        name=words(locale, "field.roles"), value=_field(roles_text(settings.moderator_roles, locale)), inline=False
    )
    access.add_field(
        name=words(locale, "field.audit"), value=channel_text(settings.audit_channel, locale), inline=False
    )
    access.add_field(
        name=words(locale, "field.blocked", count=len(settings.blocked)),
        value=_field(blocked_text(settings.blocked, locale)),
        inline=False,
    )
    limits = discord.Embed(title=words(locale, "limits_title"), colour=discord.Colour.blurple())
    limits_value = limits_text(settings.limits, locale) + (f"\n{usage}" if usage else "")
    limits.add_field(name=words(locale, "field.limits"), value=_field(limits_value), inline=False)
    limits.add_field(
        name=words(locale, "field.filter"), value=_field(filter_text(settings.word_filter, locale)), inline=False
    )
    limits.set_footer(text=words(locale, "reset_note"))
    return [access, limits]
