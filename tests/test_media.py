"""Checks of members' image links and bounded downloads, against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.resolver import DefaultResolver

from bot import media
from bot.options import InputError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def png(_request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="image/png")

    async def untyped(_request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def huge(_request: web.Request) -> web.Response:
        return web.Response(
            body=PNG[:64], status=206, content_type="image/png", headers={"Content-Range": "bytes 0-63/90000000"}
        )

    async def missing(_request: web.Request) -> web.Response:
        return web.Response(status=404)

    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query.get("to", "/png"))

    async def loop(_request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def mp4(_request: web.Request) -> web.Response:
        return web.Response(body=MP4, content_type="video/mp4")

    async def untyped_mp4(_request: web.Request) -> web.Response:
        return web.Response(body=MP4, content_type="application/octet-stream")

    async def untyped_page(_request: web.Request) -> web.Response:
        return web.Response(body=b"<html></html>", content_type="application/octet-stream")

    async def slow_hop(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        left = int(request.query["n"]) - 1
        raise web.HTTPFound(f"/slow-hop?n={left}" if left else "/png")

    app = web.Application()
    for path, handler in {
        "/png": png,
        "/untyped": untyped,
        "/page": page,
        "/huge": huge,
        "/missing": missing,
        "/hop": hop,
        "/loop": loop,
        "/mp4": mp4,
        "/untyped-mp4": untyped_mp4,
        "/untyped-page": untyped_page,
        "/slow-hop": slow_hop,
    }.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_an_image_link_passes_when_private_addresses_are_allowed(server: str) -> None:
    async with media.link_session(allow_private=True) as session:
        checked = await media.check_image_url(session, f"{server}/png", allow_private=True)
        assert checked.content_type == "image/png"
        sniffed = await media.check_image_url(session, f"{server}/untyped", allow_private=True)
        assert sniffed.content_type == "image/png"
        redirected = await media.check_image_url(session, f"{server}/hop", allow_private=True)
        assert redirected.url.endswith("/png")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/page", "is text/html, not an image"),
        ("/huge", "is 85.8 MB; the limit is 25 MB"),
        ("/missing", "the server answered HTTP 404"),
        ("/loop", "redirects more than 3 times"),
    ],
)
async def test_bad_links_are_refused_with_the_reason(server: str, path: str, message: str) -> None:
    async with media.link_session(allow_private=True) as session:
        with pytest.raises(InputError, match=message):
            await media.check_image_url(session, f"{server}{path}", option="image_url", allow_private=True)


async def test_links_into_the_bots_own_network_are_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    async with media.link_session(allow_private=False) as session:
        for url in (
            f"{server}/png",
            f"http://localhost:{port}/png",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x.png",
            "http://10.0.0.8/x.png",
        ):
            with pytest.raises(InputError, match="points into a private network"):
                await media.check_image_url(session, url, option="image_url")


async def test_a_redirect_into_the_private_network_is_refused(server: str) -> None:
    # The first hop is allowed here only to reach the test server; the redirect target is then checked.
    async with media.link_session(allow_private=True) as session:
        with pytest.raises(InputError, match="private network"):
            await media.check_image_url(session, f"{server}/hop?to=http://10.1.2.3/x.png", allow_private=False)


async def test_the_resolver_refuses_names_that_lead_to_private_addresses() -> None:
    resolver = media.PublicResolver()
    try:
        with pytest.raises(media.PrivateAddressError):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()
    assert media.is_public_address("93.184.216.34")
    assert not media.is_public_address("192.168.1.1")
    assert not media.is_public_address("::ffff:127.0.0.1")


def test_attachments_are_judged_by_what_discord_reports() -> None:
    assert media.check_attachment("https://cdn/x.png", "image/png; charset=binary", 1000).content_type == "image/png"
    with pytest.raises(InputError, match="`image` is video/mp4, not an image"):
        media.check_attachment("https://cdn/x.mp4", "video/mp4", 1000)
    with pytest.raises(InputError, match="the limit is 25 MB"):
        media.check_attachment("https://cdn/x.png", "image/png", 30 * 1024 * 1024)


async def test_download_stops_at_the_byte_cap(server: str) -> None:
    async with media.link_session(allow_private=True) as session:
        get = functools.partial(media.download, session, kind="image", allow_private=True)
        assert await get(f"{server}/png", max_bytes=10_000) == PNG
        assert await get(f"{server}/png", max_bytes=100) is None
        assert await get(f"{server}/missing", max_bytes=10_000) is None


async def test_a_result_is_downloaded_only_when_it_is_the_media_it_should_be(server: str) -> None:
    async with media.link_session(allow_private=True) as session:
        get = functools.partial(media.download, session, max_bytes=10_000, allow_private=True)
        assert await get(f"{server}/png", kind="image") == PNG
        assert await get(f"{server}/untyped", kind="image") == PNG  # untyped, but its bytes are a PNG
        assert await get(f"{server}/mp4", kind="video") == MP4
        assert await get(f"{server}/untyped-mp4", kind="video") == MP4
        assert await get(f"{server}/page", kind="image") is None  # text/html is never attached
        assert await get(f"{server}/page", kind="video") is None
        assert await get(f"{server}/png", kind="video") is None  # a picture where a clip should be
        assert await get(f"{server}/untyped-page", kind="image") is None  # untyped, and not a picture


class PretendDNS(media.PublicResolver):
    """DNS for the test: ``cdn.public.test`` stands for a public CDN (it is this machine, here); every other
    name resolves to 127.0.0.1 and meets the real check, which refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = LoopbackNames()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        if host == "cdn.public.test":
            return await self._inner.resolve(host, port, family)
        return await super().resolve(host, port, family)


class LoopbackNames(DefaultResolver):
    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        return await super().resolve("127.0.0.1", port, family)


async def test_a_result_that_leads_into_the_private_network_is_not_downloaded(server: str) -> None:
    """With a public API (``allow_private`` off), a result link or any redirect into the bot's own network is
    refused, whether it names an address or a name that resolves there."""
    port = server.rsplit(":", 1)[1]
    public = f"http://cdn.public.test:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=PretendDNS())) as session:
        get = functools.partial(media.download, session, kind="image", max_bytes=10_000, allow_private=False)
        assert await get(f"{public}/png") == PNG  # a public result, and a redirect that stays public, are fine
        assert await get(f"{public}/hop?to={public}/png") == PNG
        for target in (
            f"{server}/png",
            f"http://localhost:{port}/png",
            f"http://internal.test:{port}/png",
            "http://10.0.0.8/x.png",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x.png",
            "file:///etc/passwd",
        ):
            assert await get(f"{public}/hop?to={target}") is None, target
            if target.startswith("http"):
                assert await get(target) is None, target


async def test_a_result_download_has_one_time_limit_for_all_its_redirects(server: str) -> None:
    async with media.link_session(allow_private=True) as session:
        get = functools.partial(media.download, session, kind="image", max_bytes=10_000, allow_private=True)
        assert await get(f"{server}/slow-hop?n=2", timeout_s=5.0) == PNG
        began = time.monotonic()
        assert await get(f"{server}/slow-hop?n=3", timeout_s=0.5) is None  # 0.3 s a hop, 0.5 s for all
        assert time.monotonic() - began < 1.0
