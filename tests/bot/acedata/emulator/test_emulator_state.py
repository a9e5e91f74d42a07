"""The emulator's tasks survive a restart when it keeps them in a state file (the sandbox does)."""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS

TOKEN = "emulator-token"
AUTH = {"authorization": f"Bearer {TOKEN}"}
IMAGE = "https://example.com/start.png"
START = 1_800_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def settings(state: Path, **knobs: Any) -> EmulatorSettings:
    return EmulatorSettings(state_path=str(state), **knobs)


async def post(http: aiohttp.ClientSession, emu: Emulator, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(emu.url + path, json=body, headers=AUTH) as answer:
        return answer.status, await answer.json()


async def submit(http: aiohttp.ClientSession, emu: Emulator, path: str, body: dict[str, Any]) -> str:
    status, ack = await post(http, emu, path, {**body, "async": True})
    assert status == 200, ack
    return str(ack["task_id"])


async def retrieve(http: aiohttp.ClientSession, emu: Emulator, task_id: str) -> dict[str, Any]:
    status, record = await post(http, emu, "/midjourney/tasks", {"action": "retrieve", "id": task_id})
    assert status == 200
    return dict(record)


async def fetch(http: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with http.get(url) as answer:
        return answer.status, answer.content_type, await answer.read()


def png_dimensions(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def names_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def saved_tasks(state: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(state.read_text())
    assert data["version"] == 1
    return {task["id"]: task for task in data["tasks"]}


async def test_finished_and_running_tasks_survive_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "emulator-state.json"
    clock = FakeClock()
    first = Emulator(settings(state, job_duration_s=10.0, video_duration_s=20.0), clock=clock)
    await first.start()
    grid_id = await submit(http, first, "/midjourney/imagine", {"prompt": "a lighthouse", "split_images": True})
    video_id = await submit(http, first, "/midjourney/videos", {"image_url": IMAGE, "prompt": "waves"})
    refused_id = await submit(http, first, "/midjourney/imagine", {"prompt": "a storm"})
    first.finish(grid_id)
    first.finish(video_id)
    first.finish(refused_id, success=False, error_code="failed", error_message="no luck")
    due_id = await submit(http, first, "/midjourney/imagine", {"prompt": "due while down"})
    first.settings.failure_rate = 1.0
    doomed_id = await submit(http, first, "/midjourney/videos", {"image_url": IMAGE, "prompt": "doomed"})
    first.settings.failure_rate = 0.0
    first.settings.job_duration_s = 100.0
    running_id = await submit(http, first, "/midjourney/imagine", {"prompt": "still running"})
    before = {task_id: await retrieve(http, first, task_id) for task_id in (grid_id, video_id, refused_id)}
    old_url = first.url
    await first.stop()
    assert set(saved_tasks(state)) == {grid_id, video_id, refused_id, due_id, doomed_id, running_id}

    clock.now = START + 50.0  # the bot was down for 50 s: the 10 s and 20 s tasks came due meanwhile
    later = FakeClock(clock.now)
    second = Emulator(settings(state, job_duration_s=10.0, video_duration_s=20.0), clock=later)
    await second.start(port=urlsplit(old_url).port or 0)  # the sandbox listens on a fixed port
    try:
        assert second.url == old_url and second.task_count == 6
        for task_id, record in before.items():
            assert await retrieve(http, second, task_id) == record
        due = await retrieve(http, second, due_id)
        assert due["response"]["success"] is True and due["response"]["actions"] == list(GRID_ACTIONS)
        assert due["finished_at"] == due["created_at"] + 10.0 and due["elapsed"] == 10.0
        doomed = await retrieve(http, second, doomed_id)
        assert doomed["response"]["success"] is False and doomed["response"]["error"]["code"] == "failed"
        assert doomed["finished_at"] == doomed["created_at"] + 20.0

        running = await retrieve(http, second, running_id)
        assert running["response"] == {"task_id": running_id, "progress": 50} and running["finished_at"] is None
        status, page = await post(http, second, "/midjourney/tasks", {"action": "retrieve_batch", "ids": [running_id]})
        assert status == 200 and page["count"] == 1 and page["items"][0]["finished_at"] is None
        later.now = START + 100.0
        running = await retrieve(http, second, running_id)
        assert running["response"]["success"] is True and running["finished_at"] == running["created_at"] + 100.0

        # Results handed out before the restart still work: media URLs and follow-up ids.
        grid = before[grid_id]["response"]
        status, kind, data = await fetch(http, grid["image_url"])
        assert (status, kind) == (200, "image/png") and png_dimensions(data) == (256, 256)
        assert png_dimensions((await fetch(http, grid["sub_image_urls"][2]))[2]) == (128, 128)
        clips = before[video_id]["response"]
        status, kind, clip = await fetch(http, clips["video_urls"][3])
        assert (status, kind) == (200, "video/mp4") and clip[4:8] == b"ftyp"
        assert (await fetch(http, clips["image_url"]))[:2] == (200, "image/png")

        upscale_id = await submit(
            http, second, "/midjourney/imagine", {"action": "upscale3", "image_id": grid["image_id"]}
        )
        second.finish(upscale_id)
        single = (await retrieve(http, second, upscale_id))["response"]
        assert single["success"] is True and single["actions"] == list(UPSCALED_ACTIONS)
        assert single["image_id"] not in (grid["image_id"], due["response"]["image_id"])
        extend = {"action": "extend", "video_id": clips["video_id"], "video_index": 1, "prompt": "more"}
        extend_id = await submit(http, second, "/midjourney/videos", extend)
        second.finish(extend_id)
        extended = (await retrieve(http, second, extend_id))["response"]
        assert extended["success"] is True and extended["video_id"] != clips["video_id"]
        status, refused = await post(
            http, second, "/midjourney/imagine", {"action": "upscale1", "image_id": "123", "async": True}
        )
        assert status == 400 and "unknown" in refused["error"]["message"]
    finally:
        await second.stop()
    assert len(saved_tasks(state)) == 8


async def test_media_is_served_whatever_address_the_emulator_has_now(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    state = tmp_path / "state.json"
    first = Emulator(settings(state, job_duration_s=60.0))
    await first.start()
    task_id = await submit(http, first, "/midjourney/imagine", {"prompt": "a meadow --ar 2:1"})
    first.finish(task_id)
    result = (await retrieve(http, first, task_id))["response"]
    await first.stop()

    second = Emulator(settings(state, job_duration_s=60.0))
    await second.start()  # another port: the record keeps the address it was made with
    try:
        record = await retrieve(http, second, task_id)
        assert record["response"]["image_url"] == result["image_url"]
        for key, size in (("image_url", (256, 128)), ("raw_image_url", (512, 256))):
            link = urlsplit(result[key])  # the old address's path and signature, on the new address
            status, kind, data = await fetch(http, f"{second.url}{link.path}?{link.query}")
            assert (status, kind) == (200, "image/png") and png_dimensions(data) == size
    finally:
        await second.stop()


async def test_callbacks_of_running_tasks_are_sent_after_a_restart(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    received: list[dict[str, Any]] = []
    arrived_at: list[float] = []
    arrived = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(await request.json())
        arrived_at.append(time.time())
        arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    hook = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    state = tmp_path / "state.json"
    try:
        first = Emulator(settings(state, job_duration_s=0.3))
        await first.start()
        status, ack = await post(http, first, "/midjourney/imagine", {"prompt": "quick", "callback_url": hook})
        assert status == 200
        quick_id = ack["task_id"]
        first.settings.job_duration_s = 1.0
        status, ack = await post(http, first, "/midjourney/imagine", {"prompt": "slow", "callback_url": hook})
        slow_id = ack["task_id"]
        await first.stop()
        assert received == []

        await asyncio.sleep(0.4)  # the quick task comes due while no emulator runs
        second = Emulator(settings(state))
        await second.start()
        try:
            quick = await retrieve(http, second, quick_id)
            assert quick["response"]["success"] is True
            assert quick["finished_at"] == pytest.approx(quick["created_at"] + 0.3)
            await asyncio.wait_for(arrived.wait(), timeout=3.0)
            await second.wait_callbacks()
            assert [payload["task_id"] for payload in received] == [slow_id]  # none for the task that ended unseen
            assert received[0]["success"] is True and received[0]["image_id"]
            slow = await retrieve(http, second, slow_id)
            assert slow["finished_at"] == pytest.approx(slow["created_at"] + 1.0)
            assert slow["finished_at"] <= arrived_at[0] < slow["finished_at"] + 0.5  # on its original schedule
        finally:
            await second.stop()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"version": 1, "tasks": [{"id": ', "Expecting value"),
        (b"\x80\x81 not text", "utf-8"),
        (b'{"version": 99, "tasks": []}', "version 99"),
        (b'{"version": 1, "tasks": [{"id": "x"}]}', "task #1"),
    ],
)
async def test_an_unusable_state_file_is_set_aside_and_the_emulator_starts_empty(
    tmp_path: Path, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    state = tmp_path / "state.json"
    state.write_bytes(content)
    emu = Emulator(settings(state))
    with caplog.at_level(logging.WARNING, logger="bot.acedata.emulator"):
        await emu.start()
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and str(state) in warnings[0] and reason in warnings[0]
        assert "state.json.corrupt" in warnings[0]
        assert emu.task_count == 0
        assert (tmp_path / "state.json.corrupt").read_bytes() == content
        assert not state.exists()
        task_id = await submit(http, emu, "/midjourney/imagine", {"prompt": "a fresh start"})
    finally:
        await emu.stop()
    assert list(saved_tasks(state)) == [task_id]
    assert (tmp_path / "state.json.corrupt").read_bytes() == content
    assert names_in(tmp_path) == ["state.json", "state.json.corrupt"]


async def test_saves_are_coalesced(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "nested" / "state.json"
    emu = Emulator(settings(state, job_duration_s=60.0))
    await emu.start()
    try:
        assert emu.state()["state_saves"] == 0 and not state.exists()
        began = time.monotonic()
        ids = await asyncio.gather(
            *(submit(http, emu, "/midjourney/imagine", {"prompt": f"cat {n}"}) for n in range(200))
        )
        took = time.monotonic() - began
        await asyncio.sleep(0.05)
        saves = emu.state()["state_saves"]
        assert 1 <= saves <= 2 + took / 0.5  # 200 changes, at most one write per half second
        assert state.exists()
    finally:
        await emu.stop()
    assert emu.state()["state_saves"] <= saves + 2
    assert set(saved_tasks(state)) == set(ids)
    assert names_in(state.parent) == ["state.json"]  # no temporary file left behind

    again = Emulator(settings(state, job_duration_s=60.0))
    await again.start()
    try:
        assert again.task_count == 200 and again.state()["state_saves"] == 0
    finally:
        await again.stop()
    assert again.state()["state_saves"] == 0  # nothing changed: nothing written


async def test_stop_writes_the_changes_not_saved_yet(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "state.json"
    emu = Emulator(settings(state, job_duration_s=60.0))
    await emu.start()
    try:
        first = await submit(http, emu, "/midjourney/imagine", {"prompt": "first"})
        for _ in range(50):
            if emu.state()["state_saves"] == 1:
                break
            await asyncio.sleep(0.01)
        assert emu.state()["state_saves"] == 1  # the first change after a quiet spell is written at once
        emu.finish(first)
        second = await submit(http, emu, "/midjourney/imagine", {"prompt": "second"})
        saved = saved_tasks(state)  # the next write waits for the interval to pass
        assert list(saved) == [first] and saved[first]["finished_at"] is None
    finally:
        await emu.stop()
    assert emu.state()["state_saves"] == 2
    saved = saved_tasks(state)
    assert list(saved) == [first, second]
    assert saved[first]["response"]["success"] is True and saved[second]["finished_at"] is None
