"""The job events side of Delivery: which messages a job event re-renders, chained jobs, DMs when done."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from bot.jobs import JobEvent, JobEventType
from bot.store.models import Job, JobStatus

if TYPE_CHECKING:
    from bot.bot import MJBot
    from bot.store import Store

    from .dms import DirectMessages
    from .editing import MessageEditor
    from .pacing import EditPacer
    from .tokens import TokenBook

#: The cog's logger (``cogs.delivery.cog``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.cog")


#: A message and its channel.
Where = tuple[int, int | None]
#: Bound of the memory of which messages each running job has.
_RUNNING_MEMORY: Final = 20_000

#: Link purposes: a job's public message, and a job's ephemeral message (editable through its token only).
JOB: Final = "job"
PRIVATE: Final = "private"
#: A job's public message where the bot is not (through a member's own install: a server without the bot, a group
#: DM), editable through its token only, like a private one.
RESPONSE_ONLY: Final = "response"
#: Final states worth a DM to a member who asked for one (a cancel was their own or a moderator's doing).
DM_STATES: Final = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT})


class DeliveryEvents:
    """Delivery's handling of job events: which messages to render, chained jobs taking over, DMs when done.

    It remembers the messages of running jobs, so that progress events need no store query; whoever
    links or unlinks a message says so through ``links_changed``.
    """

    def __init__(
        self,
        bot: MJBot,
        *,
        pacer: EditPacer,
        tokens: TokenBook,
        editor: MessageEditor,
        dms: DirectMessages,
        refresh: Callable[[str], Awaitable[None]],
    ) -> None:
        self.bot = bot
        self._pacer = pacer
        self._tokens = tokens
        self._editor = editor
        self._dms = dms
        self._refresh = refresh
        #: The message ids of running jobs, so that progress events need no store query.
        self._running: dict[str, tuple[Where, ...]] = {}
        self._link_epoch = 0

    @property
    def _store(self) -> Store:
        return self.bot.services.store

    async def on_job_event(self, event: JobEvent) -> None:
        """Render the job's messages (paced), move a chained job into its parent's, and DM a finished one."""
        if self.bot.is_closed():
            return
        job = event.job
        log.debug("job %s (guild %s): %s event", job.id, job.guild_id, event.type)
        # A chained job's first event (sent, queued, or refused before sending) moves it into the parent's messages.
        if event.type in (JobEventType.SUBMITTED, JobEventType.QUEUED) or (
            event.type is JobEventType.FAILED and job.task_id is None
        ):
            parent_id = job.meta.chained_from
            if parent_id:
                await self._take_over(parent_id, job)
        for message_id, channel_id in await self._messages_of(job, cached=event.type is JobEventType.PROGRESS):
            self._pacer.submit(message_id, job, channel_id=channel_id)
        if event.type in (JobEventType.SUBMITTED, JobEventType.CANCELLED) and job.meta.queue is not None:
            await self._queue_moved(job)
        if event.type.final and job.status in DM_STATES:
            await self._dms.when_done(job)

    async def _queue_moved(self, job: Job) -> None:
        """A job left its owner's queue: the jobs behind it move up, so their messages show the new position."""
        if job.user_id is None:
            return
        for waiting in await self._store.queue.queued_jobs(job.user_id, job.guild_id):
            if waiting.guild_id == job.guild_id:
                await self._refresh(waiting.id)

    async def _messages_of(self, job: Job, *, cached: bool) -> tuple[Where, ...]:
        """The job's messages and their channels. Progress events, the bulk of all events, read them from memory.

        Every message is linked here, and each link change forgets the job's entry, so the memory is
        current; a message unlinked elsewhere only costs a skipped render. Other events read the store.
        """
        known = self._running.get(job.id) if cached else None
        if known is not None:
            return known
        epoch = self._link_epoch
        found = tuple((link.message_id, link.channel_id) for link in await self._store.links.messages_for_job(job.id))
        if job.finished:
            self._running.pop(job.id, None)
        elif epoch == self._link_epoch:  # no link changed while the store was read
            if len(self._running) >= _RUNNING_MEMORY:
                self._running.clear()  # jobs that vanished without a final event; the store has the truth
            self._running[job.id] = found
        return found

    def links_changed(self, *job_ids: str) -> None:
        """Messages of these jobs were linked or unlinked: forget what is remembered of them."""
        self._link_epoch += 1
        for job_id in job_ids:
            self._running.pop(job_id, None)

    async def _take_over(self, parent_id: str, job: Job) -> None:
        """A job chained after ``parent_id`` (a video after its upscale) moves into the parent's messages."""
        for link in await self._store.links.messages_for_job(parent_id):
            if link.purpose not in (JOB, PRIVATE, RESPONSE_ONLY):
                continue
            self._tokens.keep_age(link)  # re-linking stamps a new created_at; the token keeps its age
            await self._store.links.link_message(
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
            self._editor.shown.forget(link.message_id)
            log.info(
                "job %s (guild %s): takes over message %s from job %s", job.id, job.guild_id, link.message_id, parent_id
            )
        self.links_changed(parent_id, job.id)
