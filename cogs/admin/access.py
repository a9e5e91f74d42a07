"""Who counts as a moderator of a server: the server-side check behind every /admin command and button.

Discord hides /admin from members without Manage Server (``default_permissions``), but a server can
change that in its integration settings, and an old client or a crafted request can still reach the
command; so the bot decides again on every call.
"""

from __future__ import annotations

from typing import Final

import discord

from bot.settings import GuildSettings

NOT_A_MODERATOR: Final = (
    "Only this server's moderators can use `/admin`: members with the Manage Server permission, "
    "or with a role the server made a moderator role."
)
GUILD_ONLY: Final = "`/admin` works in a server, not in direct messages."


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
