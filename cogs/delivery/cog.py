"""Delivery: turns job events into Discord messages (live progress, then the result) that always arrive.

Every message that shows a job is a row in the store (a message link), so a restart loses nothing:
messages whose job finished while the bot was away are re-rendered at start-up, and a sweep every few
minutes catches any result whose delivery failed on the way. A message is edited through its
interaction token while the token lives (14.5 of its 15 minutes), then through the channel; if the
channel refuses too, the result is posted as a reply there.

A private (ephemeral) job message can only be edited through its token: once the token ends, the
result goes to the owner's DMs instead. So does the result of a public message where the bot is not (a
member's own install of the bot used in a server without it, or in a group DM), which nothing but its
token reaches. A member who asked to be told (``/settings``: DM me when a job is done) gets a copy of
each finished job in their DMs, once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import discord
from discord.ext import commands

from bot.store import Store
from bot.store.models import Job, MessageLink
from cogs.i18n import Phrase, t

from . import messages
from .compose import PRIVATE_DM, RESPONSE_DM, composer, extras_for
from .dms import DirectMessages
from .editing import MessageEditor
from .events import JOB, RESPONSE_ONLY, DeliveryEvents
from .media import NO_FILES, ResultCache, ResultFiles
from .messages import NO_MENTIONS, Outgoing, cannot_edit, send_with_fallback, token_gone
from .owners import OwnerNames
from .pacing import EditPacer
from .places import guild_limit, guild_of_channel, job_of, purpose_of
from .sweeps import not_being_shown
from .tokens import TokenBook

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.context import InteractionContext

log = logging.getLogger(__name__)


class Delivery(commands.Cog):
    """Shows jobs in Discord: edits each job message as the job runs and delivers its result, whatever happens.

    Progress edits are paced to one per ``min_edit_interval_s`` per message, while the edit that shows a
    finished job goes out at once; results are attached when they fit the message's upload limit and
    linked otherwise.
    """

    #: The default pacing of new instances; ``edit_interval_s`` changes a running one.
    min_edit_interval_s: ClassVar[float] = 5.0
    #: How often the store is searched for finished jobs whose messages still miss their result.
    sweep_interval_s: float = 300.0
    #: A message whose result could be neither edited in nor posted is tried again after this long.
    retry_failed_after_s: float = 900.0

    def __init__(
        self, bot: MJBot, *, min_edit_interval_s: float | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.bot = bot
        self._metrics = bot.services.metrics
        interval = type(self).min_edit_interval_s if min_edit_interval_s is None else min_edit_interval_s
        self._pacer = EditPacer(self._render_message, interval_s=interval)
        self._results = ResultCache(
            private=bot.services.result_links, frames_private=bot.services.member_links, linger_s=interval + 2.0
        )
        self._tokens = TokenBook(clock)
        self._owners = OwnerNames(bot)
        self._dms = DirectMessages(bot, owners=self._owners, results=self._results, shown_now=self._shown_now)
        self._editor = MessageEditor(
            bot,
            pacer=self._pacer,
            tokens=self._tokens,
            owners=self._owners,
            results=self._results,
            dms=self._dms,
            post_reply=lambda job_id, channel_id, reply_to: self.show_in_channel(job_id, channel_id, reply_to=reply_to),
            links_changed=lambda *job_ids: self._events.links_changed(*job_ids),
        )
        self._events = DeliveryEvents(
            bot, pacer=self._pacer, tokens=self._tokens, editor=self._editor, dms=self._dms, refresh=self.refresh
        )
        self._unsubscribe: Callable[[], None] | None = None
        self._startup: asyncio.Task[int] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    @property
    def _store(self) -> Store:
        return self.bot.services.store

    @property
    def clock(self) -> Callable[[], float]:
        """Wall-clock time, for the age of interaction tokens."""
        return self._tokens.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._tokens.clock = clock

    @property
    def edit_interval_s(self) -> float:
        """Seconds between two edits of one message (Discord throttles faster edits)."""
        return self._pacer.interval_s

    @edit_interval_s.setter
    def edit_interval_s(self, seconds: float) -> None:
        self._pacer.interval_s = seconds
        self._results.linger_s = seconds + 2.0

    @property
    def downloads(self) -> int:
        """Result files fetched so far (each job's once, however many messages show it)."""
        return self._results.downloads

    async def cog_load(self) -> None:
        self._unsubscribe = self.bot.services.engine.subscribe(self._events.on_job_event)
        loop = asyncio.get_running_loop()
        self._startup = loop.create_task(self.sweep(startup=True), name="delivery-startup")
        self._sweeper = loop.create_task(_sweep_forever(self), name="delivery-sweeper")

    async def cog_unload(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._startup, self._sweeper):
            if task is not None:
                task.cancel()
        self._dms.close()
        self._pacer.close()
        await self._results.close()

    async def idle(self) -> None:
        """Wait until start-up re-rendering is done and no render is waiting or under way."""
        if self._startup is not None:
            await asyncio.wait({self._startup})
        await self._pacer.idle()
        await self._dms.idle()

    async def sweep(self, *, startup: bool = False) -> int:
        """Render again every message whose job finished without the message showing it; returns how many.

        At start-up that is whatever the process missed while it was down; later sweeps catch a result
        whose delivery failed on the way (a network error, a channel closed to the bot for a while).
        """
        pending = await self._store.links.undelivered_links()
        now = self.clock()
        if self._store.dialect == "postgres":
            pending = await not_being_shown(self._store, pending, now)
        waiting = {link.message_id for link, _ in pending}
        failed = self._editor.failures(waiting)
        due = [
            (link, job)
            for link, job in pending
            if startup or now - failed.get(link.message_id, float("-inf")) >= self.retry_failed_after_s
        ]
        if due:
            log.info("re-rendering %d job messages that miss their final state", len(due))
        for link, job in due:
            log.info(
                "job %s (guild %s): re-rendering message %s (%s)", job.id, job.guild_id, link.message_id, job.status
            )
            self._pacer.submit(link.message_id, job, channel_id=link.channel_id, force=True)
        return len(due)

    # -- public API -----------------------------------------------------------------------------------------

    async def show_from_interaction(self, job_id: str, context: InteractionContext) -> None:
        """Turn the (deferred) response of the interaction into the job's message and keep it current.

        The placeholder is taken first, so that an error from here on never deletes the job's message. A response
        deferred ephemerally (``InteractionContext.defer_private``) makes a private job message; when the
        response's placeholder was given up (``InteractionContext.make_private``), the job's message is a new
        follow-up.
        """
        context.take_placeholder()
        try:
            await self._show(job_id, context)
        except Exception:
            # The job is sent (and paid for) already: a "try again" would only pay twice. Keep a plain message
            # linked to the job, which the job's next events render in full.
            log.exception("job %s: showing its message failed; a plain one stands in for it", job_id)
            await self._stand_in(job_id, context)

    async def _show(self, job_id: str, context: InteractionContext) -> None:
        interaction = context.interaction
        job = await job_of(self._store, job_id)
        if interaction.user.id == job.user_id:
            self._owners.remember(interaction.user)
        private = context.private
        purpose = purpose_of(self.bot, interaction, private=private)
        limit = interaction.filesize_limit
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, limit) if job.finished else NO_FILES
        extras = await extras_for(self.bot, job, private=private, response_only=purpose == RESPONSE_ONLY)

        async def send(out: Outgoing) -> discord.Message:
            if context.as_follow_up:  # the response's placeholder was given up
                return await messages.follow_up(interaction, out, ephemeral=private)
            return await interaction.edit_original_response(
                content=out.rendered.content,
                embeds=out.rendered.embeds,
                attachments=out.attachments(),
                view=out.view,
                allowed_mentions=NO_MENTIONS,
            )

        try:
            message, sent = await send_with_fallback(send, composer(self.bot, job, owner, extras=extras), result)
        except discord.HTTPException as error:
            in_channel = purpose == JOB and interaction.channel_id is not None
            if not (token_gone(error) or cannot_edit(error)) or (purpose == JOB and not in_channel):
                raise
            log.info(
                "job %s (guild %s): the interaction response is gone (%s %s); %s",
                job.id,
                job.guild_id,
                error.status,
                error.code,
                "posting in the channel" if in_channel else "its result goes to the owner's DMs",
            )
            if in_channel and interaction.channel_id is not None:
                await self.show_in_channel(job.id, interaction.channel_id)
            elif job.finished:
                await self._dms.once(job.id, note=PRIVATE_DM if private else RESPONSE_DM)
            else:
                await self._store.jobs.update_meta(job.id, lambda meta: meta.with_delivery(dm_result=True))
            return
        self._tokens.born(message.id, interaction.created_at.timestamp())
        link = await self._store.links.link_message(
            message.id,
            job.id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            purpose=purpose,
            interaction_token=interaction.token,
            application_id=interaction.application_id,
            attachment_limit=limit,
        )
        await self._shown_now(link, job, sent, finished_since=interaction.created_at.timestamp())

    async def _stand_in(self, job_id: str, context: InteractionContext) -> None:
        """A message that cannot fail to render, linked to the job like its real one."""
        interaction = context.interaction
        text = t(context.locale, "delivery.stand_in", job=job_id)
        message: discord.Message
        try:
            if context.as_follow_up:
                message = await interaction.followup.send(
                    text, ephemeral=context.private, wait=True, allowed_mentions=NO_MENTIONS
                )
            else:
                message = await interaction.edit_original_response(
                    content=text, embeds=[], attachments=[], view=None, allowed_mentions=NO_MENTIONS
                )
        except discord.HTTPException:
            log.warning("job %s: not even a plain message could be shown; /show %s brings it back", job_id, job_id)
            return
        await self._store.links.link_message(
            message.id,
            job_id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            purpose=purpose_of(self.bot, interaction, private=context.private),
            interaction_token=interaction.token,
            application_id=interaction.application_id,
            attachment_limit=interaction.filesize_limit,
        )

    async def show_in_channel(self, job_id: str, channel_id: int, *, reply_to: int | None = None) -> int | None:
        """Post the job's message in a channel (a reply to ``reply_to``, without a ping); its id, or None."""
        job = await job_of(self._store, job_id)
        guild_id = guild_of_channel(self.bot, channel_id, job)
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, guild_limit(self.bot, guild_id)) if job.finished else NO_FILES
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        reference = None
        if reply_to is not None:
            reference = discord.MessageReference(
                message_id=reply_to, channel_id=channel_id, guild_id=guild_id, fail_if_not_exists=False
            )

        async def send(out: Outgoing) -> discord.Message:
            return await messages.post(channel, out, reference=reference)

        extras = await extras_for(self.bot, job, private=False)
        try:
            message, sent = await send_with_fallback(send, composer(self.bot, job, owner, extras=extras), result)
        except discord.HTTPException as error:
            log.warning(
                "job %s (guild %s): cannot post in channel %s (%s %s)",
                job.id,
                guild_id,
                channel_id,
                error.status,
                error.code,
            )
            return None
        link = await self._store.links.link_message(
            message.id, job.id, channel_id=channel_id, guild_id=guild_id, purpose=JOB
        )
        await self._shown_now(link, job, sent, finished_since=0.0)
        return message.id

    async def send_dm(self, job_id: str, user: discord.abc.User, *, note: str | Phrase | None = None) -> bool:
        """A copy of the job (its result, id and parameters) in the user's DMs; False when they accept no DMs.

        ``note`` is a line saying why it came (markdown allowed; a ``Phrase`` is worded in the owner's language).
        """
        return await self._dms.send(job_id, user, note=note)

    async def refresh(self, job_id: str) -> None:
        """Re-render every message of the job (as soon as each message's edit window allows)."""
        job = await self._store.jobs.get_job(job_id)
        if job is None:
            return
        for link in await self._store.links.messages_for_job(job_id):
            self._pacer.submit(link.message_id, job, channel_id=link.channel_id, force=True)

    async def delete_result(self, job_id: str) -> None:
        """Delete every message that shows the job and forget them; a message that cannot be deleted stays linked."""
        for link in await self._store.links.messages_for_job(job_id):
            self._pacer.forget(link.message_id)
            self._editor.shown.forget(link.message_id)
            if await messages.delete(self.bot, link, self._tokens):
                await self._store.links.unlink_message(link.message_id)
        self._events.links_changed(job_id)

    # -- rendering ----------------------------------------------------------------------------------------

    async def _render_message(self, message_id: int, job: Job) -> bool:
        """The pacer's render: bring one message up to ``job`` and record a final state once it shows."""
        if self.bot.is_closed():
            return False  # what is still undelivered is re-rendered at the next start
        link = await self._store.links.link_for_message(message_id)
        if link is None or link.job_id != job.id:
            return False  # deleted, or taken over by another job meanwhile
        if link.delivered is not None and not job.finished:
            return False  # a progress snapshot that came late: the message shows the finished job already
        try:
            if not await self._editor.update(link, job):
                return False
        finally:
            self._editor.release(job, besides=message_id)
        if job.finished:
            await self._store.links.mark_delivered(message_id, job.status)
            self._editor.settled(message_id)
            if link.delivered is None:  # the message showed the job before it finished: a delivery to time
                self._metrics.delivered(job)
        return True

    async def _shown_now(
        self, link: MessageLink, job: Job, sent: ResultFiles, *, finished_since: float | None = None
    ) -> None:
        """After a message was made to show ``job``: start its edit window, record a final state, catch up.

        ``finished_since``: a job message's result is timed (``mjbot_delivery_latency_seconds``) when the job finished
        after this moment, when the member asked for it; an old result shown again (``/show``) or a copy in the
        owner's DMs (None) is not a delivery to time.
        """
        self._pacer.edited(link.message_id, job, channel_id=link.channel_id)
        self._events.links_changed(job.id)
        self._editor.release(job)
        if job.finished:
            self._editor.shown.remember(link.message_id, job, sent)
            await self._store.links.mark_delivered(link.message_id, job.status)
            if finished_since is not None and (job.finished_at or 0.0) >= finished_since:
                self._metrics.delivered(job)
        # The job may have moved on while the message was sent, before the link existed for events to find.
        # (Compared by what the message shows: a needless edit would hold the result back by a window.)
        latest = await self._store.jobs.get_job(job.id)
        if latest is not None and (latest.status, latest.progress) != (job.status, job.progress):
            self._pacer.submit(link.message_id, latest, channel_id=link.channel_id)


async def _sweep_forever(delivery: Delivery) -> None:
    """Sweep every ``sweep_interval_s`` for messages whose job finished without them showing it."""
    while True:
        await asyncio.sleep(delivery.sweep_interval_s)
        try:
            await delivery.sweep()
        except Exception:
            log.exception("the sweep for undelivered job messages failed; trying again later")
