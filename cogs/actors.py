"""Who asks for a follow-up, and where; and what the policy lets them do with a job."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from bot.store import Store
from bot.store.models import Job
from cogs.common import FollowUp, FollowUpKind
from cogs.i18n import SOURCE_LOCALE
from cogs.policy import Decision, may_act, may_save, may_see


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a follow-up, and where."""

    user_id: int
    guild_id: int | None
    channel_id: int | None
    can_manage_messages: bool
    name: str
    role_ids: tuple[int, ...] = ()
    #: The member's locale: what they are told is worded in it, and so are the messages of jobs they start.
    locale: str = SOURCE_LOCALE
    #: Manage Server in this server (a moderator, who may have any of its jobs copied to their DMs).
    can_manage_server: bool = False


def role_ids_of(user: discord.abc.User | None) -> tuple[int, ...]:
    """The roles a member holds in the server (none for a user outside one)."""
    return tuple(role.id for role in user.roles) if isinstance(user, discord.Member) else ()


def display_name(user: discord.abc.User | None) -> str:
    """The member's name ("" when unknown: the cancel reason then says "a member" in the job's language)."""
    return user.display_name if user is not None else ""


async def decide(store: Store, job: Job, actor: Actor, follow_up: FollowUp) -> Decision:
    """The policy's answer for ``actor`` on ``job``: the one rule buttons, modals and reactions share."""
    if follow_up.kind is FollowUpKind.SAVE:
        return may_save(job, user_id=actor.user_id, guild_id=actor.guild_id)
    if follow_up.kind is FollowUpKind.DM:
        return await may_see(
            store,
            job,
            user_id=actor.user_id,
            guild_id=actor.guild_id,
            can_manage_messages=actor.can_manage_messages,
            can_manage_server=actor.can_manage_server,
            role_ids=actor.role_ids,
        )
    return await may_act(
        store,
        job,
        user_id=actor.user_id,
        guild_id=actor.guild_id,
        can_manage_messages=actor.can_manage_messages,
        role_ids=actor.role_ids,
    )
