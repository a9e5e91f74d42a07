"""Checks of members' image links and bounded downloads, against a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot import media
from bot.options import InputError

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


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

    app = web.Application()
    for path, handler in {
        "/png": png,
        "/untyped": untyped,
        "/page": page,
        "/huge": huge,
        "/missing": missing,
        "/hop": hop,
        "/loop": loop,
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
    async with aiohttp.ClientSession() as session:
        assert await media.download(session, f"{server}/png", max_bytes=10_000) == PNG
        assert await media.download(session, f"{server}/png", max_bytes=100) is None
        assert await media.download(session, f"{server}/missing", max_bytes=10_000) is None
