"""Benchmark of the job engine: what a poll tick costs, and how soon a finished task is announced.

1. Tick cost with 1,000 unfinished jobs (``--jobs``), against an emulator in a child process so
   that its CPU is not counted: API requests per tick (target <= 20, cross-checked with the
   emulator's own request count) and the bot process's CPU time per tick (target < 50 ms):
   ``time.process_time()`` around ``poll_once`` plus the delivery of the PROGRESS events it emits
   to one subscriber. ``process_time`` covers every thread, so the store's SQLite thread counts
   too. The client's share (the same 20 batch requests, parsed, with nothing done with them) is
   measured separately. Two scenarios: about a tenth of the jobs progress on each tick (300-s
   tasks, ticks 0.3 s apart), and every job progresses on every tick (100-s tasks, ticks 1.05 s
   apart: 1,000 progress writes and events per tick, the worst case). The engine and the client record
   their metrics as the bot's do (``--no-metrics``: without them, to see what recording costs).
2. Completion latency, from ``Emulator.finish`` to the SUCCEEDED event at a subscriber, for 200
   jobs (``--latency-jobs``) finished at random moments: with callbacks (target p95 < 50 ms)
   and with polling every ``--interval`` seconds (target p95 <= interval + 50 ms). Here the
   emulator runs in-process, so both timestamps come from one clock.

Run: ``python bench/bench_polling.py [--jobs N] [--ticks N] [--latency-jobs N] [--interval S] [--no-metrics] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from emulator_process import TOKEN, emulator_process, free_port, percentile, print_table

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator, EmulatorSettings
from bot.acedata.models import ImagineGenerate, VideoGenerate
from bot.jobs import JobEngine, JobEvent, JobEventType
from bot.metrics import Metrics
from bot.store import Store
from bot.web import WebServer, callback_url_for

SECRET = "bench-callback-secret-0123456789"  # noqa: S105 - a loopback benchmark


def request_count(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_emulator/state", timeout=5) as answer:  # noqa: S310 - loopback
        count: int = json.load(answer)["request_count"]
        return count


async def submit_many(engine: JobEngine, count: int) -> list[str]:
    job_ids: list[str] = []
    for start in range(0, count, 100):
        batch = [
            engine.submit(ImagineGenerate(prompt=f"bench grid {n}"), user_id=n % 50)
            if n % 2
            else engine.submit(VideoGenerate(prompt=f"bench clip {n}", image_url="https://example.com/a.png"))
            for n in range(start, min(count, start + 100))
        ]
        job_ids.extend(await asyncio.gather(*batch))
    return job_ids


async def tick_costs(jobs: int, ticks: int, duration_s: float, spacing_s: float, *, metrics: bool) -> dict[str, Any]:
    """Tick cost with ``jobs`` running tasks of ``duration_s``, ticks ``spacing_s`` apart.

    Progress moves by ``100 * spacing_s / duration_s`` points per tick, so that is (about) the share
    of jobs whose progress changes on each tick.
    """
    settings = {"job_duration_s": duration_s, "video_duration_s": duration_s}
    with emulator_process(**settings) as url, tempfile.TemporaryDirectory() as tmp:
        async with aiohttp.ClientSession() as session:
            store = await Store.open(Path(tmp) / "bench.sqlite3")
            recorded = Metrics(enabled=metrics)
            client = AceDataClient(
                session, token=TOKEN, base_url=url, observe=recorded.api_request if metrics else None
            )
            engine = JobEngine(client, store, poll_interval_s=3600, metrics=recorded)
            progress_events = 0

            async def count(event: JobEvent) -> None:
                nonlocal progress_events
                progress_events += event.type is JobEventType.PROGRESS

            engine.subscribe(count)
            job_ids = await submit_many(engine, jobs)
            task_ids = [job.task_id or "" for job in (await store.jobs.jobs_by_ids(job_ids)).values()]
            await engine.poll_once()  # warm-up: first answers, first progress writes
            await engine.flush_events()
            cpu_ms: list[float] = []
            client_ms: list[float] = []
            wall_ms: list[float] = []
            requests: list[int] = []
            counted: list[int] = []
            events_before = progress_events
            for _ in range(ticks):
                await asyncio.sleep(spacing_s)
                before = request_count(url)
                cpu, wall = time.process_time(), time.perf_counter()
                made = await engine.poll_once()
                await engine.flush_events()
                cpu_ms.append((time.process_time() - cpu) * 1000)
                wall_ms.append((time.perf_counter() - wall) * 1000)
                requests.append(made)
                counted.append(request_count(url) - before)
                # The client's part alone: the same 20 batch requests, parsed, with nothing done with them.
                cpu = time.process_time()
                for start in range(0, len(task_ids), 50):
                    await client.retrieve_batch(task_ids[start : start + 50])
                client_ms.append((time.process_time() - cpu) * 1000)
            assert engine.tracked_count == jobs, "jobs finished during the benchmark; raise the durations"
            await engine.stop()
            await store.close()
    return {
        "jobs": jobs,
        "task_duration_s": duration_s,
        "tick_spacing_s": spacing_s,
        "requests_per_tick": max(requests),
        "requests_seen_by_emulator": max(counted),
        "progress_events_per_tick": (progress_events - events_before) / ticks,
        "cpu_ms_median": statistics.median(cpu_ms),
        "cpu_ms_p90": percentile(cpu_ms, 0.9),
        "client_cpu_ms_median": statistics.median(client_ms),
        "wall_ms_median": statistics.median(wall_ms),
    }


async def completion_latency(jobs: int, interval: float, *, callbacks: bool) -> dict[str, Any]:
    emu = Emulator(EmulatorSettings(tokens=frozenset({TOKEN}), job_duration_s=3600, video_duration_s=3600))
    url = await emu.start()
    web: WebServer | None = None
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(Path(tmp) / "latency.sqlite3")
        async with aiohttp.ClientSession() as session:
            client = AceDataClient(session, token=TOKEN, base_url=url)
            callback_url = None
            port = 0
            if callbacks:
                port = free_port()
                callback_url = callback_url_for(f"http://127.0.0.1:{port}", SECRET)
            engine = JobEngine(
                client, store, poll_interval_s=interval, callback_url=callback_url, callback_poll_interval_s=3600
            )
            if callbacks:
                web = WebServer(engine, host="127.0.0.1", port=port, callback_secret=SECRET)
                await web.start()
            arrived: dict[str, float] = {}
            everything = asyncio.Event()

            async def note(event: JobEvent) -> None:
                if event.type is JobEventType.SUCCEEDED:
                    arrived[event.job.id] = time.perf_counter()
                    if len(arrived) == jobs:
                        everything.set()

            engine.subscribe(note)
            await engine.start()
            job_ids = await submit_many(engine, jobs)
            tasks = {job_id: (await store.jobs.get_job(job_id)).task_id for job_id in job_ids}  # type: ignore[union-attr]
            finished_at: dict[str, float] = {}
            spread = max(interval, 1.0) * 3
            order = list(job_ids)
            random.shuffle(order)
            for job_id in order:
                await asyncio.sleep(random.uniform(0, 2 * spread / jobs))
                finished_at[job_id] = time.perf_counter()
                emu.finish(tasks[job_id] or "")
            await asyncio.wait_for(everything.wait(), timeout=spread + 5 * interval + 10)
            await engine.stop()
            if web is not None:
                await web.stop()
        await store.close()
    await emu.stop()
    latencies = [(arrived[job_id] - finished_at[job_id]) * 1000 for job_id in job_ids]
    return {
        "jobs": jobs,
        "mode": "callbacks" if callbacks else f"polling every {interval:g} s",
        "p50_ms": percentile(latencies, 0.5),
        "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies),
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval of the polling latency run")
    parser.add_argument("--no-metrics", action="store_true", help="run the tick costs without recording metrics")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    scenarios = {
        # 300-s tasks polled every 0.3 s: about one job in ten moves a point per tick.
        "tenth_progressed": await tick_costs(args.jobs, args.ticks, 300.0, 0.3, metrics=not args.no_metrics),
        # 100-s tasks polled every 1.05 s: every job moves at least a point per tick.
        "all_progressed": await tick_costs(args.jobs, args.ticks, 100.0, 1.05, metrics=not args.no_metrics),
    }
    with_callbacks = await completion_latency(args.latency_jobs, args.interval, callbacks=True)
    with_polling = await completion_latency(args.latency_jobs, args.interval, callbacks=False)
    report = {"ticks": scenarios, "latency_callbacks": with_callbacks, "latency_polling": with_polling}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows: list[tuple[str, str, str]] = []
    for label, figures in scenarios.items():
        rows += [
            (f"{label}: API requests per tick", f"{figures['requests_per_tick']}", "<= 20"),
            (f"{label}: requests seen by the emulator", f"{figures['requests_seen_by_emulator']}", "<= 20"),
            (f"{label}: PROGRESS events per tick", f"{figures['progress_events_per_tick']:.0f}", ""),
            (f"{label}: bot CPU per tick, median", f"{figures['cpu_ms_median']:.1f} ms", "< 50 ms"),
            (f"{label}: bot CPU per tick, p90", f"{figures['cpu_ms_p90']:.1f} ms", ""),
            (f"{label}:   of which client (HTTP+JSON+parse)", f"{figures['client_cpu_ms_median']:.1f} ms", ""),
            (f"{label}: wall time per tick, median", f"{figures['wall_ms_median']:.1f} ms", ""),
        ]
    print_table(f"Poll tick with {args.jobs} unfinished jobs (emulator in another process)", rows)
    rows = []
    polling_target = f"p95 <= {args.interval * 1000 + 50:.0f} ms"
    for figures, target in ((with_callbacks, "p95 < 50 ms"), (with_polling, polling_target)):
        rows += [
            (f"{figures['mode']}: p50", f"{figures['p50_ms']:.1f} ms", ""),
            (f"{figures['mode']}: p95", f"{figures['p95_ms']:.1f} ms", target),
            (f"{figures['mode']}: max", f"{figures['max_ms']:.1f} ms", ""),
        ]
    print_table(f"Completion latency, emulator finish -> SUCCEEDED event ({args.latency_jobs} jobs)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
