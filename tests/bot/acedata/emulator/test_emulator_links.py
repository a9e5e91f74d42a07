"""The emulator's media links expire as the API's do, and a video's frames are fetched as the API fetches them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.acedata.emulator import Emulator, EmulatorSettings

AUTH = {"authorization": "Bearer emulator-token", "content-type": "application/json"}
DAY_S = 24 * 3600.0


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def started(**knobs: Any) -> Emulator:
    emulator = Emulator(EmulatorSettings(**{"job_duration_s": 30.0, "video_duration_s": 30.0, **knobs}))
    await emulator.start()
    return emulator


async def post(http: aiohttp.ClientSession, emulator: Emulator, path: str, body: dict[str, Any]) -> Any:
    async with http.post(emulator.url + path, data=json.dumps(body), headers=AUTH) as answer:
        assert answer.status == 200, await answer.text()
        return await answer.json()


async def finished(http: aiohttp.ClientSession, emulator: Emulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit, end the task at once, and return its task record."""
    task_id = (await post(http, emulator, path, {**body, "async": True}))["task_id"]
    emulator.finish(task_id)
    return dict(await post(http, emulator, "/midjourney/tasks", {"action": "retrieve", "id": task_id}))


async def ended(http: aiohttp.ClientSession, emulator: Emulator, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submit and wait for the task to end as it was going to (the video tests run short tasks)."""
    task_id = (await post(http, emulator, path, {**body, "async": True}))["task_id"]
    while True:
        record = await post(http, emulator, "/midjourney/tasks", {"action": "retrieve", "id": task_id})
        if record["finished_at"] is not None:
            return dict(record)
        await asyncio.sleep(0.02)


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as answer:
        await answer.read()
        return answer.status


async def test_result_links_expire_and_a_task_lookup_signs_them_afresh(http: aiohttp.ClientSession) -> None:
    emulator = await started()
    try:
        record = await finished(http, emulator, "/midjourney/imagine", {"prompt": "a lighthouse"})
        old = record["response"]
        assert "expires=" in old["image_url"] and "sig=" in old["raw_image_url"]
        assert await status_of(http, old["image_url"]) == 200

        emulator.advance_clock(DAY_S + 120)
        assert await status_of(http, old["image_url"]) == 403
        assert await status_of(http, old["raw_image_url"]) == 403

        fresh = (await post(http, emulator, "/midjourney/tasks", {"action": "retrieve", "id": record["id"]}))[
            "response"
        ]
        assert fresh["image_url"] != old["image_url"]
        assert await status_of(http, fresh["image_url"]) == 200 and await status_of(http, fresh["raw_image_url"]) == 200
        batch = await post(http, emulator, "/midjourney/tasks", {"action": "retrieve_batch", "ids": [record["id"]]})
        assert await status_of(http, batch["items"][0]["response"]["image_url"]) == 200
    finally:
        await emulator.stop()


async def test_an_unsigned_or_altered_link_is_refused_and_missing_media_stays_404(http: aiohttp.ClientSession) -> None:
    emulator = await started()
    try:
        image_url = (await finished(http, emulator, "/midjourney/imagine", {"prompt": "a fox"}))["response"][
            "image_url"
        ]
        unsigned, query = image_url.split("?", 1)
        assert await status_of(http, unsigned) == 403
        assert await status_of(http, image_url.replace("sig=", "sig=0")) == 403
        assert await status_of(http, image_url.replace("image.png", "nothing.png")) == 404
        later = query.replace("expires=", "expires=9")  # a longer life without a matching signature
        assert await status_of(http, f"{unsigned}?{later}") == 403
    finally:
        await emulator.stop()


async def test_video_links_expire_too(http: aiohttp.ClientSession) -> None:
    emulator = await started()
    try:
        start = (await finished(http, emulator, "/midjourney/imagine", {"prompt": "a kite"}))["response"]["image_url"]
        video = (await finished(http, emulator, "/midjourney/videos", {"prompt": "up", "image_url": start}))["response"]
        assert [await status_of(http, url) for url in (*video["video_urls"], video["image_url"])] == [200] * 5
        emulator.advance_clock(DAY_S + 120)
        assert await status_of(http, video["video_urls"][0]) == 403
    finally:
        await emulator.stop()


async def test_links_never_expire_when_their_lifetime_is_zero(http: aiohttp.ClientSession) -> None:
    emulator = await started(media_link_ttl_s=0)
    try:
        image_url = (await finished(http, emulator, "/midjourney/imagine", {"prompt": "a pier"}))["response"][
            "image_url"
        ]
        assert "?" not in image_url
        emulator.advance_clock(30 * DAY_S)
        assert await status_of(http, image_url) == 200
    finally:
        await emulator.stop()


async def test_a_video_whose_frame_cannot_be_fetched_fails_once_submitted(http: aiohttp.ClientSession) -> None:
    emulator = await started(fetch_images=True, video_duration_s=0.05)
    try:
        frame = (await finished(http, emulator, "/midjourney/imagine", {"prompt": "a dune"}))["response"]["image_url"]
        good = await ended(http, emulator, "/midjourney/videos", {"prompt": "wind", "image_url": frame})
        assert good["response"]["success"] is True

        emulator.advance_clock(DAY_S + 120)  # the frame's link has expired: the API cannot fetch it
        stale = await ended(http, emulator, "/midjourney/videos", {"prompt": "wind", "image_url": frame})
        assert stale["response"]["success"] is False
        error = stale["response"]["error"]
        assert error["code"] == "image_fetch_failed" and "start frame" in error["message"] and "403" in error["message"]
        assert [fetch.status for fetch in emulator.frame_fetches] == [200, 403]
        assert emulator.task_count == 3  # accepted all the same: the credits are spent on the failure

        end = await ended(
            http, emulator, "/midjourney/videos", {"prompt": "wind", "image_url": frame, "end_image_url": frame + "x"}
        )
        assert "start frame" in end["response"]["error"]["message"]  # the first frame that fails is named
    finally:
        await emulator.stop()


async def test_frames_are_not_fetched_unless_asked(http: aiohttp.ClientSession) -> None:
    emulator = await started()
    try:
        video = await finished(
            http, emulator, "/midjourney/videos", {"prompt": "p", "image_url": "http://127.0.0.1:9/x.png"}
        )
        assert video["response"]["success"] is True and emulator.frame_fetches == []
    finally:
        await emulator.stop()
