"""Two bot processes on one PostgreSQL store, as a member of their servers sees them.

Each test runs two real MJBots in this one Python process (their own discord.py client, store connections, engine
and web listener), split into Discord shards 0 and 1 of 2 on the loopback Discord, with one server on each shard.
Both talk to ONE standalone API emulator (sandbox mode would start an emulator inside each process, which would not
share tasks), so a job one process submits is one another process can follow.

What a member notices: each result shows once (one upload of its files, one message), whichever process finished it
and whatever the other's sweeps do; a job outlives the process that made it, stopped cleanly or not; a button works
on whichever process its click reaches; and a double click that reaches two processes makes one job.
"""

# ruff: noqa: ASYNC109 - the helpers take a timeout like asyncio.wait_for, which reads best in tests

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest
from fakediscord import FakeDiscord, FakeGuild, FakeMessage, InteractionHandle, RecordedRequest

from bot.acedata.emulator import Emulator
from bot.bot import MJBot
from bot.config import (
    AceDataSettings,
    CallbackSettings,
    Config,
    DiscordSettings,
    JobsSettings,
    StoreSettings,
)
from bot.store import Job, JobStatus
from cogs.i18n import t

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

#: How often each engine polls; the lease must last at least two polls (the config's rule).
POLL_S = 0.2
#: A lease long enough that a busy machine never lets one run out by accident ...
LEASE_S = 10.0
#: ... and the short one of a process that dies, so that the test need not wait long for it to run out.
SHORT_LEASE_S = 1.5
#: How long a job runs when a test needs it to be still running a while (it is ended with ``Emulator.finish``).
LONG_S = 60.0
#: A short job, finished by the emulator on its own.
SHORT_S = 0.2
#: The API's paths that start a task (what costs credits).
SUBMITS = ("/midjourney/imagine", "/midjourney/videos")


# -- the processes ----------------------------------------------------------------------------------------------


def shared_config(
    fake: FakeDiscord, url: str, api: Emulator, token: str, shards: tuple[int, ...], *, lease_s: float = LEASE_S
) -> Config:
    """One process's configuration: these of the 2 shards, the shared store at ``url`` and the API at ``api``."""
    return Config(
        discord=DiscordSettings(
            token="fake-token",
            api_base=fake.api_base,
            gateway_url=fake.gateway_url,
            sync_commands=True,
            shard_count=2,
            shard_ids=shards,
        ),
        acedata=AceDataSettings(token=token, base_url=api.url),
        jobs=JobsSettings(poll_interval_s=POLL_S, job_timeout_s=120.0, lease_s=lease_s),
        callback=CallbackSettings(enabled=False, listen_port=0),
        store=StoreSettings(url=url),
    )


def process_kit(fake: FakeDiscord, config: Config) -> Kit:
    """A bot process: the kit's bot, which identifies its shards without discord.py's 5 s pause between two
    IDENTIFYs (Discord's rate limit, which the fake does not have), and which stops on its own: it waits for its
    own websockets to close, not for the other process's."""
    import discord_kit

    class ShardBot(discord_kit.KitBot):
        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            return None

    class Process(discord_kit.Kit):
        async def start(self) -> MJBot:
            stack = contextlib.AsyncExitStack()
            bot = ShardBot(self.config, cogs=self.cogs, guild_ready_timeout=0.05)
            self._bot = await stack.enter_async_context(serving(bot, self.fake))
            self._stack = stack
            return bot

        async def stop(self) -> None:
            # Closed even when what was under way did not settle: a failed test must not leave a bot running.
            stack, self._stack = self._stack, None
            if stack is not None:
                try:
                    await self.settle()
                finally:
                    await stack.aclose()

    return Process(fake, config)


@contextlib.asynccontextmanager
async def serving(bot: MJBot, fake: FakeDiscord, *, timeout: float = 10.0) -> AsyncIterator[MJBot]:
    """``running_bot`` for one of several processes: the same start, and a stop that waits for this bot's
    websockets only (the others stay open)."""
    before = list(fake.gateway.connections)
    async with bot:
        task = asyncio.create_task(bot.start("fake-token"), name=f"{type(bot).__name__}.start")
        ready = asyncio.create_task(bot.wait_until_ready())
        await asyncio.wait({task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if task.done():
                raise RuntimeError(f"the bot stopped before it was ready: {task.exception()!r}")
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise TimeoutError(f"the bot was not ready after {timeout:g}s\n{fake.recorder.summary()}")
        own = [c for c in fake.gateway.connections if not any(c is b for b in before)]
        try:
            yield bot
        finally:
            await bot.close()
            try:
                await asyncio.wait_for(task, timeout=timeout)
            except TimeoutError:
                task.cancel()
            await fake.wait_for(
                lambda: not any(c is o for c in fake.gateway.connections for o in own),
                timeout=timeout,
                what="the process's websockets to close",
            )


@dataclasses.dataclass
class Cluster:
    """Two processes on one store and one API, and a server on each of their shards."""

    fake: FakeDiscord
    api: Emulator
    url: str
    token: str
    #: Shard 0's process and shard 1's.
    a: Kit
    b: Kit
    #: A server on shard 0 and one on shard 1.
    zero: FakeGuild
    one: FakeGuild

    def config(self, shards: tuple[int, ...], *, lease_s: float = LEASE_S) -> Config:
        return shared_config(self.fake, self.url, self.api, self.token, shards, lease_s=lease_s)

    async def start(self, *, lease_s: float = LEASE_S) -> None:
        self.a.config = self.config((0,), lease_s=lease_s)
        self.b.config = self.config((1,), lease_s=lease_s)
        await self.a.start()
        await self.b.start()
        assert self.fake.gateway.connected_shards() == [(0, 2), (1, 2)]
        assert self.zero.id in guild_ids(self.a) and self.one.id in guild_ids(self.b)

    async def serve_both_shards(self, kit: Kit) -> None:
        """Restart ``kit``'s process with both shards (it stops cleanly first, as a redeploy does)."""
        kit.config = dataclasses.replace(kit.config, discord=dataclasses.replace(kit.config.discord, shard_ids=(0, 1)))
        await kit.restart()
        assert {self.zero.id, self.one.id} <= guild_ids(kit)


def guild_ids(kit: Kit) -> set[int]:
    return {guild.id for guild in kit.bot.guilds}


@pytest.fixture
async def cluster(
    fake_discord: FakeDiscord, postgres_url: str, emulator: Emulator, emulator_token: str
) -> AsyncIterator[Cluster]:
    """Two processes (not started: ``await cluster.start()``), stopped at the end whatever state they are in."""
    fake = fake_discord
    zero = fake.add_guild("Shard zero", owner=fake.owner, shard=(0, 2))
    one = fake.add_guild("Shard one", owner=fake.owner, shard=(1, 2))
    for guild in (zero, one):
        fake.add_member(guild, fake.alice)
        fake.add_member(guild, fake.bob)
    placeholder = shared_config(fake, postgres_url, emulator, emulator_token, (0,))
    cluster = Cluster(
        fake,
        emulator,
        postgres_url,
        emulator_token,
        a=process_kit(fake, placeholder),
        b=process_kit(fake, placeholder),
        zero=zero,
        one=one,
    )
    try:
        yield cluster
    finally:
        await asyncio.gather(*(kit.stop() for kit in (cluster.a, cluster.b)))
    assert fake.unknown_routes == []


# -- what a member sees -------------------------------------------------------------------------------------------


def jobs_shown(message: Any) -> set[str]:
    """The jobs a message (as Discord answered a request) shows: those its buttons (``mj:kind:job[:arg]``) name."""
    found: set[str] = set()
    if isinstance(message, dict):
        custom_id = message.get("custom_id")
        if isinstance(custom_id, str) and custom_id.startswith("mj:") and custom_id.count(":") >= 2:
            found.add(custom_id.split(":")[2])
        for value in message.values():
            found |= jobs_shown(value)
    elif isinstance(message, list):
        for value in message:
            found |= jobs_shown(value)
    return found


def writes_of(fake: FakeDiscord, job_id: str, *, since: int = 0) -> list[RecordedRequest]:
    """Every request that sent or edited a message showing the job, with or without files."""
    return [
        r
        for r in fake.requests_matching(since=since)
        if r.method in ("POST", "PATCH") and job_id in jobs_shown(r.response)
    ]


def uploads_of(fake: FakeDiscord, job_id: str, *, since: int = 0) -> list[RecordedRequest]:
    """Every request that carried files to a message showing the job (an edit of it, or a new message): each is
    one showing of the result."""
    return [r for r in writes_of(fake, job_id, since=since) if r.files]


def messages_showing(fake: FakeDiscord, guild: FakeGuild, job_id: str) -> list[FakeMessage]:
    """The messages in the server's first channel that carry the job's buttons (its result, for everyone)."""
    channel = guild.text_channels()[0]
    return [m for m in fake.messages(channel, include_ephemeral=False) if job_id in jobs_shown(m.wire())]


async def holder(kit: Kit, job_id: str) -> str | None:
    """The owner id of the process that holds the job's lease, as the store says."""
    held = await kit.store.leases.holders([job_id])
    owner, _ = held[job_id]
    return owner


def owner_of(kit: Kit) -> str:
    return kit.bot.services.engine._leases.lease.owner


async def a_job_in(kit: Kit, handle: InteractionHandle) -> tuple[Job, FakeMessage]:
    message = await kit.job_message(handle)
    return await kit.job_of(message), message


def start_frame(fake: FakeDiscord) -> str:
    from discord_kit import PNG

    return fake.upload("start.png", PNG).url


async def video_in(cluster: Cluster, kit: Kit, guild: FakeGuild, prompt: str) -> tuple[Job, FakeMessage]:
    """A /video from a start frame in ``guild``, and its message, as soon as its job exists."""
    options = {"prompt": prompt, "image_url": start_frame(cluster.fake)}
    return await a_job_in(kit, await cluster.fake.slash("video", options, guild=guild))


# -- 1. each result once ------------------------------------------------------------------------------------------


async def test_jobs_on_both_processes_each_show_their_result_once_and_no_sweep_shows_it_again(
    cluster: Cluster,
) -> None:
    """A /video on shard 0's server and an /imagine on shard 1's finish, each shown by its own process once.

    The video's result is held up on its way to Discord (its files are slow to fetch) while both processes sweep:
    the job is finished in the store and its message does not show it yet, just what a sweep looks for, and the
    sweeps leave it to the process that finished it. Later sweeps find nothing to do either.
    """
    fake, api = cluster.fake, cluster.api
    await cluster.start()
    a, b = cluster.a, cluster.b

    # Hold the video's result files in process A until both sweeps ran (A's own delivery, nobody else's).
    fetching, go_on = asyncio.Event(), asyncio.Event()
    results = a.delivery._results
    fetch = results.files_for

    async def slow_files_for(job: Job, limit: int) -> Any:
        if job.finished:
            fetching.set()
            await asyncio.wait_for(go_on.wait(), 10)
        return await fetch(job, limit)

    results.files_for = slow_files_for  # type: ignore[method-assign]

    video, video_message = await video_in(cluster, a, cluster.zero, "a kite rises in the wind")
    imagine_handle = await fake.slash("imagine", {"prompt": "a red fox in the snow"}, guild=cluster.one)
    grid, grid_message = await a_job_in(b, imagine_handle)
    assert await holder(a, video.id) == owner_of(a) and await holder(b, grid.id) == owner_of(b)

    try:
        await asyncio.wait_for(fetching.wait(), 10)
        assert (await a.store.jobs.get_job(video.id)).status is JobStatus.SUCCEEDED  # type: ignore[union-attr]
        assert not a.done(video_message)
        swept = [await b.delivery.sweep(), await a.delivery.sweep()]
    finally:
        go_on.set()
    assert swept == [0, 0], "a sweep took up the result of a job that its process is delivering right now"

    await a.wait_done(video_message)
    await b.wait_done(grid_message)
    for kit in (a, b):
        await kit.settle()

    # Each result went to Discord once: one upload, one message in the channel.
    for job, guild, expected in ((video, cluster.zero, "mp4"), (grid, cluster.one, "grid.png")):
        [upload] = uploads_of(fake, job.id)
        assert any(f.filename.endswith(expected) for f in upload.files), upload
        assert len(messages_showing(fake, guild, job.id)) == 1
    assert [r.path for r in api.requests if r.path in SUBMITS] == ["/midjourney/videos", "/midjourney/imagine"]

    # Later sweeps (periodic, or a start-up one) find every message showing its result already.
    mark = len(fake.recorder)
    assert await a.delivery.sweep() == 0 and await b.delivery.sweep() == 0
    assert await a.delivery.sweep(startup=True) == 0 and await b.delivery.sweep(startup=True) == 0
    for kit in (a, b):
        await kit.settle()
    assert writes_of(fake, video.id, since=mark) == [] and writes_of(fake, grid.id, since=mark) == []


# -- 2. a job outlives its process; its buttons work on the other ---------------------------------------------


async def running_task(kit: Kit, job_id: str) -> Job:
    """The job once the API accepted it (it has a task id)."""

    async def sent() -> Job | None:
        job = await kit.store.jobs.get_job(job_id)
        return job if job is not None and job.status is JobStatus.RUNNING and job.task_id else None

    found: Job = await kit.until(sent, what=f"job {job_id} to run")
    return found


async def taken_over_by(kit: Kit, job_id: str, *, timeout: float) -> float:
    """Wait until ``kit``'s process holds the job; returns when that was seen (``time.monotonic``)."""
    owner = owner_of(kit)

    async def held() -> bool:
        return await holder(kit, job_id) == owner

    await kit.until(held, timeout=timeout, what=f"job {job_id} to be taken over")
    return time.monotonic()


async def test_a_job_outlives_its_process_and_its_buttons_work_on_the_other(cluster: Cluster) -> None:
    """A /video started on process A (shard 0's server) while A is stopped cleanly, as a redeploy stops it.

    A gives its lease back as it stops, so B takes the job over on its next tick (not after the lease would have
    run out) and shows the result in the message A made. Shard 0 then has no process, as it would while A is away;
    the operator gives the survivor both shards (B restarts with ``shard_ids = [0, 1]``, as its container would with
    a changed setting), and a member's Extend 1 on the finished video reaches B and makes exactly one new job.
    """
    fake, api = cluster.fake, cluster.api
    await cluster.start()
    a, b = cluster.a, cluster.b
    api.settings.video_duration_s = LONG_S
    video, message = await video_in(cluster, a, cluster.zero, "a heron takes off")
    video = await running_task(a, video.id)
    assert await holder(a, video.id) == owner_of(a)

    stopped = time.monotonic()
    await a.stop()
    took = await taken_over_by(b, video.id, timeout=LEASE_S / 2) - stopped
    assert took < LEASE_S / 2, f"B waited {took:.1f} s: the lease was not given back"

    assert video.task_id is not None
    api.finish(video.task_id)
    await b.wait_done(message)
    await b.settle()
    [upload] = uploads_of(fake, video.id)
    assert [f.filename for f in upload.files if f.filename.endswith(".mp4")], upload
    assert len(messages_showing(fake, cluster.zero, video.id)) == 1

    api.settings.video_duration_s = SHORT_S
    await cluster.serve_both_shards(b)
    submitted = len([r for r in api.requests if r.path in SUBMITS])
    _, extension_message = await b.follow(message, b.button(message, "ext", "1"))
    extension, _ = await b.wait_done(extension_message)
    await b.settle()
    assert [child.id for child in await b.children(video)] == [extension.id]
    assert len([r for r in api.requests if r.path in SUBMITS]) == submitted + 1
    assert len(uploads_of(fake, extension.id)) == 1
    assert len(uploads_of(fake, video.id)) == 1, "the video's own message was not shown again"


# -- 3. a process that dies ---------------------------------------------------------------------------------------


async def test_a_job_of_a_process_that_died_is_taken_over_when_its_lease_runs_out(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Process A dies with a /video running: its websockets and its store connections close, but it never gives its
    lease back (its lease keeper's stop does nothing, as a killed process does nothing). B may take the job only
    once the lease has run out (``lease_s`` after A last renewed it, noticed on B's next tick), and then the member
    sees the result once, in the message A made."""
    fake, api = cluster.fake, cluster.api
    await cluster.start(lease_s=SHORT_LEASE_S)
    a, b = cluster.a, cluster.b
    api.settings.video_duration_s = LONG_S
    video, message = await video_in(cluster, a, cluster.zero, "a storm over the bay")
    video = await running_task(a, video.id)
    owner = owner_of(a)
    assert await holder(a, video.id) == owner

    async def killed() -> None:
        return None

    monkeypatch.setattr(a.bot.services.engine._leases, "stop", killed)
    died = time.monotonic()
    await a.stop()
    assert await holder(b, video.id) == owner, "the dead process's lease stays until it runs out"
    took = await taken_over_by(b, video.id, timeout=SHORT_LEASE_S + 5) - died
    # A renewed the lease at most a tick before it died, and B takes it on the first tick after it ran out.
    assert SHORT_LEASE_S / 2 <= took <= SHORT_LEASE_S + 3, f"taken over after {took:.2f} s"

    assert video.task_id is not None
    api.finish(video.task_id)
    await b.wait_done(message)
    await b.settle()
    assert len(uploads_of(fake, video.id)) == 1
    assert len(messages_showing(fake, cluster.zero, video.id)) == 1
    assert len([r for r in api.requests if r.path in SUBMITS]) == 1


# -- 4. a double click on two processes ---------------------------------------------------------------------------


async def test_a_double_click_whose_clicks_reach_two_processes_makes_one_job(cluster: Cluster) -> None:
    """U1 clicked twice on a grid, the first click reaching A and the second B.

    Discord sends a server's events to the newest session of its shard, so two clicks on one message reach two
    processes when the shard moves between them: here B restarts with both shards (a redeploy) while A, still
    connected, works on the first click. A dawdles inside its claim on the click (it has checked for an earlier
    identical job and not written its own yet), and lets go only once B's click is waiting for that claim, which
    the store's lock extends across processes. B then finds A's new job and says so; one job, one submit.
    """
    fake, api = cluster.fake, cluster.api
    await cluster.start()
    a, b = cluster.a, cluster.b
    handle = await fake.slash("imagine", {"prompt": "a lighthouse at dusk"}, guild=cluster.zero)
    grid, message = await a.wait_done(await a.job_message(handle))
    await a.settle()

    clicked, paused, go_on = asyncio.Event(), asyncio.Event(), asyncio.Event()
    children = a.store.jobs.children

    async def dawdling_children(job_id: str) -> list[Job]:
        found = await children(job_id)
        if clicked.is_set() and job_id == grid.id and not paused.is_set():
            paused.set()
            await asyncio.wait_for(go_on.wait(), 15)
        return found

    a.store.jobs.children = dawdling_children  # type: ignore[method-assign]
    upscale = a.button(message, "img", "upscale1")
    submitted = len([r for r in api.requests if r.path in SUBMITS])
    try:
        clicked.set()
        first = await fake.click(message, upscale)
        await asyncio.wait_for(paused.wait(), 5)
        await cluster.serve_both_shards(b)
        second = await fake.click(message, upscale)

        async def waiting_or_went_ahead() -> bool:
            return len(b.store.locks) > 0 or bool(await b.store.jobs.children(grid.id))

        await b.until(waiting_or_went_ahead, what="B to wait for A's claim (or to go ahead)")
    finally:
        go_on.set()

    upscaled, _ = await a.wait_done(await a.job_message(first))
    await second.wait_for_response()
    await asyncio.gather(a.settle(), b.settle())
    assert [child.id for child in await a.children(grid)] == [upscaled.id]
    answer = await b.reply_text(second)
    assert len([r for r in api.requests if r.path in SUBMITS]) == submitted + 1
    assert b.public_messages(second) == []
    # B waited for A's claim and then found A's job; on a slow machine its wait (2 s) may run out first.
    assert upscaled.id in answer or answer == t("en-US", "actions.already_clicked"), answer


# -- 5. a result its process could not show -----------------------------------------------------------------------


async def test_a_result_whose_process_stopped_before_showing_it_is_shown_at_the_next_start(cluster: Cluster) -> None:
    """Process A finishes a /video in the store and stops before its message shows the result (its delivery is gone
    first, as in a process stopped at that moment). When A starts again (a redeploy, or a container restart), its
    start-up sweep shows the result at once: the grace a sweep gives a recently finished job is for a process that
    is alive to deliver it, and A's old self gave its lease back as it stopped."""
    fake, api = cluster.fake, cluster.api
    await cluster.start()
    a = cluster.a
    api.settings.video_duration_s = LONG_S
    video, message = await video_in(cluster, a, cluster.zero, "a lantern on the water")
    video = await running_task(a, video.id)
    await a.bot.remove_cog("Delivery")
    assert video.task_id is not None
    api.finish(video.task_id)
    await a.wait_job(video.id, JobStatus.SUCCEEDED)
    await a.stop()
    assert not a.done(message) and uploads_of(fake, video.id) == []

    restarted = time.monotonic()
    await a.start()
    await a.wait_done(message)
    await a.settle()
    assert time.monotonic() - restarted < 10, "the result waited for a periodic sweep"
    assert len(uploads_of(fake, video.id)) == 1
    assert len(messages_showing(fake, cluster.zero, video.id)) == 1
