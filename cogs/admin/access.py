"""Who counts as a moderator of a server: the server-side check behind every /admin command and button.

Discord hides /admin from members without Manage Server (``default_permissions``), but a server can
change that in its integration settings, and an old client or a crafted request can still reach the
command; so the bot decides again on every call.
"""

from __future__ import annotations

from typing import Final

import discord
from discord import app_commands

from bot.settings import GuildSettings
from cogs.i18n import msg

NOT_A_MODERATOR: Final = msg("admin.not_a_moderator")
GUILD_ONLY: Final = msg("admin.guild_only")


class NotAModerator(app_commands.CheckFailure):
    """/admin used by a member who is not a moderator of the server."""

    def __init__(self) -> None:
        self.msg = NOT_A_MODERATOR
        super().__init__(str(self.msg))


class GuildOnly(app_commands.NoPrivateMessage):
    """/admin used in direct messages."""

    def __init__(self) -> None:
        self.msg = GUILD_ONLY
        super().__init__(str(self.msg))


def is_moderator(
    member: discord.Member | discord.User,
    settings: GuildSettings,
    *,
    permissions: discord.Permissions | None = None,
) -> bool:
    """Manage Server (server-wide, or as Discord computed it for this interaction), or a configured moderator role.

    ``permissions`` are the member's permissions that came with an interaction; a plain ``User`` (a DM, or a
    member who left) is never a moderator.
    """
    if not isinstance(member, discord.Member):
        return False
    if permissions is not None and (permissions.manage_guild or permissions.administrator):
        return True
    granted = member.guild_permissions
    if granted.manage_guild or granted.administrator:
        return True
    roles = set(settings.moderator_roles)
    return any(role.id in roles for role in member.roles)
