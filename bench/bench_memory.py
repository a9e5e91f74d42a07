"""Benchmark of the job engine's memory: process RSS with 10,000 tracked jobs (target: under 150 MB).

Two fresh processes, each with the API emulator in a child process of its own so that its tasks
do not count:

1. ``submit``: the bot process submits 10,000 jobs (``--jobs``) through the engine, polls them
   once (200 batch requests) and reports its RSS.
2. ``resume``: a new process opens the same store, lets ``JobEngine.start()`` resume the 10,000
   running jobs, polls once and reports its RSS, plus the memory the engine keeps per tracked
   job (``tracemalloc``, after a collection).

Run: ``python bench/bench_memory.py [--jobs N] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import psutil
from emulator_process import TOKEN, emulator_process, print_table

from bot.acedata.client import AceDataClient
from bot.acedata.models import ImagineGenerate, VideoGenerate
from bot.jobs import JobEngine, JobEvent
from bot.store import Store

MB = 1024 * 1024


def rss_mb() -> float:
    gc.collect()
    rss: int = psutil.Process().memory_info().rss
    return rss / MB


async def ignore(_event: JobEvent) -> None:
    return None


async def submit_phase(url: str, db: Path, jobs: int) -> dict[str, Any]:
    baseline = rss_mb()
    async with aiohttp.ClientSession() as session:
        store = await Store.open(db)
        engine = JobEngine(AceDataClient(session, token=TOKEN, base_url=url), store, poll_interval_s=3600)
        engine.subscribe(ignore)
        began = time.perf_counter()
        for start in range(0, jobs, 100):
            await asyncio.gather(
                *(
                    engine.submit(ImagineGenerate(prompt=f"memory grid {n} --ar 16:9"), user_id=n % 97, guild_id=1)
                    if n % 2
                    else engine.submit(
                        VideoGenerate(prompt=f"memory clip {n}", image_url=f"https://example.com/{n}.png"),
                        user_id=n % 97,
                        guild_id=1,
                    )
                    for n in range(start, min(jobs, start + 100))
                )
            )
        submitted_s = time.perf_counter() - began
        requests = await engine.poll_once()
        await engine.flush_events()
        figures = {
            "tracked_jobs": engine.tracked_count,
            "poll_requests": requests,
            "submit_seconds": submitted_s,
            "rss_baseline_mb": baseline,
            "rss_mb": rss_mb(),
        }
        await engine.stop()
        await store.close()
    return figures


async def resume_phase(url: str, db: Path) -> dict[str, Any]:
    baseline = rss_mb()
    async with aiohttp.ClientSession() as session:
        store = await Store.open(db)
        engine = JobEngine(AceDataClient(session, token=TOKEN, base_url=url), store, poll_interval_s=3600)
        engine.subscribe(ignore)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        await engine.start()
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        requests = await engine.poll_once()
        await engine.flush_events()
        figures = {
            "tracked_jobs": engine.tracked_count,
            "poll_requests": requests,
            "engine_bytes_per_job": kept / max(1, engine.tracked_count),
            "rss_baseline_mb": baseline,
            "rss_mb": rss_mb(),
        }
        await engine.stop()
        await store.close()
    return figures


def run_phase(phase: str, url: str, db: Path, jobs: int) -> dict[str, Any]:
    """Run one phase in a fresh interpreter and read back its figures."""
    command = [sys.executable, __file__, "--phase", phase, "--url", url, "--db", str(db), "--jobs", str(jobs)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--phase", choices=("submit", "resume"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "submit":
        print(json.dumps(asyncio.run(submit_phase(args.url, args.db, args.jobs))))
        return 0
    if args.phase == "resume":
        print(json.dumps(asyncio.run(resume_phase(args.url, args.db))))
        return 0

    with emulator_process(job_duration_s=86_400, video_duration_s=86_400) as url, tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "memory.sqlite3"
        submitted = run_phase("submit", url, db, args.jobs)
        resumed = run_phase("resume", url, db, args.jobs)
    report = {"submit": submitted, "resume": resumed}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = [
        ("submit: tracked jobs", f"{submitted['tracked_jobs']}", ""),
        ("submit: batch requests for one poll", f"{submitted['poll_requests']}", f"{args.jobs // 50}"),
        ("submit: RSS at start (imports done)", f"{submitted['rss_baseline_mb']:.1f} MB", ""),
        ("submit: RSS with all jobs tracked", f"{submitted['rss_mb']:.1f} MB", "< 150 MB"),
        ("resume: tracked jobs after start()", f"{resumed['tracked_jobs']}", ""),
        ("resume: RSS at start (imports done)", f"{resumed['rss_baseline_mb']:.1f} MB", ""),
        ("resume: RSS with all jobs tracked", f"{resumed['rss_mb']:.1f} MB", "< 150 MB"),
        ("resume: engine memory per tracked job", f"{resumed['engine_bytes_per_job']:.0f} B", ""),
    ]
    print_table(f"Memory with {args.jobs} tracked jobs (emulator in another process)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
