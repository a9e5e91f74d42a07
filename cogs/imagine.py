"""/imagine: a 2x2 image grid from a prompt, with U1-U4, V1-V4 and reroll on its message."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.acedata.models import ImagineGenerate
from bot.options import imagine_request
from bot.settings import UserSettings, load_user_settings
from cogs import gate, installs, presets
from cogs.context import InteractionContext

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.confirm import Confirmations
    from cogs.delivery import Delivery

log = logging.getLogger(__name__)


class ImagineCog(commands.Cog):
    """The /imagine command: a confirmation card when it asks first, the gate (whose refusals go to the audit log),
    then Delivery shows the job."""

    def __init__(self, bot: MJBot, *, delivery: Delivery, audit: AuditLog, confirmations: Confirmations) -> None:
        self.bot = bot
        self._delivery = delivery
        self._audit = audit
        self._confirmations = confirmations

    async def cog_load(self) -> None:
        gate.offer_in_dms(self.bot, self.get_app_commands())

    async def interaction_check(self, interaction: discord.Interaction[MJBot], /) -> bool:  # type: ignore[override]
        return gate.check_dms(interaction)

    @app_commands.command(name="imagine", description="Make four images from a prompt, to upscale, vary or animate")
    @app_commands.describe(
        prompt="What to picture, e.g. `a lighthouse at dawn --ar 16:9`; Midjourney parameters work",
        mode="Speed: fast, relax (slower, cheaper) or turbo (quicker, costs more); default: your /settings",
        preset="Start from one of your presets (💾 on a result saves one); the options you give win over it",
    )
    async def imagine(
        self,
        interaction: discord.Interaction[MJBot],
        prompt: str | None = None,
        mode: Literal["fast", "relax", "turbo"] | None = None,
        preset: str | None = None,
    ) -> None:
        chosen = await presets.use_preset(interaction, preset, "imagine", prompt=prompt)
        wanted = chosen[1].prompt if chosen is not None else prompt
        if wanted is None:
            raise presets.missing_prompt()
        defaults = await load_user_settings(self.bot.services.store, interaction.user.id)
        picked: str | None = mode or (chosen[1].mode if chosen is not None else None)
        if picked is None:  # the member's default, unless this place forbids it (then fast, rather than a refusal)
            place = await gate.scope_settings(self.bot, installs.rules_guild(self.bot, interaction))
            allowed = place.limits.allow_turbo
            picked = defaults.mode if allowed or defaults.mode != "turbo" else "fast"
        request = imagine_request(wanted, mode=picked)
        context = InteractionContext(interaction)
        if not await self._confirmations.ask_first(
            context,
            request,
            then=lambda again: self._submit(again, request, defaults),
            kind="/imagine",
            user=defaults,
        ):
            await self._submit(context, request, defaults)
        if chosen is not None:
            await presets.tell_ignored(interaction, *chosen, "imagine")

    @imagine.autocomplete("preset")
    async def _preset_choices(
        self, interaction: discord.Interaction[MJBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return await presets.preset_choices(interaction, current)

    async def _submit(self, context: InteractionContext, request: ImagineGenerate, defaults: UserSettings) -> None:
        """Admit and send the job (``context`` is the command's, or the Confirm click's on its card)."""
        interaction = context.interaction
        async with gate.admitted(
            self.bot, interaction, request, audit=self._audit, kind="/imagine", user=defaults
        ) as admission:
            await context.defer_job(private=admission.private)
            job_id = await gate.submit(
                self.bot,
                admission,
                request,
                user_id=interaction.user.id,
                guild_id=admission.guild_id,  # whose rules admitted it (None: the [dms] limits)
                channel_id=interaction.channel_id,
                locale=context.locale,
            )
        log.info("job %s: /imagine by user %s in guild %s", job_id, interaction.user.id, interaction.guild_id)
        await self._delivery.show_from_interaction(job_id, context)
