"""Checks of members' image links and bounded downloads, against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.resolver import DefaultResolver
from yarl import URL

from bot import media
from bot.addresses import (
    ANYWHERE,
    PrivateAccess,
    PrivateAddressError,
    PublicResolver,
    is_public_address,
    literal_address,
    reaches_public_internet,
)
from bot.config import AceDataSettings, Config, EmulatorConfig, StoreSettings
from bot.options import InputError
from bot.runtime import Services

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
    async with media.link_session(ANYWHERE) as session:
        checked = await media.check_image_url(session, f"{server}/png", private=ANYWHERE)
        assert checked.content_type == "image/png"
        sniffed = await media.check_image_url(session, f"{server}/untyped", private=ANYWHERE)
        assert sniffed.content_type == "image/png"
        redirected = await media.check_image_url(session, f"{server}/hop", private=ANYWHERE)
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
    async with media.link_session(ANYWHERE) as session:
        with pytest.raises(InputError, match=message):
            await media.check_image_url(session, f"{server}{path}", option="image_url", private=ANYWHERE)


async def test_links_into_the_bots_own_network_are_refused(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    async with media.link_session() as session:
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
    # Only the test server's own origin is allowed, to reach it; the redirect target is then checked.
    own = PrivateAccess.to(server)
    async with media.link_session(own) as session:
        with pytest.raises(InputError, match="private network"):
            await media.check_image_url(session, f"{server}/hop?to=http://10.1.2.3/x.png", private=own)


async def test_the_resolver_refuses_names_that_lead_to_private_addresses() -> None:
    resolver = PublicResolver()
    try:
        with pytest.raises(PrivateAddressError):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


def test_attachments_are_judged_by_what_discord_reports() -> None:
    assert media.check_attachment("https://cdn/x.png", "image/png; charset=binary", 1000).content_type == "image/png"
    with pytest.raises(InputError, match="`image` is video/mp4, not an image"):
        media.check_attachment("https://cdn/x.mp4", "video/mp4", 1000)
    with pytest.raises(InputError, match="the limit is 25 MB"):
        media.check_attachment("https://cdn/x.png", "image/png", 30 * 1024 * 1024)


async def test_download_stops_at_the_byte_cap(server: str) -> None:
    async with media.link_session(ANYWHERE) as session:
        get = functools.partial(media.download, session, kind="image", private=ANYWHERE)
        assert await get(f"{server}/png", max_bytes=10_000) == PNG
        assert await get(f"{server}/png", max_bytes=100) is None
        assert await get(f"{server}/missing", max_bytes=10_000) is None


async def test_a_result_is_downloaded_only_when_it_is_the_media_it_should_be(server: str) -> None:
    async with media.link_session(ANYWHERE) as session:
        get = functools.partial(media.download, session, max_bytes=10_000, private=ANYWHERE)
        assert await get(f"{server}/png", kind="image") == PNG
        assert await get(f"{server}/untyped", kind="image") == PNG  # untyped, but its bytes are a PNG
        assert await get(f"{server}/mp4", kind="video") == MP4
        assert await get(f"{server}/untyped-mp4", kind="video") == MP4
        assert await get(f"{server}/page", kind="image") is None  # text/html is never attached
        assert await get(f"{server}/page", kind="video") is None
        assert await get(f"{server}/png", kind="video") is None  # a picture where a clip should be
        assert await get(f"{server}/untyped-page", kind="image") is None  # untyped, and not a picture


class PretendDNS(PublicResolver):
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
    """With a public API (no private access), a result link or any redirect into the bot's own network is
    refused, whether it names an address or a name that resolves there."""
    port = server.rsplit(":", 1)[1]
    public = f"http://cdn.public.test:{port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=PretendDNS())) as session:
        get = functools.partial(media.download, session, kind="image", max_bytes=10_000)
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
    async with media.link_session(ANYWHERE) as session:
        get = functools.partial(media.download, session, kind="image", max_bytes=10_000, private=ANYWHERE)
        assert await get(f"{server}/slow-hop?n=2", timeout_s=5.0) == PNG
        began = time.monotonic()
        assert await get(f"{server}/slow-hop?n=3", timeout_s=0.5) is None  # 0.3 s a hop, 0.5 s for all
        assert time.monotonic() - began < 1.0


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "192.0.0.8",  # IETF protocol assignments
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "fec0::1",  # site-local, deprecated but still routed inside some networks
        "ff02::1",
        "2001:db8::1",
        "::ffff:127.0.0.1",  # IPv4-mapped
        "64:ff9b::a9fe:a9fe",  # NAT64 well-known prefix: 169.254.169.254
        "2002:a9fe:a9fe::",  # 6to4: 169.254.169.254
        "::a9fe:a9fe",  # IPv4-compatible (deprecated)
        "::5db8:d822",  # IPv4-compatible, even of a public address
        "::ffff:0:7f00:1",  # SIIT: 127.0.0.1
        "::ffff:0:5db8:d822",  # SIIT, even of a public address
        "64:ff9b:1::a9fe:a9fe",  # local-use NAT64: this network translates it
        "64:ff9b:1::5db8:d822",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
        "2001:0:4136:e378:8000:63bf:a247:27dd",  # Teredo, even between public addresses
        "not an address",
    ],
)
def test_addresses_inside_any_network_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "2606:4700::1111",
        "::ffff:93.184.216.34",
        "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34: the translator connects there
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
    ],
)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7F000001.", "127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("example.com", None),
        ("cafe.bad", None),
        ("localhost.", None),
    ],
)
def test_legacy_ipv4_spellings_are_read_as_the_address_they_stand_for(host: str, address: str | None) -> None:
    assert literal_address(host) == address


@pytest.fixture
async def watched() -> AsyncIterator[tuple[int, list[str]]]:
    """A server on loopback that serves a PNG at any path and notes every request: (port, paths requested)."""
    hits: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(body=PNG, content_type="image/png")

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield runner.addresses[0][1], hits
    await runner.cleanup()


def disguised(port: int) -> list[str]:
    """Links to 127.0.0.1:``port`` (or other addresses inside) that do not spell it 127.0.0.1."""
    return [
        f"http://2130706433:{port}/x.png",
        f"http://0x7f.1:{port}/x.png",
        f"http://017700000001:{port}/x.png",
        f"http://127.1:{port}/x.png",
        f"http://localhost.:{port}/x.png",
        f"http://LocalHost:{port}/x.png",
        f"http://[::ffff:7f00:1]:{port}/x.png",
        f"http://[::ffff:0:7f00:1]:{port}/x.png",
        f"http://[64:ff9b::7f00:1]:{port}/x.png",
        f"http://[2002:7f00:1::]:{port}/x.png",
        f"http://[::7f00:1]:{port}/x.png",
        f"http://[fec0::1]:{port}/x.png",
        f"http://\u2460\u2461\u2466.0.0.1:{port}/x.png",  # circled digits: IDNA makes them 127.0.0.1
        f"http://127\u30020\u30020\u30021:{port}/x.png",  # ideographic full stops
    ]


def connection_attempts() -> tuple[aiohttp.TraceConfig, list[str]]:
    """A trace that notes every DNS lookup and connection a session begins."""
    attempts: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_lookup(_session: Any, _context: Any, params: aiohttp.TraceDnsResolveHostStartParams) -> None:
        attempts.append(f"lookup {params.host}")

    async def on_connect(_session: Any, _context: Any, _params: Any) -> None:
        attempts.append("connect")

    trace.on_dns_resolvehost_start.append(on_lookup)
    trace.on_connection_create_start.append(on_connect)
    return trace, attempts


async def test_a_link_to_a_disguised_address_inside_is_refused_before_any_connection(
    watched: tuple[int, list[str]],
) -> None:
    port, hits = watched
    trace, attempts = connection_attempts()
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=PublicResolver()), trace_configs=[trace]
    ) as session:
        for url in disguised(port):
            with pytest.raises(InputError, match="`image_url` points into a private network"):
                await media.check_image_url(session, url, option="image_url")
            assert await media.download(session, url, kind="image", max_bytes=10_000) is None, url
            assert (attempts, hits) == ([], []), url


async def test_only_the_allowed_origin_inside_is_reached(server: str, watched: tuple[int, list[str]]) -> None:
    """The sandbox allows its emulator's origin: the same address on another port, or by another name or scheme,
    stays refused, and so does a redirect from the allowed origin to elsewhere inside."""
    port, hits = watched
    own = PrivateAccess.to(server)
    server_port = server.rsplit(":", 1)[1]
    async with media.link_session(own) as session:
        assert (await media.check_image_url(session, f"{server}/png", private=own)).content_type == "image/png"
        assert await media.download(session, f"{server}/png", kind="image", max_bytes=10_000, private=own) == PNG
        for url in (
            f"http://127.0.0.1:{port}/x.png",
            f"http://localhost:{server_port}/png",
            f"http://[::1]:{server_port}/png",
            f"https://127.0.0.1:{server_port}/png",
            f"{server}/hop?to=http://127.0.0.1:{port}/x.png",
            "http://10.0.0.1/x.png",
        ):
            with pytest.raises(InputError, match="private network"):
                await media.check_image_url(session, url, private=own)
            assert await media.download(session, url, kind="image", max_bytes=10_000, private=own) is None
    assert hits == []


async def test_the_resolver_lets_only_an_allowed_name_and_port_lead_inside() -> None:
    resolver = PublicResolver({("localhost", 8080)})
    try:
        assert {result["host"] for result in await resolver.resolve("localhost", 8080)} & {"127.0.0.1", "::1"}
        with pytest.raises(PrivateAddressError):
            await resolver.resolve("localhost", 8081)
    finally:
        await resolver.close()


def test_a_configured_service_is_private_when_its_host_is() -> None:
    assert not reaches_public_internet("http://127.0.0.1:8080/api/v10")
    assert not reaches_public_internet("http://localhost.:8080")
    assert not reaches_public_internet("http://[::1]:8080")
    assert not reaches_public_internet("http://0x7f.1:8080")
    assert reaches_public_internet("https://discord.com/api/v10")
    assert reaches_public_internet("https://93.184.216.34")


async def test_the_sandbox_reaches_inside_only_to_its_emulator_and_a_private_api_anywhere(tmp_path: Path) -> None:
    """What the running services allow inside: in the sandbox, members' links and results reach the emulator's
    origin and nothing else (public Discord adds nothing); an API of the operator's network, anywhere there."""
    sandbox = Config(
        acedata=AceDataSettings(base_url="emulator"),
        store=StoreSettings(path=str(tmp_path / "sandbox.sqlite3")),
        emulator=EmulatorConfig(listen_port=0),
    )
    services = await Services.open(sandbox, listen=False)
    try:
        assert services.emulator is not None
        emulator = services.emulator.url
        for allowed in (services.member_links, services.result_links):
            assert allowed.allows(URL(f"{emulator}/samples/a.png"))
            for elsewhere in ("http://127.0.0.1:1/x.png", "http://10.0.0.1/x.png", "https://discord.com/api/v10"):
                assert not allowed.allows(URL(elsewhere)), elsewhere
        assert services.member_links == PrivateAccess.to(emulator) == services.result_links
    finally:
        await services.close()
    own_api = Config(
        acedata=AceDataSettings(base_url="http://10.0.0.5:8787"),
        store=StoreSettings(path=str(tmp_path / "api.sqlite3")),
    )
    services = await Services.open(own_api, listen=False)
    try:
        assert services.result_links == ANYWHERE and services.member_links == PrivateAccess()
    finally:
        await services.close()
