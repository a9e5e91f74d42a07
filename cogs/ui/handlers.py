"""Who answers the clicks on a DynamicItem, in each running bot.

discord.py makes a DynamicItem again from its custom id with nothing but the interaction, and registers once more
the class of every item in a view the bot sends, so the service that runs a click can be neither handed to the item
nor bound on a subclass of it. The cog that owns the item binds its handler here when it loads (and unbinds it when
it unloads), and the item finds it by the bot the click came to. No cog is read from the bot's attributes, and a
click comes only once the bot is running, so the order in which the cogs load makes no difference.
"""

from __future__ import annotations

import weakref
from typing import Generic, TypeVar

import discord

H = TypeVar("H")


class Handlers(Generic[H]):
    """The handler of one kind of item, by bot; ``what`` names it in the error when none is bound."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._by_bot: weakref.WeakKeyDictionary[discord.Client, H] = weakref.WeakKeyDictionary()

    def bind(self, bot: discord.Client, handler: H) -> None:
        self._by_bot[bot] = handler

    def unbind(self, bot: discord.Client, handler: H) -> None:
        """Forget ``handler`` (and nothing bound after it)."""
        if self._by_bot.get(bot) is handler:
            del self._by_bot[bot]

    def of(self, bot: discord.Client) -> H:
        """The handler bound for ``bot``; RuntimeError when its cog is not loaded."""
        try:
            return self._by_bot[bot]
        except KeyError:
            raise RuntimeError(f"no {self._what} is loaded in this bot") from None
