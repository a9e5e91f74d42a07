"""Benchmark of job delivery to Discord: how soon a result shows, and how often a job message is edited.

Everything runs in this process: the loopback Discord server of the tests, the bot (discord.py, the
job engine, the sandbox emulator, SQLite in a temporary directory) with a ``/video`` command that
defers, submits and hands the job to Delivery, as the real command does. Delivery runs with its
production pacing (one edit per message per 5 s).

1. Completion latency with callbacks (target p95 < 250 ms): ``--jobs`` videos are started and shown,
   then each is finished at a random moment 6 to 12 s later (``Emulator.finish``); measured from the
   finish to the moment the loopback Discord receives the edit that carries the four clips. The path
   is the API's callback POST, the engine, the event, the clip downloads and the upload.
2. Edits per job with polling (target: at most one edit per message per 5 s): ``--edit-jobs`` videos
   of ``--edit-seconds`` each, polled every second, so each job has a PROGRESS event about every
   second; counted are the edits each message received and the shortest gap between two of them.

Run: ``python bench/bench_discord.py [--jobs N] [--edit-jobs N] [--edit-seconds S] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback Discord server

import discord
from emulator_process import free_port, percentile, print_table
from fakediscord import FakeDiscord, InteractionHandle, RecordedRequest, running_bot

from bot.bot import MJBot
from bot.config import (
    AceDataSettings,
    CallbackSettings,
    Config,
    DiscordSettings,
    EmulatorConfig,
    JobsSettings,
    StoreSettings,
)
from bot.jobs import JobEvent, JobEventType
from bot.options import video_request

START_FRAME = "https://images.example/start.png"
SECRET = "bench-callback-secret-0123456789"  # noqa: S105 - a loopback benchmark
CLIPS = ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4"]
PACING_S = 5.0


class BenchBot(MJBot):
    """The bot with Delivery only, and a ``/video`` command like the real one."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, extensions=("cogs.delivery",), guild_ready_timeout=0.05)
        self.progress_events = 0

        @self.tree.command(name="video", description="A video")
        async def video(interaction: discord.Interaction[MJBot], prompt: str) -> None:
            await interaction.response.defer(thinking=True)
            job_id = await self.services.engine.submit(
                video_request(prompt, START_FRAME),
                user_id=interaction.user.id,
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
            )
            await self.delivery.show_from_interaction(job_id, interaction)

    async def setup_hook(self) -> None:
        await super().setup_hook()
        self.services.engine.subscribe(self._count)

    async def _count(self, event: JobEvent) -> None:
        if event.type is JobEventType.PROGRESS:
            self.progress_events += 1


def config_for(fake: FakeDiscord, tmp: Path, *, video_s: float, callbacks: bool, poll_s: float) -> Config:
    port = free_port()
    return Config(
        discord=DiscordSettings(token="bench", api_base=fake.api_base, gateway_url=fake.gateway_url),  # noqa: S106
        acedata=AceDataSettings(base_url="emulator"),
        jobs=JobsSettings(poll_interval_s=poll_s, callback_poll_interval_s=60.0, job_timeout_s=3600.0),
        callback=CallbackSettings(
            enabled=callbacks,
            listen_port=port,
            public_url=f"http://127.0.0.1:{port}" if callbacks else None,
            secret=SECRET if callbacks else None,
        ),
        store=StoreSettings(path=str(tmp / "bench.sqlite3")),
        emulator=EmulatorConfig(job_duration_s=video_s, video_duration_s=video_s, listen_port=0),
    )


@asynccontextmanager
async def bench_bot(*, video_s: float, callbacks: bool, poll_s: float) -> AsyncIterator[tuple[FakeDiscord, BenchBot]]:
    with tempfile.TemporaryDirectory() as tmp:
        async with FakeDiscord() as fake:
            config = config_for(fake, Path(tmp), video_s=video_s, callbacks=callbacks, poll_s=poll_s)
            async with running_bot(BenchBot(config), fake, timeout=10) as bot:
                bot.delivery.edit_interval_s = PACING_S
                yield fake, bot


async def start_videos(fake: FakeDiscord, count: int) -> list[InteractionHandle]:
    handles = [await fake.slash("video", {"prompt": f"bench clip {n}"}) for n in range(count)]
    for handle in handles:
        await handle.wait_for_original(lambda m: bool(m.embeds), timeout=30)
    return handles


def final_edit(fake: FakeDiscord, handle: InteractionHandle) -> RecordedRequest | None:
    path = rf"/webhooks/\d+/{handle.token}/messages/.*"
    return next((r for r in fake.requests_matching("PATCH", path) if [f.filename for f in r.files] == CLIPS), None)


async def completion_latency(jobs: int) -> dict[str, Any]:
    async with bench_bot(video_s=3600.0, callbacks=True, poll_s=1.0) as (fake, bot):
        emulator = bot.services.emulator
        assert emulator is not None
        handles = await start_videos(fake, jobs)
        store = bot.services.store
        tasks = []
        for handle in handles:
            job = None
            while job is None:  # the message is linked just after its first edit
                job = await store.job_for_message(handle.original_message_id or 0)
                await asyncio.sleep(0.01)
            assert job.task_id is not None
            tasks.append((handle, job.task_id))
        shown_at = time.monotonic()
        finished: dict[int, float] = {}
        schedule = sorted((random.uniform(6.0, 12.0), handle, task_id) for handle, task_id in tasks)
        for at, handle, task_id in schedule:
            await asyncio.sleep(max(0.0, shown_at + at - time.monotonic()))
            finished[handle.id] = fake.now()
            emulator.finish(task_id)
        await fake.wait_for(
            lambda: all(final_edit(fake, h) for h in handles), timeout=30, what="every result to arrive"
        )
        latencies = []
        for handle in handles:
            edit = final_edit(fake, handle)
            assert edit is not None
            latencies.append((edit.time - finished[handle.id]) * 1000)
        downloads = bot.delivery.downloads
    return {
        "jobs": jobs,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "clip_downloads_per_job": downloads / jobs,
    }


async def edits_per_job(jobs: int, seconds: float) -> dict[str, Any]:
    async with bench_bot(video_s=seconds, callbacks=False, poll_s=1.0) as (fake, bot):
        handles = await start_videos(fake, jobs)
        await fake.wait_for(
            lambda: all(final_edit(fake, h) for h in handles), timeout=seconds + 30, what="every result to arrive"
        )
        await bot.delivery.idle()
        progress_events = bot.progress_events
    counts: list[int] = []
    gaps: list[float] = []
    for handle in handles:
        edits = [r for r in handle.requests if r.method == "PATCH"]
        counts.append(len(edits))
        gaps += [later.time - earlier.time for earlier, later in itertools.pairwise(edits)]
    return {
        "jobs": jobs,
        "job_seconds": seconds,
        "progress_events_per_job": progress_events / jobs,
        "edits_per_job_mean": statistics.mean(counts),
        "edits_per_job_max": max(counts),
        "shortest_gap_s": min(gaps) if gaps else float("nan"),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="videos in the latency run")
    parser.add_argument("--edit-jobs", type=int, default=20, help="videos in the edit-count run")
    parser.add_argument("--edit-seconds", type=float, default=20.0, help="how long each of those takes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    latency = await completion_latency(args.jobs)
    edits = await edits_per_job(args.edit_jobs, args.edit_seconds)
    report = {"latency_callbacks": latency, "edits_polling": edits}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print_table(
        f"Completion -> Discord message with the clips, with callbacks ({latency['jobs']} jobs)",
        [
            ("p50", f"{latency['p50_ms']:.1f} ms", ""),
            ("p95", f"{latency['p95_ms']:.1f} ms", "< 250 ms"),
            ("max", f"{latency['max_ms']:.1f} ms", ""),
            ("clip downloads per job", f"{latency['clip_downloads_per_job']:.1f}", "4 (once per job)"),
        ],
    )
    print_table(
        f"Discord edits per job message, polling every 1 s ({edits['jobs']} jobs of {edits['job_seconds']:g} s)",
        [
            ("PROGRESS events per job", f"{edits['progress_events_per_job']:.1f}", ""),
            ("edits per message, mean", f"{edits['edits_per_job_mean']:.1f}", ""),
            ("edits per message, max", f"{edits['edits_per_job_max']}", ""),
            ("shortest gap between two edits", f"{edits['shortest_gap_s']:.2f} s", f">= {PACING_S:g} s"),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
