"""The loopback Discord's user installs: commands registered for installs and contexts, and interactions from a
member's own install of the app in a server without the bot and in a group DM, where only the interaction's token
reaches the member."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from fakediscord import FakeChannel, FakeDiscord, FakeGuild, running_bot


class AgainButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"again:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label="Again", custom_id=f"again:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> AgainButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        assert isinstance(interaction.client, InstallBot)
        interaction.client.seen.append(interaction)
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"again {self.n + 1}")


class InstallBot(commands.Bot):
    """A bot with one command for every install and context, and one for servers only; it notes what it hears."""

    def __init__(self) -> None:
        intents = discord.Intents(guilds=True, guild_messages=True, dm_messages=True, guild_reactions=True)
        super().__init__(command_prefix=commands.when_mentioned, intents=intents, guild_ready_timeout=0.05)
        self.seen: list[discord.Interaction] = []
        self.heard: list[int] = []
        self.posted: list[str] = []
        bot = self

        @self.tree.command(name="ask", description="Answers anywhere")
        @app_commands.allowed_installs(guilds=True, users=True)
        @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
        async def ask(interaction: discord.Interaction) -> None:
            bot.seen.append(interaction)
            await interaction.response.defer(thinking=True)
            view = discord.ui.View(timeout=None)
            view.add_item(AgainButton(1))
            await interaction.followup.send("answered", view=view)
            channel = discord.PartialMessageable(state=bot._connection, id=interaction.channel_id or 0)
            try:
                await channel.send("in the channel")
            except discord.HTTPException as error:
                bot.posted.append(f"{error.status} {error.code}")

        @self.tree.command(name="manage", description="Servers only")
        @app_commands.allowed_installs(guilds=True, users=False)
        @app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
        async def manage(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("managed", ephemeral=True)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(AgainButton)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        self.heard.append(message.channel.id)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.heard.append(payload.channel_id)


@pytest.fixture
def elsewhere(fake_discord: FakeDiscord) -> FakeGuild:
    """A server alice and bob are in, without the bot."""
    guild = fake_discord.add_guild("Elsewhere", owner=fake_discord.owner, with_bot=False)
    fake_discord.add_member(guild, fake_discord.alice)
    fake_discord.add_member(guild, fake_discord.bob)
    return guild


@pytest.fixture
async def bot(fake_discord: FakeDiscord) -> AsyncIterator[InstallBot]:
    async with running_bot(InstallBot(), fake_discord) as running:
        yield running


async def test_commands_are_registered_with_their_installs_and_contexts(
    fake_discord: FakeDiscord, bot: InstallBot
) -> None:
    assert fake_discord.command("ask")["integration_types"] == [0, 1]
    assert fake_discord.command("ask")["contexts"] == [0, 1, 2]
    assert fake_discord.command("manage")["integration_types"] == [0]
    assert fake_discord.command("manage")["contexts"] == [0]


async def test_a_bad_install_type_or_context_is_refused_at_registration(fake_discord: FakeDiscord) -> None:
    url = f"{fake_discord.api_base}/applications/{fake_discord.application.id}/commands"
    body = [{"name": "odd", "description": "Odd", "integration_types": [0, 5], "contexts": "everywhere"}]
    async with aiohttp.ClientSession() as session, session.put(url, json=body, headers={"Authorization": "Bot x"}) as r:
        answer = await r.json()
    assert r.status == 400 and answer["code"] == 50035
    assert set(answer["errors"]["0"]) == {"integration_types", "contexts"}


async def test_a_user_install_in_a_server_without_the_bot(
    fake_discord: FakeDiscord, bot: InstallBot, elsewhere: FakeGuild
) -> None:
    fake = fake_discord
    channel = elsewhere.text_channels()[0]
    assert bot.get_guild(elsewhere.id) is None, "the bot heard nothing of the server"
    handle = await fake.slash("ask", user=fake.alice, channel=channel, install="user")
    answer = await handle.wait_for_message(lambda m: m.content == "answered")
    assert answer.channel_id == channel.id and not answer.ephemeral
    assert handle.context == 0 and handle.owners == {"1": str(fake.alice.id)}

    [interaction] = bot.seen
    assert interaction.guild_id == elsewhere.id and interaction.context.guild
    assert interaction.is_user_integration() and not interaction.is_guild_integration()
    await fake.wait_for(lambda: bot.posted, what="the bot's attempt to post in the channel")
    assert bot.posted == ["403 50001"], "the bot cannot reach the server's channels"
    assert bot.heard == [], "nor does it hear of their messages"

    click = await fake.click(answer, "again:1", user=fake.alice)
    assert (await click.wait_for_message(lambda m: not m.loading)).content == "again 2"
    assert click.owners == handle.owners, "a click answers to the installs of the message's interaction"
    await fake.react(answer, channel, "👍", user=fake.bob)
    assert bot.heard == []


async def test_the_guild_install_authorizes_only_where_the_bot_is(
    fake_discord: FakeDiscord, bot: InstallBot, elsewhere: FakeGuild
) -> None:
    fake = fake_discord
    with pytest.raises(ValueError, match="not a member of the guild"):
        await fake.slash("ask", user=fake.alice, channel=elsewhere.text_channels()[0])
    handle = await fake.slash("ask", user=fake.alice, install="both")
    assert handle.owners == {"0": str(fake.guild.id), "1": str(fake.alice.id)}
    await handle.wait_for_message(lambda m: m.content == "answered")
    assert bot.seen[-1].is_guild_integration()
    dm = await fake.slash("ask", user=fake.alice, dm=True, install="user")
    assert dm.context == 1 and dm.owners == {"1": str(fake.alice.id)}
    await dm.wait_for_message(lambda m: m.content == "answered")
    await fake.wait_for_dm(fake.alice, lambda m: m.content == "in the channel")  # the bot's DMs are its own


async def test_a_command_registered_for_servers_only_is_not_offered_through_a_user_install(
    fake_discord: FakeDiscord, bot: InstallBot, elsewhere: FakeGuild
) -> None:
    fake = fake_discord
    with pytest.raises(ValueError, match=r"does not offer /manage through a user install"):
        await fake.slash("manage", user=fake.alice, channel=elsewhere.text_channels()[0], install="user")
    with pytest.raises(ValueError, match=r"does not offer /manage through a user install"):
        await fake.slash("manage", user=fake.alice, install="user")


async def test_a_user_install_in_a_group_dm(fake_discord: FakeDiscord, bot: InstallBot) -> None:
    fake = fake_discord
    group: FakeChannel = fake.add_group_dm(fake.alice, fake.bob, name="friends")
    with pytest.raises(ValueError, match="group DM"):
        await fake.slash("ask", user=fake.alice, channel=group)
    handle = await fake.slash("ask", user=fake.alice, channel=group, install="user")
    await handle.wait_for_message(lambda m: m.content == "answered")
    assert handle.context == 2 and handle.guild_id is None
    interaction = bot.seen[-1]
    assert interaction.context.private_channel and isinstance(interaction.channel, discord.GroupChannel)
    assert {user.id for user in interaction.channel.recipients} == {fake.alice.id, fake.bob.id}
    await fake.wait_for(lambda: bot.posted, what="the bot's attempt to post in the group DM")
    assert bot.posted == ["403 50001"] and bot.heard == []
