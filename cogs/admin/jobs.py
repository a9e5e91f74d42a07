"""/admin jobs: the server's queued and running jobs, oldest first, each with a Cancel button for moderators; a
queued job shows its place in its owner's queue and its estimated start, as its message does.

The button is a DynamicItem of its own (``mjadmin:cancel:{job id}``), not a job follow-up: a job's own ❌
follows the server's button policy, while this one is for moderators only, checked again on every click
(the list may have been shown to someone who has lost the role since). A click is run by the
``ModeratorCancel`` that the /admin cog binds for its bot (``CANCELS``) when it loads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import discord

from bot.settings import load_guild_settings
from bot.store.models import Job, MessageLink
from cogs.common import UserFacingError
from cogs.delivery.compose import queue_spots
from cogs.errors import answer, answer_error
from cogs.i18n import LocaleLike, interaction_locale, job_locale, msg, t
from cogs.joblist import job_line
from cogs.ui.handlers import Handlers
from cogs.ui.queueing import QueueSpot

from .access import GUILD_ONLY, NOT_A_MODERATOR, is_moderator

if TYPE_CHECKING:
    import re

    from bot.bot import MJBot
    from cogs.audit import AuditLog
    from cogs.delivery import Delivery

log = logging.getLogger(__name__)

CANCEL_TEMPLATE: Final = r"mjadmin:cancel:(?P<job>[a-z0-9]{6,16})"
#: Jobs listed (and given a button) at most: Discord allows 25 buttons, five rows of five.
MAX_LISTED: Final = 20
DESCRIPTION_CHARS: Final = 4096


def owner_line(
    job: Job, links: Sequence[MessageLink], locale: LocaleLike = None, *, queue: QueueSpot | None = None
) -> str:
    owner = f"<@{job.user_id}>" if job.user_id is not None else t(locale, "admin.jobs.operator")
    return t(locale, "admin.jobs.owner_line", owner=owner, line=job_line(job, links, locale, queue=queue))


def jobs_embed(
    jobs: Sequence[Job],
    links: Mapping[str, Sequence[MessageLink]],
    locale: LocaleLike = None,
    *,
    spots: Mapping[str, QueueSpot] | None = None,
) -> tuple[discord.Embed, list[Job]]:
    """The list, oldest first (owner, status and progress, age, prompt, jump link per job; a queued job's place in
    its owner's queue and estimated start, from ``spots``) and the jobs it could fit."""
    shown: list[Job] = []
    text = ""
    more = "\n\n" + t(locale, "admin.jobs.more", count=len(jobs))
    for job in jobs[:MAX_LISTED]:
        line = owner_line(job, links.get(job.id, ()), locale, queue=(spots or {}).get(job.id))
        candidate = f"{text}\n\n{line}" if text else line
        if len(candidate) + len(more) + 8 > DESCRIPTION_CHARS:
            break
        text = candidate
        shown.append(job)
    if len(shown) < len(jobs):
        text += "\n\n" + t(locale, "admin.jobs.more", count=len(jobs) - len(shown))
    embed = discord.Embed(
        title=t(locale, "admin.jobs.title", count=len(jobs)),
        description=text or t(locale, "admin.jobs.none"),
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=t(locale, "admin.jobs.footer"))
    return embed, shown


def jobs_view(jobs: Sequence[Job], locale: LocaleLike = None) -> discord.ui.View | None:
    if not jobs:
        return None
    view = discord.ui.View(timeout=None)
    for job in jobs[:MAX_LISTED]:
        view.add_item(AdminCancelButton(job.id, locale))
    return view


async def show_jobs(interaction: discord.Interaction[MJBot], guild_id: int) -> None:
    """Answer with the server's unfinished jobs, oldest first, and a Cancel button for each."""
    locale = interaction_locale(interaction)
    store = interaction.client.services.store
    jobs = await store.queue.running_jobs(guild_id)
    links = {job.id: await store.links.messages_for_job(job.id) for job in jobs[:MAX_LISTED]}
    spots = await queue_spots(interaction.client, jobs[:MAX_LISTED])
    embed, shown = jobs_embed(jobs, links, locale, spots=spots)
    await interaction.response.send_message(
        embed=embed,
        view=jobs_view(shown, locale) or discord.utils.MISSING,
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


class AdminCancelButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CANCEL_TEMPLATE):
    """❌ Cancel on one job of the /admin jobs list; only a moderator's click does anything."""

    def __init__(self, job_id: str, locale: LocaleLike = None) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=f"mjadmin:cancel:{job_id}",
            label=t(locale, "admin.jobs.cancel_button", job=job_id),
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
            await CANCELS.of(interaction.client).run(interaction, self.job_id)
        except Exception as exc:
            await answer_error(interaction, exc, job_id=self.job_id)


@dataclass(frozen=True, slots=True)
class ModeratorCancel:
    """The moderators' Cancel, with what it uses: the audit log (a refused click is posted) and Delivery."""

    audit: AuditLog
    delivery: Delivery

    async def run(self, interaction: discord.Interaction[MJBot], job_id: str) -> None:
        await cancel_as_moderator(interaction, job_id, audit=self.audit, delivery=self.delivery)


#: The moderators' Cancel of each bot, bound when the /admin cog loads.
CANCELS: Handlers[ModeratorCancel] = Handlers("/admin cog")


async def cancel_as_moderator(
    interaction: discord.Interaction[MJBot], job_id: str, *, audit: AuditLog, delivery: Delivery
) -> None:
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
        text = msg("admin.jobs.refused_audit", job=job_id, user=user.id)
        audit.post_soon(guild_id, "refusal", actor_id=user.id, job_id=job_id, text=text)
        raise UserFacingError(NOT_A_MODERATOR)
    job = await store.jobs.get_job(job_id)
    if job is None or job.guild_id != guild_id:
        raise UserFacingError(msg("admin.jobs.unknown", job=job_id))
    if job.finished:
        status = msg(f"admin.jobs.ended.{job.status.value}")
        raise UserFacingError(msg("admin.jobs.already_finished", job=job.id, status=status))
    await interaction.response.defer(ephemeral=True, thinking=True)
    # The reason is shown on the job's message, so it is worded in the job's language.
    reason = t(job_locale(bot, job), "admin.jobs.cancel_reason", name=user.display_name)
    await bot.services.engine.cancel(job.id, reason=reason)
    log.info("job %s: cancelled by moderator %s in guild %s", job.id, user.id, guild_id)
    await delivery.refresh(job.id)
    await answer(interaction, t(interaction_locale(interaction), "admin.jobs.cancelled", job=job.id, owner=job.user_id))
