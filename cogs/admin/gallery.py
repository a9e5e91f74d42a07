"""/admin gallery: where the results members star are shown off, and how many stars it takes."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.settings import MAX_GALLERY_THRESHOLD, MIN_GALLERY_THRESHOLD
from cogs.common import UserFacingError
from cogs.i18n import Words, msg

from . import render
from .editor import AdminGroup, guild_id_of
from .options import missing_permissions, permission_names

if TYPE_CHECKING:
    from bot.bot import MJBot


class GalleryGroup(AdminGroup, name="gallery", description="Where results that members star are posted"):
    """/admin gallery: set, clear and threshold."""

    @app_commands.command(name="set", description="Post results that members star in this channel")
    @app_commands.describe(channel="A text channel the bot can post in")
    async def gallery_set(self, interaction: discord.Interaction[MJBot], channel: discord.TextChannel) -> None:
        missing = missing_permissions(channel)
        if missing:
            names = Words(lambda locale: permission_names(missing, locale))
            raise UserFacingError(msg("admin.audit_cannot_post", channel=channel.mention, missing=names))
        old, new = await self.editor.update(
            guild_id_of(interaction), lambda s: dataclasses.replace(s, gallery_channel=channel.id)
        )
        area = msg("admin.area.gallery")
        if old.gallery_channel == new.gallery_channel:
            await self.editor.reply(interaction, msg("admin.unchanged", area=area, value=channel.mention))
            return
        before = Words(lambda locale: render.channel_text(old.gallery_channel, locale))
        reply = msg("admin.gallery_set", old=before, new=channel.mention, stars=new.gallery_threshold)
        await self.editor.changed(interaction, reply, msg("admin.changed", area=area, old=before, new=channel.mention))

    @app_commands.command(name="clear", description="Stop posting starred results")
    async def gallery_clear(self, interaction: discord.Interaction[MJBot]) -> None:
        old, _ = await self.editor.update(
            guild_id_of(interaction), lambda s: dataclasses.replace(s, gallery_channel=None)
        )
        area, none = msg("admin.area.gallery"), Words(render.none_text)
        if old.gallery_channel is None:
            await self.editor.reply(interaction, msg("admin.unchanged", area=area, value=none))
            return
        before = render.channel_text(old.gallery_channel)
        await self.editor.changed(
            interaction, msg("admin.gallery_cleared", old=before), msg("admin.changed", area=area, old=before, new=none)
        )

    @app_commands.command(name="threshold", description="How many stars from other members send a result there")
    @app_commands.describe(stars="Stars from members other than the result's owner (default 3)")
    async def gallery_threshold(
        self,
        interaction: discord.Interaction[MJBot],
        stars: app_commands.Range[int, MIN_GALLERY_THRESHOLD, MAX_GALLERY_THRESHOLD],
    ) -> None:
        old, new = await self.editor.update(
            guild_id_of(interaction), lambda s: dataclasses.replace(s, gallery_threshold=stars)
        )
        area = msg("admin.area.gallery_threshold")
        if old.gallery_threshold == new.gallery_threshold:
            await self.editor.reply(interaction, msg("admin.unchanged", area=area, value=str(stars)))
            return
        text = msg("admin.changed", area=area, old=str(old.gallery_threshold), new=str(stars))
        await self.editor.changed(interaction, text, text)
