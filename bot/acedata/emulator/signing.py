"""Signed media links: every result link carries an expiry, and the media host refuses it once that has passed.

The API's own result links expire; so do the emulator's, or a client that keeps a link for a day would
pass its tests and fail in production. A link is ``<url>?expires=<unix s>&sig=<hex>``; the signature
covers the path and the expiry, not the host, so a link survives a restart on another address. Every
answer signs its links afresh (a task lookup too): a link handed out is good for at least half its
lifetime, and the same link is handed out again until that is no longer so (a lookup repeated at
once answers the same URLs).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from .settings import EmulatorSettings

_LINK_FIELDS: Final = ("image_url", "raw_image_url")
_LIST_FIELDS: Final = ("video_urls", "sub_image_urls")


class LinkRefused(Exception):
    """A media link that is not (or no longer) good: HTTP 403 with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaSigner:
    """Signs result links with the settings' key and lifetime, and checks the links it signed."""

    def __init__(self, settings: Callable[[], EmulatorSettings], clock: Callable[[], float]) -> None:
        self._settings = settings
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._settings().media_link_ttl_s > 0

    def sign(self, url: str, since: float) -> str:
        """``url`` signed to stay good for at least half a lifetime from now (as is when links never expire).

        Expiries step by half a lifetime from ``since`` (the task's creation), so a link stays the same
        until it is past half its life.
        """
        ttl = self._settings().media_link_ttl_s
        if ttl <= 0 or "?" in url:
            return url
        half = ttl / 2
        steps = max(0, math.floor((self._clock() - since) / half))
        expires = math.ceil(since + ttl + steps * half)
        return f"{url}?expires={expires}&sig={self._mac(urlsplit(url).path, expires)}"

    def sign_result(self, response: Mapping[str, Any], since: float) -> dict[str, Any]:
        """A result (or progress line) of a task created at ``since`` with each of its media links signed now."""
        signed = dict(response)
        for key in _LINK_FIELDS:
            if isinstance(signed.get(key), str) and signed[key]:
                signed[key] = self.sign(signed[key], since)
        for key in _LIST_FIELDS:
            if isinstance(signed.get(key), list):
                signed[key] = [self.sign(url, since) if isinstance(url, str) else url for url in signed[key]]
        return signed

    def check(self, path: str, query: Mapping[str, str]) -> None:
        """Raise LinkRefused unless the query signs ``path`` and has not expired (all pass when links never expire)."""
        if not self.enabled:
            return
        try:
            expires = int(query["expires"])
        except (KeyError, ValueError):
            raise LinkRefused("this link is not signed: use the link from a result or a task lookup") from None
        if not hmac.compare_digest(query.get("sig", ""), self._mac(path, expires)):
            raise LinkRefused("this link's signature does not match")
        if self._clock() >= expires:
            raise LinkRefused("this link has expired: look the task up again for a fresh one")

    def _mac(self, path: str, expires: int) -> str:
        key = self._settings().media_link_key.encode()
        return hmac.new(key, f"{path}|{expires}".encode(), hashlib.sha256).hexdigest()[:32]
