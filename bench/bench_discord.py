"""Benchmark of job delivery to Discord: how soon a finished job shows, and how often a job message is edited.

Everything runs in this process: the loopback Discord server of the tests, the bot (discord.py, the
job engine, the sandbox emulator, SQLite in a temporary directory) with a ``/video`` command that
defers, submits and hands the job to Delivery, as the real command does. Delivery runs with its
production pacing (one edit per message per 5 s), and every job is started in the same channel.

1. Completion latency, measured from the outside: from the moment the emulator marks a task finished
   (``Emulator.finish``) to the moment the loopback Discord receives the edit that carries the four clips.
   The path is the API's callback POST (or the next poll), the engine, the event, the clip downloads and
   the upload. Runs:

   - ``callbacks``: ``--jobs`` videos, each finished at a uniformly random moment within one pacing window
     (5 s) after its message was last edited, which is when a paced result would wait longest
     (target p95 < 250 ms);
   - ``polling N s``: the same with polling every N s (``--polls``, default 1 and 5) and videos whose progress
     moves at every poll, so each message is edited every 5 s while it runs (target p95 < N s + 250 ms);
   - ``burst``: ``--jobs`` videos finished within the same second, with callbacks (target p95 < 250 ms).

   Each run reports how long before its finish the message was last edited (the "phase"): it should spread
   over the whole window, from 0 to 5 s.
2. Edits per job with polling (target: at most one edit per message per 5 s): ``--edit-jobs`` videos
   of ``--edit-seconds`` each, polled every second, so each job has a PROGRESS event about every
   second; counted are the edits each message received and the shortest gap between two progress edits (the
   result's edit is not paced: it goes out as soon as the job is done).

Run: ``python bench/bench_discord.py [--jobs N] [--polls S ...] [--edit-jobs N] [--edit-seconds S] [--json]``.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback Discord server

import discord
from emulator_process import free_port, percentile, print_table
from fakediscord import FakeDiscord, InteractionHandle, running_bot

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
from cogs.context import InteractionContext
from cogs.delivery import Delivery

START_FRAME = "https://images.example/start.png"
SECRET = "bench-callback-secret-0123456789"  # noqa: S105 - a loopback benchmark
CLIPS = ["clip1.mp4", "clip2.mp4", "clip3.mp4", "clip4.mp4"]
PACING_S = 5.0
TARGET_MS = 250.0
#: Seconds a polled video takes: its progress moves by 1 % a second, so every poll brings a PROGRESS event.
POLLED_VIDEO_S = 100.0


class BenchBot(MJBot):
    """The bot with Delivery only, and a ``/video`` command like the real one."""

    def __init__(self, config: Config) -> None:
        super().__init__(config, cogs=("delivery",), guild_ready_timeout=0.05)
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
            await self.delivery.show_from_interaction(job_id, InteractionContext(interaction))

    @property
    def delivery(self) -> Delivery:
        delivery = self.get_cog("Delivery")
        assert isinstance(delivery, Delivery), "the Delivery cog is not loaded"
        return delivery

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


@dataclass
class Edits:
    """The fake's log of message edits, read incrementally (the bench must not load the loop it measures)."""

    fake: FakeDiscord
    seen: int = 0

    def __post_init__(self) -> None:
        #: Interaction token -> arrival times of its edits, and of the one that brought the clips.
        self.edits: dict[str, list[float]] = {}
        self.finals: dict[str, float] = {}

    def scan(self) -> None:
        requests = self.fake.recorder.requests
        for request in requests[self.seen :]:
            if request.method != "PATCH" or not request.path.startswith("/webhooks/"):
                continue
            token = request.path.split("/")[3]
            self.edits.setdefault(token, []).append(request.time)
            if [f.filename for f in request.files] == CLIPS and token not in self.finals:
                self.finals[token] = request.time
        self.seen = len(requests)

    def last_before(self, token: str, moment: float) -> float | None:
        earlier = [at for at in self.edits.get(token, ()) if at <= moment]
        return max(earlier) if earlier else None

    async def wait_finals(self, tokens: list[str], within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while True:
            self.scan()
            if all(token in self.finals for token in tokens):
                return
            if time.monotonic() > deadline:
                missing = sum(token not in self.finals for token in tokens)
                raise TimeoutError(f"{missing} results did not arrive within {within_s:g} s")
            await asyncio.sleep(0.25)


async def task_id_of(bot: BenchBot, handle: InteractionHandle) -> str:
    while True:  # the message is linked just after its first edit
        job = await bot.services.store.links.job_for_message(handle.original_message_id or 0)
        if job is not None and job.task_id is not None:
            return job.task_id
        await asyncio.sleep(0.01)


async def finish_latency(
    jobs: int, *, callbacks: bool, poll_s: float, spread_s: float, after_edit: bool = False, warmup_s: float = 0.0
) -> dict[str, Any]:
    """Finish ``jobs`` videos at uniformly random moments within ``spread_s``: after each message's last edit
    (``after_edit``: the edit that showed it), or after a warm-up that starts once every message showed. The
    latency of each is from its finish to the arrival of the edit with its clips."""
    video_s = 3600.0 if callbacks else POLLED_VIDEO_S
    async with bench_bot(video_s=video_s, callbacks=callbacks, poll_s=poll_s) as (fake, bot):
        emulator = bot.services.emulator
        assert emulator is not None
        log = Edits(fake)
        finished: dict[str, float] = {}
        if after_edit:
            handles = [await fake.slash("video", {"prompt": f"bench clip {n}"}) for n in range(jobs)]
            started = 0.0
        else:
            handles = await start_videos(fake, jobs)
            started = fake.now()

        async def finish(handle: InteractionHandle) -> None:
            await handle.wait_for_original(lambda m: bool(m.embeds), timeout=30)
            task_id = await task_id_of(bot, handle)
            log.scan()
            base = log.last_before(handle.token, fake.now()) if after_edit else None
            at = (base if base is not None else started + warmup_s) + random.uniform(0.0, spread_s)
            await asyncio.sleep(max(0.0, at - fake.now()))
            finished[handle.token] = fake.now()
            emulator.finish(task_id)

        await asyncio.gather(*(finish(handle) for handle in handles))
        await log.wait_finals(list(finished), within_s=poll_s + 60)
        latencies = [(log.finals[token] - at) * 1000 for token, at in finished.items()]
        phases = []
        for token, at in finished.items():
            last = log.last_before(token, at)
            if last is not None:
                phases.append(at - last)
        downloads = bot.delivery.downloads
    return {
        "jobs": jobs,
        "callbacks": callbacks,
        "poll_s": poll_s,
        "spread_s": spread_s,
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
        "phase_min_s": min(phases),
        "phase_max_s": max(phases),
        "clip_downloads_per_job": downloads / jobs,
    }


async def edits_per_job(jobs: int, seconds: float) -> dict[str, Any]:
    async with bench_bot(video_s=seconds, callbacks=False, poll_s=1.0) as (fake, bot):
        handles = await start_videos(fake, jobs)
        log = Edits(fake)
        await log.wait_finals([h.token for h in handles], within_s=seconds + 30)
        await bot.delivery.idle()
        progress_events = bot.progress_events
    counts: list[int] = []
    gaps: list[float] = []
    for handle in handles:
        edits = [r for r in handle.requests if r.method == "PATCH"]
        counts.append(len(edits))
        progress = edits[:-1]  # the last edit shows the result, which does not wait for the pacing
        gaps += [later.time - earlier.time for earlier, later in itertools.pairwise(progress)]
    return {
        "jobs": jobs,
        "job_seconds": seconds,
        "progress_events_per_job": progress_events / jobs,
        "edits_per_job_mean": statistics.mean(counts),
        "edits_per_job_max": max(counts),
        "shortest_gap_s": min(gaps) if gaps else float("nan"),
    }


def latency_rows(run: dict[str, Any], target_ms: float) -> list[tuple[str, str, str]]:
    return [
        ("p50", f"{run['p50_ms']:.1f} ms", ""),
        ("p95", f"{run['p95_ms']:.1f} ms", f"< {target_ms:.0f} ms"),
        ("max", f"{run['max_ms']:.1f} ms", ""),
        ("last edit before the finish", f"{run['phase_min_s']:.1f}-{run['phase_max_s']:.1f} s", f"0-{PACING_S:g} s"),
        ("clip downloads per job", f"{run['clip_downloads_per_job']:.1f}", "4 (once per job)"),
    ]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="videos in each latency run")
    parser.add_argument("--polls", type=float, nargs="*", default=[1.0, 5.0], help="poll intervals to measure")
    parser.add_argument("--edit-jobs", type=int, default=20, help="videos in the edit-count run")
    parser.add_argument("--edit-seconds", type=float, default=20.0, help="how long each of those takes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    # With callbacks a message is last edited when it shows, and each job finishes 0-5 s after that.
    runs = {
        "callbacks": await finish_latency(args.jobs, callbacks=True, poll_s=1.0, spread_s=PACING_S, after_edit=True)
    }
    for poll_s in args.polls:
        # The warm-up lets every message settle into its 5-second rhythm of progress edits; finishing anywhere
        # in the next 5 s is then finishing at a uniformly random moment after the last one.
        runs[f"polling_{poll_s:g}s"] = await finish_latency(
            args.jobs, callbacks=False, poll_s=poll_s, warmup_s=2 * PACING_S, spread_s=PACING_S
        )
    runs["burst"] = await finish_latency(args.jobs, callbacks=True, poll_s=1.0, warmup_s=1.0, spread_s=1.0)
    edits = await edits_per_job(args.edit_jobs, args.edit_seconds)
    report = {**runs, "edits_polling": edits}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, run in runs.items():
        if name == "burst":
            title = f"{run['jobs']} jobs finished within the same second in one channel, with callbacks"
            target = TARGET_MS
        elif run["callbacks"]:
            title = f"{run['jobs']} jobs finished 0-{PACING_S:g} s after their last edit, with callbacks"
            target = TARGET_MS
        else:
            title = (
                f"{run['jobs']} jobs finished 0-{PACING_S:g} s after their last edit, polling every {run['poll_s']:g} s"
            )
            target = run["poll_s"] * 1000 + TARGET_MS
        print_table(f"Finish -> Discord edit with the clips: {title}", latency_rows(run, target))
    print_table(
        f"Discord edits per job message, polling every 1 s ({edits['jobs']} jobs of {edits['job_seconds']:g} s)",
        [
            ("PROGRESS events per job", f"{edits['progress_events_per_job']:.1f}", ""),
            ("edits per message, mean", f"{edits['edits_per_job_mean']:.1f}", ""),
            ("edits per message, max", f"{edits['edits_per_job_max']}", ""),
            ("shortest gap between two progress edits", f"{edits['shortest_gap_s']:.2f} s", f">= {PACING_S:g} s"),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
