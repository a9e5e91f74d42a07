"""A double click or a repeated reaction submits once: the member's lock on one follow-up of one job (the store's,
so it holds when the two clicks reach two processes), and the job the same follow-up made moments ago."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from bot.store.models import Job, JobStatus, MessageLink
from cogs.common import FollowUp
from cogs.i18n import t

if TYPE_CHECKING:
    from bot.store import Store
    from bot.store.locks import HeldKeys

#: A second identical follow-up by the same member within this many seconds is a double click.
DUPLICATE_WINDOW_S: Final = 15.0
#: How long a click waits for an identical one that is being submitted (Discord wants an answer within 3 s).
DUPLICATE_WAIT_S: Final = 2.0


def message_url(link: MessageLink) -> str:
    """The jump link of a message the store knows (``@me`` for a DM)."""
    where = link.guild_id if link.guild_id is not None else "@me"
    return f"https://discord.com/channels/{where}/{link.channel_id}/{link.message_id}"


def follow_up_tag(follow_up: FollowUp) -> str:
    """The follow-up kind and argument, kept in the new job's meta to recognise a repeat."""
    return f"{follow_up.kind.value}:{follow_up.arg or ''}"


class Repeats:
    """Tells a member's repeated follow-up (a double click, a second reaction) from a new one."""

    def claim(self, store: Store, job: Job, follow_up: FollowUp, user_id: int, *, wait: bool = True) -> HeldKeys:
        """The member's claim on one follow-up of one job: their double click waits for it (``acquired`` is
        False if it stayed busy too long); another member's click on the same button is a job of its own."""
        key = f"repeat:{job.id}:{follow_up.kind.value}:{user_id}:{follow_up.arg or ''}"  # the argument last: any text
        return store.locks.hold(key, wait_s=DUPLICATE_WAIT_S if wait else 0.0)

    async def recent_duplicate(self, store: Store, job: Job, follow_up: FollowUp, user_id: int) -> Job | None:
        """The job the same member made from the same follow-up on this job moments ago, if it is alive."""
        tag = follow_up_tag(follow_up)
        since = time.time() - DUPLICATE_WINDOW_S
        for child in reversed(await store.jobs.children(job.id)):
            if child.created_at < since:
                break
            if (
                child.user_id == user_id
                and child.meta.follow_up == tag
                and child.status not in (JobStatus.FAILED, JobStatus.CANCELLED)
            ):
                return child
        return None

    async def already_on_it(self, store: Store, child: Job, locale: str) -> str:
        links = await store.links.messages_for_job(child.id)
        if links:
            return t(locale, "actions.already_linked", job=child.id, url=message_url(links[0]))
        return t(locale, "actions.already_starting", job=child.id)
