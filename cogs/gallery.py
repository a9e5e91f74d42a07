"""A server's gallery: a result that members star enough is posted once in the gallery channel, crediting its owner.

A ⭐ on any job message the store knows (made before the gallery was set too) counts the message's ⭐
reactions as Discord has them, leaving out the owner's and the bot's own, so a member cannot star their own
work in and a removed star is not counted. At ``gallery_threshold`` stars the result is posted, once: the job's
meta records the gallery message, claimed in the store's transaction before posting, so two reactions (or two
processes) at the same moment post it once.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.settings import load_guild_settings
from bot.store import JobStatus
from bot.store.meta import JobMeta
from bot.store.models import Job, JobKind
from cogs.i18n import audit_locale, t
from cogs.ui import job_title
from cogs.ui.render import fit_escaped

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

STAR: Final = "\u2b50"
NO_MENTIONS: Final = discord.AllowedMentions.none()
PROMPT_CHARS: Final = 300
#: Marks a job whose gallery post is being made (the message id replaces it once posted).
_CLAIMED: Final = 0


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def gallery_embed(job: Job, *, original: str, locale: str | None) -> discord.Embed:
    """The gallery post: the result, its prompt, who made it (a mention, which never pings in an embed), a link."""
    embed = discord.Embed(
        title=job_title(job, locale),
        description=fit_escaped(job.prompt, PROMPT_CHARS) if job.prompt.strip() else None,
        url=original,
        colour=discord.Colour.gold(),
    )
    embed.add_field(name=t(locale, "gallery.field_by"), value=f"<@{job.user_id}>", inline=True)
    embed.add_field(name=t(locale, "gallery.field_original"), value=f"[{t(locale, 'gallery.jump')}]({original})")
    if job.kind is JobKind.VIDEO and job.video_urls:
        clips = " · ".join(f"[{number}]({url})" for number, url in enumerate(job.video_urls, start=1))
        embed.add_field(name=t(locale, "gallery.field_clips"), value=clips, inline=False)
    image = job.image_url or (job.sub_image_urls[0] if job.sub_image_urls else None)
    if image:
        embed.set_image(url=image)
    embed.set_footer(text=f"⭐ · {job.id}")
    return embed


class GalleryCog(commands.Cog):
    """Posts starred results in the server's gallery channel."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if payload.guild_id is None or payload.emoji.id is not None or payload.emoji.name != STAR:
            return
        me = self.bot.user
        if me is not None and payload.user_id == me.id:
            return
        store = self.bot.services.store
        settings = await load_guild_settings(store, payload.guild_id)
        if settings.gallery_channel is None:
            return
        job = await store.links.job_for_message(payload.message_id)
        if job is None or job.status is not JobStatus.SUCCEEDED or job.meta.gallery_post is not None:
            return
        stars = await self._stars(payload, job)
        if stars is None or stars < settings.gallery_threshold:
            return
        await self._post(payload, job, settings.gallery_channel, stars)

    async def _stars(self, payload: discord.RawReactionActionEvent, job: Job) -> int | None:
        """The ⭐ on the message from members other than the job's owner and the bot; None if Discord won't say."""
        channel = self.bot.get_partial_messageable(payload.channel_id, guild_id=payload.guild_id)
        try:
            message = await channel.fetch_message(payload.message_id)
            reaction = next((r for r in message.reactions if str(r.emoji) == STAR), None)
            if reaction is None:
                return 0
            me = self.bot.user
            voters = {
                user.id
                async for user in reaction.users(limit=None)
                if user.id != job.user_id and not user.bot and (me is None or user.id != me.id)
            }
        except discord.HTTPException as exc:
            log.info("job %s: could not count the stars on message %s (%s)", job.id, payload.message_id, exc.status)
            return None
        return len(voters)

    async def _post(self, payload: discord.RawReactionActionEvent, job: Job, channel_id: int, stars: int) -> None:
        store = self.bot.services.store
        claimed = False

        def claim(meta: JobMeta) -> JobMeta:
            nonlocal claimed
            if meta.gallery_post is not None:
                return meta
            claimed = True
            return dataclasses.replace(meta, gallery_post=_CLAIMED)

        job = await store.jobs.update_meta(job.id, claim)
        if not claimed:
            return  # another reaction (or another process) posts it
        guild_id = payload.guild_id or 0
        locale = audit_locale(self.bot, guild_id)
        original = jump_url(guild_id, payload.channel_id, payload.message_id)
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            posted = await channel.send(
                content=t(locale, "gallery.post", stars=stars),
                embed=gallery_embed(job, original=original, locale=locale),
                allowed_mentions=NO_MENTIONS,
            )
        except discord.HTTPException as exc:
            log.warning(
                "guild %s: could not post job %s in the gallery channel %s (%s); the next star tries again",
                guild_id,
                job.id,
                channel_id,
                exc.text or exc.status,
            )
            await store.jobs.update_meta(job.id, lambda meta: dataclasses.replace(meta, gallery_post=None))
            return
        await store.jobs.update_meta(job.id, lambda meta: dataclasses.replace(meta, gallery_post=posted.id))
        log.info("job %s (guild %s): posted in the gallery with %d stars", job.id, guild_id, stars)
