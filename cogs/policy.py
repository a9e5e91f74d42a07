"""Who may press a job's buttons or react on its message.

One function decides, for buttons and reactions alike, so the rules cannot drift apart. A server picks
its rule with ``/admin`` (``GuildSettings.button_policy``):

- "owner": the member who started the job, and members who may manage messages in the channel (they
  may already delete anything posted there);
- "owner_and_mods": also members holding one of the server's moderator roles;
- "everyone": anyone in the server.

The rule is the job's server's, asked in that server: a click anywhere else (a DM copy of the job, or the
job shown again in another server) is for the job's owner only, since the bot cannot tell there whether the
member moderates the job's server. A copy of a job (``/show``, ✉️ and 📩 DM) is ``may_see``'s to decide:
results can be private, so "everyone" does not stretch that far.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from bot.settings import BUTTON_POLICIES, ButtonPolicy, GuildSettings, load_guild_settings
from bot.store import Store
from bot.store.models import Job
from cogs.i18n import Msg, msg

__all__ = ["BUTTON_POLICIES", "ButtonPolicy", "Decision", "may_act", "may_save", "may_see", "policy_allows", "refusal"]


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a member may act on a job; ``message`` explains a refusal in words meant for that member."""

    allowed: bool
    message: Msg | None = None

    @property
    def reason(self) -> str | None:
        """The refusal in English."""
        return str(self.message) if self.message is not None else None


ALLOWED: Final = Decision(True)


def policy_allows(
    settings: GuildSettings,
    job: Job,
    *,
    user_id: int,
    guild_id: int | None,
    can_manage_messages: bool,
    role_ids: Collection[int],
) -> bool:
    """The rule itself, on the server's settings already read (outside the job's server, the owner only)."""
    if job.user_id is None or job.user_id == user_id:
        return True
    if guild_id is None or guild_id != job.guild_id:
        return False
    if can_manage_messages:
        return True
    policy = settings.button_policy
    if policy == "everyone":
        return True
    return policy == "owner_and_mods" and any(role in settings.moderator_roles for role in role_ids)


async def may_act(
    store: Store,
    job: Job,
    *,
    user_id: int,
    guild_id: int | None,
    can_manage_messages: bool,
    role_ids: Collection[int] = (),
) -> Decision:
    """May ``user_id`` act on ``job`` here? ``can_manage_messages`` is their permission in this channel,
    ``role_ids`` the roles they hold in this server (``guild_id``, None in DMs)."""
    if job.user_id is None or job.user_id == user_id:
        return ALLOWED
    if guild_id is None or guild_id != job.guild_id:
        return Decision(False, msg("policy.owner_elsewhere", owner=_owner(job)))
    settings = await load_guild_settings(store, guild_id)
    allowed = policy_allows(
        settings, job, user_id=user_id, guild_id=guild_id, can_manage_messages=can_manage_messages, role_ids=role_ids
    )
    return ALLOWED if allowed else Decision(False, refusal(job, settings.button_policy))


async def may_see(
    store: Store,
    job: Job,
    *,
    user_id: int,
    guild_id: int | None,
    can_manage_messages: bool,
    can_manage_server: bool = False,
    role_ids: Collection[int] = (),
) -> Decision:
    """May ``user_id`` have a copy of ``job`` (``/show`` posts it again, ✉️ and 📩 DM send it to their DMs)?

    Its owner, or a moderator of its server asking there: Manage Messages in this channel, Manage Server,
    or one of the server's moderator roles, whatever the button policy says.
    """
    if job.user_id is not None and job.user_id == user_id:
        return ALLOWED
    if guild_id is not None and guild_id == job.guild_id:
        if can_manage_messages or can_manage_server:
            return ALLOWED
        settings = await load_guild_settings(store, guild_id)
        if any(role in settings.moderator_roles for role in role_ids):
            return ALLOWED
    return Decision(False, msg("policy.copy", owner=_owner(job)))


def may_save(job: Job, *, user_id: int, guild_id: int | None) -> Decision:
    """May ``user_id`` save ``job``'s settings as a preset of their own (💾)? Anyone who sees its message in its
    server (a copy of settings, never of frames, that acts on nothing); elsewhere (a DM copy), its owner only."""
    if job.user_id is None or job.user_id == user_id or (guild_id is not None and guild_id == job.guild_id):
        return ALLOWED
    return Decision(False, msg("policy.save_elsewhere", owner=_owner(job)))


def refusal(job: Job, policy: ButtonPolicy = "owner") -> Msg:
    """Who may act on ``job`` under ``policy``, in words for the member who may not."""
    return msg("policy.owner_and_mods" if policy == "owner_and_mods" else "policy.owner", owner=_owner(job))


def _owner(job: Job) -> str | Msg:
    return f"<@{job.user_id}>" if job.user_id is not None else msg("policy.someone")
