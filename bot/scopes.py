"""Whose rules a job follows: its server's settings, or in direct messages the operator's ``[dms]`` limits; and the
bot owner's blocks, which apply everywhere.

A job belongs to the server it was made in, and so does every job that continues it (a button, a reaction, a
chained video), wherever the click happens: a DM copy of a server's job is still that server's job, refused by its
rules and charged to it. Jobs made in direct messages belong to no server; the operator's ``[dms]`` limits are
their rules, read by the same quota code as a server's.

The bot owner's blocks (``mjbot users block``) are kept in the settings table under ``GLOBAL_SCOPE``, an id
Discord never gives, in the same shape as a server's blocked members.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Final

from bot.config import DmsSettings
from bot.settings import BlockEntry, GuildSettings, Limits, load_guild_settings, update_guild_settings
from bot.store import Store

#: The settings key of the blocks that apply everywhere (Discord ids start far above 0).
GLOBAL_SCOPE: Final = 0
#: How long a block's reason may be (as a moderator's ``/admin users block`` reason).
MAX_REASON_CHARS: Final = 300

#: The settings whose rules apply to a job of a server (guild id None: direct messages).
SettingsFor = Callable[[int | None], Awaitable[GuildSettings]]


def dm_settings(dms: DmsSettings) -> GuildSettings:
    """The rules of direct messages, as the settings the quotas read: the operator's ``[dms]`` limits.

    No daily budget (the jobs per member cap the cost), and no private results (a DM is private already).
    """
    limits = Limits(
        max_running_per_user=dms.running,
        max_jobs_per_user_per_day=dms.jobs_per_day,
        allow_turbo=dms.allow_turbo,
        allow_720p=dms.allow_720p,
        allow_private_results=False,
    )
    return GuildSettings(limits=limits)


def settings_reader(store: Store, dms: GuildSettings) -> SettingsFor:
    """Reads a server's settings from the store, and gives ``dms`` for direct messages."""

    async def settings_for(guild_id: int | None) -> GuildSettings:
        return dms if guild_id is None else await load_guild_settings(store, guild_id)

    return settings_for


async def global_block(store: Store, user_id: int | None) -> BlockEntry | None:
    """The bot owner's block on ``user_id``, if any (a job without an owner is never blocked)."""
    if user_id is None:
        return None
    return (await load_guild_settings(store, GLOBAL_SCOPE)).block_of(user_id)


async def global_blocks(store: Store) -> dict[int, BlockEntry]:
    """Every user the bot owner blocked, by user id."""
    return dict((await load_guild_settings(store, GLOBAL_SCOPE)).blocked)


async def block_everywhere(store: Store, user_id: int, reason: str, *, at: float) -> BlockEntry | None:
    """Block ``user_id`` everywhere (the reason is shown to them); returns the block this one replaced, if any."""
    if user_id <= 0:
        raise ValueError("a Discord user id is a positive number")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason is {len(reason)} characters long; keep it to {MAX_REASON_CHARS}")
    earlier: list[BlockEntry] = []

    def change(settings: GuildSettings) -> GuildSettings:
        earlier[:] = [entry for entry in (settings.block_of(user_id),) if entry is not None]
        blocked = {**settings.blocked, user_id: BlockEntry(reason.strip(), at=at)}
        return replace(settings, blocked=blocked)

    await update_guild_settings(store, GLOBAL_SCOPE, change)
    return earlier[0] if earlier else None


async def unblock_everywhere(store: Store, user_id: int) -> BlockEntry | None:
    """Lift the bot owner's block on ``user_id``; the block lifted, or None when there was none."""
    removed: list[BlockEntry] = []

    def change(settings: GuildSettings) -> GuildSettings:
        entry = settings.block_of(user_id)
        if entry is None:
            return settings
        removed.append(entry)
        blocked = {key: value for key, value in settings.blocked.items() if key != user_id}
        return replace(settings, blocked=blocked)

    await update_guild_settings(store, GLOBAL_SCOPE, change)
    return removed[0] if removed else None


async def owner_refusal(store: Store, settings: GuildSettings, user_id: int | None, what: str) -> str | None:
    """Why the owner of a job that starts by itself (a queued job, a chained video) may no longer start it: a block
    by the scope's moderators (``settings``), or by the bot owner everywhere; None if they may.

    ``what`` names the job in the sentence ("The video", "The queued job").
    """
    if user_id is None:
        return None
    who = "a moderator of this server"
    block = settings.block_of(user_id)
    if block is None:
        who = "the bot's operator"
        block = await global_block(store, user_id)
    if block is None:
        return None
    reason = block.reason.strip()
    because = f" ({reason})" if reason else ""
    return f"{what} was not made: {who} blocked its owner from using the bot{because}."


QueuedRefusal = Callable[[int | None, int | None], Awaitable[str | None]]


def queued_refusal(store: Store, settings_for: SettingsFor, *, dms_enabled: bool) -> QueuedRefusal:
    """Why a queued job of (guild id, user id) may not be sent now that its turn has come; None if it may.

    The gate let it in, but it may have waited long: its owner may have been blocked since, or the operator may
    have turned direct messages off.
    """

    async def why(guild_id: int | None, user_id: int | None) -> str | None:
        if guild_id is None and not dms_enabled:
            return "The queued job was not made: the bot's operator turned jobs in direct messages off."
        return await owner_refusal(store, await settings_for(guild_id), user_id, "The queued job")

    return why
