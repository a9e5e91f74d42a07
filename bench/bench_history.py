"""Benchmark of /history's query: one page of a member's jobs when that member has made 100,000 of them.

Loads ``--jobs`` jobs (100,000 by default) of one member, spread over a year, with prompts of a few words, and
``--others`` jobs of other members beside them, into a fresh store (an SQLite file in a temporary folder, or
the empty PostgreSQL database at ``--url``), then times ``store.history.history`` (the page and the count of
matching jobs, as /history shows them) for each kind of query: none, a common word, a word nothing matches (the
whole history is read), a kind, a status, the last 7 days, and the 500th page.

Run: ``python bench/bench_history.py [--jobs N] [--others N] [--runs N] [--url postgresql://...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.store import JobKind, JobStatus, Store
from bot.store.history import STATUS_GROUPS, HistoryQuery

MEMBER = 1_150_000_000_000_000_001
START = 1_750_000_000.0
SPAN = 365 * 24 * 3600.0
BATCH = 10_000
WORDS = (
    *("fox", "lighthouse", "waves", "rocks", "castle", "dragon", "forest", "neon", "city", "rain", "snow"),
    *("desert", "ocean", "mountain", "portrait", "robot", "garden", "river", "sunset", "night", "cat", "owl"),
    *("ship", "train", "bridge", "temple", "market"),
)
STATUSES = (JobStatus.SUCCEEDED,) * 8 + (JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT)
_INSERT = (
    "INSERT INTO jobs (id, kind, action, prompt, params, status, guild_id, channel_id, user_id, "
    "created_at, updated_at, finished_at) VALUES (?, ?, 'generate', ?, '{}', ?, 1, 2, ?, ?, ?, ?)"
)


def rows(count: int, user_id: int, offset: int, rng: random.Random) -> list[tuple[Any, ...]]:
    made: list[tuple[Any, ...]] = []
    for number in range(count):
        created = START + SPAN * number / count
        kind = JobKind.VIDEO if rng.random() < 0.4 else JobKind.IMAGINE
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))
        status = rng.choice(STATUSES)
        made.append((f"h{offset + number:015d}", kind.value, prompt, status.value, user_id, created, created, created))
    return made


async def load(store: Store, jobs: int, others: int) -> float:
    rng = random.Random(7)
    began = time.perf_counter()
    batches = [rows(jobs, MEMBER, 0, rng), rows(others, MEMBER + 1, jobs, rng)]
    for batch in batches:
        for start in range(0, len(batch), BATCH):
            async with store.database.transaction() as tx:
                await tx.executemany(_INSERT, batch[start : start + BATCH])
    if store.database.dialect == "postgres":
        await store.database.write("ANALYZE jobs")  # as autovacuum does after a load like this one
    return time.perf_counter() - began


async def timed(store: Store, query: HistoryQuery, offset: int, runs: int) -> tuple[float, int, int]:
    times: list[float] = []
    page = None
    for _ in range(runs):
        began = time.perf_counter()
        page = await store.history.history(query, offset=offset, limit=10)
        times.append((time.perf_counter() - began) * 1000)
    assert page is not None
    return statistics.median(times), len(page.jobs), page.total


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        where = args.url or str(Path(folder) / "history.sqlite3")
        store = await Store.open(where)
        try:
            loaded = await load(store, args.jobs, args.others)
            print(f"{store.location}: {args.jobs:,} jobs of one member, {args.others:,} of others ({loaded:.1f} s)")
            now = START + SPAN
            cases = [
                ("newest page, no filter", HistoryQuery(user_id=MEMBER), 0),
                ("text: a common word", HistoryQuery(user_id=MEMBER, text="Lighthouse"), 0),
                ("text: matches nothing", HistoryQuery(user_id=MEMBER, text="submarine"), 0),
                ("kind: video", HistoryQuery(user_id=MEMBER, kind=JobKind.VIDEO), 0),
                ("status: failed", HistoryQuery(user_id=MEMBER, statuses=STATUS_GROUPS["failed"]), 0),
                ("status: queued (none)", HistoryQuery(user_id=MEMBER, statuses=STATUS_GROUPS["queued"]), 0),
                ("last 7 days", HistoryQuery(user_id=MEMBER, since=now - 7 * 86_400), 0),
                ("page 500, no filter", HistoryQuery(user_id=MEMBER), 4_990),
                (
                    "everything at once",
                    HistoryQuery(
                        user_id=MEMBER,
                        text="fox",
                        kind=JobKind.VIDEO,
                        statuses=STATUS_GROUPS["succeeded"],
                        since=now - 30 * 86_400,
                    ),
                    0,
                ),
            ]
            width = max(len(name) for name, _, _ in cases)
            print(f"  {'query'.ljust(width)}  {'median ms':>9}  {'listed':>6}  {'matching':>8}")
            for name, query, offset in cases:
                median, listed, total = await timed(store, query, offset, args.runs)
                print(f"  {name.ljust(width)}  {median:9.1f}  {listed:6d}  {total:8,d}")
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs of the member whose history is read")
    parser.add_argument("--others", type=int, default=50_000, help="jobs of another member beside them")
    parser.add_argument("--runs", type=int, default=5, help="times each query runs (the median is shown)")
    parser.add_argument("--url", help="an empty PostgreSQL database to use instead of an SQLite file")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
