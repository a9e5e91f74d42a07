"""Job messages in Discord: live progress, then the result, delivered even across restarts and expired tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cog import Delivery

if TYPE_CHECKING:
    from bot.bot import MJBot

__all__ = ["Delivery", "setup"]


async def setup(bot: MJBot) -> None:
    await bot.add_cog(Delivery(bot))
