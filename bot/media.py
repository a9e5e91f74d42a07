"""Bounded HTTP checks and downloads of media: a start frame before a job, the results after it.

Every call has a timeout and a byte cap, so a slow or huge file can neither stall the bot nor
fill its memory. Nothing here knows Discord.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
from yarl import URL

from bot.addresses import NOWHERE, PrivateAccess, PrivateAddressError, PublicResolver, refused_before_connecting
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


def link_session(private: PrivateAccess = NOWHERE) -> aiohttp.ClientSession:
    """The session for fetching links that members give, and results: its resolver refuses names that lead into
    the bot's own network, except to the origins ``private`` allows (:data:`ANYWHERE`: no check)."""
    if private.anywhere:
        return aiohttp.ClientSession()
    resolver = PublicResolver(private.host_ports())
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver))


def _target(url: str, option: str, private: PrivateAccess) -> URL:
    """``url`` parsed as the session will parse it, after checking where it leads (InputError if inside)."""
    try:
        target = URL(url)
    except ValueError:
        raise _invalid(option) from None
    if refused_before_connecting(target, private):
        raise _private(option)
    return target


def _invalid(option: str) -> InputError:
    return InputError(f"`{option}` is not a valid link.", key="input.link_invalid", params={"option": option})


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
    private: PrivateAccess = NOWHERE,
) -> ImageCheck:
    """Make sure ``url`` answers with an image of at most ``max_bytes``, reading at most 64 bytes of it.

    Redirects are followed by hand (at most three), so that every hop is checked: a member's link
    may not lead the bot into its own network, except to the origins ``private`` allows. Use a session from
    :func:`link_session` with the same ``private``, whose resolver checks the addresses that names lead to.
    Raises InputError naming the option and what was wrong.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    headers = {"Range": "bytes=0-63", "Accept": "image/*"}
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            target = _target(url, option, private)
            async with session.get(target, timeout=timeout, headers=headers, allow_redirects=False) as response:
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
        raise _invalid(option) from None
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
    private: PrivateAccess = NOWHERE,
) -> bytes | None:
    """The body of ``url`` if it is a ``kind`` file (``image`` or ``video``) of at most ``max_bytes``, else ``None``.

    A result link comes from the API, not from the bot, so it is fetched like a member's link: redirects
    are followed by hand and each hop is checked (use a session from :func:`link_session` with the same
    ``private``: the origins inside the bot's network a result may come from), a file that is
    not the media it should be is refused, and the whole of it, redirects included, gets ``timeout_s``.
    """
    try:
        async with asyncio.timeout(timeout_s):
            for _hop in range(MAX_REDIRECTS + 1):
                target = _result_target(url, private)
                if target is None:
                    log.warning("download of a result refused: it leads into a private network")
                    return None
                async with session.get(target, allow_redirects=False, headers={"Accept": f"{kind}/*"}) as response:
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
        inside = isinstance(exc.os_error, PrivateAddressError)
        log.warning("download of a result failed: %s", "a private address" if inside else type(exc).__name__)
        return None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("download of a result failed: %s", type(exc).__name__)
        return None


def _result_target(url: str, private: PrivateAccess) -> URL | None:
    """``url`` parsed as the session will parse it, or None when it is not a web link or leads inside."""
    target = URL(url)
    if target.scheme not in ("http", "https") or refused_before_connecting(target, private):
        return None
    return target


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
