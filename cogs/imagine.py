"""/imagine: a 2x2 image grid from a prompt, with U1-U4, V1-V4 and reroll on its message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.options import imagine_request
from cogs.errors import defer_public, placeholder_used

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)


class ImagineCog(commands.Cog):
    """The /imagine command."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Make four images from a prompt, to upscale, vary or animate")
    @app_commands.describe(
        prompt="What to picture, e.g. `a lighthouse at dawn --ar 16:9`; Midjourney parameters work",
        mode="Speed: fast (default), relax (slower, cheaper) or turbo (quicker, costs more)",
    )
    async def imagine(
        self,
        interaction: discord.Interaction[MJBot],
        prompt: str,
        mode: Literal["fast", "relax", "turbo"] = "fast",
    ) -> None:
        request = imagine_request(prompt, mode=mode)
        await defer_public(interaction)
        job_id = await self.bot.services.engine.submit(
            request,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
        )
        log.info("job %s: /imagine by user %s in guild %s", job_id, interaction.user.id, interaction.guild_id)
        placeholder_used(interaction)
        await self.bot.delivery.show_from_interaction(job_id, interaction)


async def setup(bot: MJBot) -> None:
    await bot.add_cog(ImagineCog(bot))
