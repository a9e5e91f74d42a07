"""The frames of a video, fetched when it is submitted: a link the API cannot fetch fails the task, as for real.

The real API accepts the task and then fails it when the start or end frame cannot be downloaded (an
expired or deleted link), and the credits are spent. The emulator does the same, so that a client
which sends a stale link finds out in its tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

from .settings import EmulatorSettings

log = logging.getLogger(__name__)

#: The request fields that name a frame, and how the failure names them.
FRAME_FIELDS: Final = (("image_url", "start"), ("end_image_url", "end"))
FETCH_FAILED: Final = "image_fetch_failed"
#: Bytes read of each frame: enough to know that it is there.
_PEEK_BYTES: Final = 1024


@dataclass(frozen=True, slots=True)
class FrameFetch:
    """One fetch of a frame: the link and the status it answered with (None: no answer)."""

    url: str
    status: int | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class FrameFetcher:
    """Fetches the frames a video submit names, when ``fetch_images`` is on; remembers every fetch."""

    def __init__(self, settings: Callable[[], EmulatorSettings]) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        #: Every frame fetched so far, oldest first.
        self.fetches: list[FrameFetch] = []

    async def problem(self, body: Mapping[str, Any]) -> tuple[str, str] | None:
        """The (code, message) the task fails with because a frame could not be fetched; None when all could."""
        if not self._settings().fetch_images:
            return None
        for field, which in FRAME_FIELDS:
            url = body.get(field)
            if not isinstance(url, str) or not url:
                continue
            fetch = await self._fetch(url)
            self.fetches.append(fetch)
            if not fetch.ok:
                answer = f"HTTP {fetch.status}" if fetch.status is not None else "no answer"
                log.info("emulator: the %s frame could not be fetched (%s)", which, answer)
                return FETCH_FAILED, f"Failed to download the {which} frame from {field} ({answer})"
        return None

    async def _fetch(self, url: str) -> FrameFetch:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=self._settings().fetch_timeout_s)
        try:
            async with self._session.get(url, timeout=timeout) as response:
                await response.content.read(_PEEK_BYTES)
                return FrameFetch(url, response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("emulator: fetching a frame failed: %s", type(exc).__name__)
            return FrameFetch(url, None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
