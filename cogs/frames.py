"""The Discord side of finding a frame again (``bot.frames``): the bot's copies on job messages, refreshed links.

A follow-up that sends a frame again (🔄 on a video, 🎬 Animate) asks :class:`Frames` for a plan whose
links work now; a frame that is gone is refused before anything reaches the API, so nothing is charged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import discord

from bot import media
from bot.frames import FrameGoneError, FrameRefresher, with_frames
from bot.options import InputError
from bot.store.models import Job
from cogs.common import UserFacingError
from cogs.i18n import msg
from cogs.plans import Plan

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: Links Discord refreshes in one call.
REFRESH_BATCH: Final = 50
#: Messages whose copies cannot be read again: those editable through their token only (ephemeral ones, and those
#: where the bot is not).
_UNREADABLE: Final = frozenset({"private", "response"})


class DiscordFrames:
    """Finds frames through Discord: copies on a job's messages, ``POST /attachments/refresh-urls``, a link check."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot
        self._links: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._links is not None:
            await self._links.close()
            self._links = None

    async def copy_link(self, job_id: str, filename: str) -> str | None:
        """The copy's link from the newest of the job's messages that still carries it (a fetch signs it afresh)."""
        for link in reversed(await self.bot.services.store.links.messages_for_job(job_id)):
            if link.purpose in _UNREADABLE or link.channel_id is None:
                continue
            channel = self.bot.get_partial_messageable(link.channel_id, guild_id=link.guild_id)
            try:
                message = await channel.fetch_message(link.message_id)
            except discord.HTTPException as error:
                log.info(
                    "job %s (guild %s): message %s is gone or unreadable (%s %s)",
                    job_id,
                    link.guild_id,
                    link.message_id,
                    error.status,
                    error.code,
                )
                continue
            for attachment in message.attachments:
                if attachment.filename == filename:
                    return attachment.url
        return None

    async def refresh_links(self, urls: Sequence[str]) -> dict[str, str]:
        """Discord's answer to ``POST /attachments/refresh-urls`` (discord.py has no method for it)."""
        route = discord.http.Route("POST", "/attachments/refresh-urls")
        try:
            answer = await self.bot.http.request(route, json={"attachment_urls": list(urls)[:REFRESH_BATCH]})
        except discord.HTTPException as error:
            log.info("refreshing %d attachment links failed (%s %s)", len(urls), error.status, error.code)
            return {}
        return _refreshed(answer)

    async def answers(self, url: str) -> bool:
        if self._links is None:
            self._links = media.link_session(self.bot.services.member_links)
        try:
            await media.check_image_url(self._links, url, private=self.bot.services.member_links)
        except InputError as error:
            log.info("a frame link no longer answers: %s", error)
            return False
        return True


def _refreshed(answer: Any) -> dict[str, str]:
    entries = answer.get("refreshed_urls") if isinstance(answer, Mapping) else None
    found: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else []:
        if (
            isinstance(entry, Mapping)
            and isinstance(entry.get("original"), str)
            and isinstance(entry.get("refreshed"), str)
        ):
            found[entry["original"]] = entry["refreshed"]
    return found


class Frames:
    """Follow-up plans whose frames are fetchable now (for the cogs that submit follow-ups)."""

    def __init__(self, bot: MJBot) -> None:
        self._finder = DiscordFrames(bot)
        self._refresher = FrameRefresher(bot.services.client, bot.services.store, self._finder)

    async def close(self) -> None:
        await self._finder.close()

    async def fresh(self, job: Job, plan: Plan) -> Plan:
        """``plan`` (a follow-up on ``job``) with links that work now; UserFacingError when a frame is gone."""
        try:
            request, sent = await self._refresher.fresh_request(plan.request, plan.meta.frames)
            meta = with_frames(plan.meta, sent)
            chained = plan.meta.then_animate
            if chained is not None and chained.end_image_url:
                # The video comes once the upscale is done; its end frame must still work by then.
                link = await self._refresher.fresh_link("end_image_url", chained.end_image_url, None)
                meta = dataclasses.replace(meta, then_animate=dataclasses.replace(chained, end_image_url=link))
        except FrameGoneError as gone:
            log.info("job %s (guild %s): a follow-up was refused: %s", job.id, job.guild_id, gone)
            raise UserFacingError(msg("frames.start_gone" if gone.start else "frames.end_gone")) from None
        return Plan(request, meta)
