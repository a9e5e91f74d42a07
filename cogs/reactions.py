"""Reactions on a job's message, as in Midjourney: 1️⃣-4️⃣ extend a clip, 🔄 reroll, ❌ cancel or delete, ✉️ DM; and
💾, which saves the result's settings as a preset of the member who reacts (named after its prompt; the 💾 Save
button asks the name).

They work on every message the store links to a job, before or after a restart, and follow the same
rules as the buttons (``FollowUps.run_reaction``): a number or 🔄 acts only where the job's result offers
that follow-up (``bot.followups.offered``, which its buttons show too). Other reactions, reactions on a
result that does not offer them, and other messages are left alone: they may be only votes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import discord
from discord.ext import commands

from bot.followups import allows
from bot.presets import savable
from bot.store.models import Job
from cogs.common import FollowUp, FollowUpKind
from cogs.plans import action_for

if TYPE_CHECKING:
    from bot.bot import MJBot
    from cogs.actions import FollowUps

log = logging.getLogger(__name__)

_VARIATION_SELECTOR: Final = "\ufe0f"
#: Emoji (without variation selectors) -> what it asks for.
REACTIONS: Final[dict[str, tuple[FollowUpKind, str | None]]] = {
    "1\u20e3": (FollowUpKind.EXTEND, "1"),
    "2\u20e3": (FollowUpKind.EXTEND, "2"),
    "3\u20e3": (FollowUpKind.EXTEND, "3"),
    "4\u20e3": (FollowUpKind.EXTEND, "4"),
    "\U0001f504": (FollowUpKind.REROLL, None),
    "\u274c": (FollowUpKind.CANCEL, None),
    "\u2709": (FollowUpKind.DM, None),
    "\U0001f4be": (FollowUpKind.SAVE, None),
}


def follow_up_for(emoji: discord.PartialEmoji, job: Job) -> FollowUp | None:
    """What a reaction asks of a job, or None when it means nothing here (a custom emoji, a vote...)."""
    if emoji.id is not None or not emoji.name:
        return None
    found = REACTIONS.get(emoji.name.replace(_VARIATION_SELECTOR, ""))
    if found is None:
        return None
    kind, arg = found
    follow_up = FollowUp(kind, job.id, arg)
    # Numbers and 🔄 are common votes too: they act only where the result offers what they ask for.
    if kind in (FollowUpKind.EXTEND, FollowUpKind.REROLL) and not allows(job, action_for(follow_up)):
        return None
    if kind is FollowUpKind.SAVE and not savable(job):
        return None
    return follow_up


class ReactionsCog(commands.Cog):
    """Turns reactions on job messages into follow-ups (which ``FollowUps`` runs)."""

    def __init__(self, bot: MJBot, *, followups: FollowUps) -> None:
        self.bot = bot
        self._followups = followups

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        me = self.bot.user
        if (me is not None and payload.user_id == me.id) or (payload.member is not None and payload.member.bot):
            return
        emoji = payload.emoji
        if emoji.id is not None or not emoji.name:
            return
        if emoji.name.replace(_VARIATION_SELECTOR, "") not in REACTIONS:
            return
        job = await self.bot.services.store.links.job_for_message(payload.message_id)
        if job is None:
            return
        follow_up = follow_up_for(emoji, job)
        if follow_up is None:
            return
        log.info("job %s: %s reaction by user %s in guild %s", job.id, emoji, payload.user_id, payload.guild_id)
        if follow_up.kind is FollowUpKind.CANCEL and payload.guild_id is None and await self._drop_dm_copy(payload):
            return
        await self._followups.run_reaction(payload, follow_up)

    async def _drop_dm_copy(self, payload: discord.RawReactionActionEvent) -> bool:
        """❌ on a copy the bot sent to someone's DMs removes that copy only, never the job's public message."""
        store = self.bot.services.store
        link = await store.links.link_for_message(payload.message_id)
        if link is None or link.purpose != "dm":
            return False
        channel = self.bot.get_partial_messageable(payload.channel_id)
        try:
            await channel.get_partial_message(payload.message_id).delete()
        except discord.NotFound:
            pass
        except discord.HTTPException as exc:
            log.info("job %s: could not delete a DM copy (%s)", link.job_id, exc.text or exc.status)
            return True
        await store.links.unlink_message(payload.message_id)
        return True
