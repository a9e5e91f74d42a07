"""What a finished job's message carries: its result files when they fit the upload limit, else links.

Files are fetched once per job, however many messages show it, and kept only while those messages
are being rendered. Attaching matters twice: sandbox media URLs are loopback addresses Discord could
never fetch, and provider CDN links expire while a message attachment stays.

A result link is fetched as carefully as a member's link: the bot's own network is off limits except
where the API itself serves media there (in the sandbox, the emulator's origin only), a frame copy is
fetched with a member's link's limits, and a file that is not the picture or clip it should be is not
attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
import discord

from bot import frames, media
from bot.addresses import NOWHERE, PrivateAccess
from bot.store.models import Job, JobKind, JobStatus

log = logging.getLogger(__name__)

#: Discord's upload limit where nothing better is known (DMs, a guild without boosts).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024
#: Room left under the limit for the rest of the request (payload JSON, multipart boundaries).
PAYLOAD_MARGIN = 8 * 1024
#: Jobs whose results are fetched at the same time: bounds the memory a burst of finished jobs takes.
CONCURRENT_JOB_DOWNLOADS = 4


@dataclass(frozen=True, slots=True)
class ResultFiles:
    """Files to attach (name and bytes) and the result URLs, shown as links when nothing is attached.

    ``copies`` are the bot's copies of the frames the job started from (``bot.frames``), attached after
    the results whether or not those fit.
    """

    files: tuple[tuple[str, bytes], ...] = ()
    links: tuple[str, ...] = ()
    copies: tuple[tuple[str, bytes], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in (*self.files, *self.copies))

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in (*self.files, *self.copies))

    def discord_files(self) -> list[discord.File]:
        """New ``discord.File`` objects on every call: a sent file is consumed."""
        return [discord.File(io.BytesIO(data), filename=name) for name, data in (*self.files, *self.copies)]

    @property
    def shown_links(self) -> tuple[str, ...]:
        """URLs the message shows as links: all of them when nothing is attached."""
        return () if self.files else self.links

    def without_files(self) -> ResultFiles:
        """The same result with nothing attached (after Discord refused the upload)."""
        return ResultFiles(links=self.links)


NO_FILES = ResultFiles()


def result_media(job: Job) -> list[tuple[str, str]]:
    """(filename, URL) of each file a succeeded job's message should carry."""
    if job.status is not JobStatus.SUCCEEDED:
        return []
    if job.kind is JobKind.VIDEO:
        return [(f"clip{index}.mp4", url) for index, url in enumerate(job.video_urls, start=1)]
    if job.image_url:
        return [("image.png" if job.action.startswith("upscale") else "grid.png", job.image_url)]
    return []


def media_kind(job: Job) -> media.MediaKind:
    """What a job's result files must be."""
    return "video" if job.kind is JobKind.VIDEO else "image"


def choose(named: Sequence[tuple[str, str]], bodies: Sequence[bytes | None], limit: int) -> ResultFiles:
    """Attach every file when all were fetched and together fit ``limit``; otherwise attach none and link them all.

    All or nothing, so a message never shows two clips attached and two linked.
    """
    if not named:
        return NO_FILES
    links = tuple(url for _, url in named)
    fetched = [body for body in bodies if body is not None]
    if len(fetched) < len(named) or sum(len(body) for body in fetched) + PAYLOAD_MARGIN > limit:
        return ResultFiles(links=links)
    return ResultFiles(files=tuple((name, body) for (name, _), body in zip(named, fetched, strict=True)), links=links)


def with_copies(
    result: ResultFiles, named: Sequence[tuple[str, str]], bodies: Sequence[bytes | None], limit: int
) -> ResultFiles:
    """``result`` with each frame copy that was fetched and fits in what the limit leaves (best effort)."""
    room = limit - PAYLOAD_MARGIN - result.size
    copies: list[tuple[str, bytes]] = []
    for (name, _), body in zip(named, bodies, strict=True):
        if body is not None and len(body) <= room:
            copies.append((name, body))
            room -= len(body)
    return ResultFiles(files=result.files, links=result.links, copies=tuple(copies)) if copies else result


@dataclass(slots=True)
class _Download:
    max_bytes: int
    task: asyncio.Task[list[bytes | None]]
    expiry: asyncio.TimerHandle | None = None


class ResultCache:
    """Downloads of one job's results, shared by all of its messages.

    An entry is dropped by ``release`` once the job's messages are rendered, or at the latest ``linger_s``
    after its last use. Files are fetched through sessions of the cache's own, whose resolvers refuse the
    bot's own network except where ``private`` allows results (the API's media, see ``Services.result_links``)
    and ``frames_private`` allows the frames a job started from (as for a member's link).
    """

    def __init__(self, *, private: PrivateAccess, linger_s: float, frames_private: PrivateAccess = NOWHERE) -> None:
        self._private = private
        self._frames_private = frames_private
        self._sessions: dict[PrivateAccess, aiohttp.ClientSession] = {}
        self.linger_s = linger_s
        self._entries: dict[str, _Download] = {}
        self._slots = asyncio.Semaphore(CONCURRENT_JOB_DOWNLOADS)
        #: Files fetched so far (a figure for logs and benchmarks).
        self.downloads = 0

    async def files_for(self, job: Job, limit: int) -> ResultFiles:
        """The job's result for a message whose upload limit is ``limit`` bytes."""
        named = result_media(job)
        copies = frames.copies_to_keep(job)
        if not named and not copies:
            return NO_FILES
        per_file = max(0, limit - PAYLOAD_MARGIN)
        entry = self._entries.get(job.id)
        if entry is None or (entry.max_bytes < per_file and self._fell_short(entry)):
            if entry is not None:
                self._drop(job.id)
            task = asyncio.get_running_loop().create_task(
                self._fetch_with_copies(
                    [url for _, url in named], media_kind(job), [url for _, url in copies], per_file
                ),
                name=f"results-{job.id}",
            )
            entry = _Download(per_file, task)
            self._entries[job.id] = entry
        self._keep(job.id, entry)
        bodies = await asyncio.shield(entry.task)
        fitting = [body if body is not None and len(body) <= per_file else None for body in bodies]
        return with_copies(choose(named, fitting[: len(named)], limit), copies, fitting[len(named) :], limit)

    @staticmethod
    def _fell_short(entry: _Download) -> bool:
        """True when an earlier, smaller download cap left a file out (a later message may allow more)."""
        if not entry.task.done() or entry.task.cancelled() or entry.task.exception() is not None:
            return False
        return any(body is None for body in entry.task.result())

    async def _fetch_with_copies(
        self, urls: Sequence[str], kind: media.MediaKind, copies: Sequence[str], max_bytes: int
    ) -> list[bytes | None]:
        """The results, then the frame copies (pictures, whatever the results are)."""
        bodies = await self._fetch_all(urls, kind, max_bytes, self._private) if urls else []
        return bodies + (await self._fetch_all(copies, "image", max_bytes, self._frames_private) if copies else [])

    async def _fetch_all(
        self, urls: Sequence[str], kind: media.MediaKind, max_bytes: int, private: PrivateAccess
    ) -> list[bytes | None]:
        async with self._slots:
            session = self._sessions.get(private)
            if session is None or session.closed:
                session = self._sessions[private] = media.link_session(private)
            self.downloads += len(urls)
            fetches = (media.download(session, url, kind=kind, max_bytes=max_bytes, private=private) for url in urls)
            return list(await asyncio.gather(*fetches))

    def release(self, job_id: str) -> None:
        """The job's messages are rendered: forget its files (whoever still awaits them gets them)."""
        self._drop(job_id)

    def _keep(self, job_id: str, entry: _Download) -> None:
        if entry.expiry is not None:
            entry.expiry.cancel()
        entry.expiry = asyncio.get_running_loop().call_later(self.linger_s, self._forget, job_id, entry)

    def _forget(self, job_id: str, entry: _Download) -> None:
        if self._entries.get(job_id) is entry:
            del self._entries[job_id]

    def _drop(self, job_id: str) -> None:
        entry = self._entries.pop(job_id, None)
        if entry is not None and entry.expiry is not None:
            entry.expiry.cancel()

    @property
    def cached_jobs(self) -> int:
        return len(self._entries)

    async def close(self) -> None:
        for job_id, entry in list(self._entries.items()):
            self._drop(job_id)
            if not entry.task.done():
                entry.task.cancel()
            else:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    entry.task.exception()
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            await session.close()
