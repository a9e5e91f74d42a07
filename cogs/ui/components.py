"""The one button class behind every follow-up: a DynamicItem whose custom id is the follow-up itself.

The custom id (``mj:{kind}:{job id}[:{arg}]``) is the only state a button has; whatever else a click
needs is read from the store when it happens. The bot registers the class once (``add_dynamic_items``),
so every button it ever posted works again after a restart, with nothing kept in memory. A click is run
by the follow-up runner bound for the bot (``FOLLOW_UPS``; ``cogs.actions.FollowUps`` binds itself).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from cogs.common import CUSTOM_ID_PATTERN, FollowUp
from cogs.errors import answer, answer_error
from cogs.i18n import SOURCE_LOCALE, interaction_locale, t
from cogs.ui.handlers import Handlers

if TYPE_CHECKING:
    from bot.bot import MJBot

#: What a button from another version of the bot answers (in English; see ``components.outdated_button``).
OUTDATED_BUTTON = t(SOURCE_LOCALE, "components.outdated_button")


class FollowUpRunner(Protocol):
    """Runs a follow-up asked for by an interaction and answers it (``cogs.actions.FollowUps`` does)."""

    async def run(self, interaction: discord.Interaction[MJBot], follow_up: FollowUp, /) -> None: ...


#: The follow-up runner of each bot, bound when it loads.
FOLLOW_UPS: Handlers[FollowUpRunner] = Handlers("follow-up runner")


class FollowUpButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID_PATTERN):
    """A button for one follow-up on one job: Extend 2, U3, Vary (Subtle), 🎬 Animate, 📩, ❌..."""

    def __init__(
        self,
        follow_up: FollowUp,
        *,
        label: str | None = None,
        emoji: str | discord.PartialEmoji | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        row: int | None = None,
    ) -> None:
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            custom_id=follow_up.custom_id(), label=label, emoji=emoji, style=style
        )
        super().__init__(button, row=row)
        self.follow_up = follow_up

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> FollowUpButton:
        follow_up = FollowUp.parse(match.string)
        if follow_up is None:
            # The template matched but the kind is unknown: a button from another version of the bot.
            await answer(interaction, t(interaction_locale(interaction), "components.outdated_button"))
            raise ValueError(f"unknown follow-up in custom id {match.string!r}")
        if isinstance(item, discord.ui.Button):
            return cls(follow_up, label=item.label, emoji=item.emoji, style=item.style)
        return cls(follow_up)

    async def callback(self, interaction: discord.Interaction[MJBot]) -> None:  # type: ignore[override]
        # Every kind, ✏️ Extend… included, goes through FollowUps.run: the checks live there, once.
        try:
            await FOLLOW_UPS.of(interaction.client).run(interaction, self.follow_up)
        except Exception as exc:
            await answer_error(interaction, exc, job_id=self.follow_up.job_id)


def dynamic_items() -> tuple[type[discord.ui.DynamicItem[Any]], ...]:
    """The item classes to register once with ``bot.add_dynamic_items(*dynamic_items())``."""
    return (FollowUpButton,)
