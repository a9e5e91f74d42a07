"""Limits that hold across the bot's processes on one PostgreSQL store: two submits that reach two processes at the
same moment (the same member's, or two members' of a server with one job of budget left) pass a limit of 1 once,
and so do a member's queued jobs released by two processes, and a double click whose two clicks reach two.

Each submit runs in a process of its own (a child Python with its own store, engine and API client), through the
gate's ``admitted`` and ``submit``, as a command or a button does; only Discord is left out. A slow moment is put
between each child's quota check and the writing of its job, so that without a lock across processes both checks
would pass before either job exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.acedata.client import AceDataClient
from bot.acedata.emulator import Emulator
from bot.acedata.models import ImagineGenerate
from bot.acedata.retry import RetryPolicy
from bot.jobs import JobEngine
from bot.jobs.queue import QueueRunner
from bot.settings import GuildSettings, update_guild_settings
from bot.store import JobStatus, Store
from cogs.common import FollowUp, FollowUpKind
from cogs.repeats import Repeats

GUILD = 100
ALICE = 11
BOB = 12
#: How long each child dawdles between its quota check and writing its job.
WINDOW_S = 0.4

# One bot process's submit: argv is the store's URL, the API's URL and token, the member, the server, the window.
SUBMIT_IN_A_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from types import SimpleNamespace

    import aiohttp

    from bot import quota
    from bot.acedata.client import AceDataClient
    from bot.acedata.models import ImagineGenerate
    from bot.acedata.retry import RetryPolicy
    from bot.jobs import JobEngine
    from bot.store import Store
    from cogs import gate

    url, api, token, user_id, guild_id, window = sys.argv[1:]
    checked = quota.check

    async def slow_check(*args, **kwargs):
        decision = await checked(*args, **kwargs)
        await asyncio.sleep(float(window))
        return decision

    quota.check = slow_check

    class Audit:
        async def post(self, guild_id, kind, **details):
            pass

    async def main():
        store = await Store.open(url)
        async with aiohttp.ClientSession() as session:
            client = AceDataClient(session, token=token, base_url=api, retry=RetryPolicy(attempts=1))
            engine = JobEngine(client, store, poll_interval_s=3600.0, job_timeout_s=86400.0, shared=True)
            bot = SimpleNamespace(
                services=SimpleNamespace(store=store, engine=engine),
                config=SimpleNamespace(dms_enabled=True),
                get_channel=lambda channel_id: None,
                get_guild=lambda guild_id: None,
            )
            who = SimpleNamespace(user_id=int(user_id), guild_id=int(guild_id), channel_id=None)
            request = ImagineGenerate(prompt="a lighthouse at dawn")
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
            try:
                async with gate.admitted(bot, who, request, audit=Audit(), kind="/imagine") as admission:
                    job_id = await gate.submit(
                        bot, admission, request, user_id=who.user_id, guild_id=who.guild_id, channel_id=None
                    )
                print(json.dumps({"job": job_id, "queued": admission.queued}), flush=True)
            except gate.GateRefusal as refusal:
                print(json.dumps({"refused": str(refusal)}), flush=True)
            finally:
                await engine.stop()
        await store.close()

    asyncio.run(main())
    """
)


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(postgres_url)
    yield opened
    await opened.close()


async def set_limits(store: Store, **limits: Any) -> None:
    def change(settings: GuildSettings) -> GuildSettings:
        return dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, **limits))

    await update_guild_settings(store, GUILD, change)


async def submit_at_once(url: str, emulator: Emulator, token: str, *user_ids: int) -> list[dict[str, Any]]:
    """Each member's /imagine in a bot process of its own, all let go at the same moment; what each answered."""
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SUBMIT_IN_A_CHILD,
            url,
            emulator.url,
            token,
            str(user_id),
            str(GUILD),
            str(WINDOW_S),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=Path.cwd(),
        )
        for user_id in user_ids
    ]
    try:
        async with asyncio.timeout(60):
            for child in children:
                assert child.stdout is not None
                line = await child.stdout.readline()
                assert line == b"ready\n", (line, await child.stderr.read() if child.stderr else b"")
            for child in children:
                assert child.stdin is not None
                child.stdin.write(b"go\n")
            done = await asyncio.gather(*(child.communicate() for child in children))
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    answers = []
    for child, (out, err) in zip(children, done, strict=True):
        assert child.returncode == 0, err.decode()
        answers.append(json.loads(out.decode().strip().splitlines()[-1]))
    return answers


async def statuses(store: Store, user_id: int) -> list[JobStatus]:
    jobs = [job for job in await store.queue.running_jobs(GUILD) if job.user_id == user_id]
    return sorted(job.status for job in jobs)


async def test_one_member_on_two_processes_with_one_running_job_allowed_runs_one(
    store: Store, postgres_url: str, emulator: Emulator, emulator_token: str
) -> None:
    await set_limits(store, max_running_per_user=1)
    answers = await submit_at_once(postgres_url, emulator, emulator_token, ALICE, ALICE)
    assert sorted(answer["queued"] for answer in answers) == [False, True]  # one runs, one waits its turn
    assert await statuses(store, ALICE) == sorted([JobStatus.RUNNING, JobStatus.QUEUED])
    assert emulator.task_count == 1


async def test_two_members_on_two_processes_with_one_job_of_budget_left_get_one(
    store: Store, postgres_url: str, emulator: Emulator, emulator_token: str
) -> None:
    await set_limits(store, daily_budget=1.0)  # one image
    answers = await submit_at_once(postgres_url, emulator, emulator_token, ALICE, BOB)
    refused = [answer["refused"] for answer in answers if "refused" in answer]
    assert len(refused) == 1 and "This server has used 1 of its 1 units for today" in refused[0]
    assert emulator.task_count == 1


async def test_a_server_without_a_budget_lets_its_members_submit_side_by_side(
    store: Store, postgres_url: str, emulator: Emulator, emulator_token: str
) -> None:
    await set_limits(store, max_running_per_user=1)  # a limit per member only: no lock on the server
    answers = await submit_at_once(postgres_url, emulator, emulator_token, ALICE, BOB)
    assert [answer.get("queued") for answer in answers] == [False, False]
    assert emulator.task_count == 2


# -- the queue and double clicks, with two processes in this one ----------------------------------------------


@pytest.fixture
async def engines(
    postgres_url: str, emulator: Emulator, emulator_token: str
) -> AsyncIterator[list[tuple[Store, JobEngine]]]:
    """Two processes' stores and engines on one PostgreSQL database."""
    stacks: list[tuple[Store, JobEngine]] = []
    async with aiohttp.ClientSession() as session:
        client = AceDataClient(session, token=emulator_token, base_url=emulator.url, retry=RetryPolicy(attempts=1))
        for _ in range(2):
            opened = await Store.open(postgres_url)
            stacks.append((opened, JobEngine(client, opened, poll_interval_s=3600.0, shared=True)))
        yield stacks
        for opened, engine in stacks:
            await engine.stop()
            await opened.close()


async def test_two_processes_releasing_a_members_queue_at_once_release_one_job(
    engines: list[tuple[Store, JobEngine]], emulator: Emulator
) -> None:
    (first, engine), (second, other_engine) = engines
    queued = [
        await engine.enqueue(ImagineGenerate(prompt=f"a kite {n}"), user_id=ALICE, guild_id=GUILD) for n in (1, 2)
    ]

    async def one_slot(guild_id: int | None, user_id: int) -> int | None:
        return 1

    runners = [QueueRunner(engine, first, one_slot), QueueRunner(other_engine, second, one_slot)]
    for opened in (first, second):  # a slow moment between counting the running jobs and taking the next one
        counted = opened.queue.running_count

        async def slow_count(user_id: int | None, guild_id: int | None, counted: Any = counted) -> int:
            running = int(await counted(user_id, guild_id))
            await asyncio.sleep(WINDOW_S)
            return running

        opened.queue.running_count = slow_count  # type: ignore[method-assign]

    async def later(runner: QueueRunner) -> list[str]:
        await asyncio.sleep(WINDOW_S / 4)  # counts before the first claims, and looks for a job after it did
        return await runner.release_ready(ALICE)

    released = await asyncio.gather(runners[0].release_ready(ALICE), later(runners[1]))
    assert sorted(len(ids) for ids in released) == [0, 1]
    assert [(await first.jobs.get_job(job_id)).status for job_id in queued] == [  # type: ignore[union-attr]
        JobStatus.RUNNING,
        JobStatus.QUEUED,
    ]
    assert emulator.task_count == 1


async def test_a_double_click_reaching_two_processes_is_claimed_once(engines: list[tuple[Store, JobEngine]]) -> None:
    (first, engine), (second, _) = engines
    job_id = await engine.enqueue(ImagineGenerate(prompt="a kite"), user_id=ALICE, guild_id=GUILD)
    job = await first.jobs.get_job(job_id)
    assert job is not None
    upscale = FollowUp(FollowUpKind.IMAGE, job_id, "upscale1")
    async with Repeats().claim(first, job, upscale, ALICE) as claim:
        assert claim.acquired
        async with Repeats().claim(second, job, upscale, ALICE, wait=False) as twice:
            assert not twice.acquired  # the same member's second click, in the other process
        async with Repeats().claim(second, job, upscale, BOB, wait=False) as bob:
            assert bob.acquired  # another member's click is a job of its own
        async with Repeats().claim(second, job, FollowUp(FollowUpKind.IMAGE, job_id, "upscale2"), ALICE) as other:
            assert other.acquired  # so is another button
