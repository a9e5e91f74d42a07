"""/jobs lists a member's recent jobs (with a Cancel button for running ones); /show re-posts a past job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import discord
from discord import app_commands
from discord.ext import commands

from bot.store.models import Job, JobStatus, MessageLink
from bot.text import progress_bar, shorten
from cogs.actions import message_url
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.errors import defer_public, placeholder_used
from cogs.ui import FollowUpButton, job_title
from cogs.ui.render import fit_escaped, relative_time

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: How many jobs /jobs lists.
RECENT_JOBS: Final = 10
PROMPT_CHARS: Final = 90
STATUS_WORDS: Final[dict[JobStatus, str]] = {
    JobStatus.QUEUED: "⏳ queued",
    JobStatus.SUBMITTING: "📨 submitting",
    JobStatus.RUNNING: "▶️ running",
    JobStatus.SUCCEEDED: "✅ done",
    JobStatus.FAILED: "❌ failed",
    JobStatus.CANCELLED: "🚫 cancelled",
    JobStatus.TIMED_OUT: "⌛ timed out",
}
JOB_ID_CHARS: Final = 16


def job_line(job: Job, links: list[MessageLink]) -> str:
    """One job in the list: title, id, status (and progress), age, prompt and a jump link to its message."""
    status = STATUS_WORDS.get(job.status, job.status.value)
    if job.status is JobStatus.RUNNING:
        status += f" {progress_bar(job.progress, width=6)}"
    head = f"**{job_title(job)}** `{job.id}` · {status} · {relative_time(job.created_at)}"
    prompt = fit_escaped(job.prompt, PROMPT_CHARS) if job.prompt.strip() else "*(no prompt)*"
    shown = [link for link in links if link.purpose != "dm"]
    jump = f" · [message]({message_url(shown[-1])})" if shown else " · message deleted: `/show` re-posts it"
    return f"{head}\n{prompt}{jump}"


def jobs_view(jobs: list[Job]) -> discord.ui.View | None:
    """❌ Cancel buttons for the jobs that have not finished (the same buttons as on their messages)."""
    running = [job for job in jobs if not job.finished]
    if not running:
        return None
    view = discord.ui.View(timeout=None)
    for job in running[:25]:
        button = FollowUpButton(
            FollowUp(FollowUpKind.CANCEL, job.id),
            label=f"Cancel {job.id}",
            emoji="❌",
            style=discord.ButtonStyle.danger,
        )
        view.add_item(button)
    return view


class JobsCog(commands.Cog):
    """/jobs and /show."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot

    @app_commands.command(name="jobs", description="Your recent jobs: status, progress, links, and Cancel")
    async def jobs(self, interaction: discord.Interaction[MJBot]) -> None:
        store = self.bot.services.store
        jobs = await store.recent_jobs(user_id=interaction.user.id, limit=RECENT_JOBS)
        if not jobs:
            await interaction.response.send_message(
                "You have no jobs yet. Start one with `/video` or `/imagine`.",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        lines = [job_line(job, await store.messages_for_job(job.id)) for job in jobs]
        embed = discord.Embed(
            title=f"Your last {len(jobs)} job{'s' if len(jobs) != 1 else ''}",
            description=shorten("\n\n".join(lines), 4096),
            colour=discord.Colour.blurple(),
        )
        embed.set_footer(text="/show <job id> re-posts a job with working buttons")
        await interaction.response.send_message(
            embed=embed,
            view=jobs_view(jobs) or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @app_commands.command(name="show", description="Post one of your past jobs here again, with working buttons")
    @app_commands.describe(job_id="The job's id, as shown on its message or in /jobs")
    async def show(self, interaction: discord.Interaction[MJBot], job_id: str) -> None:
        wanted = job_id.strip().strip("`").lower()
        if not wanted or len(wanted) > JOB_ID_CHARS or not wanted.isalnum():
            raise UserFacingError("That is not a job id: copy it from the job's message or from `/jobs`.")
        job = await self.bot.services.store.get_job(wanted)
        if job is None:
            raise UserFacingError(f"There is no job `{wanted}`. `/jobs` lists your recent ones.")
        own = job.user_id == interaction.user.id
        moderator = (
            interaction.guild_id is not None
            and interaction.guild_id == job.guild_id
            and interaction.permissions.manage_messages
        )
        if not (own or moderator):
            raise UserFacingError(
                "You can only show your own jobs (moderators may show any job of this server). `/jobs` lists yours."
            )
        await defer_public(interaction)
        placeholder_used(interaction)
        log.info("job %s: shown again by user %s in guild %s", job.id, interaction.user.id, interaction.guild_id)
        await self.bot.delivery.show_from_interaction(job.id, interaction)


async def setup(bot: MJBot) -> None:
    await bot.add_cog(JobsCog(bot))
