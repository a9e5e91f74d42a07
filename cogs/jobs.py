"""/jobs lists a member's recent jobs (with a Cancel button for running ones); /show re-posts a past job.

/show posts a job only for its owner, or for a moderator of the job's server asking in that server
(``cogs.policy.may_see``): a job id is no key to someone else's results.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.frames import renew_results
from bot.settings import load_guild_settings, load_user_settings
from bot.store.models import Job
from bot.text import shorten
from cogs import gate
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.context import InteractionContext
from cogs.delivery.compose import queue_spots
from cogs.delivery.events import PRIVATE
from cogs.history import MAX_DAYS, TEXT_MAX, HistoryButton, new_state, show_history
from cogs.i18n import LocaleLike, Msg, interaction_locale, msg, t, tn
from cogs.joblist import job_line
from cogs.policy import may_see
from cogs.ui import FollowUpButton

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.delivery import Delivery

log = logging.getLogger(__name__)

#: How many jobs /jobs lists.
RECENT_JOBS: Final = 10
JOB_ID_CHARS: Final = 16


def jobs_view(jobs: list[Job], locale: LocaleLike = None) -> discord.ui.View | None:
    """❌ Cancel buttons for the jobs that have not finished (the same buttons as on their messages)."""
    running = [job for job in jobs if not job.finished]
    if not running:
        return None
    view = discord.ui.View(timeout=None)
    for job in running[:25]:
        button = FollowUpButton(
            FollowUp(FollowUpKind.CANCEL, job.id),
            label=t(locale, "jobs.cancel_button", job=job.id),
            emoji="❌",
            style=discord.ButtonStyle.danger,
        )
        view.add_item(button)
    return view


async def show_refusal(bot: MJBot, interaction: discord.Interaction[MJBot], job_guild_id: int | None) -> Msg | None:
    """Why /show may not re-post a job of ``job_guild_id`` here: DMs off, the bot owner's block, this place's
    blocks and channel list, or a block in the job's own server."""
    where = gate.where_of(bot, interaction)
    settings = await gate.scope_settings(bot, job_guild_id)
    refusal = await gate.place_refusal(bot, where, job_guild_id, settings)
    block = settings.block_of(where.user_id) if job_guild_id is not None else None
    return refusal or (gate.block_message(block) if block is not None else None)


class JobsCog(commands.Cog):
    """/jobs, /show (which Delivery posts) and /history (whose page buttons work after a restart)."""

    def __init__(self, bot: MJBot, *, delivery: Delivery) -> None:
        self.bot = bot
        self._delivery = delivery

    async def cog_load(self) -> None:
        gate.offer_in_dms(self.bot, [self.history])
        self.bot.add_dynamic_items(HistoryButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(HistoryButton)

    @app_commands.command(name="jobs", description="Your recent jobs: status, progress, links, and Cancel")
    async def jobs(self, interaction: discord.Interaction[MJBot]) -> None:
        locale = interaction_locale(interaction)
        store = self.bot.services.store
        jobs = await store.jobs.recent_jobs(user_id=interaction.user.id, limit=RECENT_JOBS)
        if not jobs:
            await interaction.response.send_message(
                t(locale, "jobs.none"),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        spots, now = await queue_spots(self.bot, jobs), store.clock()
        lines = [
            job_line(job, await store.links.messages_for_job(job.id), locale, queue=spots.get(job.id), now=now)
            for job in jobs
        ]
        embed = discord.Embed(
            title=tn(locale, "jobs.title", len(jobs)),
            description=shorten("\n\n".join(lines), 4096),
            colour=discord.Colour.blurple(),
        )
        embed.set_footer(text=t(locale, "jobs.footer"))
        await interaction.response.send_message(
            embed=embed,
            view=jobs_view(jobs, locale) or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _was_private(self, job: Job, interaction: discord.Interaction[MJBot]) -> bool:
        """Whether /show answers the asker alone: the job's own messages were private, or the asker wants private
        results and this server allows them (as their new jobs would be)."""
        store = self.bot.services.store
        if any(link.purpose == PRIVATE for link in await store.links.messages_for_job(job.id)):
            return True
        if interaction.guild_id is None:
            return False  # a DM is seen by the asker alone anyway
        wants = (await load_user_settings(store, interaction.user.id)).private_results
        return wants and (await load_guild_settings(store, interaction.guild_id)).limits.allow_private_results

    @app_commands.command(name="show", description="Post one of your past jobs here again, with working buttons")
    @app_commands.describe(job_id="The job's id, as shown on its message or in /jobs")
    async def show(self, interaction: discord.Interaction[MJBot], job_id: str) -> None:
        wanted = job_id.strip().strip("`").lower()
        if not wanted or len(wanted) > JOB_ID_CHARS or not wanted.isalnum():
            raise UserFacingError(msg("jobs.bad_id"))
        job = await self.bot.services.store.jobs.get_job(wanted)
        if job is None:
            raise UserFacingError(msg("jobs.no_such_job", job=wanted))
        in_server = interaction.guild_id is not None
        decision = await may_see(
            self.bot.services.store,
            job,
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            can_manage_messages=in_server and interaction.permissions.manage_messages,
            can_manage_server=in_server and interaction.permissions.manage_guild,
            role_ids=tuple(role.id for role in getattr(interaction.user, "roles", ())),
        )
        if not decision.allowed:
            log.info("job %s: /show refused to user %s in guild %s", job.id, interaction.user.id, interaction.guild_id)
            raise UserFacingError(msg("jobs.not_yours"))
        refusal = await show_refusal(self.bot, interaction, job.guild_id)
        if refusal is not None:
            raise UserFacingError(refusal)
        context = InteractionContext(interaction)
        # A private job stays private: shown again only to whoever asks (its owner, or a moderator looking at it).
        await context.defer_job(private=await self._was_private(job, interaction))
        log.info("job %s: shown again by user %s in guild %s", job.id, interaction.user.id, interaction.guild_id)
        await renew_results(self.bot.services.client, self.bot.services.store, job)  # a day-old job's links expired
        await self._delivery.show_from_interaction(job.id, context)

    @app_commands.command(name="history", description="Search your past jobs by prompt, kind, status and age")
    @app_commands.describe(
        text="Words the prompt contains (any case)",
        kind="Only videos, or only images",
        status="Only jobs in this state",
        days="Only jobs of the last N days (1 to 365)",
    )
    async def history(
        self,
        interaction: discord.Interaction[MJBot],
        text: app_commands.Range[str, 1, TEXT_MAX] | None = None,
        kind: Literal["video", "imagine"] | None = None,
        status: Literal["succeeded", "failed", "running", "queued", "cancelled"] | None = None,
        days: app_commands.Range[int, 1, MAX_DAYS] | None = None,
    ) -> None:
        gate.check_dms(interaction)
        await show_history(interaction, new_state(interaction.user.id, text, kind, status, days), edit=False)
