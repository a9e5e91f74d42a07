"""Delivery: turns job events into Discord messages (live progress, then the result) that always arrive.

Every message that shows a job is a row in the store (a message link), so a restart loses nothing:
messages whose job finished while the bot was away are re-rendered at start-up, and a sweep every few
minutes catches any result whose delivery failed on the way. A message is edited through its
interaction token while the token lives (14.5 of its 15 minutes), then through the channel; if the
channel refuses too, the result is posted as a reply there.

A private (ephemeral) job message can only be edited through its token: once the token ends, the
result goes to the owner's DMs instead. A member who asked to be told (``/settings``: DM me when a job
is done) gets a copy of each finished job in their DMs, once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Final

import discord
from discord.ext import commands

from bot import quota
from bot.jobs import JobEvent, JobEventType
from bot.settings import load_guild_settings, load_user_settings
from bot.store import JobNotFoundError, Store
from bot.store.models import Job, JobStatus, MessageLink
from cogs import gate
from cogs.i18n import Phrase, job_locale, msg
from cogs.limits import allowance_footer
from cogs.ui.render import QueueSpot, RenderedJob, render_job

from . import messages
from .media import DEFAULT_ATTACHMENT_LIMIT, NO_FILES, ResultCache, ResultFiles
from .messages import NO_MENTIONS, Outgoing, cannot_edit, send_with_fallback, token_gone
from .owners import Owner, OwnerNames
from .pacing import EditPacer
from .tokens import TokenBook

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: Bound of the memory of which files each final message carries (so a refresh uploads nothing again).
_SHOWN_MEMORY: Final = 2048
#: Bound of the memory of which messages each running job has.
_RUNNING_MEMORY: Final = 20_000

#: Link purposes: a job's public message, and a job's ephemeral message (editable through its token only).
JOB: Final = "job"
PRIVATE: Final = "private"
#: Job meta: the result was sent to the owner's DMs (by "DM me when done", or after a private message expired).
DM_SENT: Final = "dm_sent"
#: Job meta: a private job whose message could not be made; its result goes to the owner's DMs when done.
DM_RESULT: Final = "dm_result"
#: Final states worth a DM to a member who asked for one (a cancel was their own or a moderator's doing).
DM_STATES: Final = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT})

#: Notes a job message may carry (``delivery.*``), in the job owner's language.
PRIVATE_RUNNING: Final = msg("delivery.private_running")
PRIVATE_DM: Final = msg("delivery.private_dm")
DONE_DM: Final = msg("delivery.done_dm")

Compose = Callable[[ResultFiles], Outgoing]


@dataclass(frozen=True, slots=True)
class Extras:
    """What a job message shows besides the job: a note, the owner's allowance, the queue position."""

    note: str | Phrase | None = None
    allowance_text: str | None = None
    queue: QueueSpot | None = None


NO_EXTRAS: Final = Extras()


class Delivery(commands.Cog):
    """Shows jobs in Discord: edits each job message as the job runs and delivers its result, whatever happens.

    Edits are paced to one per ``min_edit_interval_s`` per message; results are attached when they fit
    the message's upload limit and linked otherwise.
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
        interval = type(self).min_edit_interval_s if min_edit_interval_s is None else min_edit_interval_s
        self._pacer = EditPacer(self._render_message, interval_s=interval)
        self._results = ResultCache(lambda: bot.services.session, linger_s=interval + 2.0)
        self._tokens = TokenBook(clock)
        self._owners = OwnerNames(bot)
        #: Final messages: the names of the files on them and the result URLs.
        self._shown: OrderedDict[int, tuple[tuple[str, ...], tuple[str, ...]]] = OrderedDict()
        #: Messages whose result could not be delivered in any way, and when that was found.
        self._failed: dict[int, float] = {}
        #: The message ids of running jobs, so that progress events need no store query.
        self._running: dict[str, tuple[int, ...]] = {}
        self._link_epoch = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._startup: asyncio.Task[int] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        #: Jobs whose result is being (or was) sent to the owner's DMs by this process.
        self._dm_claimed: set[str] = set()
        self._dm_tasks: set[asyncio.Task[None]] = set()

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
        self.bot.delivery = self
        self._unsubscribe = self.bot.services.engine.subscribe(self._on_job_event)
        loop = asyncio.get_running_loop()
        self._startup = loop.create_task(self.sweep(startup=True), name="delivery-startup")
        self._sweeper = loop.create_task(self._sweep_forever(), name="delivery-sweeper")

    async def cog_unload(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._startup, self._sweeper, *self._dm_tasks):
            if task is not None:
                task.cancel()
        self._pacer.close()
        self._results.close()

    async def idle(self) -> None:
        """Wait until start-up re-rendering is done and no render is waiting or under way."""
        if self._startup is not None:
            await asyncio.wait({self._startup})
        await self._pacer.idle()
        while self._dm_tasks:
            await asyncio.wait(set(self._dm_tasks))

    async def sweep(self, *, startup: bool = False) -> int:
        """Render again every message whose job finished without the message showing it; returns how many.

        At start-up that is whatever the process missed while it was down; later sweeps catch a result
        whose delivery failed on the way (a network error, a channel closed to the bot for a while).
        """
        pending = await self._store.undelivered_links()
        now = self.clock()
        waiting = {link.message_id for link, _ in pending}
        self._failed = {m: at for m, at in self._failed.items() if m in waiting}
        due = [
            (link, job)
            for link, job in pending
            if startup or now - self._failed.get(link.message_id, float("-inf")) >= self.retry_failed_after_s
        ]
        if due:
            log.info("re-rendering %d job messages that miss their final state", len(due))
        for link, job in due:
            log.info(
                "job %s (guild %s): re-rendering message %s (%s)", job.id, job.guild_id, link.message_id, job.status
            )
            self._pacer.submit(link.message_id, job, force=True)
        return len(due)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("the sweep for undelivered job messages failed; trying again later")

    # -- public API -----------------------------------------------------------------------------------------

    async def show_from_interaction(self, job_id: str, interaction: discord.Interaction[MJBot]) -> None:
        """Turn the (deferred) response of ``interaction`` into the job's message and keep it current.

        A response deferred ephemerally (``gate.defer_job`` for private results) makes a private job message.
        """
        job = await self._job(job_id)
        if interaction.user.id == job.user_id:
            self._owners.remember(interaction.user)
        private = bool(interaction.extras.get(gate.PRIVATE_EXTRA))
        limit = interaction.filesize_limit
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, limit) if job.finished else NO_FILES
        extras = await self._extras(job, private=private)

        async def send(out: Outgoing) -> discord.InteractionMessage:
            return await interaction.edit_original_response(
                content=out.rendered.content,
                embeds=out.rendered.embeds,
                attachments=out.attachments(),
                view=out.view,
                allowed_mentions=NO_MENTIONS,
            )

        try:
            message, sent = await send_with_fallback(send, self._composer(job, owner, extras=extras), result)
        except discord.HTTPException as error:
            if not (token_gone(error) or cannot_edit(error)) or (interaction.channel_id is None and not private):
                raise
            log.info(
                "job %s (guild %s): the interaction response is gone (%s %s); %s",
                job.id,
                job.guild_id,
                error.status,
                error.code,
                "its result goes to the owner's DMs" if private else "posting in the channel",
            )
            if not private and interaction.channel_id is not None:
                await self.show_in_channel(job.id, interaction.channel_id)
            elif job.finished:
                await self.dm_once(job.id, note=PRIVATE_DM)
            else:
                await self._store.update_meta(job.id, {DM_RESULT: True})
            return
        self._tokens.born(message.id, interaction.created_at.timestamp())
        link = await self._store.link_message(
            message.id,
            job.id,
            channel_id=interaction.channel_id,
            guild_id=interaction.guild_id,
            purpose=PRIVATE if private else JOB,
            interaction_token=interaction.token,
            application_id=interaction.application_id,
            attachment_limit=limit,
        )
        await self._shown_now(link, job, sent)

    async def show_in_channel(self, job_id: str, channel_id: int, *, reply_to: int | None = None) -> int | None:
        """Post the job's message in a channel (a reply to ``reply_to``, without a ping); its id, or None."""
        job = await self._job(job_id)
        guild_id = self._guild_of_channel(channel_id, job)
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, self._guild_limit(guild_id)) if job.finished else NO_FILES
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        reference = None
        if reply_to is not None:
            reference = discord.MessageReference(
                message_id=reply_to, channel_id=channel_id, guild_id=guild_id, fail_if_not_exists=False
            )

        async def send(out: Outgoing) -> discord.Message:
            return await messages.post(channel, out, reference=reference)

        extras = await self._extras(job, private=False)
        try:
            message, sent = await send_with_fallback(send, self._composer(job, owner, extras=extras), result)
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
        link = await self._store.link_message(message.id, job.id, channel_id=channel_id, guild_id=guild_id, purpose=JOB)
        await self._shown_now(link, job, sent)
        return message.id

    async def send_dm(self, job_id: str, user: discord.abc.User, *, note: str | Phrase | None = None) -> bool:
        """A copy of the job (its result, id and parameters) in the user's DMs; False when they accept no DMs.

        ``note`` is a line saying why it came (markdown allowed; a ``Phrase`` is worded in the owner's language).
        """
        job = await self._job(job_id)
        owner = await self._owners.of(job)
        result = await self._results.files_for(job, DEFAULT_ATTACHMENT_LIMIT) if job.finished else NO_FILES
        target = user if isinstance(user, discord.abc.Messageable) else await self.bot.fetch_user(user.id)

        async def send(out: Outgoing) -> discord.Message:
            return await messages.post(target, out)

        extras = await self._extras(job, private=False, note=note)
        compose = self._composer(job, owner, with_view=False, extras=extras)
        try:
            message, sent = await send_with_fallback(send, compose, result)
        except discord.Forbidden as error:
            log.info("job %s (guild %s): user %s accepts no DMs (%s)", job.id, job.guild_id, user.id, error.code)
            return False
        link = await self._store.link_message(
            message.id,
            job.id,
            channel_id=message.channel.id,
            guild_id=None,
            purpose="dm",
            attachment_limit=DEFAULT_ATTACHMENT_LIMIT,
        )
        await self._shown_now(link, job, sent)
        return True

    async def dm_once(self, job_id: str, *, note: str | Phrase | None = None) -> bool:
        """Send the job's result to its owner's DMs unless that was done already; True if it went out now.

        Closed DMs are logged (INFO) and otherwise ignored: there is no other way left to reach the member.
        """
        job = await self._store.get_job(job_id)
        if job is None or job.user_id is None or job.id in self._dm_claimed or job.meta.get(DM_SENT):
            return False
        self._dm_claimed.add(job.id)
        await self._store.update_meta(job.id, {DM_SENT: True})
        user = self.bot.get_user(job.user_id)
        if user is None:
            try:
                user = await self.bot.fetch_user(job.user_id)
            except discord.HTTPException as error:
                log.info("job %s (guild %s): its owner %s is unknown (%s)", job.id, job.guild_id, job.user_id, error)
                return False
        try:
            sent = await self.send_dm(job.id, user, note=note)
        except Exception:
            # Not a closed DM but a failure on the way: leave the job to be tried again (the sweep does).
            self._dm_claimed.discard(job.id)
            await self._store.update_meta(job.id, {DM_SENT: None})
            raise
        if not sent:
            return False
        log.info("job %s (guild %s): result sent to the DMs of user %s", job.id, job.guild_id, job.user_id)
        return True

    async def refresh(self, job_id: str) -> None:
        """Re-render every message of the job (as soon as each message's edit window allows)."""
        job = await self._store.get_job(job_id)
        if job is None:
            return
        for link in await self._store.messages_for_job(job_id):
            self._pacer.submit(link.message_id, job, force=True)

    async def delete_result(self, job_id: str) -> None:
        """Delete every message that shows the job and forget them; a message that cannot be deleted stays linked."""
        for link in await self._store.messages_for_job(job_id):
            self._pacer.forget(link.message_id)
            self._shown.pop(link.message_id, None)
            if await messages.delete(self.bot, link, self._tokens):
                await self._store.unlink_message(link.message_id)
        self._links_changed(job_id)

    # -- events -----------------------------------------------------------------------------------------

    async def _on_job_event(self, event: JobEvent) -> None:
        if self.bot.is_closed():
            return
        job = event.job
        log.debug("job %s (guild %s): %s event", job.id, job.guild_id, event.type)
        # A chained job's first event (sent, queued, or refused before sending) moves it into the parent's messages.
        if event.type in (JobEventType.SUBMITTED, JobEventType.QUEUED) or (
            event.type is JobEventType.FAILED and job.task_id is None
        ):
            parent_id = job.meta.get("chained_from")
            if isinstance(parent_id, str) and parent_id:
                await self._take_over(parent_id, job)
        for message_id in await self._messages_of(job, cached=event.type is JobEventType.PROGRESS):
            self._pacer.submit(message_id, job)
        if event.type in (JobEventType.SUBMITTED, JobEventType.CANCELLED) and gate.QUEUED_META in job.meta:
            await self._queue_moved(job)
        if event.type.final and job.status in DM_STATES:
            await self._dm_when_done(job)

    async def _queue_moved(self, job: Job) -> None:
        """A job left its owner's queue: the jobs behind it move up, so their messages show the new position."""
        if job.user_id is None:
            return
        for waiting in await self._store.queued_jobs(job.user_id, job.guild_id):
            if waiting.guild_id == job.guild_id:
                await self.refresh(waiting.id)

    async def _dm_when_done(self, job: Job) -> None:
        """Send a finished job to its owner's DMs if they asked for that (``/settings``), in a task of its own."""
        if job.guild_id is None or job.user_id is None or job.meta.get(DM_SENT):
            return  # a job made in DMs is already there
        if job.task_id is None:
            return  # refused before it ran: the member was told when they asked
        if job.status is JobStatus.SUCCEEDED and isinstance(job.meta.get("then_animate"), dict):
            return  # an upscale on its way to a video: the video is what the member waits for
        private = job.meta.get(DM_RESULT) is True
        if not private and not (await load_user_settings(self._store, job.user_id)).dm_on_done:
            return
        note = PRIVATE_DM if private else DONE_DM
        task = asyncio.get_running_loop().create_task(self._dm_done(job.id, note), name=f"delivery-dm-{job.id}")
        self._dm_tasks.add(task)
        task.add_done_callback(self._dm_tasks.discard)

    async def _dm_done(self, job_id: str, note: Phrase) -> None:
        try:
            await self.dm_once(job_id, note=note)
        except Exception:
            log.exception("job %s: sending the finished job to its owner's DMs failed", job_id)

    async def _messages_of(self, job: Job, *, cached: bool) -> tuple[int, ...]:
        """The ids of the job's messages. Progress events, the bulk of all events, read them from memory.

        Every message is linked here, and each link change forgets the job's entry, so the memory is
        current; a message unlinked elsewhere only costs a skipped render. Other events read the store.
        """
        known = self._running.get(job.id) if cached else None
        if known is not None:
            return known
        epoch = self._link_epoch
        found = tuple(link.message_id for link in await self._store.messages_for_job(job.id))
        if job.finished:
            self._running.pop(job.id, None)
        elif epoch == self._link_epoch:  # no link changed while the store was read
            if len(self._running) >= _RUNNING_MEMORY:
                self._running.clear()  # jobs that vanished without a final event; the store has the truth
            self._running[job.id] = found
        return found

    def _links_changed(self, *job_ids: str) -> None:
        self._link_epoch += 1
        for job_id in job_ids:
            self._running.pop(job_id, None)

    async def _take_over(self, parent_id: str, job: Job) -> None:
        """A job chained after ``parent_id`` (a video after its upscale) moves into the parent's messages."""
        for link in await self._store.messages_for_job(parent_id):
            if link.purpose not in (JOB, PRIVATE):
                continue
            self._tokens.keep_age(link)  # re-linking stamps a new created_at; the token keeps its age
            await self._store.link_message(
                link.message_id,
                job.id,
                channel_id=link.channel_id,
                guild_id=link.guild_id,
                purpose=link.purpose,
                interaction_token=link.interaction_token,
                application_id=link.application_id,
                attachment_limit=link.attachment_limit,
            )
            self._pacer.claim(link.message_id, job.id)
            self._shown.pop(link.message_id, None)
            log.info(
                "job %s (guild %s): takes over message %s from job %s", job.id, job.guild_id, link.message_id, parent_id
            )
        self._links_changed(parent_id, job.id)

    # -- rendering ----------------------------------------------------------------------------------------

    async def _render_message(self, message_id: int, job: Job) -> bool:
        """The pacer's render: bring one message up to ``job`` and record a final state once it shows."""
        if self.bot.is_closed():
            return False  # what is still undelivered is re-rendered at the next start
        link = await self._store.link_for_message(message_id)
        if link is None or link.job_id != job.id:
            return False  # deleted, or taken over by another job meanwhile
        try:
            if not await self._update(link, job):
                return False
        finally:
            self._release_results(job, besides=message_id)
        if job.finished:
            await self._store.mark_delivered(message_id, job.status)
            self._failed.pop(message_id, None)
        return True

    async def _update(self, link: MessageLink, job: Job) -> bool:
        """Edit the message by token, else by channel; a final state that fits neither is posted as a reply.

        True when ``link``'s own message now shows ``job``.
        """
        compose, result = await self._outgoing(link, job)
        if self._tokens.usable(link):
            try:
                _, sent = await send_with_fallback(
                    lambda out: messages.edit_by_token(self.bot, link, out), compose, result
                )
            except discord.HTTPException as error:
                if token_gone(error):
                    self._tokens.died(link.message_id)
                    log.info(
                        "job %s (guild %s): interaction token no longer valid; using the channel", job.id, link.guild_id
                    )
                elif not cannot_edit(error):
                    raise
            else:
                self._remember_shown(link.message_id, job, sent)
                return True
        if link.purpose == PRIVATE:
            return await self._private_expired(link, job)
        if link.channel_id is not None:
            try:
                _, sent = await send_with_fallback(
                    lambda out: messages.edit_in_channel(self.bot, link, out), compose, result
                )
            except discord.HTTPException as error:
                if not cannot_edit(error):
                    raise
                log.info(
                    "job %s (guild %s): cannot edit message %s in its channel (%s %s)",
                    job.id,
                    link.guild_id,
                    link.message_id,
                    error.status,
                    error.code,
                )
            else:
                self._remember_shown(link.message_id, job, sent)
                return True
        if job.finished:
            await self._reply_instead(link, job)
        return False

    async def _private_expired(self, link: MessageLink, job: Job) -> bool:
        """A private message whose token ended: nobody but Discord's token can edit it, so the result goes to DMs.

        True once that is settled (sent, or the member's DMs are closed), so the message is not tried again.
        """
        if not job.finished:
            return False
        log.info(
            "job %s (guild %s): private message %s can no longer be edited; sending the result to DMs",
            job.id,
            link.guild_id,
            link.message_id,
        )
        await self.dm_once(job.id, note=PRIVATE_DM)
        return True

    async def _reply_instead(self, link: MessageLink, job: Job) -> None:
        """Post the result as a reply to a message that can no longer be edited, and move the link to the reply."""
        new_id = None
        if link.channel_id is not None and link.purpose != "dm":
            new_id = await self.show_in_channel(job.id, link.channel_id, reply_to=link.message_id)
        if new_id is None:
            self._failed[link.message_id] = self.clock()
            log.warning(
                "job %s (guild %s): the result could not be delivered: message %s can't be edited and nothing "
                "could be posted in channel %s",
                job.id,
                link.guild_id,
                link.message_id,
                link.channel_id,
            )
            return
        await self._store.unlink_message(link.message_id)
        self._links_changed(job.id)
        log.info("job %s (guild %s): result posted as message %s instead", job.id, link.guild_id, new_id)

    async def _outgoing(self, link: MessageLink, job: Job) -> tuple[Compose, ResultFiles]:
        owner = await self._owners.of(job)
        with_view = link.purpose != "dm"
        extras = await self._extras(job, private=link.purpose == PRIVATE)
        shown = self._shown.get(link.message_id)
        if job.finished and shown is not None and link.delivered == job.status:
            # The files are on the message already: change the text and buttons only, upload nothing.
            names, urls = shown
            kept = ResultFiles(links=urls)

            def keep(_: ResultFiles) -> Outgoing:
                rendered = self._render(job, owner, names, () if names else urls, extras)
                return Outgoing(rendered, kept, with_view=with_view, keep_files=True)

            return keep, kept
        result = await self._results.files_for(job, self._limit(link)) if job.finished else NO_FILES
        return self._composer(job, owner, with_view=with_view, extras=extras), result

    def _composer(self, job: Job, owner: Owner, *, with_view: bool = True, extras: Extras = NO_EXTRAS) -> Compose:
        def compose(result: ResultFiles) -> Outgoing:
            rendered = self._render(job, owner, result.names, result.shown_links, extras)
            return Outgoing(rendered, result, with_view=with_view)

        return compose

    def _render(
        self, job: Job, owner: Owner, attachments: tuple[str, ...], links: tuple[str, ...], extras: Extras
    ) -> RenderedJob:
        name, avatar = owner
        locale = job_locale(self.bot, job)
        note = extras.note.render(locale) if isinstance(extras.note, Phrase) else extras.note
        return render_job(
            job,
            owner_name=name,
            owner_avatar=avatar,
            sandbox=self.bot.config.sandbox,
            attachments=attachments,
            links=links,
            note=note,
            allowance_text=extras.allowance_text,
            queue=extras.queue,
            locale=locale,
        )

    async def _extras(self, job: Job, *, private: bool, note: str | Phrase | None = None) -> Extras:
        """The note, allowance and queue position a message of ``job`` shows now."""
        spot: QueueSpot | None = None
        if job.status is JobStatus.QUEUED:
            position = await self._store.queue_position(job.id)
            waits_for = job.meta.get(gate.QUEUED_META)
            limit = waits_for.get("limit") if isinstance(waits_for, dict) else None
            spot = QueueSpot(position or 1, limit if isinstance(limit, int) and limit > 0 else None)
        if note is None and private and not job.finished:
            note = PRIVATE_RUNNING
        allowance = await self._allowance_text(job) if job.finished else None
        return Extras(note=note, allowance_text=allowance, queue=spot)

    async def _allowance_text(self, job: Job) -> str | None:
        """What the job's owner has left today in its server, for the footer of a result (None without limits)."""
        if job.guild_id is None or job.user_id is None:
            return None
        try:
            settings = await load_guild_settings(self._store, job.guild_id)
            left = await quota.allowance(
                self._store, settings, guild_id=job.guild_id, user_id=job.user_id, now=gate.clock()
            )
        except Exception:  # a footer is a nicety: it never holds back a result
            log.exception("job %s (guild %s): the owner's allowance could not be read", job.id, job.guild_id)
            return None
        return allowance_footer(left, job_locale(self.bot, job)) if left.limited else None

    async def _shown_now(self, link: MessageLink, job: Job, sent: ResultFiles) -> None:
        """After a message was made to show ``job``: start its edit window, record a final state, catch up."""
        self._pacer.edited(link.message_id, job)
        self._links_changed(job.id)
        self._release_results(job)
        if job.finished:
            self._remember_shown(link.message_id, job, sent)
            await self._store.mark_delivered(link.message_id, job.status)
        # The job may have moved on while the message was sent, before the link existed for events to find.
        # (Compared by what the message shows: a needless edit would hold the result back by a window.)
        latest = await self._store.get_job(job.id)
        if latest is not None and (latest.status, latest.progress) != (job.status, job.progress):
            self._pacer.submit(link.message_id, latest)

    def _release_results(self, job: Job, *, besides: int | None = None) -> None:
        """Forget the job's downloaded files unless another of its messages is about to use them."""
        if job.finished and not self._pacer.busy_with(job.id, besides=besides):
            self._results.release(job.id)

    def _remember_shown(self, message_id: int, job: Job, sent: ResultFiles) -> None:
        if not job.finished:
            self._shown.pop(message_id, None)
            return
        self._shown[message_id] = (sent.names, sent.links)
        self._shown.move_to_end(message_id)
        while len(self._shown) > _SHOWN_MEMORY:
            self._shown.popitem(last=False)

    # -- limits and lookups ------------------------------------------------------------------------------

    def _limit(self, link: MessageLink) -> int:
        return link.attachment_limit or self._guild_limit(link.guild_id)

    def _guild_limit(self, guild_id: int | None) -> int:
        guild = self.bot.get_guild(guild_id) if guild_id is not None else None
        return guild.filesize_limit if guild is not None else DEFAULT_ATTACHMENT_LIMIT

    def _guild_of_channel(self, channel_id: int, job: Job) -> int | None:
        channel = self.bot.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if isinstance(guild, discord.Guild):
            return guild.id
        if isinstance(channel, discord.abc.PrivateChannel):
            return None
        return job.guild_id

    async def _job(self, job_id: str) -> Job:
        job = await self._store.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id!r}")
        return job
