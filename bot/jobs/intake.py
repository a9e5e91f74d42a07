"""How a job enters the engine: its row is written first, then it is sent, and a submit under way can be cut."""

from __future__ import annotations

import asyncio

from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest, Endpoint
from bot.store import JobMeta, Lease, Store
from bot.store.models import Job, JobKind, JobStatus, NewJob

from . import reconcile
from .submission import Submissions


class JobIntake:
    """Owns writing new jobs and sending them, and which tasks are in the middle of a submit (for ``stop``)."""

    def __init__(self, store: Store, submissions: Submissions, lease: Lease) -> None:
        self._store = store
        self._lease = lease
        self._submissions = submissions
        #: Tasks in the middle of a submit (see ``send``).
        self._senders: set[asyncio.Task[object]] = set()

    @property
    def senders(self) -> set[asyncio.Task[object]]:
        """The tasks in the middle of a submit now."""
        return set(self._senders)

    async def create(
        self,
        request: ApiRequest,
        status: JobStatus,
        user_id: int | None,
        guild_id: int | None,
        channel_id: int | None,
        parent_id: str | None,
        prompt: str | None,
        meta: JobMeta,
    ) -> Job:
        """Write the job's row (a follow-up without a prompt of its own takes its parent's)."""
        text = request.prompt or prompt
        if not text and parent_id is not None:
            parent = await self._store.jobs.get_job(parent_id)
            text = parent.prompt if parent is not None else None
        return await self._store.jobs.create_job(
            NewJob(
                kind=JobKind.VIDEO if request.endpoint is Endpoint.VIDEOS else JobKind.IMAGINE,
                action=request.action,
                prompt=text or "",
                params=request.to_body(),
                parent_id=parent_id,
                guild_id=guild_id,
                channel_id=channel_id,
                user_id=user_id,
                status=status,
                meta=meta,
            ),
            lease=self._lease,
        )

    async def send(self, job: Job, request: ApiRequest) -> None:
        """Send a written job; an ambiguous failure is raised unless reconciling finds its task at once."""
        # Noted, so that ``stop`` can cut a submit that waits on a hung API before the store closes under it.
        sender = asyncio.current_task()
        if sender is not None:
            self._senders.add(sender)
        try:
            await self._submissions.send(job, request)
        except AceDataError as error:
            if not reconcile.is_ambiguous(error) or not await self._submissions.reconcile(job.id):
                raise
        finally:
            if sender is not None:
                self._senders.discard(sender)
