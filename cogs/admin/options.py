"""What the /admin commands accept and check: the limits of their options, and how typed values are read."""

from __future__ import annotations

from typing import Final

import discord

from bot.costs import IMAGE_UNITS, VIDEO_UNITS
from bot.settings import BUTTON_POLICIES, ButtonPolicy, normalise
from cogs.common import UserFacingError
from cogs.i18n import LocaleLike, msg, t

#: What a moderator can put in a limit option to remove the limit.
NO_LIMIT_WORDS: Final = frozenset({"", "0", "none", "off", "no", "unlimited"})
MAX_REASON_CHARS: Final = 300
MAX_MODERATOR_ROLES: Final = 25
MAX_CHANNELS: Final = 50
#: Autocomplete values hold at most this many characters.
CHOICE_CHARS: Final = 100
MAX_STATS_DAYS: Final = 90

#: The English help of ``daily_budget`` (the language files word it with the same prices, ``{image}``/``{video}``).
BUDGET_HELP: Final = (
    f"Units the server may spend per UTC day: image {IMAGE_UNITS:g}, video {VIDEO_UNITS:g}, "
    "turbo doubles (none: no limit)"
)
#: Permissions the bot needs in the audit channel.
AUDIT_PERMISSIONS: Final = ("view_channel", "send_messages", "embed_links")

POLICY_CHOICES: Final[dict[str, str]] = {
    "owner": "Owner only (and members with Manage Messages)",
    "owner_and_mods": "Owner and moderators",
    "everyone": "Everyone in the server",
}


def parse_limit(value: str, *, option: str, budget: bool = False) -> float | None:
    """A limit option as typed: a positive number, or None for "no limit" (``0``, ``none``, ``off``...)."""
    text = value.strip().lower()
    if text in NO_LIMIT_WORDS:
        return None
    refusal = msg("admin.bad_budget" if budget else "admin.bad_limit", option=option, value=value)
    try:
        number = float(text) if budget else int(text)
    except ValueError:
        raise UserFacingError(refusal) from None
    if number <= 0 or number != number or number == float("inf"):
        raise UserFacingError(refusal)
    return number


def parse_threshold(value: str, *, option: str) -> float | None:
    """A threshold in units as typed: a number, 0 or more, or None for "never" (``off``, ``none``, ``never``...)."""
    text = value.strip().lower()
    if text in NO_LIMIT_WORDS - {"0"} or text == "never":
        return None
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not (number >= 0 and number != float("inf")):
        raise UserFacingError(msg("admin.bad_threshold", option=option, value=value))
    return number


def filter_candidates(typed: str) -> set[str]:
    """The stored patterns ``typed`` may name: as typed, normalised like a word, or as a list shows a rule
    (``"word"``, ``/regex/``)."""
    text = typed.strip()
    found = {typed, text, normalise(text)}
    if len(text) > 2 and text[0] == text[-1] and text[0] in '"/':
        inner = text[1:-1]
        found |= {inner, normalise(inner)}
    return found


def button_policy(value: str) -> ButtonPolicy:
    for policy in BUTTON_POLICIES:
        if value == policy:
            return policy
    raise UserFacingError(msg("admin.bad_policy", choices=", ".join(BUTTON_POLICIES)))


def missing_permissions(channel: discord.TextChannel) -> list[str]:
    """The permissions the bot lacks to post the audit log in ``channel`` (none when it has them all)."""
    granted = channel.permissions_for(channel.guild.me)
    return [name for name in AUDIT_PERMISSIONS if not getattr(granted, name)]


def permission_names(permissions: list[str], locale: LocaleLike = None) -> str:
    """ "View Channel, Embed Links", as Discord names them in the language of ``locale``."""
    separator = t(locale, "list.separator")
    return separator.join(t(locale, f"admin.permission.{name}") for name in permissions)
