"""Acknowledging a click on a job's buttons at once, before anything that may wait.

Discord drops an interaction that is not acknowledged within 3 seconds, and a click may wait longer than
that before it knows what it will do: for an identical click being submitted, for the member's previous
submit (the gate's turn), for the store. So a click is deferred first. What the defer shows is decided
by what the click can lead to: Cancel and DM answer the member alone ("thinking..." only they see), a
follow-up that starts a job says "thinking..." in public, as the new job's message to be. If the gate
then says the member's results are private, that placeholder is removed and the job's message becomes
an ephemeral follow-up instead (``AS_FOLLOW_UP``); a refusal removes it too (``cogs.errors.answer``).

✏️ Extend… is the exception: its answer is a modal, which has to be the first response, so it is never
deferred, and its checks wait on no lock.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import discord

from cogs import gate
from cogs.common import FollowUpKind
from cogs.errors import PLACEHOLDER, defer_public

if TYPE_CHECKING:
    from bot.bot import MJBot

#: ``interaction.extras`` key: the job's message is a new follow-up message, not the original response.
AS_FOLLOW_UP: Final = "mj_as_follow_up"
#: Follow-ups that answer the member alone.
_PERSONAL: Final = frozenset({FollowUpKind.CANCEL, FollowUpKind.DM})


def answers_with_modal(kind: FollowUpKind) -> bool:
    """The click's first answer is a modal, so it must not be deferred."""
    return kind is FollowUpKind.EXTEND_MANUAL


async def acknowledge(interaction: discord.Interaction[Any], kind: FollowUpKind) -> None:
    """Defer a click before any store read or lock wait: ephemerally for Cancel and DM, else in public."""
    if interaction.response.is_done() or answers_with_modal(kind):
        return
    if kind in _PERSONAL:
        await interaction.response.defer(ephemeral=True, thinking=True)
    else:
        await defer_public(interaction)


async def make_private(interaction: discord.Interaction[MJBot]) -> None:
    """The job's message must be private, but the click said "thinking..." in public: remove that placeholder,
    and let the job's message be an ephemeral follow-up (Delivery reads ``AS_FOLLOW_UP``)."""
    if interaction.extras.pop(PLACEHOLDER, False):
        with contextlib.suppress(discord.NotFound):
            await interaction.delete_original_response()
        interaction.extras[AS_FOLLOW_UP] = True
    elif not interaction.response.is_done():
        await gate.defer_job(interaction, private=True)
        return
    interaction.extras[gate.PRIVATE_EXTRA] = True
