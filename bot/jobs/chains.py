"""Animate after upscale: when an upscale that asked for a video succeeds, the video is submitted.

An upscale job made by "Animate N" carries ``meta.then_animate`` (motion, mode, resolution,
loop). When it succeeds, :class:`ChainRunner` submits a video of the upscaled image through the
engine, as a child of the upscale with ``meta.chained_from`` set to the upscale's id. What that video
is (its prompt, motion, options) is planned by ``bot.followups.plan_chained_video``, by the rules of every
Animate.

Each upscale is chained exactly once: the child is written to the store before the API hears of
it, so a child with ``chained_from`` is the proof that the chain ran (even when the API refused
it: the engine then records it as a failed job). The store allows one such child per upscale, so
processes catching up on the same upscale at once cannot both write one. A set of upscales being chained right now keeps
duplicate events from racing each other to the store, and ``start`` catches up on upscales that
succeeded while no runner was listening (a crash between the upscale and the video submit).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Final

from bot import quota
from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest
from bot.followups import plan_chained_video
from bot.scopes import SettingsFor, owner_refusal, settings_reader
from bot.settings import GuildSettings
from bot.store import AlreadyChainedError, QueueState, Store
from bot.store.models import Job

from .engine import JobEngine
from .events import JobEvent, JobEventType
from .follower import EventFollower
from .incidents import ProviderUnavailableError
from .reconcile import is_ambiguous

log = logging.getLogger(__name__)

#: Upscales looked at per catch-up; far more than can succeed within one job timeout in practice.
CATCH_UP_LIMIT: Final = 500


class ChainRunner(EventFollower):
    """Submits the video an upscale asked for once the upscale succeeds; exactly once per upscale."""

    def __init__(
        self,
        engine: JobEngine,
        store: Store,
        *,
        catch_up_s: float | None = None,
        clock: Callable[[], float] = time.time,
        settings_for: SettingsFor | None = None,
    ) -> None:
        """``settings_for`` reads the rules of the upscale's scope (by default a server's, and none in DMs)."""
        super().__init__()
        self._engine = engine
        self._store = store
        self._settings_for = settings_for or settings_reader(store, GuildSettings())
        self._catch_up_s = engine.job_timeout_s if catch_up_s is None else catch_up_s
        self._clock = clock
        self._active: set[str] = set()

    async def start(self) -> None:
        """Listen for succeeded upscales, then chain those that succeeded within the catch-up window unchained."""
        if self._unsubscribe is not None:
            return
        self._unsubscribe = self._engine.subscribe(self.handle_event)
        self._catch_up_after_incidents(self._engine.api_health)
        await self.catch_up()

    async def catch_up(self) -> None:
        """Chain the upscales that succeeded within the catch-up window unchained (at start, after an incident)."""
        pending = await self._store.jobs.pending_chains(self._clock() - self._catch_up_s, limit=CATCH_UP_LIMIT)
        if pending:
            log.info("catching up on %d upscales whose video was not submitted yet", len(pending))
        for job in pending:
            await self.chain(job)

    async def chain(self, job: Job) -> str | None:
        """Submit the video ``job`` asks for, unless it is being or has been submitted; returns the new job's id.

        Never raises: a refusal is logged (the engine has recorded the video as a failed job).
        """
        if job.id in self._active:
            return None
        self._active.add(job.id)
        return await self._run(job)

    async def _run(self, job: Job) -> str | None:
        """``chain`` once the job is in ``_active``; takes it out when done."""
        try:
            return await self._submit(job)
        except AlreadyChainedError:
            log.info("job %s (guild %s): another process submitted the video it asked for", job.id, job.guild_id)
        except ProviderUnavailableError:
            log.info("job %s (guild %s): its video waits until the API answers again", job.id, job.guild_id)
        except AceDataError as error:
            if is_ambiguous(error):
                log.warning(
                    "job %s (task %s, guild %s): the answer to its video submit was lost (%s); the engine settles it",
                    job.id,
                    job.task_id,
                    job.guild_id,
                    error,
                )
            else:
                log.warning(
                    "job %s (task %s, guild %s): the API refused the video it asked for: %s",
                    job.id,
                    job.task_id,
                    job.guild_id,
                    error,
                )
        except Exception:
            log.exception(
                "job %s (task %s, guild %s): submitting the video it asked for failed",
                job.id,
                job.task_id,
                job.guild_id,
            )
        finally:
            self._active.discard(job.id)
        return None

    async def _submit(self, job: Job) -> str | None:
        for child in await self._store.jobs.children(job.id):
            if child.meta.chained_from == job.id:
                log.debug("job %s (task %s): its video is job %s already", job.id, job.task_id, child.id)
                return None
        built = plan_chained_video(job)
        if built is None:
            log.warning(
                "job %s (task %s, guild %s): asked to be animated, but there is no image to animate",
                job.id,
                job.task_id,
                job.guild_id,
            )
            return None
        request, meta = built.request, built.meta  # planned by the core, as every follow-up is
        blocked = await self._blocked(job)
        decision = None if blocked else await self._quota(job, request)
        engine = self._engine
        if blocked or (decision is not None and decision.refused):
            child_id = await engine.refuse(
                request,
                code="blocked" if blocked else "limit_reached",
                message=blocked or (decision and decision.message) or "A server limit refused this video.",
                user_id=job.user_id,
                guild_id=job.guild_id,
                channel_id=job.channel_id,
                parent_id=job.id,
                meta=meta,
            )
            log.info("job %s (guild %s): a server limit refused its video (job %s)", job.id, job.guild_id, child_id)
            return child_id
        if decision is not None and decision.queued:
            child_id = await engine.enqueue(
                request,
                user_id=job.user_id,
                guild_id=job.guild_id,
                channel_id=job.channel_id,
                parent_id=job.id,
                meta=dataclasses.replace(meta, queue=QueueState(limit=int(decision.maximum or 0))),
            )
            log.info(
                "job %s (guild %s): its video waits in its owner's queue as job %s", job.id, job.guild_id, child_id
            )
            return child_id
        child_id = await engine.submit(
            request,
            user_id=job.user_id,
            guild_id=job.guild_id,
            channel_id=job.channel_id,
            parent_id=job.id,
            meta=meta,
        )
        log.info(
            "job %s (task %s, guild %s): submitted its video as job %s", job.id, job.task_id, job.guild_id, child_id
        )
        return child_id

    async def _blocked(self, job: Job) -> str | None:
        """Why the owner may no longer start jobs here (blocked by the server, or everywhere); None if they may."""
        return await owner_refusal(self._store, await self._settings_for(job.guild_id), job.user_id, "The video")

    async def _quota(self, job: Job, request: ApiRequest) -> quota.QuotaDecision | None:
        """The limits of the upscale's scope apply to the video as to any job its owner starts: its server's, or
        the operator's limits of direct messages (an upscale clicked in DMs on a server's job is the server's)."""
        if job.user_id is None:
            return None
        settings = await self._settings_for(job.guild_id)
        return await quota.check(
            self._store, settings, guild_id=job.guild_id, user_id=job.user_id, request=request, now=self._clock()
        )

    async def handle_event(self, event: JobEvent) -> None:
        """Start the chain of a succeeded upscale that asks for one; returns at once (the submit runs on its own)."""
        job = event.job
        if event.type is not JobEventType.SUCCEEDED or job.meta.then_animate is None or job.id in self._active:
            return
        self._active.add(job.id)  # before the task starts, so that a duplicate event right behind finds it
        # A task of its own: the submit is an API call, and the job's other subscribers need not wait for it.
        self._spawn(self._run(job), name=f"chain-{job.id}")
