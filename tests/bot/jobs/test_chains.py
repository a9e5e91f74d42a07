"""Animate after upscale: the chain from a succeeded upscale to its video, against the emulator and real SQLite."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_kit import TOKEN, EventLog, FakeClock

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import ImagineAction, ImagineGenerate
from bot.jobs import ChainRunner, JobEngine, JobEventType
from bot.settings import update_guild_settings
from bot.store import Job, JobKind, JobMeta, JobStatus, QueueState, Store, VideoOptions

DURATION = 10.0
VIDEOS = "/midjourney/videos"
GRID_PROMPT = "a fox in a tutu --ar 3:2"
ANIMATE = {"motion": "high", "mode": "turbo", "resolution": "480p", "loop": True}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def emu(clock: FakeClock) -> AsyncIterator[Emulator]:
    settings = EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=DURATION, video_duration_s=DURATION)
    emulator = Emulator(settings, clock=clock)
    await emulator.start()
    yield emulator
    await emulator.stop()


class Bot:
    """One process's worth of core: a store, an engine and a chain runner on the same file."""

    def __init__(self, client: AceDataClient, db_path: Path | str, clock: FakeClock, *, shared: bool = False) -> None:
        self._client, self._db_path, self._clock = client, db_path, clock
        self._shared = shared
        self.events = EventLog()

    async def open(self, *, chains: bool = True) -> Bot:
        self.store = await Store.open(self._db_path, clock=self._clock)
        self.engine = JobEngine(
            self._client, self.store, clock=self._clock, poll_interval_s=3600.0, shared=self._shared
        )
        self.engine.subscribe(self.events)
        self.chains = ChainRunner(self.engine, self.store, clock=self._clock)
        await self.engine.start()
        if chains:
            await self.chains.start()
        return self

    async def close(self) -> None:
        await self.chains.stop()
        await self.engine.stop()
        await self.store.close()

    async def run_to_end(self, steps: int = 4) -> None:
        """Poll while the clock crosses a task's duration, then let events and chain submits settle."""
        for _ in range(steps):
            self._clock.advance(DURATION / (steps - 1) + 0.01)
            await self.engine.poll_once()
        await self.settle()

    async def settle(self) -> None:
        await self.engine.flush_events()
        await self.chains.idle()
        await self.engine.flush_events()

    async def upscale(self, then_animate: dict[str, Any] | None = None, *, prompt: str = GRID_PROMPT) -> str:
        """A grid run to the end, then its upscale 2 submitted with ``then_animate`` (still running)."""
        owner = {"user_id": 11, "guild_id": 22, "channel_id": 33}
        grid_id = await self.engine.submit(ImagineGenerate(prompt=prompt), **owner)
        await self.run_to_end()
        grid = await self.store.jobs.get_job(grid_id)
        assert grid is not None and grid.image_id
        meta = JobMeta(then_animate=VideoOptions.from_json(ANIMATE if then_animate is None else then_animate))
        return await self.engine.submit(ImagineAction("upscale2", grid.image_id), parent_id=grid_id, meta=meta, **owner)

    async def videos_of(self, job_id: str) -> list[Job]:
        return [child for child in await self.store.jobs.children(job_id) if child.kind is JobKind.VIDEO]


@pytest.fixture
async def bot(client: AceDataClient, db_path: Path, clock: FakeClock) -> AsyncIterator[Bot]:
    opened = await Bot(client, db_path, clock).open()
    yield opened
    await opened.close()


def video_submits(emu: Emulator) -> list[dict[str, Any]]:
    return [request.body for request in emu.requests if request.path == VIDEOS]


async def test_a_succeeded_upscale_gets_its_video(bot: Bot, emu: Emulator) -> None:
    upscale_id = await bot.upscale()
    await bot.run_to_end()

    upscale = await bot.store.jobs.get_job(upscale_id)
    assert upscale is not None and upscale.status is JobStatus.SUCCEEDED and upscale.raw_image_url
    [video] = await bot.videos_of(upscale_id)
    assert video.meta == JobMeta(chained_from=upscale_id, motion="high")
    assert video.prompt == f"{GRID_PROMPT} --motion high"
    assert video.params == {
        "action": "generate",
        "prompt": f"{GRID_PROMPT} --motion high",
        "image_url": upscale.raw_image_url,
        "loop": True,
        "mode": "turbo",
        "resolution": "480p",
    }
    assert (video.user_id, video.guild_id, video.channel_id) == (11, 22, 33)
    assert [body["image_url"] for body in video_submits(emu)] == [upscale.raw_image_url]
    submitted = await bot.events.wait_for(video.id, JobEventType.SUBMITTED)
    assert submitted.job.meta.chained_from == upscale_id  # what moves the upscale's messages to the video

    await bot.run_to_end()
    done = await bot.events.wait_for(video.id, JobEventType.SUCCEEDED)
    assert len(done.job.video_urls) == 4 and done.job.parent_id == upscale_id


async def test_the_motion_flag_is_added_only_when_chosen_and_then_replaces_the_prompts(bot: Bot) -> None:
    # One rule for every Animate (bot.followups): a motion chosen for the video replaces the prompt's own.
    calm = await bot.upscale({"motion": None, "mode": "fast", "resolution": "720p", "loop": False})
    flagged = await bot.upscale({"motion": "high"}, prompt="a fox in a tutu --motion low --ar 1:1")
    await bot.run_to_end()

    [still] = await bot.videos_of(calm)
    assert still.prompt == GRID_PROMPT and still.meta == JobMeta(chained_from=calm)
    assert (still.params["mode"], still.params["resolution"], still.params["loop"]) == ("fast", "720p", False)
    [chosen] = await bot.videos_of(flagged)
    assert chosen.prompt == "a fox in a tutu --ar 1:1 --motion high"
    assert chosen.meta == JobMeta(chained_from=flagged, motion="high")


async def test_only_an_upscale_that_asked_and_succeeded_is_chained(bot: Bot, emu: Emulator) -> None:
    upscale_id = await bot.upscale()
    upscale = await bot.store.jobs.get_job(upscale_id)
    assert upscale is not None and upscale.task_id
    emu.finish(upscale.task_id, success=False, error_code="failed", error_message="The upscale failed")
    await bot.engine.poll_once()
    await bot.settle()
    assert (await bot.store.jobs.get_job(upscale_id)).status is JobStatus.FAILED  # type: ignore[union-attr]

    grid = await bot.engine.submit(ImagineGenerate(prompt="a plain grid"))
    await bot.run_to_end()
    assert await bot.videos_of(upscale_id) == []
    assert await bot.videos_of(grid) == []
    assert video_submits(emu) == []


async def test_duplicate_events_chain_exactly_once(bot: Bot, emu: Emulator) -> None:
    upscale_id = await bot.upscale()
    await bot.run_to_end()
    succeeded = await bot.events.wait_for(upscale_id, JobEventType.SUCCEEDED)
    assert len(await bot.videos_of(upscale_id)) == 1

    # The same event again, many times at once, beside direct requests: the video exists, nothing is sent.
    await asyncio.gather(
        *(bot.chains.handle_event(succeeded) for _ in range(5)), *(bot.chains.chain(succeeded.job) for _ in range(3))
    )
    await bot.settle()
    assert len(await bot.videos_of(upscale_id)) == 1 and len(video_submits(emu)) == 1


async def test_concurrent_first_events_chain_exactly_once(
    client: AceDataClient, db_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    # The upscale succeeds with no runner listening; then its event arrives many times at once.
    core = await Bot(client, db_path, clock).open(chains=False)
    try:
        upscale_id = await core.upscale()
        await core.run_to_end()
        succeeded = await core.events.wait_for(upscale_id, JobEventType.SUCCEEDED)
        assert await core.videos_of(upscale_id) == []

        results = await asyncio.gather(
            *(core.chains.handle_event(succeeded) for _ in range(5)),
            *(core.chains.chain(succeeded.job) for _ in range(5)),
        )
        await core.settle()
        chained = [result for result in results if result is not None]
        [video] = await core.videos_of(upscale_id)
        assert chained in ([], [video.id])  # the event's own submit returns nothing to its caller
        assert len(video_submits(emu)) == 1
    finally:
        await core.close()


async def test_a_restart_between_the_upscale_and_its_video_catches_up(
    client: AceDataClient, db_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    # The process stops after the upscale's success is stored but before the video is submitted.
    first = await Bot(client, db_path, clock).open(chains=False)
    upscale_id = await first.upscale()
    await first.run_to_end()
    assert (await first.store.jobs.get_job(upscale_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    await first.close()
    assert video_submits(emu) == []

    clock.advance(60)
    second = await Bot(client, db_path, clock).open()
    try:
        [video] = await second.videos_of(upscale_id)
        assert video.meta == JobMeta(chained_from=upscale_id, motion="high")
        assert video.status is JobStatus.RUNNING and len(video_submits(emu)) == 1
        await second.run_to_end()
        assert (await second.store.jobs.get_job(video.id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    finally:
        await second.close()

    third = await Bot(client, db_path, clock).open()  # once chained, never again
    await third.close()
    assert len(video_submits(emu)) == 1


async def test_catching_up_looks_back_one_job_timeout_only(
    client: AceDataClient, db_path: Path, clock: FakeClock, emu: Emulator
) -> None:
    first = await Bot(client, db_path, clock).open(chains=False)
    upscale_id = await first.upscale()
    await first.run_to_end()
    await first.close()

    clock.advance(first.engine.job_timeout_s + 1)
    later = await Bot(client, db_path, clock).open()
    try:
        assert await later.videos_of(upscale_id) == []
        assert video_submits(emu) == []
    finally:
        await later.close()


async def test_a_refused_video_is_recorded_as_a_failed_child(
    bot: Bot, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    upscale_id = await bot.upscale()
    emu.settings.moderation_words = ("tutu",)  # the video's prompt is refused; the upscale was not
    with caplog.at_level(logging.WARNING, logger="bot.jobs.chains"):
        await bot.run_to_end()

    assert (await bot.store.jobs.get_job(upscale_id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
    [video] = await bot.videos_of(upscale_id)
    assert video.status is JobStatus.FAILED and video.task_id is None
    assert video.meta == JobMeta(chained_from=upscale_id, motion="high") and video.parent_id == upscale_id
    assert video.error_code == "forbidden" and "tutu" in (video.error_message or "")
    failed = await bot.events.wait_for(video.id, JobEventType.FAILED)
    assert failed.job == video
    assert f"job {upscale_id}" in caplog.text and "refused the video" in caplog.text

    # A refusal is final: asking again sends nothing.
    upscale = await bot.store.jobs.get_job(upscale_id)
    assert upscale is not None and await bot.chains.chain(upscale) is None
    assert len(video_submits(emu)) == 1 and len(await bot.videos_of(upscale_id)) == 1


async def test_the_servers_daily_limits_apply_to_the_video_of_an_animate(bot: Bot, emu: Emulator) -> None:
    # The grid and the upscale are this member's first two jobs of the day; the video would be the third.
    upscale_id = await bot.upscale()
    await update_guild_settings(bot.store, 22, lambda settings: settings.with_limits(max_jobs_per_user_per_day=2))
    await bot.run_to_end()

    [video] = await bot.videos_of(upscale_id)
    assert video.status is JobStatus.FAILED and video.error_code == "limit_reached"
    assert video.error_message is not None and "used 2 of your 2 jobs for today" in video.error_message
    assert video.meta.chained_from == upscale_id and video_submits(emu) == []
    failed = await bot.events.wait_for(video.id, JobEventType.FAILED)
    assert failed.job.parent_id == upscale_id


async def test_the_video_of_an_animate_waits_in_the_queue_at_the_running_limit(bot: Bot, emu: Emulator) -> None:
    owner = {"user_id": 11, "guild_id": 22, "channel_id": 33}
    upscale_id = await bot.upscale()
    await bot.engine.submit(ImagineGenerate(prompt="another grid, still running"), **owner)
    await update_guild_settings(bot.store, 22, lambda settings: settings.with_limits(max_running_per_user=1))
    # Only the upscale finishes; the other grid keeps the member's single slot.
    upscale = await bot.store.jobs.get_job(upscale_id)
    assert upscale is not None and upscale.task_id
    emu.finish(upscale.task_id)
    await bot.engine.poll_once()
    await bot.settle()

    [video] = await bot.videos_of(upscale_id)
    assert video.status is JobStatus.QUEUED and video.meta.queue == QueueState(limit=1)
    assert video_submits(emu) == []


@pytest.mark.postgres
async def test_processes_catching_up_at_once_chain_an_upscale_once(
    client: AceDataClient, postgres_url: str, clock: FakeClock, emu: Emulator
) -> None:
    first = await Bot(client, postgres_url, clock, shared=True).open(chains=False)
    upscale_id = await first.upscale()
    await first.run_to_end()
    await first.close()
    assert video_submits(emu) == []

    # Three processes start together, and each catches up on the upscale that is still to be animated.
    fleet = await asyncio.gather(*(Bot(client, postgres_url, clock, shared=True).open() for _ in range(3)))
    try:
        for bot in fleet:
            await bot.settle()
        assert len(video_submits(emu)) == 1
        [video] = await fleet[0].videos_of(upscale_id)
        assert video.meta.chained_from == upscale_id
    finally:
        for bot in fleet:
            await bot.close()
