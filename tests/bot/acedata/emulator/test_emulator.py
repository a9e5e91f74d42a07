"""The loopback API emulator, exercised over real HTTP the way the bot's client talks to it."""

from __future__ import annotations

import asyncio
import json
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS, TaskRecord, TaskStatus

TOKEN = "emulator-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IMAGE = "https://example.com/start.png"


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = Emulator(EmulatorSettings(job_duration_s=0.2, video_duration_s=0.2, seed=7))
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(
    http: aiohttp.ClientSession,
    emu: Emulator,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, CIMultiDictProxy[str]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {**AUTH, "content-type": "application/json", **(headers or {})}
    async with http.post(emu.url + path, data=data, headers=all_headers) as answer:
        return answer.status, await answer.json(), answer.headers


async def submit(http: aiohttp.ClientSession, emu: Emulator, path: str, body: dict[str, Any]) -> str:
    status, payload, _ = await post(http, emu, path, {**body, "async": True})
    assert status == 200, payload
    return str(payload["task_id"])


async def retrieve(http: aiohttp.ClientSession, emu: Emulator, task_id: str) -> dict[str, Any]:
    status, payload, _ = await post(http, emu, "/midjourney/tasks", {"action": "retrieve", "id": task_id})
    assert status == 200
    return dict(payload)


async def finished_image(http: aiohttp.ClientSession, emu: Emulator, body: dict[str, Any]) -> dict[str, Any]:
    """Submit an imagine call, end it at once and return its final result."""
    task_id = await submit(http, emu, "/midjourney/imagine", body)
    emu.finish(task_id)
    record = await retrieve(http, emu, task_id)
    assert record["response"]["success"] is True
    return dict(record["response"])


def assert_error(status: int, payload: Any, expected_status: int, code: str, needle: str = "") -> None:
    assert status == expected_status, payload
    assert payload["success"] is False
    assert payload["error"]["code"] == code
    assert needle.lower() in payload["error"]["message"].lower()
    uuid.UUID(payload["trace_id"])


# -- auth and body -------------------------------------------------------------------------------


async def test_a_missing_or_wrong_token_is_refused(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    for headers in ({"authorization": ""}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {TOKEN}"}):
        status, payload, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "a cat"}, headers)
        assert_error(status, payload, 401, "invalid_token")
    assert emulator.task_count == 0
    emulator.settings.tokens = None
    status, payload, _ = await post(http, emulator, "/midjourney/tasks", {"id": "x"}, {"authorization": "Bearer any"})
    assert (status, payload) == (200, {})


async def test_malformed_bodies_are_bad_requests(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", b"{not json")
    assert_error(status, payload, 400, "bad_request", "not valid JSON")
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", ["prompt"])
    assert_error(status, payload, 400, "bad_request", "JSON object")
    assert emulator.requests[0].body is None and emulator.requests[1].body == ["prompt"]


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/midjourney/imagine", {"action": "generate"}, "prompt is required"),
        ("/midjourney/imagine", {"prompt": "   "}, "prompt is required"),
        ("/midjourney/imagine", {"action": "blend", "prompt": "x"}, "unknown action"),
        ("/midjourney/imagine", {"prompt": "x", "mode": "slow"}, "mode must be one of fast, relax, turbo"),
        ("/midjourney/imagine", {"prompt": "x", "timeout": 0}, "timeout"),
        ("/midjourney/imagine", {"prompt": "x", "callback_url": "ftp://cb"}, "callback_url"),
        ("/midjourney/imagine", {"prompt": "x", "split_images": "yes"}, "split_images must be a boolean"),
        ("/midjourney/imagine", {"prompt": " ".join([IMAGE] * 6) + " cat"}, "at most 5 image URLs"),
        ("/midjourney/imagine", {"prompt": IMAGE}, "needs text or a second image"),
        ("/midjourney/imagine", {"action": "upscale1"}, "image_id is required"),
        ("/midjourney/imagine", {"action": "upscale1", "image_id": "123"}, "image_id '123' is unknown"),
        ("/midjourney/videos", {"prompt": "x"}, "image_url is required"),
        ("/midjourney/videos", {"action": "remix", "image_url": IMAGE}, "unknown action"),
        ("/midjourney/videos", {"image_url": "file:///etc/passwd"}, "image_url must be an http(s) URL"),
        ("/midjourney/videos", {"image_url": IMAGE, "end_image_url": "nope"}, "end_image_url must be"),
        ("/midjourney/videos", {"image_url": IMAGE, "mode": "relax"}, "mode must be one of fast, turbo"),
        ("/midjourney/videos", {"image_url": IMAGE, "resolution": "1080p"}, "resolution must be one of 480p, 720p"),
        ("/midjourney/videos", {"image_url": IMAGE, "loop": True, "end_image_url": IMAGE}, "loop cannot be combined"),
        ("/midjourney/videos", {"action": "extend"}, "video_id is required"),
        ("/midjourney/videos", {"action": "extend", "video_id": "9", "video_index": 4}, "video_index must be"),
        ("/midjourney/videos", {"action": "extend", "video_id": "9", "video_index": True}, "video_index must be"),
        ("/midjourney/videos", {"action": "extend", "video_id": "9"}, "video_id '9' is unknown"),
        ("/midjourney/tasks", {"action": "cancel", "id": "x"}, "unknown action"),
        ("/midjourney/tasks", {"action": "retrieve"}, "id is required"),
        ("/midjourney/tasks", {"action": "retrieve_batch", "ids": "a,b"}, "ids must be a list of strings"),
        ("/midjourney/tasks", {"action": "retrieve_batch", "ids": [], "limit": 0}, "limit must be"),
        ("/midjourney/tasks", {"action": "retrieve_batch", "offset": -1}, "offset must be"),
    ],
)
async def test_invalid_requests_get_a_specific_400(
    emulator: Emulator, http: aiohttp.ClientSession, path: str, body: dict[str, Any], needle: str
) -> None:
    status, payload, headers = await post(http, emulator, path, body)
    assert_error(status, payload, 400, "bad_request", needle)
    assert headers["x-trace-id"] == payload["trace_id"]
    assert emulator.task_count == 0


async def test_follow_ups_must_be_offered_by_the_image(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    grid = await finished_image(http, emulator, {"prompt": "a lighthouse"})
    body = {"action": "upscale_2x", "image_id": grid["image_id"]}
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", body)
    assert_error(status, payload, 400, "bad_request", "not available")
    assert "upscale1" in payload["error"]["message"]
    running = await submit(http, emulator, "/midjourney/imagine", {"prompt": "slow"})
    view = emulator.task(running)
    assert view is not None and view.image_id
    body = {"action": "upscale1", "image_id": view.image_id}
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", body)
    assert_error(status, payload, 400, "bad_request", "has not finished")


async def test_moderation_refuses_the_prompt_and_creates_no_task(
    emulator: Emulator, http: aiohttp.ClientSession
) -> None:
    emulator.settings.moderation_words = ("gore",)
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "Lots of GORE, please"})
    assert_error(status, payload, 403, "forbidden", "content moderation: 'gore' is not allowed")
    status, payload, _ = await post(http, emulator, "/midjourney/videos", {"image_url": IMAGE, "prompt": "gore"})
    assert status == 403
    assert emulator.task_count == 0
    status, _, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "gorgeous gorest", "async": True})
    assert status == 200


# -- delivery modes ------------------------------------------------------------------------------


async def test_async_submit_answers_at_once_and_records_progress() -> None:
    clock = FakeClock()
    emu = Emulator(EmulatorSettings(job_duration_s=6.0), clock=clock)
    await emu.start()
    try:
        async with aiohttp.ClientSession() as http:
            status, ack, _ = await post(http, emu, "/midjourney/imagine", {"prompt": "a fox", "async": True})
            assert status == 200 and set(ack) == {"task_id", "trace_id"}
            clock.now += 3.0
            record = await retrieve(http, emu, ack["task_id"])
            assert record["response"] == {"task_id": ack["task_id"], "progress": 50}
            assert record["finished_at"] is None and record["elapsed"] is None
            assert record["type"] == "imagine" and record["trace_id"] == ack["trace_id"]
            assert record["request"] == {"prompt": "a fox", "async": True}
            parsed = TaskRecord.parse(record)
            assert parsed is not None and parsed.status is TaskStatus.RUNNING
            clock.now += 3.5
            record = await retrieve(http, emu, ack["task_id"])
            assert record["response"]["success"] is True and record["response"]["progress"] == 100
            assert record["finished_at"] == pytest.approx(record["created_at"] + 6.0)
            assert record["elapsed"] == pytest.approx(6.0)
            assert list(record["response"]["actions"]) == list(GRID_ACTIONS)
            status, empty, _ = await post(http, emu, "/midjourney/tasks", {"action": "retrieve", "id": "nope"})
            assert (status, empty) == (200, {})
            by_trace = {"action": "retrieve", "trace_id": ack["trace_id"]}
            assert (await post(http, emu, "/midjourney/tasks", by_trace))[1]["id"] == ack["task_id"]
    finally:
        await emu.stop()


async def test_a_held_request_returns_the_result_or_504(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    status, result, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "a boat --ar 16:9"})
    assert 0.15 < time.monotonic() - started < 1.5
    assert status == 200 and result["success"] is True
    assert (result["image_width"], result["image_height"]) == (256, 144)
    emulator.settings.job_duration_s = 5.0
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "slow", "timeout": 0.1})
    assert_error(status, payload, 504, "timeout")
    assert emulator.task_count == 2  # the task itself goes on


async def test_finish_wakes_a_held_request_at_once(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.settings.video_duration_s = 30.0
    held = asyncio.create_task(post(http, emulator, "/midjourney/videos", {"image_url": IMAGE, "prompt": "waves"}))
    await asyncio.sleep(0.1)
    _, page, _ = await post(http, emulator, "/midjourney/tasks", {"action": "retrieve_batch"})
    started = time.monotonic()
    emulator.finish(page["items"][0]["id"])
    status, result, _ = await held
    assert time.monotonic() - started < 0.5
    assert status == 200 and result["success"] is True and len(result["video_urls"]) == 4


async def test_ndjson_streams_growing_progress_then_the_result(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    headers = {**AUTH, "accept": "application/x-ndjson"}
    body = {"prompt": "a tree", "split_images": True}
    async with http.post(emulator.url + "/midjourney/imagine", json=body, headers=headers) as answer:
        assert answer.status == 200 and answer.content_type == "application/x-ndjson"
        lines = [json.loads(line) async for line in answer.content if line.strip()]
    progress = [line["progress"] for line in lines]
    assert progress == sorted(progress) and progress[-1] == 100 and len(lines) >= 4
    assert all(line["success"] is True and line["task_id"] == lines[0]["task_id"] for line in lines)
    assert all(line["actions"] == [] for line in lines[:-1])
    final = lines[-1]
    assert final["actions"] == list(GRID_ACTIONS) and len(final["sub_image_urls"]) == 4
    async with http.get(lines[0]["image_url"]) as preview:
        assert preview.status == 404  # previews are temporary


async def test_callbacks_deliver_the_result_and_retry(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    received: list[dict[str, Any]] = []
    failures = [1]

    async def receive(request: web.Request) -> web.Response:
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=503)
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        status, ack, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "a kite", "callback_url": hook})
        assert status == 200 and set(ack) == {"task_id", "trace_id"}
        emulator.finish(ack["task_id"])
        await emulator.wait_callbacks()
        assert [r["task_id"] for r in received] == [ack["task_id"]]
        assert received[0]["success"] is True and received[0]["image_id"]
        view = emulator.task(ack["task_id"])
        assert view is not None and view.callbacks[0].attempts == 2 and view.callbacks[0].delivered

        received.clear()
        body = {"image_url": IMAGE, "prompt": "a river", "callback_url": hook}
        status, ack, _ = await post(http, emulator, "/midjourney/videos", body, {"accept": "application/x-ndjson"})
        await asyncio.sleep(0.3)
        await emulator.wait_callbacks()
        progress = [r["progress"] for r in received]
        assert progress == sorted(progress) and len(progress) >= 3 and progress[-1] == 100
        assert received[-1]["video_id"] and len(received[-1]["video_urls"]) == 4
    finally:
        await runner.cleanup()


# -- task lookups ---------------------------------------------------------------------------------


async def test_retrieve_batch_applies_limit_offset_and_filters() -> None:
    clock = FakeClock()
    emu = Emulator(EmulatorSettings(job_duration_s=10.0), clock=clock)
    await emu.start()
    try:
        async with aiohttp.ClientSession() as http:
            ids = []
            for n in range(15):
                ids.append(await submit(http, emu, "/midjourney/imagine", {"prompt": f"cat {n}"}))
                clock.now += 1.0
            batch = {"action": "retrieve_batch", "ids": [*ids, "unknown"]}
            _, page, _ = await post(http, emu, "/midjourney/tasks", batch)
            assert page["count"] == 15 and [item["id"] for item in page["items"]] == ids[:12]
            _, page, _ = await post(http, emu, "/midjourney/tasks", {**batch, "limit": 50})
            assert [item["id"] for item in page["items"]] == ids
            _, page, _ = await post(http, emu, "/midjourney/tasks", {**batch, "offset": 10, "limit": 3})
            assert [item["id"] for item in page["items"]] == ids[10:13] and page["count"] == 15
            start = 1_800_000_000.0
            window = {"action": "retrieve_batch", "created_at_min": start + 3, "created_at_max": start + 6, "limit": 50}
            _, page, _ = await post(http, emu, "/midjourney/tasks", window)
            assert [item["id"] for item in page["items"]] == ids[3:7] and page["count"] == 4
            _, page, _ = await post(http, emu, "/midjourney/tasks", {"action": "retrieve_batch"})
            assert page["count"] == 15 and len(page["items"]) == 12
            statuses = [TaskRecord.parse(item).status for item in page["items"]]  # type: ignore[union-attr]
            assert statuses[:5] == [TaskStatus.SUCCEEDED] * 5 and statuses[-1] is TaskStatus.RUNNING
    finally:
        await emu.stop()


async def test_batches_over_a_thousand_tasks_are_fast(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    semaphore = asyncio.Semaphore(50)

    async def one(n: int) -> str:
        async with semaphore:
            return await submit(http, emulator, "/midjourney/imagine", {"prompt": f"dog {n}"})

    ids = await asyncio.gather(*(one(n) for n in range(1000)))
    started = time.perf_counter()
    for chunk in range(20):
        wanted = ids[chunk * 50 : chunk * 50 + 50]
        batch = {"action": "retrieve_batch", "ids": wanted, "limit": 50}
        _, page, _ = await post(http, emulator, "/midjourney/tasks", batch)
        assert [item["id"] for item in page["items"]] == wanted
    assert time.perf_counter() - started < 1.5


# -- faults and failures ----------------------------------------------------------------------------


async def test_faults_answer_errors_delay_or_drop(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    fault = emulator.inject_fault(429, path="/midjourney/imagine", retry_after=2)
    status, payload, headers = await post(http, emulator, "/midjourney/imagine", {"prompt": "x", "async": True})
    assert_error(status, payload, 429, "too_many_requests")
    assert headers["Retry-After"] == "2" and fault.hits == 1 and emulator.task_count == 0
    status, _, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "x", "async": True})
    assert status == 200 and emulator.task_count == 1

    emulator.inject_fault(500, count=2)
    for _ in range(2):
        status, payload, _ = await post(http, emulator, "/midjourney/tasks", {"id": "x"})
        assert_error(status, payload, 500, "api_error")
    assert (await post(http, emulator, "/midjourney/tasks", {"id": "x"}))[0] == 200

    emulator.inject_fault(delay_s=0.2, path="/midjourney/tasks")
    started = time.monotonic()
    assert (await post(http, emulator, "/midjourney/tasks", {"id": "x"}))[:2] == (200, {})
    assert time.monotonic() - started >= 0.2

    emulator.inject_fault(drop=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(http, emulator, "/midjourney/tasks", {"id": "x"})
    assert len(emulator.requests) == 7


async def test_failure_rate_fails_tasks_after_acceptance(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.settings.failure_rate = 1.0
    status, result, _ = await post(http, emulator, "/midjourney/imagine", {"prompt": "doomed"})
    assert status == 200 and result["success"] is False
    assert result["error"] == {"code": "failed", "message": "The job failed to render, please retry"}
    video = await submit(http, emulator, "/midjourney/videos", {"image_url": IMAGE})
    await asyncio.sleep(0.25)
    record = TaskRecord.parse(await retrieve(http, emulator, video))
    assert record is not None and record.status is TaskStatus.FAILED and record.finished_at is not None
    assert record.result is not None and "video failed" in (record.result.error_message or "")
    forced = await submit(http, emulator, "/midjourney/imagine", {"prompt": "x"})
    emulator.finish(forced, success=False, error_code="api_error", error_message="Midjourney is down")
    view = emulator.task(forced)
    assert view is not None and view.status is TaskStatus.FAILED
    assert view.response is not None and view.response["error"]["message"] == "Midjourney is down"


async def test_legacy_fields_mimic_the_documentation_examples(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    emulator.settings.legacy_fields = True
    grid = await finished_image(http, emulator, {"prompt": "old style"})
    assert grid["image_width"] == "256" and grid["raw_image_height"] == "512"
    record = await retrieve(http, emulator, grid["task_id"])
    assert "elapsed" not in record and record["duration"] is not None
    parsed = TaskRecord.parse(record)
    assert parsed is not None and parsed.elapsed is not None and parsed.result is not None
    assert parsed.result.image_width == 256
    status, payload, _ = await post(http, emulator, "/midjourney/imagine", {})
    assert status == 400 and "success" not in payload and payload["error"]["code"] == "bad_request"


# -- media ------------------------------------------------------------------------------------------


def png_dimensions(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def fetch(http: aiohttp.ClientSession, url: str, method: str = "GET") -> tuple[int, str, bytes]:
    async with http.request(method, url) as answer:
        return answer.status, answer.content_type, await answer.read()


async def test_images_are_real_pngs_of_the_reported_size(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    grid = await finished_image(http, emulator, {"prompt": "a bridge", "split_images": True})
    status, kind, data = await fetch(http, grid["image_url"])
    assert (status, kind) == (200, "image/png")
    assert png_dimensions(data) == (grid["image_width"], grid["image_height"]) == (256, 256)
    _, _, raw = await fetch(http, grid["raw_image_url"])
    assert png_dimensions(raw) == (grid["raw_image_width"], grid["raw_image_height"])
    _, _, cell = await fetch(http, grid["sub_image_urls"][3])
    assert png_dimensions(cell) == (128, 128)
    status, kind, body = await fetch(http, grid["image_url"], "HEAD")
    assert (status, kind, body) == (200, "image/png", b"")
    assert (await fetch(http, grid["image_url"].replace(grid["task_id"], "nope")))[0] == 404


async def test_videos_are_real_mp4s_and_padding_grows_them(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    task_id = await submit(http, emulator, "/midjourney/videos", {"image_url": IMAGE, "prompt": "surf"})
    assert (await fetch(http, f"{emulator.url}/media/videos/{task_id}/0.mp4"))[0] == 404  # not done yet
    emulator.finish(task_id)
    result = (await retrieve(http, emulator, task_id))["response"]
    status, kind, clip = await fetch(http, result["video_urls"][0])
    assert (status, kind) == (200, "video/mp4") and clip[4:8] == b"ftyp" and len(clip) < 30_000
    _, _, cover = await fetch(http, result["image_url"])
    assert png_dimensions(cover) == (result["image_width"], result["image_height"])
    clips = {(await fetch(http, url))[2] for url in result["video_urls"]}
    assert len(clips) == 4

    emulator.settings.clip_padding_bytes = 100_000
    status, kind, padded = await fetch(http, result["video_urls"][0])
    assert (status, kind) == (200, "video/mp4") and padded[4:8] == b"ftyp"
    assert len(padded) == len(clip) + 100_000 and padded.startswith(clip)
    size, box = struct.unpack(">I4s", padded[len(clip) : len(clip) + 8])
    assert (size, box) == (100_000, b"free")
    async with http.head(result["video_urls"][0]) as head:
        assert head.status == 200 and head.content_type == "video/mp4"
        assert head.content_length == len(padded) and await head.read() == b""
    assert (await fetch(http, f"{emulator.url}/media/videos/{task_id}/4.mp4"))[0] == 404


# -- chaining -----------------------------------------------------------------------------------------


async def test_image_ids_chain_through_follow_ups(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    grid = await finished_image(http, emulator, {"prompt": "a castle"})
    single = await finished_image(http, emulator, {"action": "upscale2", "image_id": grid["image_id"]})
    assert single["image_id"] != grid["image_id"]
    assert single["actions"] == list(UPSCALED_ACTIONS) and single["image_width"] == 256
    big = await finished_image(http, emulator, {"action": "upscale_2x", "image_id": single["image_id"]})
    assert big["image_width"] == 512 and "upscale_2x" not in big["actions"] and "pan_left" in big["actions"]
    _, _, data = await fetch(http, big["image_url"])
    assert png_dimensions(data) == (512, 512)
    for action in ("variation_subtle", "zoom_out_2x", "pan_up"):
        again = await finished_image(http, emulator, {"action": action, "image_id": big["image_id"]})
        assert again["actions"] == list(GRID_ACTIONS) and again["image_width"] == 256
    rerolled = await finished_image(http, emulator, {"action": "reroll", "image_id": grid["image_id"]})
    assert rerolled["actions"] == list(GRID_ACTIONS)
    ids = {grid["image_id"], single["image_id"], big["image_id"], rerolled["image_id"]}
    assert len(ids) == 4


async def test_extend_works_on_extended_videos(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    first = await submit(http, emulator, "/midjourney/videos", {"image_url": IMAGE, "prompt": "clouds"})
    emulator.finish(first)
    video_id = (await retrieve(http, emulator, first))["response"]["video_id"]
    for index in (2, 0):
        body = {"action": "extend", "video_id": video_id, "video_index": index, "prompt": "more"}
        status, result, _ = await post(http, emulator, "/midjourney/videos", body)
        assert status == 200 and result["success"] is True
        assert result["video_id"] != video_id and len(result["video_urls"]) == 4
        video_id = result["video_id"]
    record = await retrieve(http, emulator, result["task_id"])
    assert record["type"] == "videos" and record["request"]["action"] == "extend"


# -- admin routes -------------------------------------------------------------------------------------


async def test_admin_routes_drive_the_emulator(emulator: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.post(emulator.url + "/_emulator/faults", json={"status": 503, "count": 1}) as answer:
        assert answer.status == 200 and (await answer.json())["remaining"] == 1
    status, payload, _ = await post(http, emulator, "/midjourney/tasks", {"id": "x"})
    assert status == 503 and payload["error"]["code"] == "service_unavailable"
    async with http.post(emulator.url + "/_emulator/faults", json={"status": 200}) as answer:
        assert answer.status == 400
    task_id = await submit(http, emulator, "/midjourney/imagine", {"prompt": "admin"})
    async with http.post(f"{emulator.url}/_emulator/tasks/{task_id}/finish", json={"success": False}) as answer:
        assert answer.status == 200 and (await answer.json())["status"] == "failed"
    async with http.post(f"{emulator.url}/_emulator/tasks/nope/finish") as answer:
        assert answer.status == 404
    async with http.get(emulator.url + "/_emulator/state") as answer:
        state = await answer.json()
    assert state["task_count"] == 1 and state["request_count"] == 2 and state["url"] == emulator.url


async def test_stopping_ends_held_requests_at_once(http: aiohttp.ClientSession) -> None:
    emu = Emulator(EmulatorSettings(job_duration_s=60.0))
    await emu.start()
    held = asyncio.create_task(post(http, emu, "/midjourney/imagine", {"prompt": "never mind"}))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await emu.stop()
    status, payload, _ = await held
    assert time.monotonic() - started < 1.0
    assert_error(status, payload, 503, "service_unavailable", "shutting down")
