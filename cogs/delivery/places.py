"""Where a job message lives: the upload limit of its place, the server of a channel, and the job it shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.store import JobNotFoundError, Store
from bot.store.models import Job, MessageLink
from cogs import installs

from .events import JOB, PRIVATE, RESPONSE_ONLY
from .media import DEFAULT_ATTACHMENT_LIMIT

if TYPE_CHECKING:
    from bot.bot import MJBot


def purpose_of(bot: MJBot, interaction: discord.Interaction[MJBot], *, private: bool) -> str:
    """What a job message that answers ``interaction`` is: private, public where the bot can edit it by channel too,
    or public where only its token reaches (through a member's own install, where the bot is not)."""
    if private:
        return PRIVATE
    return JOB if installs.reaches_channel(bot, interaction) else RESPONSE_ONLY


def attachment_limit(bot: MJBot, link: MessageLink) -> int:
    """The upload limit of a linked message: the one its interaction reported, else its server's."""
    return link.attachment_limit or guild_limit(bot, link.guild_id)


def guild_limit(bot: MJBot, guild_id: int | None) -> int:
    """The upload limit of a server (Discord's default for DMs and servers the bot does not see)."""
    guild = bot.get_guild(guild_id) if guild_id is not None else None
    return guild.filesize_limit if guild is not None else DEFAULT_ATTACHMENT_LIMIT


def guild_of_channel(bot: MJBot, channel_id: int, job: Job) -> int | None:
    """The server of a channel; None for a DM; the job's server when the bot does not see the channel."""
    channel = bot.get_channel(channel_id)
    guild = getattr(channel, "guild", None)
    if isinstance(guild, discord.Guild):
        return guild.id
    if isinstance(channel, discord.abc.PrivateChannel):
        return None
    return job.guild_id


async def job_of(store: Store, job_id: str) -> Job:
    """The job, as saved now; raises JobNotFoundError if there is none."""
    job = await store.jobs.get_job(job_id)
    if job is None:
        raise JobNotFoundError(f"no job with id {job_id!r}")
    return job
