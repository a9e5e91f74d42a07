"""Benchmark of the job store at scale: button lookups by message id, and resuming unfinished jobs.

Loads N jobs (1,000,000 by default), each with a message link, straight into a fresh store file
with executemany in large transactions, then measures through the real ``Store``:

* ``job_for_message`` latency over random message ids (target: p99 under 1 ms), and for comparison
  ``link_for_message``, a similar lookup that goes through the aiosqlite connection thread;
* ``Store.open`` + ``unfinished_jobs()`` with 10,000 unfinished jobs (target: under 2 s);
* for reference, one ``update_progress_many`` and one ``finish_many`` over those jobs, and
  ``recent_jobs(user_id=...)``.

Run: ``python bench/bench_store.py [--jobs N] [--unfinished N] [--lookups N] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import FinishItem, JobResult, JobStatus, Lease, Store
from bot.store.codec import JOB_ID_LENGTH

MESSAGE_ID_BASE = 1_150_000_000_000_000_000  # Discord-sized snowflakes
MESSAGE_ID_STEP = 4_194_304
BATCH = 50_000
START = 1_750_000_000.0
SPAN = 90 * 24 * 3600.0  # jobs spread over 90 days

_JOB_INSERT = (
    "INSERT INTO jobs (id, task_id, kind, action, prompt, params, status, progress, video_id, video_urls, "
    "image_id, image_url, raw_image_url, image_width, image_height, actions, guild_id, channel_id, user_id, "
    "created_at, updated_at, submitted_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINK_INSERT = (
    "INSERT INTO message_links (message_id, job_id, channel_id, guild_id, purpose, created_at) "
    "VALUES (?, ?, ?, ?, 'job', ?)"
)
_GRID_ACTIONS = (
    '["upscale1","upscale2","upscale3","upscale4","reroll","variation1","variation2","variation3","variation4"]'
)
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def message_id(index: int) -> int:
    return MESSAGE_ID_BASE + index * MESSAGE_ID_STEP


def job_rows(start: int, stop: int, total: int, unfinished: int, rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Realistic rows: half video, half imagine; the last ``unfinished`` jobs are still running.

    Ids have the store's format but come from a seeded generator, which is both repeatable and cheaper.
    """
    for index in range(start, stop):
        job_id = "".join(rng.choices(_ID_ALPHABET, k=JOB_ID_LENGTH))
        created = START + SPAN * index / total
        user_id = 100_000 + rng.randrange(5_000)
        guild_id = 900_000 + rng.randrange(500)
        prompt = f"a lighthouse in a storm, cinematic, number {index}"
        running = index >= total - unfinished
        finished = None if running else created + 60.0
        cdn = f"https://cdn.example/{job_id}"
        if index % 2:
            kind = "video"
            params = (
                f'{{"prompt":"{prompt}","mode":"fast","resolution":"720p","callback_url":"https://bot.example/cb"}}'
            )
            urls = None if running else f'["{cdn}/0.mp4","{cdn}/1.mp4","{cdn}/2.mp4","{cdn}/3.mp4"]'
            result: tuple[Any, ...] = (
                f"v-{job_id}",
                urls,
                None,
                None if running else f"{cdn}/cover.jpg",
                None,
                1280,
                720,
                None,
            )
        else:
            kind = "imagine"
            params = f'{{"prompt":"{prompt}","mode":"fast","split_images":false}}'
            image = None if running else f"{cdn}/grid.png"
            result = (None, None, f"i-{job_id}", image, image, 2048, 2048, None if running else _GRID_ACTIONS)
        yield (
            job_id,
            f"task-{job_id}",
            kind,
            "generate",
            prompt,
            params,
            "running" if running else "succeeded",
            rng.randrange(90) if running else 100,
            *result,
            guild_id,
            guild_id + 1,
            user_id,
            created,
            finished or created,
            created + 1.0,
            finished,
        )


def load(path: Path, total: int, unfinished: int, seed: int) -> float:
    """Fill the (already created) store file; returns the seconds it took."""
    rng = random.Random(seed)
    began = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")  # a bulk load for a benchmark, not the bot's settings
        conn.execute("PRAGMA cache_size = -524288")
        for start in range(0, total, BATCH):
            stop = min(total, start + BATCH)
            rows = list(job_rows(start, stop, total, unfinished, rng))
            links = [(message_id(start + n), row[0], row[17], row[16], row[19] + 1.0) for n, row in enumerate(rows)]
            conn.execute("BEGIN")
            conn.executemany(_JOB_INSERT, rows)
            conn.executemany(_LINK_INSERT, links)
            conn.execute("COMMIT")
            print(f"\r  loaded {stop:>10,} / {total:,} jobs", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return time.perf_counter() - began


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def latencies(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    """Milliseconds per awaited call, sorted."""
    samples: list[float] = []
    for _ in range(count):
        began = time.perf_counter_ns()
        await call()
        samples.append((time.perf_counter_ns() - began) / 1e6)
    samples.sort()
    return samples


async def measure(path: Path, total: int, lookups: int, seed: int, figures: dict[str, Any]) -> None:
    """Time the store's own methods on the loaded file; adds the results to ``figures``."""
    rng = random.Random(seed + 1)

    began = time.perf_counter()
    store = await Store.open(path)
    opened = time.perf_counter()
    resumed = await store.jobs.unfinished_jobs()
    done = time.perf_counter()
    # What the engine itself does at start: take every sent, unfinished job for this process (and queued ones
    # stay as they are), in one UPDATE ... RETURNING.
    taken = await store.leases.take_over(Lease("bench", 30.0), everything=True)
    took = time.perf_counter()
    figures.update(
        resume_open_s=opened - began,
        resume_unfinished_jobs_s=done - opened,
        resume_total_s=done - began,
        resume_jobs=len(resumed),
        resume_take_over_s=took - done,
        resume_taken=len(taken),
    )
    try:
        missing: list[int] = []

        async def lookup() -> None:
            wanted = message_id(rng.randrange(total))
            if await store.links.job_for_message(wanted) is None:
                missing.append(wanted)

        await latencies(lookup, 500)  # warm up the connection thread and the page cache a little
        samples = await latencies(lookup, lookups)
        if missing:
            raise SystemExit(f"{len(missing)} messages had no job: the load went wrong")
        figures.update(
            lookup_count=lookups,
            lookup_p50_ms=percentile(samples, 0.50),
            lookup_p90_ms=percentile(samples, 0.90),
            lookup_p99_ms=percentile(samples, 0.99),
            lookup_max_ms=samples[-1],
            lookup_mean_ms=statistics.fmean(samples),
        )

        async def link() -> None:  # the same kind of point lookup, through the aiosqlite connection thread
            await store.links.link_for_message(message_id(rng.randrange(total)))

        samples = await latencies(link, lookups)
        figures.update(link_p50_ms=percentile(samples, 0.50), link_p99_ms=percentile(samples, 0.99))

        async def recent() -> None:
            await store.jobs.recent_jobs(user_id=100_000 + rng.randrange(5_000), limit=10)

        samples = await latencies(recent, 1_000)
        figures.update(recent_jobs_p50_ms=percentile(samples, 0.50), recent_jobs_p99_ms=percentile(samples, 0.99))

        started = time.perf_counter()
        await store.jobs.update_progress_many([(job.id, 95) for job in resumed])
        figures.update(update_progress_many_s=time.perf_counter() - started, update_progress_many_jobs=len(resumed))

        result = JobResult(video_id="v", video_urls=("a", "b", "c", "d"), image_url="cover")
        items = [FinishItem(job.id, JobStatus.SUCCEEDED, result=result) for job in resumed[:1_000]]
        started = time.perf_counter()
        changed = await store.jobs.finish_many(items)
        figures.update(finish_many_s=time.perf_counter() - started, finish_many_jobs=len(changed))
    finally:
        await store.close()


def table(figures: dict[str, Any]) -> str:
    def verdict(ok: bool) -> str:
        return "OK" if ok else "MISSED"

    lookup_p99, resume = figures["lookup_p99_ms"], figures["resume_total_s"]
    rows = [
        ("jobs (each with a message link)", f"{figures['jobs']:,}", ""),
        ("bulk load (sqlite3 executemany)", f"{figures['load_s']:.1f} s", ""),
        ("database file", f"{figures['file_mb']:.0f} MB", ""),
        (f"job_for_message p50 ({figures['lookup_count']:,} lookups)", f"{figures['lookup_p50_ms']:.3f} ms", ""),
        ("job_for_message p90", f"{figures['lookup_p90_ms']:.3f} ms", ""),
        ("job_for_message p99", f"{lookup_p99:.3f} ms", f"< 1 ms {verdict(lookup_p99 < 1)}"),
        ("job_for_message max", f"{figures['lookup_max_ms']:.3f} ms", ""),
        ("link_for_message p50 (via connection thread)", f"{figures['link_p50_ms']:.3f} ms", ""),
        ("link_for_message p99 (via connection thread)", f"{figures['link_p99_ms']:.3f} ms", ""),
        ("Store.open", f"{figures['resume_open_s']:.3f} s", ""),
        (f"unfinished_jobs() -> {figures['resume_jobs']:,} jobs", f"{figures['resume_unfinished_jobs_s']:.3f} s", ""),
        ("open + unfinished_jobs()", f"{resume:.3f} s", f"< 2 s {verdict(resume < 2)}"),
        (
            f"engine start: take over {figures['resume_taken']:,} jobs",
            f"{figures['resume_take_over_s']:.3f} s",
            f"open + take-over < 2 s {verdict(figures['resume_open_s'] + figures['resume_take_over_s'] < 2)}",
        ),
        ("recent_jobs(user_id) p50", f"{figures['recent_jobs_p50_ms']:.3f} ms", ""),
        ("recent_jobs(user_id) p99", f"{figures['recent_jobs_p99_ms']:.3f} ms", ""),
        (
            f"update_progress_many ({figures['update_progress_many_jobs']:,} jobs)",
            f"{figures['update_progress_many_s']:.3f} s",
            "",
        ),
        (f"finish_many ({figures['finish_many_jobs']:,} jobs)", f"{figures['finish_many_s']:.3f} s", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{'measure':<{width}}  {'value':>12}  target", "-" * (width + 26)]
    lines += [f"{name:<{width}}  {value:>12}  {target}" for name, value, target in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs to load (default 1,000,000)")
    parser.add_argument("--unfinished", type=int, default=10_000, help="how many of them are unfinished")
    parser.add_argument("--lookups", type=int, default=10_000, help="random job_for_message calls to time")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--dir", type=Path, help="where to put the database (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    args = parser.parse_args()
    if args.unfinished > args.jobs:
        parser.error("--unfinished cannot exceed --jobs")

    with tempfile.TemporaryDirectory(prefix="mjbot-bench-", dir=args.dir) as workdir:
        path = Path(workdir) / "bench.sqlite3"
        asyncio.run(create_schema(path))
        figures: dict[str, Any] = {"jobs": args.jobs, "sqlite": sqlite3.sqlite_version}
        figures["load_s"] = load(path, args.jobs, args.unfinished, args.seed)
        figures["file_mb"] = path.stat().st_size / 1e6
        asyncio.run(measure(path, args.jobs, args.lookups, args.seed, figures))

    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(table(figures))


async def create_schema(path: Path) -> None:
    store = await Store.open(path)
    await store.close()


if __name__ == "__main__":
    main()
