"""Acknowledging a click on a job's buttons at once, before anything that may wait.

Discord drops an interaction that is not acknowledged within 3 seconds, and a click may wait longer than
that before it knows what it will do: for an identical click being submitted, for the member's previous
submit (the gate's turn), for the store. So a click is deferred first. What the defer shows is decided
by what the click can lead to: Cancel and DM answer the member alone ("thinking..." only they see), a
follow-up that starts a job says "thinking..." in public, as the new job's message to be. If the gate
then says the member's results are private, that placeholder is removed and the job's message becomes
an ephemeral follow-up instead (``InteractionContext.make_private``); a refusal removes it too
(``cogs.errors.answer``).

✏️ Extend… and 💾 Save are the exceptions: their answer is a modal, which has to be the first response, so they
are never deferred, and their checks wait on no lock.
"""

from __future__ import annotations

from typing import Final

from cogs.common import FollowUpKind
from cogs.context import InteractionContext

#: Follow-ups that answer the member alone.
_PERSONAL: Final = frozenset({FollowUpKind.CANCEL, FollowUpKind.DM})


def answers_with_modal(kind: FollowUpKind) -> bool:
    """The click's first answer is a modal, so it must not be deferred."""
    return kind in (FollowUpKind.EXTEND_MANUAL, FollowUpKind.SAVE)


async def acknowledge(context: InteractionContext, kind: FollowUpKind) -> None:
    """Defer a click before any store read or lock wait: ephemerally for Cancel and DM, else in public."""
    response = context.interaction.response
    if response.is_done() or answers_with_modal(kind):
        return
    if kind in _PERSONAL:
        await response.defer(ephemeral=True, thinking=True)
    else:
        await context.defer_public()
