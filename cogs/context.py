"""One interaction's state, in one typed object that the command makes and passes down to the gate, Delivery and
the error policy: the member's locale, whether the response is a public "thinking..." placeholder that is to become
the job's message, whether the job's message is private, and whether it must be a new follow-up message instead.

The error policy is the one reader that discord.py calls with the interaction alone (``CommandTree.on_error``, a
button's error handler), so ``InteractionContext.of`` finds the context of an interaction whose placeholder is
pending, by interaction id. A context is listed only while its placeholder is pending: it leaves the list when
Delivery shows the job in the placeholder or the placeholder is deleted, and at the latest when the interaction's
token has expired, so the list never holds more than the interactions under way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any, Final

import discord

from cogs.i18n import interaction_locale

#: An interaction's token (and so its placeholder) lives 15 minutes.
TOKEN_LIFE: Final = dt.timedelta(minutes=15)

#: Contexts whose public placeholder is pending, by interaction id, oldest first.
_pending: dict[int, InteractionContext] = {}


class InteractionContext:
    """The state of one interaction while it is answered; made when a command or a click starts.

    The state changes only through the methods that change the response: ``defer_public`` (a placeholder),
    ``defer_private`` (a private job message), ``take_placeholder`` (the placeholder becomes the job's message;
    Delivery calls it itself), ``drop_placeholder`` and ``make_private``.
    """

    __slots__ = ("_as_follow_up", "_placeholder", "_private", "interaction", "locale")

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self.interaction = interaction
        #: The member's locale: what they are told is worded in it.
        self.locale = interaction_locale(interaction)
        self._placeholder = False
        self._private = False
        self._as_follow_up = False

    @classmethod
    def of(cls, interaction: discord.Interaction[Any]) -> InteractionContext:
        """The context of ``interaction`` whose placeholder is pending, else a new one (nothing was deferred)."""
        return _pending.get(interaction.id) or cls(interaction)

    @property
    def placeholder(self) -> bool:
        """The original response is only the public "thinking..." placeholder: an error must delete it first."""
        return self._placeholder

    @property
    def private(self) -> bool:
        """The job's message is ephemeral: only the member sees it."""
        return self._private

    @property
    def as_follow_up(self) -> bool:
        """The placeholder was given up: the job's message is a new follow-up message, not the original response."""
        return self._as_follow_up

    async def defer_public(self) -> None:
        """Acknowledge with a public "thinking..." message, to become the job's message."""
        await self.interaction.response.defer(thinking=True)
        self._placeholder = True
        _remember(self)

    async def defer_private(self) -> None:
        """Acknowledge with "thinking..." that only the member sees: the job's message will be private."""
        await self.interaction.response.defer(ephemeral=True, thinking=True)
        self._private = True

    async def defer_job(self, *, private: bool) -> None:
        """Acknowledge a submit with "thinking...": public (it becomes the job's message) or, for private results,
        ephemeral (Delivery then keeps the job's message private, and sends the result to DMs once the token ends)."""
        if private:
            await self.defer_private()
        else:
            await self.defer_public()

    def take_placeholder(self) -> None:
        """The placeholder is about to become a job's message: from now on, errors must not delete it."""
        self._placeholder = False
        if _pending.get(self.interaction.id) is self:
            del _pending[self.interaction.id]

    async def drop_placeholder(self) -> bool:
        """Delete the pending placeholder (Discord would make the first follow-up an edit of it); True if there
        was one."""
        if not self._placeholder:
            return False
        self.take_placeholder()
        with contextlib.suppress(discord.NotFound):
            await self.interaction.delete_original_response()
        return True

    async def make_private(self) -> None:
        """The job's message must be private: defer ephemerally if nothing was sent yet; if a public placeholder
        was, remove it, and let the job's message be an ephemeral follow-up instead."""
        if await self.drop_placeholder():
            self._as_follow_up = True
        elif not self.interaction.response.is_done():
            await self.defer_private()
            return
        self._private = True


def _remember(context: InteractionContext) -> None:
    """List a context whose placeholder is pending, and forget those whose token has expired."""
    expired = discord.utils.utcnow() - TOKEN_LIFE
    for interaction_id, old in list(_pending.items()):
        if old.interaction.created_at > expired:
            break
        del _pending[interaction_id]
    _pending[context.interaction.id] = context
