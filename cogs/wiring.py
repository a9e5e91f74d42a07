"""Builds the cogs, each with the services it uses: the one place that knows which cog needs what.

The parts that several cogs use are built once, before the cogs that use them: Delivery (the job messages), the
audit log, the follow-up runner (buttons, the extend modal and reactions) and the confirmation cards. Each cog is
handed them when it is made and reads no other cog from the bot, so the order in which the cogs are added makes no
difference. The bot calls ``wire`` by name (``bot`` never imports ``cogs``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from discord.ext import commands

from cogs.actions import FollowUps
from cogs.admin import AdminCog
from cogs.audit import AuditLog
from cogs.confirm import Confirmations
from cogs.delivery import Delivery
from cogs.gallery import GalleryCog
from cogs.imagine import ImagineCog
from cogs.jobs import JobsCog
from cogs.reactions import ReactionsCog
from cogs.settings import SettingsCog
from cogs.video import VideoCog

if TYPE_CHECKING:
    from bot.bot import MJBot


class SharedParts:
    """The parts several cogs use: each is made the first time a cog asks for it, and is the same one after."""

    def __init__(self, bot: MJBot) -> None:
        self.bot = bot
        self._delivery: Delivery | None = None
        self._audit: AuditLog | None = None
        self._followups: FollowUps | None = None
        self._confirmations: Confirmations | None = None

    @property
    def delivery(self) -> Delivery:
        if self._delivery is None:
            self._delivery = Delivery(self.bot)
        return self._delivery

    @property
    def audit(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(self.bot)
        return self._audit

    @property
    def followups(self) -> FollowUps:
        if self._followups is None:
            self._followups = FollowUps(
                self.bot, delivery=self.delivery, audit=self.audit, confirmations=self.confirmations
            )
        return self._followups

    @property
    def confirmations(self) -> Confirmations:
        if self._confirmations is None:
            self._confirmations = Confirmations(self.bot, audit=self.audit)
        return self._confirmations

    def made(self) -> list[commands.Cog]:
        """The parts made so far (each is a cog too: it starts and stops with the bot)."""
        parts = (self._delivery, self._audit, self._followups, self._confirmations)
        return [part for part in parts if part is not None]


#: Every cog the bot can run, by name, and how it is made from the shared parts.
BUILDERS: Final[Mapping[str, Callable[[SharedParts], commands.Cog]]] = {
    "delivery": lambda parts: parts.delivery,
    "audit": lambda parts: parts.audit,
    "followups": lambda parts: parts.followups,
    "video": lambda parts: VideoCog(
        parts.bot, delivery=parts.delivery, audit=parts.audit, confirmations=parts.confirmations
    ),
    "imagine": lambda parts: ImagineCog(
        parts.bot, delivery=parts.delivery, audit=parts.audit, confirmations=parts.confirmations
    ),
    "jobs": lambda parts: JobsCog(parts.bot, delivery=parts.delivery),
    "reactions": lambda parts: ReactionsCog(parts.bot, followups=parts.followups),
    "gallery": lambda parts: GalleryCog(parts.bot),
    "settings": lambda parts: SettingsCog(parts.bot),
    "admin": lambda parts: AdminCog(parts.bot, audit=parts.audit, delivery=parts.delivery),
    "confirmations": lambda parts: parts.confirmations,
}
#: The names of every cog, the bot's default.
COGS: Final = tuple(BUILDERS)


def build(bot: MJBot, names: Sequence[str] = COGS) -> list[commands.Cog]:
    """Make the named cogs and the shared parts they use, in the order to add them: as named, then the parts that
    were not named. Raises ValueError for a name no cog has."""
    unknown = [name for name in names if name not in BUILDERS]
    if unknown:
        raise ValueError(f"no cog is called {', '.join(map(repr, unknown))}; the cogs are {', '.join(BUILDERS)}")
    parts = SharedParts(bot)
    cogs = [BUILDERS[name](parts) for name in dict.fromkeys(names)]
    return cogs + [part for part in parts.made() if all(part is not cog for cog in cogs)]


async def wire(bot: MJBot, names: Sequence[str] | None = None) -> list[commands.Cog]:
    """Make the named cogs (None: every cog) with what each of them uses, and add them to the bot in that order."""
    cogs = build(bot, COGS if names is None else names)
    for cog in cogs:
        await bot.add_cog(cog)
    return cogs
