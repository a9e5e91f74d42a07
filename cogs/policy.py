"""Who may press a job's buttons or react on its message.

One function decides, for buttons and reactions alike, so the rules cannot drift apart. A server picks
its rule with ``/admin`` (``GuildSettings.button_policy``):

- "owner": the member who started the job, and members who may manage messages in the channel (they
  may already delete anything posted there);
- "owner_and_mods": also members holding one of the server's moderator roles;
- "everyone": anyone in the server.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from bot.settings import BUTTON_POLICIES, ButtonPolicy, GuildSettings, load_guild_settings
from bot.store import Store
from bot.store.models import Job
from cogs.i18n import Msg, msg

__all__ = ["BUTTON_POLICIES", "ButtonPolicy", "Decision", "may_act", "policy_allows", "refusal"]


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
    """The rule itself, on the server's settings already read (``guild_id`` None: in DMs, the owner only)."""
    if job.user_id is None or job.user_id == user_id:
        return True
    if guild_id is None:
        return False
    if can_manage_messages:
        return True
    policy = settings.button_policy
    if policy == "everyone":
        return job.guild_id == guild_id
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
    ``role_ids`` the roles they hold in this server."""
    if job.user_id is None or job.user_id == user_id:
        return ALLOWED
    settings = await load_guild_settings(store, guild_id) if guild_id is not None else GuildSettings()
    allowed = policy_allows(
        settings, job, user_id=user_id, guild_id=guild_id, can_manage_messages=can_manage_messages, role_ids=role_ids
    )
    return ALLOWED if allowed else Decision(False, refusal(job, settings.button_policy))


def refusal(job: Job, policy: ButtonPolicy = "owner") -> Msg:
    """Who may act on ``job`` under ``policy``, in words for the member who may not."""
    owner = f"<@{job.user_id}>" if job.user_id is not None else msg("policy.someone")
    return msg("policy.owner_and_mods" if policy == "owner_and_mods" else "policy.owner", owner=owner)
