"""Who may press a job's buttons or react on its message.

One function decides, for buttons, reactions and ``/show`` alike, so the rules cannot drift apart.
A server picks its rule in its settings (``button_policy``); members who may manage messages in the
channel may always act, as they may already delete anything posted there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from bot.store import Store
from bot.store.models import Job

ButtonPolicy = Literal["owner", "owner_and_mods", "everyone"]
BUTTON_POLICIES: Final[tuple[ButtonPolicy, ...]] = ("owner", "owner_and_mods", "everyone")
DEFAULT_POLICY: Final[ButtonPolicy] = "owner"
SETTING_KEY: Final = "button_policy"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a member may act on a job; ``reason`` explains a refusal in words meant for that member."""

    allowed: bool
    reason: str | None = None


ALLOWED: Final = Decision(True)


def policy_from_settings(settings: dict[str, object]) -> ButtonPolicy:
    """The server's rule; an unknown or missing value falls back to the default (owner only)."""
    value = settings.get(SETTING_KEY, DEFAULT_POLICY)
    for policy in BUTTON_POLICIES:
        if value == policy:
            return policy
    return DEFAULT_POLICY


async def may_act(
    store: Store,
    job: Job,
    *,
    user_id: int,
    guild_id: int | None,
    can_manage_messages: bool,
) -> Decision:
    """May ``user_id`` act on ``job`` here? ``can_manage_messages`` is their permission in this channel.

    "owner" and "owner_and_mods" both let moderators act, because a member who may manage messages
    may always act; "everyone" lets anyone in the server act.
    """
    if job.user_id is None or job.user_id == user_id:
        return ALLOWED
    if guild_id is not None and can_manage_messages:
        return ALLOWED
    policy = policy_from_settings(await store.guild_settings(guild_id)) if guild_id is not None else DEFAULT_POLICY
    if policy == "everyone" and guild_id is not None and job.guild_id == guild_id:
        return ALLOWED
    return Decision(False, refusal(job))


def refusal(job: Job) -> str:
    owner = f"<@{job.user_id}>" if job.user_id is not None else "the member who started it"
    return (
        f"Only {owner}, who started this job, or a moderator (Manage Messages) can use its buttons and reactions. "
        "Start your own with `/video` or `/imagine`."
    )
