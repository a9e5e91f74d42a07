"""The loopback Discord shards as Discord does: a shard hears only of its guilds, and DMs are shard 0's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from fakediscord import FakeDiscord, FakeGuild, running_bot
from fakediscord.gateway import shard_of


class ShardClient(discord.AutoShardedClient):
    """A sharded client that notes the reactions it hears of, and identifies its shards without a pause."""

    def __init__(self, **options: Any) -> None:
        intents = discord.Intents(guilds=True, guild_reactions=True, dm_reactions=True)
        super().__init__(intents=intents, guild_ready_timeout=0.05, **options)
        self.reactions: list[int | None] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.reactions.append(payload.guild_id)


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, *clients: ShardClient) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for client in clients:
            await stack.enter_async_context(running_bot(client, fake))
        yield
        # The runner waits for every websocket to close: close them all first.
        await asyncio.gather(*(client.close() for client in clients))


def two_guilds(fake: FakeDiscord) -> tuple[FakeGuild, FakeGuild]:
    return fake.add_guild("Zero", owner=fake.owner, shard=(0, 2)), fake.add_guild("One", owner=fake.owner, shard=(1, 2))


async def react_in(fake: FakeDiscord, guild: FakeGuild | None) -> None:
    channel = fake.dm_channel(fake.alice) if guild is None else guild.text_channels()[0]
    await fake.react(fake.ids.next(), channel, user=fake.owner if guild is not None else fake.alice)


async def test_each_shard_gets_its_guilds_and_their_events_and_dms_go_to_shard_0(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    zero, one = two_guilds(fake)
    first, second = ShardClient(shard_count=2, shard_ids=[0]), ShardClient(shard_count=2, shard_ids=[1])
    async with running(fake, first, second):
        everyone = [fake.guild, zero, one]
        assert {g.id for g in first.guilds} == {g.id for g in everyone if shard_of(g.id, 2) == 0}
        assert {g.id for g in second.guilds} == {g.id for g in everyone if shard_of(g.id, 2) == 1}
        await react_in(fake, zero)
        await react_in(fake, one)
        await react_in(fake, None)
        await fake.wait_for(lambda: len(first.reactions) + len(second.reactions) == 3, what="three reactions")
        assert first.reactions == [zero.id, None] and second.reactions == [one.id]


@pytest.mark.fake_discord(shards=3)
async def test_gateway_bot_announces_the_shards_and_a_client_opens_them_all(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    client = ShardClient()
    async with running(fake, client):
        assert client.shard_count == 3 and sorted(client.shards) == [0, 1, 2]
        assert fake.gateway.connected_shards() == [(0, 3), (1, 3), (2, 3)]
        assert {g.shard_id for g in client.guilds} == {shard_of(fake.guild.id, 3)}


async def test_an_event_for_a_shard_nobody_connected_is_a_clear_error(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    _, one = two_guilds(fake)
    async with running(fake, ShardClient(shard_count=2, shard_ids=[0])):
        with pytest.raises(RuntimeError, match=rf"no connected shard carries guild {one.id} \(the shards connected"):
            await fake.slash("anything", {}, guild=one, user=fake.owner)
