"""What a job message shows: the rendered job with its extras (a note, the owner's allowance, the queue position)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bot import quota
from bot.queue_estimate import estimate_queue
from bot.store.models import Job, JobStatus
from cogs import gate
from cogs.i18n import Phrase, job_locale, msg
from cogs.limits import allowance_footer
from cogs.ui.render import QueueSpot, RenderedJob, render_job

from .media import ResultFiles
from .messages import Outgoing
from .owners import Owner

if TYPE_CHECKING:
    from bot.bot import MJBot

#: The cog's logger (``cogs.delivery.cog``), so these records keep their logger name.
log = logging.getLogger(f"{__package__}.cog")


#: Notes a job message may carry (``delivery.*``), in the job owner's language.
PRIVATE_RUNNING: Final = msg("delivery.private_running")
PRIVATE_DM: Final = msg("delivery.private_dm")
RESPONSE_RUNNING: Final = msg("delivery.response_running")
RESPONSE_DM: Final = msg("delivery.response_dm")
DONE_DM: Final = msg("delivery.done_dm")

Compose = Callable[[ResultFiles], Outgoing]


@dataclass(frozen=True, slots=True)
class Extras:
    """What a job message shows besides the job: a note, the owner's allowance, the queue position."""

    note: str | Phrase | None = None
    allowance_text: str | None = None
    queue: QueueSpot | None = None


NO_EXTRAS: Final = Extras()


def composer(bot: MJBot, job: Job, owner: Owner, *, with_view: bool = True, extras: Extras = NO_EXTRAS) -> Compose:
    """The message of ``job`` as it looks with a given set of result files."""

    def compose(result: ResultFiles) -> Outgoing:
        rendered = render(bot, job, owner, result.names, result.shown_links, extras)
        return Outgoing(rendered, result, with_view=with_view)

    return compose


def render(
    bot: MJBot, job: Job, owner: Owner, attachments: tuple[str, ...], links: tuple[str, ...], extras: Extras
) -> RenderedJob:
    name, avatar = owner
    locale = job_locale(bot, job)
    note = extras.note.render(locale) if isinstance(extras.note, Phrase) else extras.note
    return render_job(
        job,
        owner_name=name,
        owner_avatar=avatar,
        sandbox=bot.config.sandbox,
        attachments=attachments,
        links=links,
        note=note,
        allowance_text=extras.allowance_text,
        queue=extras.queue,
        locale=locale,
    )


async def extras_for(
    bot: MJBot, job: Job, *, private: bool, note: str | Phrase | None = None, response_only: bool = False
) -> Extras:
    """The note, allowance and queue position a message of ``job`` shows now (``response_only``: a public message only
    the interaction's token can edit, where the bot is not)."""
    spot = (await queue_spots(bot, [job])).get(job.id) if job.status is JobStatus.QUEUED else None
    if note is None and private and not job.finished:
        note = PRIVATE_RUNNING
    elif note is None and response_only and not job.finished:
        note = RESPONSE_RUNNING
    allowance = await allowance_text(bot, job) if job.finished else None
    return Extras(note=note, allowance_text=allowance, queue=spot)


async def queue_spots(bot: MJBot, jobs: Sequence[Job]) -> dict[str, QueueSpot]:
    """Where each queued job among ``jobs`` stands in its owner's queue, and its estimated start, by job id.

    The estimate is a nicety: when it cannot be made, the position is still shown (as the store counts it).
    """
    store = bot.services.store
    queued = [job for job in jobs if job.status is JobStatus.QUEUED]
    if not queued:
        return {}
    try:
        estimates = await estimate_queue(store, queued, now=store.clock())
    except Exception:
        log.exception("the queue estimate of jobs %s failed", ", ".join(job.id for job in queued))
        estimates = {}
    spots: dict[str, QueueSpot] = {}
    for job in queued:
        found = estimates.get(job.id)
        position = found.position if found is not None else await store.queue.queue_position(job.id)
        limit = job.meta.queue.limit if job.meta.queue is not None else None
        starts_at = found.starts_at if found is not None else None
        spots[job.id] = QueueSpot(position or 1, limit if limit is not None and limit > 0 else None, starts_at)
    return spots


async def allowance_text(bot: MJBot, job: Job) -> str | None:
    """What the job's owner has left today in its server (or in DMs), for a result's footer (None without limits)."""
    if job.user_id is None:
        return None
    try:
        settings = await gate.scope_settings(bot, job.guild_id)
        left = await quota.allowance(
            bot.services.store, settings, guild_id=job.guild_id, user_id=job.user_id, now=gate.clock()
        )
    except Exception:  # a footer is a nicety: it never holds back a result
        log.exception("job %s (guild %s): the owner's allowance could not be read", job.id, job.guild_id)
        return None
    return allowance_footer(left, job_locale(bot, job)) if left.limited else None
