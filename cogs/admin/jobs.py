"""/admin jobs: the server's queued and running jobs, each with a Cancel button for moderators.

The button is a DynamicItem of its own (``mjadmin:cancel:{job id}``), not a job follow-up: a job's own ❌
follows the server's button policy, while this one is for moderators only, checked again on every click
(the list may have been shown to someone who has lost the role since).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import discord

from bot.settings import load_guild_settings
from bot.store.models import Job, MessageLink
from cogs.common import UserFacingError
from cogs.errors import answer, answer_error
from cogs.jobs import job_line

from .access import GUILD_ONLY, NOT_A_MODERATOR, is_moderator

if TYPE_CHECKING:
    import re

    from bot.bot import MJBot

log = logging.getLogger(__name__)

CANCEL_TEMPLATE: Final = r"mjadmin:cancel:(?P<job>[a-z0-9]{6,16})"
#: Jobs listed (and given a button) at most: Discord allows 25 buttons, five rows of five.
MAX_LISTED: Final = 20
DESCRIPTION_CHARS: Final = 4096

# -- user-facing words (kept together so they can move into locale files) -----------------------------------
JOBS_TITLE: Final = "🛠️ Queued and running jobs ({count})"
NO_JOBS: Final = "No jobs are queued or running in this server right now."
MORE_JOBS: Final = "\n\n… and {count} more; cancel one of those above to see them, or run `/admin jobs` again later."
JOBS_FOOTER: Final = "Cancel stops following a job; any result that still arrives is ignored."
CANCEL_LABEL: Final = "Cancel {job}"
CANCEL_REASON: Final = (
    "Cancelled by a moderator ({name}). The API cannot stop a task that has started, "
    "so a result that still arrives is ignored."
)
CANCELLED: Final = "Cancelled job `{job}` of <@{owner}>."
ALREADY_FINISHED: Final = "Job `{job}` has already ended ({status})."
UNKNOWN_JOB: Final = "Job `{job}` is not one of this server's jobs any more."
REFUSED_AUDIT: Final = "Refused the moderators' Cancel on job `{job}` to <@{user}>: not a moderator."


def owner_line(job: Job, links: Sequence[MessageLink]) -> str:
    owner = f"<@{job.user_id}>" if job.user_id is not None else "the bot's operator"
    return f"{owner} · {job_line(job, list(links))}"


def jobs_embed(jobs: Sequence[Job], links: Mapping[str, Sequence[MessageLink]]) -> tuple[discord.Embed, list[Job]]:
    """The list (owner, status and progress, age, prompt, jump link per job) and the jobs it could fit."""
    shown: list[Job] = []
    text = ""
    for job in jobs[:MAX_LISTED]:
        line = owner_line(job, links.get(job.id, ()))
        candidate = f"{text}\n\n{line}" if text else line
        if len(candidate) + len(MORE_JOBS) + 8 > DESCRIPTION_CHARS:
            break
        text = candidate
        shown.append(job)
    if len(shown) < len(jobs):
        text += MORE_JOBS.format(count=len(jobs) - len(shown))
    embed = discord.Embed(
        title=JOBS_TITLE.format(count=len(jobs)), description=text or NO_JOBS, colour=discord.Colour.blurple()
    )
    embed.set_footer(text=JOBS_FOOTER)
    return embed, shown


def jobs_view(jobs: Sequence[Job]) -> discord.ui.View | None:
    if not jobs:
        return None
    view = discord.ui.View(timeout=None)
    for job in jobs[:MAX_LISTED]:
        view.add_item(AdminCancelButton(job.id))
    return view


async def show_jobs(interaction: discord.Interaction[MJBot], guild_id: int) -> None:
    """Answer with the server's unfinished jobs, oldest first, and a Cancel button for each."""
    store = interaction.client.services.store
    jobs = await store.running_jobs(guild_id)
    links = {job.id: await store.messages_for_job(job.id) for job in jobs[:MAX_LISTED]}
    embed, shown = jobs_embed(jobs, links)
    await interaction.response.send_message(
        embed=embed,
        view=jobs_view(shown) or discord.utils.MISSING,
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


class AdminCancelButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CANCEL_TEMPLATE):
    """❌ Cancel on one job of the /admin jobs list; only a moderator's click does anything."""

    def __init__(self, job_id: str) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=f"mjadmin:cancel:{job_id}",
            label=CANCEL_LABEL.format(job=job_id),
            emoji="❌",
            style=discord.ButtonStyle.danger,
        )
        super().__init__(button)
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AdminCancelButton:
        return cls(match["job"])

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        try:
            await cancel_as_moderator(interaction, self.job_id)
        except Exception as exc:
            await answer_error(interaction, exc, job_id=self.job_id)


async def cancel_as_moderator(interaction: discord.Interaction[MJBot], job_id: str) -> None:
    """Cancel any job of this server, if the member who clicked is a moderator (checked now, server side)."""
    bot = interaction.client
    guild_id = interaction.guild_id
    if guild_id is None:
        raise UserFacingError(GUILD_ONLY)
    store = bot.services.store
    settings = await load_guild_settings(store, guild_id)
    user = interaction.user
    if not is_moderator(user, settings, permissions=interaction.permissions):
        log.info("job %s: moderators' cancel refused to user %s in guild %s", job_id, user.id, guild_id)
        text = REFUSED_AUDIT.format(job=job_id, user=user.id)
        bot.audit.post_soon(guild_id, "refusal", actor_id=user.id, job_id=job_id, text=text)
        raise UserFacingError(NOT_A_MODERATOR)
    job = await store.get_job(job_id)
    if job is None or job.guild_id != guild_id:
        raise UserFacingError(UNKNOWN_JOB.format(job=job_id))
    if job.finished:
        raise UserFacingError(ALREADY_FINISHED.format(job=job.id, status=job.status.value.replace("_", " ")))
    await interaction.response.defer(ephemeral=True, thinking=True)
    await bot.services.engine.cancel(job.id, reason=CANCEL_REASON.format(name=user.display_name))
    log.info("job %s: cancelled by moderator %s in guild %s", job.id, user.id, guild_id)
    await bot.delivery.refresh(job.id)
    await answer(interaction, CANCELLED.format(job=job.id, owner=job.user_id))
