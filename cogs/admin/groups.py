"""/admin's subcommand groups: channels, moderator-roles, filter, users and audit-channel.

Each group owns its subcommands and nothing else: the settings are read, changed and reported through the cog's
``SettingsEditor`` (which also runs the moderator check), so a group holds no state of its own.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.settings import (
    MAX_FILTER_RULES,
    MAX_PATTERN_CHARS,
    BlockEntry,
    FilterRule,
    GuildSettings,
    compile_rule,
    load_guild_settings,
)
from bot.text import shorten
from bot.wordfilter import check_rules
from cogs.common import UserFacingError
from cogs.errors import phrase_of
from cogs.i18n import Msg, Words, interaction_locale, msg, t
from cogs.ui.render import fit_escaped

from . import render
from .access import is_moderator
from .editor import AdminGroup, guild_id_of
from .options import (
    CHOICE_CHARS,
    MAX_CHANNELS,
    MAX_MODERATOR_ROLES,
    MAX_REASON_CHARS,
    filter_candidates,
    missing_permissions,
    permission_names,
)

if TYPE_CHECKING:
    from bot.bot import MJBot

AllowedChannel = discord.TextChannel | discord.VoiceChannel | discord.ForumChannel | discord.StageChannel


class ChannelsGroup(AdminGroup, name="channels", description="Where the bot's commands work"):
    """/admin channels: the allow list of channels."""

    @app_commands.command(name="add", description="Let the bot's commands work in this channel (and not elsewhere)")
    @app_commands.describe(channel="A channel to allow")
    async def channels_add(self, interaction: discord.Interaction[MJBot], channel: AllowedChannel) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if channel.id in settings.channels:
                return settings
            if len(settings.channels) >= MAX_CHANNELS:
                raise UserFacingError(msg("admin.too_many_channels", count=MAX_CHANNELS))
            return dataclasses.replace(settings, channels=(*settings.channels, channel.id))

        await self.editor.area_change(
            interaction, "channels", change, lambda s, loc: render.channels_text(s.channels, loc)
        )

    @app_commands.command(name="remove", description="Take a channel off the allow list")
    @app_commands.describe(channel="A channel on the allow list")
    async def channels_remove(self, interaction: discord.Interaction[MJBot], channel: AllowedChannel) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            return dataclasses.replace(settings, channels=tuple(c for c in settings.channels if c != channel.id))

        await self.editor.area_change(
            interaction, "channels", change, lambda s, loc: render.channels_text(s.channels, loc)
        )

    @app_commands.command(name="list", description="Where the bot's commands work")
    async def channels_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self.editor.settings(interaction)
        shown = Words(lambda locale: render.channels_text(settings.channels, locale))
        await self.editor.reply(interaction, msg("admin.area_value", area=msg("admin.area.channels"), value=shown))

    @app_commands.command(name="clear", description="Let the bot's commands work in every channel again")
    async def channels_clear(self, interaction: discord.Interaction[MJBot]) -> None:
        await self.editor.area_change(
            interaction,
            "channels",
            lambda s: dataclasses.replace(s, channels=()),
            lambda s, locale: render.channels_text(s.channels, locale),
        )


class ModeratorRolesGroup(AdminGroup, name="moderator-roles", description="Roles whose members count as moderators"):
    """/admin moderator-roles: the roles that make a member a moderator."""

    @app_commands.command(name="add", description="Members with this role count as moderators")
    @app_commands.describe(role="The role")
    async def roles_add(self, interaction: discord.Interaction[MJBot], role: discord.Role) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if role.id in settings.moderator_roles:
                return settings
            if len(settings.moderator_roles) >= MAX_MODERATOR_ROLES:
                raise UserFacingError(msg("admin.too_many_roles", count=MAX_MODERATOR_ROLES))
            return dataclasses.replace(settings, moderator_roles=(*settings.moderator_roles, role.id))

        await self.editor.area_change(
            interaction, "roles", change, lambda s, locale: render.roles_text(s.moderator_roles, locale)
        )

    @app_commands.command(name="remove", description="Members with this role no longer count as moderators")
    @app_commands.describe(role="The role")
    async def roles_remove(self, interaction: discord.Interaction[MJBot], role: discord.Role) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            roles = tuple(r for r in settings.moderator_roles if r != role.id)
            return dataclasses.replace(settings, moderator_roles=roles)

        await self.editor.area_change(
            interaction, "roles", change, lambda s, locale: render.roles_text(s.moderator_roles, locale)
        )

    @app_commands.command(name="list", description="The roles whose members count as moderators")
    async def roles_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self.editor.settings(interaction)
        shown = Words(lambda locale: render.roles_text(settings.moderator_roles, locale))
        await self.editor.reply(interaction, msg("admin.area_value", area=msg("admin.area.roles"), value=shown))


class WordFilterGroup(AdminGroup, name="filter", description="Words and patterns refused in prompts"):
    """/admin filter: the words and patterns refused in prompts."""

    @app_commands.command(name="add", description="Refuse prompts with this word, phrase or pattern")
    @app_commands.describe(
        pattern="A word or phrase (matches whole words, any case), or a regular expression",
        regex="Treat the pattern as a regular expression (default: a plain word or phrase)",
    )
    async def filter_add(
        self,
        interaction: discord.Interaction[MJBot],
        pattern: app_commands.Range[str, 1, MAX_PATTERN_CHARS],
        regex: bool = False,
    ) -> None:
        try:
            rule = compile_rule(pattern, regex)
        except ValueError as exc:
            raise UserFacingError(phrase_of(exc) or str(exc)) from None

        def change(settings: GuildSettings) -> GuildSettings:
            if rule in settings.word_filter:
                return settings
            if len(settings.word_filter) >= MAX_FILTER_RULES:
                raise UserFacingError(msg("admin.too_many_rules", count=MAX_FILTER_RULES))
            rules = (*settings.word_filter, rule)
            try:
                check_rules(rules)  # the regex budget, and that the plain words still compile as one set
            except ValueError as exc:
                raise UserFacingError(phrase_of(exc) or str(exc)) from None
            return dataclasses.replace(settings, word_filter=rules)

        old, new = await self.editor.update(guild_id_of(interaction), change)
        if old == new:
            await self.editor.reply(interaction, msg("admin.filter_already", rule=render.rule_text(rule)))
            return
        count = {"old": len(old.word_filter), "new": len(new.word_filter)}
        await self.editor.changed(interaction, msg("admin.filter_added", rule=render.rule_text(rule), **count))

    @app_commands.command(name="remove", description="Take a word or pattern out of the filter")
    @app_commands.describe(pattern="The word or pattern, as `/admin filter list` shows it")
    async def filter_remove(self, interaction: discord.Interaction[MJBot], pattern: str) -> None:
        wanted = filter_candidates(pattern)
        removed: list[FilterRule] = []

        def change(settings: GuildSettings) -> GuildSettings:
            removed[:] = [rule for rule in settings.word_filter if rule.pattern in wanted]
            if not removed:
                raise UserFacingError(msg("admin.not_in_filter", pattern=fit_escaped(pattern, 100)))
            kept = tuple(rule for rule in settings.word_filter if rule not in removed)
            return dataclasses.replace(settings, word_filter=kept)

        old, new = await self.editor.update(guild_id_of(interaction), change)
        rules = ", ".join(render.rule_text(rule) for rule in removed)
        count = {"old": len(old.word_filter), "new": len(new.word_filter)}
        await self.editor.changed(interaction, msg("admin.filter_removed", rule=rules, **count))

    @filter_remove.autocomplete("pattern")
    async def filter_patterns(
        self, interaction: discord.Interaction[MJBot], typed: str
    ) -> list[app_commands.Choice[str]]:
        guild_id = interaction.guild_id
        if guild_id is None:
            return []
        settings = await load_guild_settings(self.editor.store, guild_id)
        if not is_moderator(interaction.user, settings, permissions=interaction.permissions):
            return []  # the filter is for moderators' eyes only
        needle = typed.casefold()
        return [
            app_commands.Choice(name=shorten(rule.describe(), CHOICE_CHARS), value=rule.pattern)
            for rule in settings.word_filter
            if needle in rule.pattern.casefold() and len(rule.pattern) <= CHOICE_CHARS
        ][:25]

    @app_commands.command(name="list", description="The words and patterns refused in prompts")
    async def filter_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self.editor.settings(interaction)
        locale = interaction_locale(interaction)
        embed = discord.Embed(
            title=t(locale, "admin.filter_title", count=len(settings.word_filter)),
            description=shorten(render.filter_text(settings.word_filter, locale), 4096),
            colour=discord.Colour.blurple(),
        )
        await self.editor.reply(interaction, "", embeds=[embed])


class UsersGroup(AdminGroup, name="users", description="Members blocked from using the bot"):
    """/admin users: the members blocked from using the bot, and why."""

    @app_commands.command(name="block", description="Stop a member from using the bot here; they see the reason")
    @app_commands.describe(member="The member", reason="Shown to them when they try (default: no reason given)")
    async def users_block(
        self,
        interaction: discord.Interaction[MJBot],
        member: discord.Member | discord.User,
        reason: app_commands.Range[str, 1, MAX_REASON_CHARS] | None = None,
    ) -> None:
        if member.id == interaction.user.id:
            raise UserFacingError(msg("admin.cannot_block_self"))
        if member.bot:
            raise UserFacingError(msg("admin.cannot_block_bot"))
        # An empty reason is stored as such: the member is then told to ask a moderator, not "no reason given".
        entry = BlockEntry((reason or "").strip(), by=interaction.user.id, at=time.time())

        def change(settings: GuildSettings) -> GuildSettings:
            return dataclasses.replace(settings, blocked={**settings.blocked, member.id: entry})

        old, _ = await self.editor.update(guild_id_of(interaction), change)
        shown = Words(lambda locale: render.reason_text(entry.reason, locale))
        earlier = old.blocked.get(member.id)
        audit: Msg
        if earlier is None:
            audit = msg("admin.block_audit", user=member.id, reason=shown)
        else:
            before = Words(lambda locale: render.reason_text(earlier.reason, locale))
            audit = msg("admin.reblock_audit", user=member.id, reason=shown, earlier=before)
        reply = msg(
            "admin.blocked_reply" if entry.reason else "admin.blocked_reply_no_reason", user=member.id, reason=shown
        )
        await self.editor.changed(interaction, reply, audit)

    @app_commands.command(name="unblock", description="Let a blocked member use the bot again")
    @app_commands.describe(member="The member")
    async def users_unblock(
        self, interaction: discord.Interaction[MJBot], member: discord.Member | discord.User
    ) -> None:
        def change(settings: GuildSettings) -> GuildSettings:
            if member.id not in settings.blocked:
                raise UserFacingError(msg("admin.not_blocked", user=member.id))
            return dataclasses.replace(
                settings, blocked={user: entry for user, entry in settings.blocked.items() if user != member.id}
            )

        old, _ = await self.editor.update(guild_id_of(interaction), change)
        was = old.blocked[member.id].reason
        reason = Words(lambda locale: render.reason_text(was, locale))
        audit = msg("admin.unblock_audit", user=member.id, reason=reason)
        await self.editor.changed(interaction, msg("admin.unblocked_reply", user=member.id), audit)

    @app_commands.command(name="list", description="The members blocked from using the bot, and why")
    async def users_list(self, interaction: discord.Interaction[MJBot]) -> None:
        settings = await self.editor.settings(interaction)
        locale = interaction_locale(interaction)
        embed = discord.Embed(
            title=t(locale, "admin.blocked_title", count=len(settings.blocked)),
            description=shorten(render.blocked_text(settings.blocked, locale), 4096),
            colour=discord.Colour.blurple(),
        )
        await self.editor.reply(interaction, "", embeds=[embed])


class AuditChannelGroup(
    AdminGroup, name="audit-channel", description="Where submits, refusals, cancels and changes are posted"
):
    """/admin audit-channel: where the audit log is posted."""

    @app_commands.command(name="set", description="Post submits, refusals, cancels and changes in this channel")
    @app_commands.describe(channel="A text channel the bot can post in")
    async def audit_set(self, interaction: discord.Interaction[MJBot], channel: discord.TextChannel) -> None:
        missing = missing_permissions(channel)
        if missing:
            names = Words(lambda locale: permission_names(missing, locale))
            raise UserFacingError(msg("admin.audit_cannot_post", channel=channel.mention, missing=names))
        old, new = await self.editor.update(
            guild_id_of(interaction), lambda s: dataclasses.replace(s, audit_channel=channel.id)
        )
        area = msg("admin.area.audit")
        if old.audit_channel == new.audit_channel:
            await self.editor.reply(interaction, msg("admin.unchanged", area=area, value=channel.mention))
            return
        before = Words(lambda locale: render.channel_text(old.audit_channel, locale))
        await self.editor.reply(interaction, msg("admin.audit_set", old=before, new=channel.mention))
        text = msg("admin.changed", area=area, old=before, new=channel.mention)
        audit = self.editor.audit
        posted = await audit.post(channel.guild.id, "settings", actor_id=interaction.user.id, text=text)
        if not posted:
            await self.editor.reply(interaction, msg("admin.audit_test_failed", channel=channel.mention))
        if old.audit_channel is not None:
            await audit.post(
                channel.guild.id, "settings", actor_id=interaction.user.id, text=text, channel_id=old.audit_channel
            )

    @app_commands.command(name="clear", description="Stop posting the audit log")
    async def audit_clear(self, interaction: discord.Interaction[MJBot]) -> None:
        guild_id = guild_id_of(interaction)
        old, _ = await self.editor.update(guild_id, lambda s: dataclasses.replace(s, audit_channel=None))
        area, none = msg("admin.area.audit"), Words(render.none_text)
        if old.audit_channel is None:
            await self.editor.reply(interaction, msg("admin.unchanged", area=area, value=none))
            return
        before = render.channel_text(old.audit_channel)
        await self.editor.reply(interaction, msg("admin.audit_cleared", old=before))
        text = msg("admin.changed", area=area, old=before, new=none)
        await self.editor.audit.post(
            guild_id, "settings", actor_id=interaction.user.id, text=text, channel_id=old.audit_channel
        )
