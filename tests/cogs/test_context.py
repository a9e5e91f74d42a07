"""One interaction's state: Delivery takes the public placeholder itself when it shows the job in it, so an error
after that never deletes the job's message; an error before it deletes the placeholder and answers privately."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from fakediscord import FakeDiscord, running_bot

from bot.bot import MJBot
from bot.config import Config
from bot.options import imagine_request
from cogs.context import InteractionContext
from cogs.delivery import Delivery

pytest_plugins = ("discord_kit",)


class ContextBot(MJBot):
    """Delivery only, and two commands that fail: one after its job's message is shown, one before."""

    __test__ = False

    def __init__(self, config: Config) -> None:
        super().__init__(config, cogs=("delivery",), guild_ready_timeout=0.05)

        @self.tree.command(name="after", description="Shows a job, then fails")
        async def after(interaction: discord.Interaction[MJBot]) -> None:
            context = InteractionContext(interaction)
            await context.defer_public()
            job_id = await self._submit(interaction)
            await self.delivery.show_from_interaction(job_id, context)
            raise RuntimeError("the command failed after its job was shown")

        @self.tree.command(name="before", description="Says thinking..., then fails")
        async def before(interaction: discord.Interaction[MJBot]) -> None:
            await InteractionContext(interaction).defer_public()
            raise RuntimeError("the command failed before any job was shown")

    @property
    def delivery(self) -> Delivery:
        delivery = self.get_cog("Delivery")
        assert isinstance(delivery, Delivery), "the Delivery cog is not loaded"
        return delivery

    async def _submit(self, interaction: discord.Interaction[MJBot]) -> str:
        return await self.services.engine.submit(
            imagine_request("a lighthouse"),
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
        )


@pytest.fixture
async def bot(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[ContextBot]:
    from discord_kit import kit_config

    async with running_bot(ContextBot(kit_config(tmp_path, fake_discord)), fake_discord) as running:
        yield running
    assert fake_discord.unknown_routes == []


async def test_an_error_after_the_job_was_shown_leaves_the_jobs_message(
    bot: ContextBot, fake_discord: FakeDiscord
) -> None:
    handle = await fake_discord.slash("after")
    error = await handle.wait_for_message(lambda m: m.ephemeral and not m.loading)
    assert "Something went wrong" in error.content and "reference" in error.content
    message = handle.original
    assert message is not None and not message.ephemeral, "the job's message was deleted"
    job = await bot.services.store.links.job_for_message(message.id)
    assert job is not None and job.id in str(message.embeds)


async def test_an_error_before_any_job_removes_the_placeholder_and_answers_privately(
    bot: ContextBot, fake_discord: FakeDiscord
) -> None:
    handle = await fake_discord.slash("before")
    error = await handle.wait_for_message(lambda m: m.ephemeral and not m.loading)
    assert "Something went wrong" in error.content
    assert handle.original is None and [m for m in handle.messages if not m.ephemeral] == []
