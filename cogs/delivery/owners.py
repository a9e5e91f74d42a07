"""The job owner's name and avatar for a job message, cached; a lookup that fails never fails a delivery."""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

import discord

from bot.store.models import Job

if TYPE_CHECKING:
    from bot.bot import MJBot

log = logging.getLogger(__name__)

#: (display name, avatar URL); (None, None) when unknown.
Owner = tuple[str | None, str | None]
_CACHE_SIZE: Final = 2048


class OwnerNames:
    """Display names and avatars by user id: from interactions seen, the client's cache, or one fetch."""

    def __init__(self, bot: MJBot) -> None:
        self._bot = bot
        self._known: OrderedDict[int, Owner] = OrderedDict()

    def remember(self, user: discord.abc.User) -> Owner:
        """Keep how ``user`` appears (a member's server nickname when the user came from an interaction)."""
        owner = (user.display_name, user.display_avatar.url)
        self._known[user.id] = owner
        self._known.move_to_end(user.id)
        while len(self._known) > _CACHE_SIZE:
            self._known.popitem(last=False)
        return owner

    async def of(self, job: Job) -> Owner:
        user_id = job.user_id
        if user_id is None:
            return None, None
        known = self._known.get(user_id)
        if known is not None:
            return known
        user = self._bot.get_user(user_id)
        if user is None:
            try:
                user = await self._bot.fetch_user(user_id)
            except Exception as error:  # a name is a nicety: no failure here may stop a delivery
                log.info(
                    "job %s (guild %s): its owner %s could not be fetched (%r)", job.id, job.guild_id, user_id, error
                )
                return None, None
        return self.remember(user)
