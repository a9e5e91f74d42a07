"""Bounded HTTP checks and downloads of media: a start frame before a job, the results after it.

Every call has a timeout and a byte cap, so a slow or huge file can neither stall the bot nor
fill its memory. Nothing here knows Discord.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from bot.options import InputError

log = logging.getLogger(__name__)

#: The largest start or end frame the bot passes on. The API documents no limit; Midjourney
#: itself takes images up to about this size.
MAX_IMAGE_BYTES = 25 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


MAX_REDIRECTS = 3

#: What a result file is: a picture or a clip.
MediaKind = Literal["image", "video"]
#: Content types that say nothing; such a file is accepted when its first bytes show what it is.
_UNTYPED = ("", "application/octet-stream", "binary/octet-stream")


class PrivateAddressError(OSError):
    """A member's link leads to an address inside the bot's own network."""


def is_public_address(address: str) -> bool:
    """Whether an IP address is on the public internet (not loopback, private, link-local, reserved...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicResolver(AbstractResolver):
    """Resolves names like the default resolver, but refuses any name that leads into a private network.

    Checking the addresses the connection will actually use (rather than resolving once beforehand)
    also defeats a name that answers differently the second time.
    """

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or any(not is_public_address(result["host"]) for result in results):
            raise PrivateAddressError(f"{host} resolves to a non-public address")
        return results

    async def close(self) -> None:
        await self._inner.close()


def link_session(*, allow_private: bool) -> aiohttp.ClientSession:
    """The session for fetching links that members give; ``allow_private`` only for the loopback sandbox."""
    if allow_private:
        return aiohttp.ClientSession()
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=PublicResolver()))


def _check_host(url: str, option: str, *, allow_private: bool) -> None:
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            literal = False
        else:
            return  # a name: the session's resolver checks where it leads
    else:
        literal = True
    if allow_private:
        return
    if not literal or not is_public_address(host):
        raise _private(option)


def _private(option: str) -> InputError:
    return InputError(
        f"`{option}` points into a private network; use a public link to the image.",
        key="input.private_network",
        params={"option": option},
    )


@dataclass(frozen=True, slots=True)
class ImageCheck:
    url: str
    content_type: str
    size: int | None


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def _sniff(head: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


async def check_image_url(
    session: aiohttp.ClientSession,
    url: str,
    *,
    option: str = "image_url",
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout_s: float = 8.0,
    allow_private: bool = False,
) -> ImageCheck:
    """Make sure ``url`` answers with an image of at most ``max_bytes``, reading at most 64 bytes of it.

    Redirects are followed by hand (at most three), so that every hop is checked: a member's link
    may not lead the bot into its own network. Use a session from :func:`link_session`, whose resolver
    checks the addresses that names lead to. Raises InputError naming the option and what was wrong.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    headers = {"Range": "bytes=0-63", "Accept": "image/*"}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            _check_host(url, option, allow_private=allow_private)
            async with session.get(url, timeout=timeout, headers=headers, allow_redirects=False) as response:
                location = response.headers.get("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    if urlsplit(url).scheme not in ("http", "https"):
                        raise InputError(
                            f"`{option}` redirects to something that is not a web link.",
                            key="input.redirect_not_web",
                            params={"option": option},
                        )
                    continue
                return await _inspect(response, url, option, max_bytes)
        raise InputError(
            f"`{option}` redirects more than {MAX_REDIRECTS} times; link to the image itself.",
            key="input.too_many_redirects",
            params={"option": option, "limit": MAX_REDIRECTS},
        )
    except InputError:
        raise
    except TimeoutError:
        seconds = f"{timeout_s:g}"
        raise InputError(
            f"`{option}` did not answer within {seconds} seconds; try another link.",
            key="input.link_timeout",
            params={"option": option, "seconds": seconds},
        ) from None
    except aiohttp.InvalidURL:
        raise InputError(
            f"`{option}` is not a valid link.", key="input.link_invalid", params={"option": option}
        ) from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, PrivateAddressError):
            raise _private(option) from None
        log.info("image check of %s failed: %s", option, type(exc).__name__)
        raise InputError(
            f"`{option}` could not be reached; check the link.", key="input.link_unreachable", params={"option": option}
        ) from None
    except aiohttp.ClientError as exc:
        log.info("image check of %s failed: %s", option, type(exc).__name__)
        error = type(exc).__name__
        raise InputError(
            f"`{option}` could not be fetched ({error}); check the link.",
            key="input.link_failed",
            params={"option": option, "error": error},
        ) from None


async def _inspect(response: aiohttp.ClientResponse, url: str, option: str, max_bytes: int) -> ImageCheck:
    if response.status >= 400:
        raise InputError(
            f"`{option}` could not be fetched: the server answered HTTP {response.status}. "
            "Check that the link opens in a browser without logging in.",
            key="input.link_http",
            params={"option": option, "status": response.status},
        )
    head = await response.content.read(64)
    content_type = _media_type(response.headers.get("Content-Type"))
    if content_type in _UNTYPED:
        content_type = _sniff(head) or content_type
    return _judge(url, option, content_type, _total_size(response), max_bytes)


def check_attachment(
    url: str, content_type: str | None, size: int, *, option: str = "image", max_bytes: int = MAX_IMAGE_BYTES
) -> ImageCheck:
    """The same rules for a Discord attachment, whose type and size Discord already tells."""
    return _judge(url, option, _media_type(content_type), size, max_bytes)


def _judge(url: str, option: str, content_type: str, size: int | None, max_bytes: int) -> ImageCheck:
    if content_type not in IMAGE_TYPES:
        if not content_type:
            raise InputError(
                f"`{option}` is an unknown type, not an image. Use a PNG, JPEG, WebP or GIF picture.",
                key="input.not_image_unknown",
                params={"option": option},
            )
        raise InputError(
            f"`{option}` is {content_type}, not an image. Use a PNG, JPEG, WebP or GIF picture.",
            key="input.not_image",
            params={"option": option, "type": content_type},
        )
    if size is not None and size > max_bytes:
        size_mb, limit_mb = f"{size / 1048576:.1f}", f"{max_bytes / 1048576:.0f}"
        raise InputError(
            f"`{option}` is {size_mb} MB; the limit is {limit_mb} MB. Use a smaller picture.",
            key="input.image_too_large",
            params={"option": option, "size": size_mb, "limit": limit_mb},
        )
    return ImageCheck(url=url, content_type=content_type, size=size)


def _total_size(response: aiohttp.ClientResponse) -> int | None:
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range:
        total = content_range.rsplit("/", 1)[1].strip()
        if total.isdigit():
            return int(total)
    if response.status == 200 and response.content_length is not None:
        return response.content_length
    return None


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    kind: MediaKind,
    max_bytes: int,
    timeout_s: float = 30.0,
    allow_private: bool = False,
) -> bytes | None:
    """The body of ``url`` if it is a ``kind`` file (``image`` or ``video``) of at most ``max_bytes``, else ``None``.

    A result link comes from the API, not from the bot, so it is fetched like a member's link: redirects
    are followed by hand and each hop is checked (use a session from :func:`link_session`), a file that is
    not the media it should be is refused, and the whole of it, redirects included, gets ``timeout_s``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            for _hop in range(MAX_REDIRECTS + 1):
                if not _result_host_allowed(url, allow_private=allow_private):
                    log.warning("download of a result refused: it leads into a private network")
                    return None
                async with session.get(url, allow_redirects=False, headers={"Accept": f"{kind}/*"}) as response:
                    location = response.headers.get("Location")
                    if response.status in (301, 302, 303, 307, 308) and location:
                        url = urljoin(url, location)
                        if urlsplit(url).scheme not in ("http", "https"):
                            log.warning("download of a result refused: it redirects to something not a web link")
                            return None
                        continue
                    return await _read_media(response, kind, max_bytes)
            log.warning("download of a result refused: more than %d redirects", MAX_REDIRECTS)
            return None
    except aiohttp.ClientConnectorError as exc:
        private = isinstance(exc.os_error, PrivateAddressError)
        log.warning("download of a result failed: %s", "a private address" if private else type(exc).__name__)
        return None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("download of a result failed: %s", type(exc).__name__)
        return None


def _result_host_allowed(url: str, *, allow_private: bool) -> bool:
    if urlsplit(url).scheme not in ("http", "https"):
        return False
    try:
        _check_host(url, "result", allow_private=allow_private)
    except InputError:
        return False
    return True


async def _read_media(response: aiohttp.ClientResponse, kind: MediaKind, max_bytes: int) -> bytes | None:
    if response.status != 200:
        log.warning("download of a result failed: HTTP %d", response.status)
        return None
    if response.content_length is not None and response.content_length > max_bytes:
        return None
    content_type = _media_type(response.headers.get("Content-Type"))
    declared = content_type.startswith(kind + "/")
    if not declared and content_type not in _UNTYPED:
        log.warning("download of a result refused: it is %s, not %s", content_type or "untyped", kind)
        return None
    body = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        body.extend(chunk)
        if len(body) > max_bytes:
            return None
    if not declared and not _looks_like(bytes(body[:64]), kind):
        log.warning("download of a result refused: it is %s and does not look like %s", content_type, kind)
        return None
    return bytes(body)


def _looks_like(head: bytes, kind: MediaKind) -> bool:
    """Whether the first bytes of an untyped file are those of a ``kind`` (an MP4 or QuickTime box, a picture)."""
    if kind == "video":
        return head[4:8] == b"ftyp"
    return _sniff(head) is not None
