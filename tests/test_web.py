"""The callback and health listener, over real HTTP, with the emulator POSTing real callbacks."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from engine_kit import TOKEN, EventLog, FakeClock, no_sleep

from bot import __version__
from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import VideoGenerate
from bot.acedata.retry import RetryPolicy
from bot.jobs import JobEngine, JobEventType
from bot.store import Job, JobStatus, Store
from bot.web import WebServer, callback_path_prefix, callback_url_for

SECRET = "cb-secret-9d2e41f0a7"
VIDEO = VideoGenerate(prompt="waves on a pier", image_url="https://example.com/pier.png")
TASKS = "/midjourney/tasks"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    emulator = Emulator(
        EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=600, video_duration_s=600), clock=clock
    )
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def client(http: aiohttp.ClientSession, emu: Emulator) -> AceDataClient:
    return AceDataClient(http, token=TOKEN, base_url=emu.url, retry=RetryPolicy(attempts=2), sleep=no_sleep)


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Store]:
    opened = await Store.open(tmp_path / "jobs.sqlite3", clock=clock)
    yield opened
    await opened.close()


class Stack:
    """An engine with callbacks on, and the listener they arrive at."""

    def __init__(self, engine: JobEngine, web: WebServer, base_url: str, events: EventLog) -> None:
        self.engine = engine
        self.web = web
        self.base_url = base_url
        self.events = events


async def open_stack(
    client: AceDataClient,
    store: Store,
    clock: FakeClock,
    *,
    secret: str | None = SECRET,
    prefix: str = "",
    health: Any = None,
) -> Stack:
    port = free_port()
    public = f"http://127.0.0.1:{port}{prefix}"
    engine = JobEngine(
        client,
        store,
        clock=clock,
        callback_url=callback_url_for(public, secret) if secret else None,
        callback_poll_interval_s=60,
    )
    events = EventLog()
    engine.subscribe(events)
    web = WebServer(
        engine,
        host="127.0.0.1",
        port=port,
        callback_secret=secret,
        callback_path_prefix=callback_path_prefix(public),
        health=health,
    )
    base_url = await web.start()
    return Stack(engine, web, base_url, events)


@pytest.fixture
async def stack(client: AceDataClient, store: Store, clock: FakeClock) -> AsyncIterator[Stack]:
    opened = await open_stack(client, store, clock)
    await opened.engine.start()
    yield opened
    await opened.engine.stop()
    await opened.web.stop()


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as answer:
        text = await answer.text()
        try:
            return answer.status, json.loads(text)
        except ValueError:
            return answer.status, text


async def test_a_callback_finishes_the_job_without_polling(stack: Stack, emu: Emulator, store: Store) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.get_job(job_id)
    assert job is not None and job.task_id
    assert emu.requests[-1].body["callback_url"] == f"{stack.base_url}/acedata/callback/{SECRET}"

    emu.finish(job.task_id)
    done = await stack.engine.wait(job_id, timeout=5)

    assert done.status is JobStatus.SUCCEEDED and len(done.video_urls) == 4
    assert stack.events.types(job_id)[-1] is JobEventType.SUCCEEDED
    assert [request for request in emu.requests if request.path == TASKS] == []
    await emu.wait_callbacks()
    [delivery] = emu.task(job.task_id).callbacks  # type: ignore[union-attr]
    assert delivery.delivered and delivery.status == 200
    assert stack.engine.tracked_count == 0


async def test_a_wrong_secret_gets_404_and_changes_nothing(
    stack: Stack, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.get_job(job_id)
    assert job is not None and job.task_id
    forged = {"success": True, "task_id": job.task_id, "video_id": "forged", "progress": 100}

    for path in ("/acedata/callback/wrong-secret", f"/acedata/callback/{SECRET}x", "/acedata/callback/"):
        status, _ = await post(http, stack.base_url + path, forged)
        assert status == 404

    after = await store.get_job(job_id)
    assert after == job and after.status is JobStatus.RUNNING
    assert stack.engine.tracked_count == 1


async def test_callbacks_disabled_answer_404(
    client: AceDataClient, store: Store, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock, secret=None)
    try:
        status, _ = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", {"task_id": "t"})
        assert status == 404
    finally:
        await stack.web.stop()


async def test_a_duplicate_callback_and_a_poll_announce_the_result_once(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.get_job(job_id)
    assert job is not None and job.task_id
    emu.finish(job.task_id)
    await stack.engine.wait(job_id, timeout=5)
    await emu.wait_callbacks()
    final = emu.task(job.task_id).callbacks[0].payload  # type: ignore[union-attr]

    status, answer = await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", dict(final))
    assert (status, answer) == (200, {"ok": True})
    await stack.engine.poll_once()
    await stack.events.settle()

    assert stack.events.types(job_id).count(JobEventType.SUCCEEDED) == 1


async def test_a_lost_callback_is_caught_by_the_safety_net_poll(
    stack: Stack, emu: Emulator, store: Store, http: aiohttp.ClientSession
) -> None:
    job_id = await stack.engine.submit(VIDEO)
    job = await store.get_job(job_id)
    assert job is not None and job.task_id
    await stack.web.stop()  # the callback cannot be delivered
    emu.finish(job.task_id)
    assert await stack.engine.poll_once() == 1
    await stack.events.wait_for(job_id, JobEventType.SUCCEEDED)
    assert (await store.get_job(job_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]


async def test_bad_callback_bodies_are_refused_and_unknown_tasks_acknowledged(
    stack: Stack, store: Store, http: aiohttp.ClientSession
) -> None:
    url = f"{stack.base_url}/acedata/callback/{SECRET}"
    assert (await post(http, url, b"not json"))[0] == 400
    assert (await post(http, url, [1, 2]))[0] == 400
    assert (await post(http, url, {"success": True}))[0] == 400
    assert (await post(http, url, b"x" * (2 << 20)))[0] == 413
    assert await post(http, url, {"task_id": "no-such-task", "success": True}) == (200, {"ok": False})
    assert await store.recent_jobs() == []


async def test_callbacks_arrive_under_the_public_url_path(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock, prefix="/mjbot")
    try:
        await stack.engine.start()
        job_id = await stack.engine.submit(VIDEO)
        assert (
            emu.requests[-1]
            .body["callback_url"]
            .endswith(f":{stack.base_url.rsplit(':', 1)[1]}/mjbot/acedata/callback/{SECRET}")
        )
        job = await store.get_job(job_id)
        assert job is not None and job.task_id
        emu.finish(job.task_id)
        assert (await stack.engine.wait(job_id, timeout=5)).status is JobStatus.SUCCEEDED
        unknown = {"task_id": "other", "success": True}
        assert (await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", unknown))[0] == 200  # prefix stripped
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_the_secret_never_reaches_the_log(
    stack: Stack, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await post(http, f"{stack.base_url}/acedata/callback/{SECRET}", {"task_id": "t1", "success": True})
    await post(http, f"{stack.base_url}/acedata/callback/{SECRET}-wrong", {"task_id": "t1"})
    assert "/acedata/callback/***" in caplog.text
    assert SECRET not in caplog.text


async def test_healthz_is_503_until_the_engine_runs_and_names_the_part_that_fails(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    discord_problem: list[str | None] = ["not connected to Discord yet"]

    async def extra() -> Mapping[str, Any]:
        return {"discord_connected": discord_problem[0] is None, "problems": {"discord": discord_problem[0]}}

    stack = await open_stack(client, store, clock, health=extra)
    url = f"{stack.base_url}/healthz"
    try:
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 503
        assert body["unhealthy"] == ["discord", "engine"]
        assert body["reason"] == "engine: the job engine is not running; discord: not connected to Discord yet"

        await stack.engine.start()
        await stack.engine.submit(VIDEO)
        await stack.engine.poll_once()
        async with http.get(url) as answer:
            assert answer.status == 503
            assert (await answer.json())["unhealthy"] == ["discord"]  # the engine is fine now

        discord_problem[0] = None
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200
        assert body["status"] == "ok" and body["unhealthy"] == [] and "reason" not in body
        assert body["tracked_jobs"] == 1 and body["last_poll_ok"] is True and body["api_problem"] is None
        assert body["version"] == __version__ and body["discord_connected"] is True
        assert body["last_poll_at"] == pytest.approx(clock.now)
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_reports_a_failing_api_but_stays_healthy_while_the_loop_ticks(
    client: AceDataClient, store: Store, clock: FakeClock, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    try:
        await stack.engine.start()
        await stack.engine.submit(VIDEO)
        emu.inject_fault(500, path=TASKS, count=100)
        for _ in range(4):
            clock.advance(60)
            await stack.engine.poll_once()
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 200  # restarting the bot would not mend the provider
        assert body["last_poll_ok"] is False
        assert "no successful poll" in body["api_problem"] and "fetch failed" in body["api_problem"]
    finally:
        await stack.engine.stop()
        await stack.web.stop()


async def test_healthz_is_503_when_the_poll_loop_has_not_ticked_for_three_intervals(
    client: AceDataClient, store: Store, clock: FakeClock, http: aiohttp.ClientSession
) -> None:
    stack = await open_stack(client, store, clock)
    url = f"{stack.base_url}/healthz"
    try:
        await stack.engine.start()
        while stack.engine.health().last_poll_at is None:  # noqa: ASYNC110 - the loop's first tick; then a minute
            await asyncio.sleep(0.01)
        interval = stack.engine.poll_interval_s
        clock.advance(interval * 2.5)  # late, but within three intervals
        async with http.get(url) as answer:
            assert answer.status == 200
        clock.advance(interval)  # the loop is stuck: nothing ticked for 3.5 intervals
        async with http.get(url) as answer:
            body = await answer.json()
            assert answer.status == 503
        assert body["unhealthy"] == ["engine"] and "has not finished a tick" in body["reason"]
    finally:
        await stack.engine.stop()
        await stack.web.stop()


def test_callback_url_helpers() -> None:
    assert callback_url_for("https://bot.example.com/", "s3cret") == "https://bot.example.com/acedata/callback/s3cret"
    assert callback_url_for("https://x.io/mj", "a/b") == "https://x.io/mj/acedata/callback/a%2Fb"
    assert callback_path_prefix("https://x.io/mj/") == "/mj"
    assert callback_path_prefix("https://x.io") == ""
    assert callback_path_prefix(None) == ""


async def test_a_callback_that_beats_the_submit_answer_is_not_lost(stack: Stack, emu: Emulator, store: Store) -> None:
    emu.settings.video_duration_s = 0.0  # the result is POSTed as soon as the task exists
    job_ids = [await stack.engine.submit(VIDEO) for _ in range(5)]
    for job_id in job_ids:
        assert (await stack.engine.wait(job_id, timeout=5)).status is JobStatus.SUCCEEDED
    assert [request for request in emu.requests if request.path == TASKS] == []


class SlowToSave(Store):
    """A store on which the API's callback overtakes the saving of the task id."""

    emulator: Emulator

    async def mark_submitted(self, job_id: str, task_id: str) -> Job:
        self.emulator.finish(task_id)
        await self.emulator.wait_callbacks()
        return await super().mark_submitted(job_id, task_id)


async def test_a_callback_before_the_task_id_is_saved_is_applied_after_it(
    client: AceDataClient, tmp_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    slow = await SlowToSave.open(tmp_path / "slow.sqlite3", clock=clock)
    slow.emulator = emu
    stack = await open_stack(client, slow, clock)
    try:
        job_id = await stack.engine.submit(VIDEO)
        done = await stack.engine.wait(job_id, timeout=5)
        assert done.status is JobStatus.SUCCEEDED
        await stack.events.settle()
        assert stack.events.types(job_id) == [JobEventType.SUBMITTED, JobEventType.SUCCEEDED]
        [delivery] = emu.task(done.task_id).callbacks  # type: ignore[arg-type, union-attr]
        assert delivery.status == 200
    finally:
        await stack.web.stop()
        await slow.close()
