"""Frames a follow-up sends again: where each one lives, so the link sent is one that works now.

Links expire. Discord signs attachment links for about a day, and the API's result links expire too;
a reroll, an Animate or a chained video a day later that sent the link its job started from would
have the API fail to fetch the frame, and the member would pay for the failure. So a job keeps, for
each frame it sent (``image_url``, ``end_image_url``), a :class:`FrameSource` in ``meta.frames``:

- a member's upload lives on the interaction only, and is gone with its link: the bot keeps a copy
  on the job's own messages (``start.png``, ``end.png``, attached with the result), and takes the
  copy's link, signed afresh, from the message when the frame is needed again;
- an API result (an upscale animated into a video, by 🎬 Animate or by Animate N's chain) is
  looked up again: the task's record carries fresh links;
- any other link is the member's: a Discord attachment link is refreshed, and any link is used only
  if it still answers.

A frame that cannot be found again raises :class:`FrameGoneError`, before anything is sent to the API.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Final, Protocol
from urllib.parse import parse_qs, urlsplit

from bot.acedata.client import AceDataClient
from bot.acedata.errors import AceDataError
from bot.acedata.models import ApiRequest, TaskStatus, VideoExtend, VideoGenerate
from bot.store import FrameSource, JobMeta, Store
from bot.store.models import Job, JobKind, JobResult, JobStatus

__all__ = [
    "COPY_NAMES",
    "THIS_JOB",
    "FrameFinder",
    "FrameGoneError",
    "FrameRefresher",
    "FrameSource",
    "animated_from",
    "copies_to_keep",
    "inherited",
    "is_discord_link",
    "renew_results",
    "uploaded",
    "with_frames",
]

log = logging.getLogger(__name__)

#: The request fields that carry a frame, and the name of the bot's copy of each on a job's messages.
COPY_NAMES: Final[Mapping[str, str]] = {"image_url": "start.png", "end_image_url": "end.png"}
#: Where a copy lives when it rides on the messages of the job that carries the source itself.
THIS_JOB: Final = ""
_DISCORD_SIGNATURE: Final = frozenset({"ex", "is", "hm"})


class FrameGoneError(Exception):
    """A frame of the job can no longer be found: nothing was sent, the member should start again."""

    def __init__(self, field: str) -> None:
        super().__init__(f"the {'end' if field == 'end_image_url' else 'start'} frame is no longer available")
        self.field = field

    @property
    def start(self) -> bool:
        return self.field != "end_image_url"


def with_frames(meta: JobMeta, sources: Mapping[str, FrameSource]) -> JobMeta:
    """``meta`` recording ``sources`` (as it was when there are none)."""
    return dataclasses.replace(meta, frames=dict(sources)) if sources else meta


def uploaded(**urls: str | None) -> dict[str, FrameSource]:
    """Sources of frames the member uploaded (``image_url=...``): the job keeps a copy on its own messages."""
    return {field: FrameSource(url, copy_on=THIS_JOB) for field, url in urls.items() if url and field in COPY_NAMES}


def animated_from(job: Job) -> dict[str, FrameSource]:
    """The sources of a video made from ``job``'s result image: where its start frame can be looked up again."""
    url = job.raw_image_url or job.image_url
    if job.kind is not JobKind.IMAGINE or not url:
        return {}
    return {"image_url": FrameSource(url, result_of=job.id)}


def inherited(job: Job) -> dict[str, FrameSource]:
    """``job``'s sources as a job made from it (a reroll) sees them: a copy on ``job`` is named by its id.

    The video of an Animate N chain records nothing (``chains`` keeps its meta minimal): its start frame
    is the result of the upscale it was chained from.
    """
    sources = {
        field: dataclasses.replace(source, copy_on=job.id) if source.copy_on == THIS_JOB else source
        for field, source in job.meta.frames.items()
    }
    chained_from, request = job.meta.chained_from, job.request
    start = request.image_url if isinstance(request, VideoGenerate) else None
    if "image_url" not in sources and chained_from and start:
        sources["image_url"] = FrameSource(start, result_of=chained_from)
    return sources


def copies_to_keep(job: Job) -> list[tuple[str, str]]:
    """(file name, link) of each frame whose copy rides on ``job``'s messages, for a finished video job."""
    if job.kind is not JobKind.VIDEO or not job.finished or job.status is JobStatus.CANCELLED:
        return []
    return [(COPY_NAMES[field], source.url) for field, source in job.meta.frames.items() if source.copy_on == THIS_JOB]


def is_discord_link(url: str) -> bool:
    """A Discord attachment link: signed with ``ex``, ``is`` and ``hm``, which the refresh endpoint renews."""
    parts = urlsplit(url)
    return "/attachments/" in parts.path and parse_qs(parts.query).keys() >= _DISCORD_SIGNATURE


class FrameFinder(Protocol):
    """What finding a frame again needs from Discord and from the network."""

    async def copy_link(self, job_id: str, filename: str) -> str | None:
        """A fresh link to the bot's copy ``filename`` on one of ``job_id``'s messages; None when none is left."""
        ...

    async def refresh_links(self, urls: Sequence[str]) -> dict[str, str]:
        """Discord attachment links signed afresh, by the original (a link that cannot be renewed is left out)."""
        ...

    async def answers(self, url: str) -> bool:
        """True when the link fetches an image now."""
        ...


class FrameRefresher:
    """Makes the frames of a follow-up's request links that work now; FrameGoneError when one is gone."""

    def __init__(self, client: AceDataClient, store: Store, finder: FrameFinder) -> None:
        self._client = client
        self._store = store
        self._finder = finder

    async def fresh_request(
        self, request: ApiRequest, sources: Mapping[str, FrameSource]
    ) -> tuple[ApiRequest, dict[str, FrameSource]]:
        """``request`` with each of its frames fetchable now, and the sources with the links now sent."""
        if not isinstance(request, VideoGenerate | VideoExtend):
            return request, dict(sources)
        sent: dict[str, FrameSource] = {}
        fresh: VideoGenerate | VideoExtend = request
        for field in COPY_NAMES:
            url = getattr(request, field, None)
            if not url:
                continue
            source = sources.get(field)
            link = await self.fresh_link(field, url, source)
            if isinstance(fresh, VideoGenerate) and field == "image_url":
                fresh = dataclasses.replace(fresh, image_url=link)
            else:
                fresh = dataclasses.replace(fresh, end_image_url=link)
            if source is not None:
                sent[field] = dataclasses.replace(source, url=link)
        return fresh, sent

    async def fresh_link(self, field: str, url: str, source: FrameSource | None) -> str:
        """A link to the frame that works now: from its source when it has one, else ``url`` refreshed or as is."""
        found: str | None = None
        if source is not None and source.result_of:
            found = await self._result_link(source.result_of)
        elif source is not None and source.copy_on:
            found = await self._finder.copy_link(source.copy_on, COPY_NAMES[field])
        if found:
            return found
        if is_discord_link(url):
            renewed = (await self._finder.refresh_links([url])).get(url)
            if renewed and renewed != url and await self._finder.answers(renewed):
                return renewed
        if await self._finder.answers(url):
            return url
        log.info("the %s of a follow-up is gone (%s)", field, "copy" if source and source.copy_on else "link")
        raise FrameGoneError(field)

    async def _result_link(self, job_id: str) -> str | None:
        """The result image of job ``job_id`` as the API hands it out now (None when it cannot be looked up)."""
        job = await self._store.jobs.get_job(job_id)
        renewed = await _renewed(self._client, self._store, job) if job is not None else None
        return (renewed.raw_image_url or renewed.image_url) if renewed is not None else None


async def renew_results(client: AceDataClient, store: Store, job: Job) -> Job:
    """Put the result links the API hands out now in place of ``job``'s (an old job's have expired).

    Best effort: when the API cannot say, the job keeps its links (its messages may still carry the files).
    """
    return await _renewed(client, store, job) or job


async def _renewed(client: AceDataClient, store: Store, job: Job) -> Job | None:
    """``job`` with its result links renewed from the API (and stored); None when they could not be."""
    if job.status is not JobStatus.SUCCEEDED or not job.task_id:
        return None
    try:
        record = await client.retrieve(job.task_id)
    except AceDataError as error:
        log.warning(
            "job %s (task %s, guild %s): its result links could not be renewed: %s",
            job.id,
            job.task_id,
            job.guild_id,
            error,
        )
        return None
    result = record.result if record is not None else None
    if result is None or result.status is not TaskStatus.SUCCEEDED:
        return None
    fresh = JobResult(
        video_urls=result.video_urls,
        image_url=result.image_url,
        raw_image_url=result.raw_image_url,
        sub_image_urls=result.sub_image_urls,
    )
    return await store.jobs.renew_result_links(job.id, fresh)
