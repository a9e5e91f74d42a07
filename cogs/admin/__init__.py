"""/admin: the server's settings for the bot, its running jobs and its statistics, for moderators only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .access import is_moderator
from .cog import AdminCog

if TYPE_CHECKING:
    from bot.bot import MJBot

__all__ = ["AdminCog", "is_moderator", "setup"]


async def setup(bot: MJBot) -> None:
    await bot.add_cog(AdminCog(bot))
