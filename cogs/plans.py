"""Discord's side of a follow-up's planning: a button, reaction or modal as a core action, a refusal as words.

The rules (what a follow-up makes, what it refuses, the extend limit) live in :mod:`bot.followups`.
"""

from __future__ import annotations

from bot.followups import Action, Animate, ExtendClip, ImageAction, Plan, Refusal, Reroll, number, plan_for
from bot.store import Store
from bot.store.models import Job
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.i18n import msg

__all__ = ["Plan", "action_for", "planned", "refused"]


def action_for(follow_up: FollowUp) -> Action:
    """The core action a submitting follow-up asks for; UserFacingError for one that submits nothing."""
    kind, arg = follow_up.kind, follow_up.arg
    if kind is FollowUpKind.EXTEND:
        return ExtendClip(number(arg), follow_up.prompt)
    if kind is FollowUpKind.REROLL:
        return Reroll()
    if kind is FollowUpKind.IMAGE:
        return ImageAction(arg or "")
    if kind is FollowUpKind.ANIMATE:
        return Animate(motion=arg or "")
    if kind is FollowUpKind.ANIMATE_QUADRANT:
        return Animate(image=number(arg))
    raise UserFacingError(msg("actions.does_nothing"))


def refused(refusal: Refusal) -> UserFacingError:
    """A refusal as the member reads it, in their language."""
    return UserFacingError(msg(refusal.key, **refusal.params))


async def planned(store: Store, job: Job, follow_up: FollowUp) -> Plan:
    """What a submitting follow-up on ``job`` makes; UserFacingError when it does not fit the job."""
    outcome = await plan_for(store.jobs, job, action_for(follow_up))
    if isinstance(outcome, Refusal):
        raise refused(outcome)
    return outcome
