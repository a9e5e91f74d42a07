"""The loopback Discord's attachment links: signed, expiring, re-signed on every fetch, refreshable while kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from fakediscord import FakeDiscord, FakeMessage, UploadedFile

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
DAY_S = 24 * 3600.0
BOT = {"Authorization": "Bot fake-token"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as answer:
        await answer.read()
        return answer.status


async def refresh(http: aiohttp.ClientSession, fake: FakeDiscord, urls: list[str]) -> tuple[int, Any]:
    body = {"attachment_urls": urls}
    async with http.post(f"{fake.api_base}/attachments/refresh-urls", json=body, headers=BOT) as answer:
        return answer.status, await answer.json()


async def posted_with_file(fake: FakeDiscord) -> FakeMessage:
    upload = UploadedFile("files[0]", "frame.png", "image/png", PNG)
    return await fake.create_message(fake.general, {"content": "a frame"}, [upload], author=fake.bot_user)


async def fetch_message(http: aiohttp.ClientSession, fake: FakeDiscord, message: FakeMessage) -> dict[str, Any]:
    url = f"{fake.api_base}/channels/{message.channel_id}/messages/{message.id}"
    async with http.get(url, headers=BOT) as answer:
        assert answer.status == 200
        data: dict[str, Any] = await answer.json()
        return data


async def test_links_are_signed_like_the_cdn_and_expire(fake_discord: FakeDiscord, http: aiohttp.ClientSession) -> None:
    message = await posted_with_file(fake_discord)
    url = message.attachments[0]["url"]
    assert "?ex=" in url and "&is=" in url and "&hm=" in url
    assert await status_of(http, url) == 200
    assert await status_of(http, url.split("?")[0]) == 403  # unsigned
    assert await status_of(http, url.replace("hm=", "hm=0")) == 403  # altered
    fake_discord.advance_clock(DAY_S + 1)
    assert await status_of(http, url) == 404


async def test_every_fetch_of_a_message_signs_its_links_afresh(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    message = await posted_with_file(fake_discord)
    old = message.attachments[0]["url"]
    fake_discord.advance_clock(DAY_S + 1)
    fetched = (await fetch_message(http, fake_discord, message))["attachments"][0]["url"]
    assert fetched != old and await status_of(http, fetched) == 200
    async with http.get(f"{fake_discord.api_base}/channels/{message.channel_id}/messages", headers=BOT) as answer:
        history = await answer.json()
    assert await status_of(http, history[0]["attachments"][0]["url"]) == 200


async def test_refresh_urls_signs_a_link_again_while_its_file_exists(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    message = await posted_with_file(fake_discord)
    old = message.attachments[0]["url"]
    fake_discord.advance_clock(DAY_S + 1)
    status, answer = await refresh(http, fake_discord, [old, "https://example.org/a.png"])
    assert status == 200
    (mine, foreign) = answer["refreshed_urls"]
    assert mine["original"] == old and mine["refreshed"] != old and await status_of(http, mine["refreshed"]) == 200
    assert foreign == {"original": "https://example.org/a.png", "refreshed": "https://example.org/a.png"}

    await fake_discord.delete_message(message)  # its files go with it
    _, answer = await refresh(http, fake_discord, [old])
    assert answer["refreshed_urls"][0]["refreshed"] == old
    assert await status_of(http, mine["refreshed"]) == 404
    assert (await refresh(http, fake_discord, []))[0] == 400


async def test_an_upload_lives_on_its_interaction_and_ends_with_its_first_link(
    fake_discord: FakeDiscord, http: aiohttp.ClientSession
) -> None:
    upload = fake_discord.upload("start.png", PNG)
    assert await status_of(http, upload.url) == 200
    fake_discord.advance_clock(DAY_S - 60)
    _, answer = await refresh(http, fake_discord, [upload.url])
    assert await status_of(http, answer["refreshed_urls"][0]["refreshed"]) == 200  # refreshed, but no longer-lived
    fake_discord.advance_clock(120)
    assert await status_of(http, upload.url) == 404
    _, answer = await refresh(http, fake_discord, [upload.url])
    assert await status_of(http, answer["refreshed_urls"][0]["refreshed"]) == 404
