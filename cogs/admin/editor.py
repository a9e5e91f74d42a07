"""The part of /admin that every subcommand shares: the moderator check, the settings transaction, the answer.

``SettingsEditor`` is made once per cog and handed to each subcommand group (``AdminGroup``), so the check and
the way a change is saved, answered and posted in the audit log are the same for every group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands

from bot.settings import GuildSettings, load_guild_settings, update_guild_settings
from cogs.common import UserFacingError
from cogs.i18n import SOURCE_LOCALE, LocaleLike, Phrase, Words, interaction_locale, msg

from .access import GUILD_ONLY, GuildOnly, NotAModerator, is_moderator

if TYPE_CHECKING:
    from bot.bot import MJBot
    from bot.store import Store
    from cogs.audit import AuditLog

log = logging.getLogger(__name__)

NO_MENTIONS: Final = discord.AllowedMentions.none()


class SettingsEditor:
    """Owns how /admin reads, changes and reports a server's settings: one check, one transaction, one answer."""

    def __init__(self, bot: MJBot, audit: AuditLog) -> None:
        self.bot = bot
        self.audit = audit

    @property
    def store(self) -> Store:
        return self.bot.services.store

    async def check(self, interaction: discord.Interaction[MJBot]) -> bool:
        """The server-side moderator check every /admin subcommand passes first; raises for anyone else."""
        guild_id = interaction.guild_id
        if guild_id is None:
            raise GuildOnly()
        settings = await load_guild_settings(self.store, guild_id)
        if is_moderator(interaction.user, settings, permissions=interaction.permissions):
            return True
        command = interaction.command.qualified_name if interaction.command is not None else "admin"
        log.info("guild %s: /%s refused to user %s (not a moderator)", guild_id, command, interaction.user.id)
        self.audit.post_soon(
            guild_id,
            "refusal",
            actor_id=interaction.user.id,
            text=msg("admin.refused_audit", command=command, user=interaction.user.id),
        )
        raise NotAModerator()

    async def update(
        self, guild_id: int, change: Callable[[GuildSettings], GuildSettings]
    ) -> tuple[GuildSettings, GuildSettings]:
        """Change the server's settings in one transaction; ``change`` may refuse (raise) and nothing is saved."""
        seen: list[GuildSettings] = []

        def apply(current: GuildSettings) -> GuildSettings:
            seen.append(current)
            return change(current)

        new = await update_guild_settings(self.store, guild_id, apply)
        return seen[-1], new

    async def reply(
        self,
        interaction: discord.Interaction[MJBot],
        text: str | Phrase,
        *,
        embeds: list[discord.Embed] | None = None,
    ) -> None:
        """Answer the moderator ephemerally, in their language."""
        words = text.render(interaction_locale(interaction)) if isinstance(text, Phrase) else text
        send = interaction.followup.send if interaction.response.is_done() else interaction.response.send_message
        await send(words, embeds=embeds or [], ephemeral=True, allowed_mentions=NO_MENTIONS)

    async def changed(
        self, interaction: discord.Interaction[MJBot], reply: Phrase, audit: Phrase | None = None
    ) -> None:
        """Answer the moderator, then post the change (``audit``, or the reply itself) in the audit log (each in
        its reader's language: the moderator's, the server's)."""
        await self.reply(interaction, reply)
        guild_id = interaction.guild_id
        log.info("guild %s: settings changed by user %s: %s", guild_id, interaction.user.id, audit or reply)
        await self.audit.post(guild_id, "settings", actor_id=interaction.user.id, text=audit or reply)

    async def area_change(
        self,
        interaction: discord.Interaction[MJBot],
        area: str,
        change: Callable[[GuildSettings], GuildSettings],
        show: Callable[[GuildSettings, LocaleLike], str],
    ) -> None:
        """Apply a change to one area (``admin.area.<area>``) and report it as "area: old → new" (or that
        nothing changed)."""
        old, new = await self.update(guild_id_of(interaction), change)
        name = msg(f"admin.area.{area}")
        after = Words(lambda locale: show(new, locale))
        if show(old, SOURCE_LOCALE) == show(new, SOURCE_LOCALE):
            await self.reply(interaction, msg("admin.unchanged", area=name, value=after))
            return
        before = Words(lambda locale: show(old, locale))
        await self.changed(interaction, msg("admin.changed", area=name, old=before, new=after))

    async def settings(self, interaction: discord.Interaction[MJBot]) -> GuildSettings:
        """The server's settings, as saved now."""
        return await load_guild_settings(self.store, guild_id_of(interaction))


def guild_id_of(interaction: discord.Interaction[MJBot]) -> int:
    """The server an /admin command was used in."""
    guild_id = interaction.guild_id
    if guild_id is None:  # the check refuses DMs before any subcommand runs
        raise UserFacingError(GUILD_ONLY)
    return guild_id


class AdminGroup(app_commands.Group):
    """A subcommand group of /admin: its commands use the cog's ``SettingsEditor`` and pass its moderator check.

    The groups are declared with the cog's class (so the command tree is known before any cog is made); the cog
    hands each of its own copies the editor when it is made.
    """

    _editor: SettingsEditor | None = None

    def use(self, editor: SettingsEditor) -> None:
        """Give this group the editor of the cog it belongs to."""
        self._editor = editor

    @property
    def editor(self) -> SettingsEditor:
        if self._editor is None:
            raise RuntimeError(f"/admin {self.name} is used before its cog was made")
        return self._editor

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        # A group's commands are bound to the group, so discord.py asks the group, not the cog: ask the same check.
        return await self.editor.check(interaction)
