"""Bounded HTTP checks and downloads of media: a start frame before a job, the results after it.

Every call has a timeout and a byte cap, so a slow or huge file can neither stall the bot nor
fill its memory. Nothing here knows Discord.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp

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
) -> ImageCheck:
    """Make sure ``url`` answers with an image of at most ``max_bytes``, reading at most 64 bytes of it.

    Raises InputError with a message that names the option and what was wrong.
    """
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    headers = {"Range": "bytes=0-63", "Accept": "image/*"}
    try:
        async with session.get(url, timeout=timeout, headers=headers, allow_redirects=True) as response:
            if response.status >= 400:
                raise InputError(
                    f"`{option}` could not be fetched: the server answered HTTP {response.status}. "
                    "Check that the link opens in a browser without logging in."
                )
            head = await response.content.read(64)
            content_type = _media_type(response.headers.get("Content-Type")) or (_sniff(head) or "")
            if content_type in ("", "application/octet-stream", "binary/octet-stream"):
                content_type = _sniff(head) or content_type
            size = _total_size(response)
    except InputError:
        raise
    except TimeoutError:
        raise InputError(f"`{option}` did not answer within {timeout_s:g} seconds; try another link.") from None
    except aiohttp.InvalidURL:
        raise InputError(f"`{option}` is not a valid link.") from None
    except aiohttp.ClientError as exc:
        log.info("image check of %s failed: %s", option, exc)
        raise InputError(f"`{option}` could not be fetched ({type(exc).__name__}); check the link.") from None
    return _judge(url, option, content_type, size, max_bytes)


def check_attachment(
    url: str, content_type: str | None, size: int, *, option: str = "image", max_bytes: int = MAX_IMAGE_BYTES
) -> ImageCheck:
    """The same rules for a Discord attachment, whose type and size Discord already tells."""
    return _judge(url, option, _media_type(content_type), size, max_bytes)


def _judge(url: str, option: str, content_type: str, size: int | None, max_bytes: int) -> ImageCheck:
    if content_type not in IMAGE_TYPES:
        shown = content_type or "an unknown type"
        raise InputError(f"`{option}` is {shown}, not an image. Use a PNG, JPEG, WebP or GIF picture.")
    if size is not None and size > max_bytes:
        raise InputError(
            f"`{option}` is {size / 1048576:.1f} MB; the limit is {max_bytes / 1048576:.0f} MB. Use a smaller picture."
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
    session: aiohttp.ClientSession, url: str, *, max_bytes: int, timeout_s: float = 30.0
) -> bytes | None:
    """The body of ``url``, or ``None`` when it is larger than ``max_bytes`` or cannot be fetched."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.get(url, timeout=timeout) as response:
            if response.status != 200:
                log.warning("download of a result failed: HTTP %d", response.status)
                return None
            if response.content_length is not None and response.content_length > max_bytes:
                return None
            body = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                body.extend(chunk)
                if len(body) > max_bytes:
                    return None
            return bytes(body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("download of a result failed: %s", type(exc).__name__)
        return None
