"""Benchmark of several engine processes on one PostgreSQL store: who polls what, take-over, duplicates.

For each fleet size P (``--processes``, default 2 and 4): a fresh database; the API emulator in a process of
its own, with 10-minute tasks on its real clock; ``--jobs`` N jobs submitted through an engine (so the emulator
made every task), whose leases are then given back; then P engine processes (``scale_worker.py``, spawned) start
at one signal, each a ``JobEngine(shared=True, lease=Lease(own owner, --lease-s), poll_interval_s=--poll-s)``
that writes down every tick. The run, in windows of one poll interval:

1. steady state (``--windows`` windows, after every job is held and two more ticks): ``retrieve_batch`` requests
   per window and per fleet tick (tick n of every process) against the bound ceil(N/50) + P, and task ids that
   two processes polled in one window (must be none);
2. ``kill -9`` of the process that holds the most jobs: when its leases ran out (its last renewal, read from the
   store), and the time from the kill until the survivors hold every one of its leases (the store, read every
   0.2 s) and until each of its jobs was polled by a survivor, against lease + poll interval;
3. a few more windows with P - 1 processes, then a clean stop (SIGTERM: each engine stops and gives its leases
   back).

A request counts in the window its tick began in, and "fleet tick" n is tick n of every process (they all start
at one signal, so their ticks stay close together).

A third of ``--finish`` jobs are ended at the emulator during the steady state, a third among the killed
process's jobs just after the kill, a third after the take-over: each must be announced (SUCCEEDED) exactly
once across the fleet, and the emulator must hold exactly N tasks (no submit was repeated).

CPU per tick is each process's own (``time.process_time`` between two sleeps of its poll loop: lease step, HTTP
and parsing, store writes, events), with the lease step and the writes of the answers also apart; for a server
this bench started, the PostgreSQL server's CPU (all its processes) per window too.

PostgreSQL: ``PG_BENCH_URL`` (else the tests' ``PG_TESTS_URL``) names a server whose user may create databases;
without either, a throwaway cluster is started as the tests start theirs (``tests/pg_kit.py``).

Run: ``python bench/bench_scale.py [--processes 2 4] [--jobs N] [--lease-s S] [--poll-s S] [--windows N]
[--finish N] [--journals DIR] [--json]``. Prints what it is doing on stderr; exits with status 1 when a check
fails. With the defaults it takes about two minutes on two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the tests' PostgreSQL kit

import aiohttp
import asyncpg
import scale_worker
from emulator_process import emulator_process
from pg_kit import URL_ENV, create_database, drop_database, start_local_cluster
from scale_report import analyse, failures, read_journal, report

from bot.acedata.client import AceDataClient
from bot.acedata.models import ImagineGenerate, VideoGenerate
from bot.jobs import JobEngine
from bot.store import Lease, Store

#: A ready server (outside the MJBOT_ names, which the bot's config reads and refuses unknown ones of).
URL_ENVS = ("PG_BENCH_URL", URL_ENV)
TASK_S = 600.0


@contextlib.contextmanager
def postgres_server() -> Iterator[tuple[str, Path | None]]:
    """A server's base URL, and the data folder of one this bench started (for its CPU figures)."""
    for name in URL_ENVS:
        if os.environ.get(name):
            yield os.environ[name], None
            return
    cluster = start_local_cluster()
    if isinstance(cluster, str):
        raise SystemExit(f"no PostgreSQL: {cluster}; or set {URL_ENVS[0]}")
    try:
        yield cluster.url, cluster.data
    finally:
        cluster.stop()


def server_cpu_s(data: Path | None) -> float:
    """CPU seconds used so far by the postmaster in ``data`` and its live children (nan when unknown)."""
    if data is None:
        return float("nan")
    root = int((data / "postmaster.pid").read_text().split()[0])
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(entry.name) == root or int(fields[1]) == root:
                    total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


async def submit_all(store_url: str, api_url: str, count: int) -> dict[str, str]:
    """Submit ``count`` jobs through an engine (the emulator makes each task), then give their leases back."""
    store = await Store.open(store_url)
    async with aiohttp.ClientSession() as session:
        client = AceDataClient(session, token=scale_worker.TOKEN, base_url=api_url)
        engine = JobEngine(client, store, shared=True, lease=Lease("bench-setup", 60.0))
        ids: list[str] = []
        for start in range(0, count, 200):
            batch = [
                engine.submit(ImagineGenerate(prompt=f"scale grid {n}"), user_id=n % 50)
                if n % 2
                else engine.submit(VideoGenerate(prompt=f"scale clip {n}", image_url="https://example.com/a.png"))
                for n in range(start, min(count, start + 200))
            ]
            ids.extend(await asyncio.gather(*batch))
        jobs = await store.jobs.jobs_by_ids(ids)
        await engine.stop()
    await store.close()
    return {job_id: job.task_id or "" for job_id, job in jobs.items()}


class Run:
    """One fleet of ``processes`` engines, driven through the phases in the module's docstring."""

    def __init__(self, args: argparse.Namespace, processes: int, store_url: str, api_url: str, data: Path | None):
        self.args, self.processes, self.store_url, self.api_url, self.data = args, processes, store_url, api_url, data
        self.marks: dict[str, float] = {}
        self.finished: set[str] = set()
        self.victim_leases_end_s = float("nan")

    def mark(self, phase: str) -> None:
        """Note when a phase began, and say so on stderr (a run takes a minute or two)."""
        self.marks[phase] = time.monotonic()
        since = self.marks[phase] - self.marks.get("go", self.marks[phase])
        print(f"  P={self.processes}: {phase} at {since:.1f} s", file=sys.stderr, flush=True)

    async def holders(self, conn: asyncpg.Connection) -> Counter[str]:
        rows = await conn.fetch(
            "SELECT j.lease_owner, count(*) FROM jobs AS j JOIN lease_owners AS o ON o.owner = j.lease_owner "
            "WHERE j.status = 'running' AND o.until > $1 GROUP BY 1",
            time.time(),
        )
        return Counter({row[0]: row[1] for row in rows})

    async def finish(self, http: aiohttp.ClientSession, task_ids: list[str], spread_s: float) -> None:
        """End these tasks at the emulator, one by one over ``spread_s`` seconds."""
        for task_id in task_ids:
            await asyncio.sleep(random.uniform(0, 2 * spread_s / max(1, len(task_ids))))
            async with http.post(f"{self.api_url}/_emulator/tasks/{task_id}/finish", json={}) as answer:
                answer.raise_for_status()
            self.finished.add(task_id)

    async def emulator_state(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        async with http.get(f"{self.api_url}/_emulator/state") as answer:
            state: dict[str, Any] = await answer.json()
            return state

    async def drive(self, folder: Path, tasks: dict[str, str]) -> None:
        args, poll = self.args, self.args.poll_s
        context = multiprocessing.get_context("spawn")
        go = context.Event()
        self.paths = [folder / f"process{i}.jsonl" for i in range(self.processes)]
        workers = [
            context.Process(
                target=scale_worker.run,
                args=(self.store_url, self.api_url, args.lease_s, poll, str(path), go),
                daemon=True,
            )
            for path in self.paths
        ]
        for worker in workers:
            worker.start()
        try:
            await self.phases(workers, go, tasks)
        finally:
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()  # SIGTERM: the engine stops and gives its leases back
            for worker in workers:
                worker.join(30)
                if worker.is_alive():
                    worker.kill()

    async def phases(self, workers: list[Any], go: Any, tasks: dict[str, str]) -> None:
        args, poll = self.args, self.args.poll_s
        while not all(any(e["t"] == "ready" for e in read_journal(path)) for path in self.paths):
            if not all(worker.is_alive() for worker in workers):
                raise SystemExit("an engine process died while starting")
            await asyncio.sleep(0.1)
        owners = {read_journal(path)[0]["owner"]: i for i, path in enumerate(self.paths)}
        unfinished = list(tasks.values())
        random.shuffle(unfinished)
        conn = await asyncpg.connect(self.store_url)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            go.set()
            self.mark("go")
            while True:
                if sum((await self.holders(conn)).values()) == len(tasks):
                    break
                await asyncio.sleep(0.2)
            self.mark("all_held")
            await asyncio.sleep(2 * poll)
            self.mark("steady")
            cpu, before = server_cpu_s(self.data), await self.emulator_state(http)
            third = args.finish // 3
            await asyncio.gather(
                asyncio.sleep(args.windows * poll), self.finish(http, unfinished[:third], args.windows * poll * 0.8)
            )
            self.mark("steady_end")
            self.server_cpu_per_window = (server_cpu_s(self.data) - cpu) / args.windows
            after = await self.emulator_state(http)
            self.emulator_requests_per_window = (after["request_count"] - before["request_count"]) / args.windows
            held = await self.holders(conn)
            self.split_before = sorted(held.values(), reverse=True)
            victim_owner = held.most_common(1)[0][0]
            self.victim = owners[victim_owner]
            victim_tasks = [
                row[0]
                for row in await conn.fetch(
                    "SELECT task_id FROM jobs WHERE status = 'running' AND lease_owner = $1", victim_owner
                )
            ]
            os.kill(workers[self.victim].pid or 0, signal.SIGKILL)
            self.mark("kill")
            killed_at = time.time()
            self.victim_tasks = set(victim_tasks)
            ending = [task for task in victim_tasks if task not in self.finished][:third]
            finishing = asyncio.create_task(self.finish(http, ending, poll))
            deadline = self.marks["kill"] + args.lease_s + 4 * poll + 30
            # Taken over: every running job is held, by a survivor (the victim's leases may just have run out).
            while time.monotonic() < deadline:
                held = await self.holders(conn)
                running = await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'running'")
                until = await conn.fetchval("SELECT until FROM lease_owners WHERE owner = $1", victim_owner)
                if until is not None:  # its last renewal (one under way at the kill may still have landed)
                    self.victim_leases_end_s = until - killed_at
                if not held[victim_owner] and sum(held.values()) == running:
                    break
                await asyncio.sleep(0.2)
            self.mark("taken_over")
            await finishing
            await asyncio.sleep(2 * poll)
            self.mark("after")
            rest = [task for task in unfinished if task not in self.finished][: args.finish - 2 * third]
            await asyncio.gather(asyncio.sleep(3 * poll), self.finish(http, rest, 3 * poll * 0.8))
            self.mark("after_end")
            await asyncio.sleep(2 * poll)  # the last endings are polled and announced
            self.split_after = sorted((await self.holders(conn)).values(), reverse=True)
            self.task_count = (await self.emulator_state(http))["task_count"]
        await conn.close()


async def one_fleet(args: argparse.Namespace, processes: int, base_url: str, data: Path | None) -> dict[str, Any]:
    store_url = await create_database(base_url)
    try:
        with (
            emulator_process(job_duration_s=TASK_S, video_duration_s=TASK_S, seed=processes) as api_url,
            tempfile.TemporaryDirectory() as scratch,
        ):
            folder = Path(args.journals or scratch) / f"p{processes}"
            folder.mkdir(parents=True, exist_ok=True)
            began = time.monotonic()
            tasks = await submit_all(store_url, api_url, args.jobs)
            submitted_s = time.monotonic() - began
            run = Run(args, processes, store_url, api_url, data)
            await run.drive(folder, tasks)
            figures = analyse(run, tasks)
            figures["setup_submit_s"] = submitted_s
            figures["marks"] = run.marks
            return figures
    finally:
        await drop_database(base_url, store_url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--lease-s", type=float, default=10.0)
    parser.add_argument("--poll-s", type=float, default=2.0)
    parser.add_argument("--windows", type=int, default=5, help="steady-state windows of one poll interval")
    parser.add_argument("--finish", type=int, default=300, help="jobs ended at the emulator during the run")
    parser.add_argument("--journals", help="keep each process's journal (JSON lines) in this folder")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if min(args.processes) < 2:
        parser.error("--processes: each fleet needs at least 2 processes (one is killed)")
    results = []
    with postgres_server() as (base_url, data):
        for processes in args.processes:
            results.append(await one_fleet(args, processes, base_url, data))
            if not args.json:
                report(results[-1])
    if args.json:
        print(json.dumps(results, indent=2))
    failed = [failure for figures in results for failure in failures(figures)]
    for failure in failed:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
