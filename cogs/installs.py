"""The bot installed to a member's account (Discord's user install): whose rules an interaction follows, and whether
the bot can reach the place it came from.

An app is installed to a server (guild install) or to a member's account (user install). Through their own install
a member uses the bot's commands in its DMs, in group DMs and other private channels, and in servers the bot is not
a member of. The bot knows nothing of such a server and cannot post or edit in its channels:

- **Whose rules.** A command used in a server follows that server's rules when the server's install authorized it
  (its id among Discord's ``authorizing_integration_owners``) or the bot is a member there: the bot knows the
  server's settings, and a member cannot sidestep its blocks, channel list and limits by using their own install in
  it. Everywhere else (the bot's DMs, private channels, servers without the bot) the use counts as use in direct
  messages: the operator's ``[dms]`` limits apply (``[dms] enabled = false`` turns it off too), no server's settings
  do, and the job belongs to no server, like a job made in DMs.
- **Where the bot can reach.** Outside its DMs and its servers the bot's only way to a member is the interaction:
  its response and follow-ups, edited through the interaction's token, which Discord ends after 15 minutes. Delivery
  then sends a result that is not in yet to the owner's DMs, with a note saying why (``cogs.delivery``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.bot import MJBot


def rules_guild(bot: MJBot, interaction: discord.Interaction[Any]) -> int | None:
    """The server whose rules apply to ``interaction`` (and that a new job belongs to); None: the operator's ``[dms]``
    limits."""
    guild_id = interaction.guild_id
    if guild_id is None:
        return None
    if interaction.is_guild_integration() or bot.get_guild(guild_id) is not None:
        return guild_id
    return None


def reaches_channel(bot: MJBot, interaction: discord.Interaction[Any]) -> bool:
    """Whether the bot is in the interaction's channel (its DMs, a server it is a member of), so that it may post and
    edit there itself; False where only the interaction's token reaches the member."""
    if interaction.guild_id is not None:
        return bot.get_guild(interaction.guild_id) is not None
    return not interaction.context.private_channel


def counts_as_dms(bot: MJBot, interaction: discord.Interaction[Any]) -> bool:
    """Used through the member's own install outside the bot's DMs and servers (a server without the bot, a group DM):
    the ``[dms]`` limits apply, though the member is not in the bot's DMs."""
    if interaction.guild_id is not None:
        return rules_guild(bot, interaction) is None
    return interaction.context.private_channel


# -- where commands are offered -----------------------------------------------------------------------------


def command_contexts(allow_dms: bool) -> app_commands.AppCommandContext:
    """Where a member command is offered: servers, and unless the operator turned DMs off, the bot's DMs and (through
    a member's own install) group DMs and other private channels."""
    return app_commands.AppCommandContext(guild=True, dm_channel=allow_dms, private_channel=allow_dms)


def command_installs(allow_dms: bool) -> app_commands.AppInstallationType:
    """Which installs offer a member command: a server's, and unless DMs are off, a member's own (Discord's user
    install), whose use outside the bot's servers counts as use in direct messages."""
    return app_commands.AppInstallationType(guild=True, user=allow_dms)


#: ``/admin``: a server's install, in the server, only.
SERVER_ONLY_CONTEXTS: Final = app_commands.AppCommandContext(guild=True, dm_channel=False, private_channel=False)
SERVER_INSTALL_ONLY: Final = app_commands.AppInstallationType(guild=True, user=False)
