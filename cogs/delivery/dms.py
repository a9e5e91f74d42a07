"""Job copies in a member's DMs: the result of a job whose message only its token could edit (a private one, or one
where the bot is not) once the token ended, and "DM me when a job is done"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import discord

from bot.settings import load_user_settings
from bot.store import Store
from bot.store.models import Job, JobStatus, MessageLink
from cogs.i18n import Phrase

from . import messages
from .compose import DONE_DM, PRIVATE_DM, RESPONSE_DM, composer, extras_for
from .events import JOB, PRIVATE, RESPONSE_ONLY
from .media import DEFAULT_ATTACHMENT_LIMIT, NO_FILES, ResultCache, ResultFiles
from .messages import Outgoing, send_with_fallback
from .places import job_of

if TYPE_CHECKING:
    from bot.bot import MJBot

    from .owners import OwnerNames

#: The cog's logger (``cogs.delivery.cog``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.cog")

#: What is done with a message that now shows a job (the cog records it and catches up with the job).
ShownNow = Callable[[MessageLink, Job, ResultFiles], Awaitable[None]]


class DirectMessages:
    """Owns sending jobs to their owners' DMs: which jobs this process claimed, and the sends under way."""

    def __init__(self, bot: MJBot, *, owners: OwnerNames, results: ResultCache, shown_now: ShownNow) -> None:
        self.bot = bot
        self._owners = owners
        self._results = results
        self._shown_now = shown_now
        #: Jobs whose result is being (or was) sent to the owner's DMs by this process.
        self._claimed: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _store(self) -> Store:
        return self.bot.services.store

    async def send(self, job_id: str, user: discord.abc.User, *, note: str | Phrase | None = None) -> bool:
        """A copy of the job (its result, id and parameters) in the user's DMs; False when they accept no DMs.

        ``note`` is a line saying why it came (markdown allowed; a ``Phrase`` is worded in the owner's language).
        """
        job = await job_of(self._store, job_id)
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, DEFAULT_ATTACHMENT_LIMIT) if job.finished else NO_FILES
        target = user if isinstance(user, discord.abc.Messageable) else await self.bot.fetch_user(user.id)

        async def send(out: Outgoing) -> discord.Message:
            return await messages.post(target, out)

        extras = await extras_for(self.bot, job, private=False, note=note)
        compose = composer(self.bot, job, owner, with_view=False, extras=extras)
        try:
            message, sent = await send_with_fallback(send, compose, result)
        except discord.Forbidden as error:
            log.info("job %s (guild %s): user %s accepts no DMs (%s)", job.id, job.guild_id, user.id, error.code)
            return False
        link = await self._store.links.link_message(
            message.id,
            job.id,
            channel_id=message.channel.id,
            guild_id=None,
            purpose="dm",
            attachment_limit=DEFAULT_ATTACHMENT_LIMIT,
        )
        await self._shown_now(link, job, sent)
        return True

    async def once(self, job_id: str, *, note: str | Phrase | None = None) -> bool:
        """Send the job's result to its owner's DMs unless that was done already; True if it went out now.

        Closed DMs are logged (INFO) and otherwise ignored: there is no other way left to reach the member.
        """
        job = await self._store.jobs.get_job(job_id)
        if job is None or job.user_id is None or job.id in self._claimed or job.meta.delivery.dm_sent:
            return False
        self._claimed.add(job.id)
        await self._store.jobs.update_meta(job.id, lambda meta: meta.with_delivery(dm_sent=True))
        user = self.bot.get_user(job.user_id)
        if user is None:
            try:
                user = await self.bot.fetch_user(job.user_id)
            except discord.HTTPException as error:
                log.info("job %s (guild %s): its owner %s is unknown (%s)", job.id, job.guild_id, job.user_id, error)
                return False
        try:
            sent = await self.send(job.id, user, note=note)
        except Exception:
            # Not a closed DM but a failure on the way: leave the job to be tried again (the sweep does).
            self._claimed.discard(job.id)
            await self._store.jobs.update_meta(job.id, lambda meta: meta.with_delivery(dm_sent=False))
            raise
        if not sent:
            return False
        log.info("job %s (guild %s): result sent to the DMs of user %s", job.id, job.guild_id, job.user_id)
        return True

    async def token_ended(self, link: MessageLink, job: Job) -> bool:
        """A message only its token could edit (a private one, or one where the bot is not), whose token ended: the
        result goes to the owner's DMs, with a note saying why.

        True once that is settled (sent, or the member's DMs are closed), so the message is not tried again.
        """
        if not job.finished:
            return False
        log.info(
            "job %s (guild %s): %s message %s can no longer be edited; sending the result to DMs",
            job.id,
            link.guild_id,
            link.purpose,
            link.message_id,
        )
        await self.once(job.id, note=PRIVATE_DM if link.purpose == PRIVATE else RESPONSE_DM)
        return True

    async def when_done(self, job: Job) -> None:
        """Send a finished job to its owner's DMs if they asked for that (``/settings``), in a task of its own."""
        if job.user_id is None or job.meta.delivery.dm_sent:
            return
        if job.task_id is None:
            return  # refused before it ran: the member was told when they asked
        links = await self._store.links.messages_for_job(job.id)
        if any(link.guild_id is None and link.purpose in (JOB, PRIVATE) for link in links):
            return  # made in DMs, or a server's job clicked from a DM: its own message is in the DMs already
        private = job.meta.delivery.dm_result  # its message could not be shown: the result must come to DMs
        if job.guild_id is None and not private and not any(link.purpose == RESPONSE_ONLY for link in links):
            return  # a job of DMs whose message is gone: nothing to copy it beside
        if job.status is JobStatus.SUCCEEDED and job.meta.then_animate is not None:
            return  # an upscale on its way to a video: the video is what the member waits for
        if not private and not (await load_user_settings(self._store, job.user_id)).dm_on_done:
            return
        # A job of no server whose message could not be shown was one where the bot is not (DMs are never private).
        note = (RESPONSE_DM if job.guild_id is None else PRIVATE_DM) if private else DONE_DM
        task = asyncio.get_running_loop().create_task(self._done(job.id, note), name=f"delivery-dm-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _done(self, job_id: str, note: Phrase) -> None:
        try:
            await self.once(job_id, note=note)
        except Exception:
            log.exception("job %s: sending the finished job to its owner's DMs failed", job_id)

    async def idle(self) -> None:
        """Wait until no send to DMs is under way."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def close(self) -> None:
        """Stop the sends under way (the cog is unloading)."""
        for task in self._tasks:
            task.cancel()
