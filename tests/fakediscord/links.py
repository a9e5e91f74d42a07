"""Signed attachment links, as Discord's CDN hands them out: ``?ex=<hex expiry>&is=<hex issued>&hm=<hex signature>&``.

A link is good until its ``ex``; every fetch of a message signs its attachments afresh, and
``POST /attachments/refresh-urls`` re-signs a link whose file still exists. A slash command's upload
is an ephemeral attachment: it lives on the interaction only, and is gone once its first link expires.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

#: How long a signed link stays good (Discord: about a day).
LINK_LIFETIME_S: Final = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class LinkCheck:
    """Why a signed link is refused (``None``: it is good), with the status the file server answers."""

    status: int
    reason: str


EXPIRED: Final = LinkCheck(404, "This content is no longer available.")
BAD_SIGNATURE: Final = LinkCheck(403, "Invalid signature")


class LinkSigner:
    """Signs and checks attachment links against a wall clock that tests may move forward."""

    def __init__(self, clock: Callable[[], float], *, lifetime_s: float = LINK_LIFETIME_S) -> None:
        self.clock = clock
        self.lifetime_s = lifetime_s
        self._key = secrets.token_bytes(32)

    def sign(self, base_url: str, attachment_id: int, *, until: float | None = None) -> str:
        """``base_url`` with a signature good from now for a lifetime (or up to ``until``, if sooner)."""
        issued = int(self.clock())
        expires = issued + int(self.lifetime_s)
        if until is not None:
            expires = min(expires, int(until))
        return f"{base_url}?ex={expires:x}&is={issued:x}&hm={self._mac(attachment_id, expires, issued)}&"

    def check(self, attachment_id: int, query: Mapping[str, str]) -> LinkCheck | None:
        """None when the query signs this attachment and has not expired."""
        try:
            expires, issued = int(query["ex"], 16), int(query["is"], 16)
        except (KeyError, ValueError):
            return BAD_SIGNATURE
        if not hmac.compare_digest(query.get("hm", ""), self._mac(attachment_id, expires, issued)):
            return BAD_SIGNATURE
        if self.clock() >= expires:
            return EXPIRED
        return None

    def _mac(self, attachment_id: int, expires: int, issued: int) -> str:
        message = f"{attachment_id}:{expires:x}:{issued:x}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


def attachment_of(url: str) -> tuple[int, str, dict[str, str]] | None:
    """(attachment id, file name, query) of a fake attachment link; None for anything else."""
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    if len(segments) != 3 or segments[0] != "attachments" or not segments[1].isdigit():
        return None
    query = {key: values[0] for key, values in parse_qs(parts.query).items() if values}
    return int(segments[1]), segments[2], query
