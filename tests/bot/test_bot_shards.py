"""The bot split into Discord shards: each process connects its own shards and hears only of their servers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from fakediscord import FakeDiscord, FakeGuild
from fakediscord.gateway import shard_of

from bot.config import CallbackSettings, Config
from bot.shards import ShardWatch

if TYPE_CHECKING:
    from discord_kit import Kit

pytest_plugins = ("discord_kit",)

PROMPT = "a lighthouse at dusk"


def sharded_config(folder: Path, fake: FakeDiscord, *, count: int | None, ids: tuple[int, ...] | None) -> Config:
    """The kit's sandbox configuration in a folder of its own (its store, its emulator), with these shards and a
    health listener on a port of its own."""
    from discord_kit import free_port, kit_config

    folder.mkdir(parents=True, exist_ok=True)
    config = kit_config(folder, fake)
    return dataclasses.replace(
        config,
        discord=dataclasses.replace(config.discord, shard_count=count, shard_ids=ids),
        callback=CallbackSettings(enabled=False, listen_port=free_port()),
    )


def process(fake: FakeDiscord, config: Config) -> Kit:
    """A bot process: the kit's bot, which identifies its shards one after the other without discord.py's 5 s
    pause between two IDENTIFYs (Discord's rate limit, which the fake does not have)."""
    import discord_kit

    class ShardBot(discord_kit.KitBot):
        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            return None

    class ShardKit(discord_kit.Kit):
        async def start(self) -> Any:
            stack = contextlib.AsyncExitStack()
            bot = ShardBot(self.config, cogs=self.cogs, guild_ready_timeout=0.05)
            self._bot = await stack.enter_async_context(discord_kit.running_bot(bot, self.fake))
            self._stack = stack
            return bot

    return ShardKit(fake, config)


@contextlib.asynccontextmanager
async def running(*kits: Kit) -> AsyncIterator[None]:
    """Start the processes one after the other; stop them together (the fake waits for every websocket to close)."""
    try:
        for kit in kits:
            await kit.start()
        yield
    finally:
        await asyncio.gather(*(kit.stop() for kit in kits))


async def handled_by(kit: Kit, others: list[Kit], guild: FakeGuild | None) -> None:
    """/imagine in ``guild`` (None: in DMs) becomes a job of ``kit``'s process, and of no other."""
    fake = kit.fake
    prompt = f"{PROMPT} in {'DMs' if guild is None else guild.name}"
    handle = await fake.slash("imagine", {"prompt": prompt}, guild=guild, dm=guild is None)
    message = await kit.job_message(handle)
    job = await kit.job_of(message)
    assert job.prompt.startswith(prompt) and job.guild_id == (None if guild is None else guild.id)
    await kit.wait_done(message)
    assert any(str(body.get("prompt", "")).startswith(prompt) for body in kit.submits())
    for other in others:
        assert not any(str(body.get("prompt", "")).startswith(prompt) for body in other.submits())


async def health(config: Config) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{config.callback.listen_port}/healthz") as answer,
    ):
        body: dict[str, Any] = await answer.json()
        assert answer.status == 200, body
        return body


def guild_ids(kit: Kit) -> set[int]:
    return {guild.id for guild in kit.bot.guilds}


async def test_two_processes_each_connect_their_shard_and_hear_only_of_its_servers(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    on_zero = fake.add_guild("Shard zero", owner=fake.owner, shard=(0, 2))
    on_one = fake.add_guild("Shard one", owner=fake.owner, shard=(1, 2))
    for guild in (on_zero, on_one):
        fake.add_member(guild, fake.alice)
    guilds = [fake.guild, on_zero, on_one]
    first = process(fake, sharded_config(tmp_path / "first", fake, count=2, ids=(0,)))
    second = process(fake, sharded_config(tmp_path / "second", fake, count=2, ids=(1,)))
    async with running(first, second):
        assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
        assert fake.gateway.connected_shards() == [(0, 2), (1, 2)]
        # Each process has the servers of its shard, and only those.
        assert guild_ids(first) == {g.id for g in guilds if shard_of(g.id, 2) == 0} >= {on_zero.id}
        assert guild_ids(second) == {g.id for g in guilds if shard_of(g.id, 2) == 1} >= {on_one.id}
        # A command in a server is answered by the process of that server's shard; DMs are shard 0's.
        await handled_by(first, [second], on_zero)
        await handled_by(second, [first], on_one)
        await handled_by(first, [second], None)
        # Each process reports its own shard, connected.
        for kit, shard in ((first, 0), (second, 1)):
            body = await health(kit.config)
            assert body["discord_connected"] is True and body["shard_count"] == 2
            [report] = body["shards"]
            assert report["id"] == shard and report["connected"] is True
    # With shard_count given, nobody asked Discord how many shards to run.
    assert fake.requests_matching("GET", ".*/gateway/bot") == []
    assert fake.unknown_routes == []


@pytest.mark.fake_discord(shards=2)
async def test_without_shard_settings_one_process_opens_every_shard_discord_recommends(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    on_zero = fake.add_guild("Shard zero", owner=fake.owner, shard=(0, 2))
    on_one = fake.add_guild("Shard one", owner=fake.owner, shard=(1, 2))
    for guild in (on_zero, on_one):
        fake.add_member(guild, fake.alice)
    kit = process(fake, sharded_config(tmp_path, fake, count=None, ids=None))
    async with running(kit):
        assert len(fake.requests_matching("GET", ".*/gateway/bot")) == 1
        assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 2], [1, 2]]
        assert kit.bot.shard_count == 2
        assert guild_ids(kit) == {fake.guild.id, on_zero.id, on_one.id}
        await handled_by(kit, [], on_zero)
        await handled_by(kit, [], on_one)
        await handled_by(kit, [], None)
        body = await health(kit.config)
        assert body["discord_connected"] is True and body["unhealthy"] == [] and body["shard_count"] == 2
        assert [(s["id"], s["connected"]) for s in body["shards"]] == [(0, True), (1, True)]
        assert all(isinstance(s["latency_ms"], float) and s["latency_ms"] >= 0 for s in body["shards"])
    assert fake.unknown_routes == []


def test_discord_is_unhealthy_while_any_shard_is_away_and_says_which() -> None:
    now = [1000.0]
    watch = ShardWatch(clock=lambda: now[0])
    assert watch.problem([]) == "not connected to Discord yet"  # the number of shards is not known yet
    watch.connected(0)
    assert watch.problem([0, 1]) == "shard 1 not connected to Discord yet"
    assert not watch.is_connected([0, 1])
    watch.connected(1)
    assert watch.problem([0, 1]) is None and watch.is_connected([0, 1])
    watch.disconnected(1)
    now[0] += 61
    assert watch.problem([0, 1]) == "shard 1 disconnected from Discord for 61 s"
    assert watch.problem([1]) == "disconnected from Discord for 61 s"  # one shard: said as before
    report = watch.report([0, 1], {0: 0.0123, 1: float("inf")})
    assert report == [
        {"id": 0, "connected": True, "latency_ms": 12.3},
        {"id": 1, "connected": False, "latency_ms": None},
    ]
    watch.connected(1)  # resumed, or identified anew: discord.py says ``ready`` only once, so each shard is followed
    assert watch.problem([0, 1]) is None
