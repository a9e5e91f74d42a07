"""Which interaction tokens can still edit their message: a token lives 15 minutes from its interaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from bot.store.models import MessageLink

#: Past this age a token is not tried any more (Discord ends it at 15 minutes; the margin covers clock skew).
TOKEN_FRESH_S: Final = 14.5 * 60
#: How long a token Discord refused is remembered as dead.
DEAD_TOKEN_MEMORY_S: Final = 3600.0
#: Above this many entries, stale ones are pruned on the next write.
_PRUNE_ABOVE: Final = 256


class TokenBook:
    """Birth times and deaths of interaction tokens, by message id; a few bytes per recent message.

    A link's ``created_at`` is the fallback birth time, good enough after a restart; the exact one is
    kept in memory because re-linking a message (a chained job taking it over) stamps a new
    ``created_at`` while the token keeps its age.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._born: dict[int, float] = {}
        self._dead: dict[int, float] = {}

    def usable(self, link: MessageLink) -> bool:
        if not link.interaction_token or link.application_id is None or link.message_id in self._dead:
            return False
        born = self._born.get(link.message_id, link.created_at)
        return self.clock() - born < TOKEN_FRESH_S

    def born(self, message_id: int, at: float) -> None:
        now = self.clock()
        if len(self._born) > _PRUNE_ABOVE:
            self._born = {m: t for m, t in self._born.items() if now - t < TOKEN_FRESH_S}
        self._born[message_id] = at

    def keep_age(self, link: MessageLink) -> None:
        """Before ``link`` is re-linked: remember its token's birth, unless a better one is known."""
        if link.interaction_token and link.message_id not in self._born:
            self.born(link.message_id, link.created_at)

    def died(self, message_id: int) -> None:
        now = self.clock()
        if len(self._dead) > _PRUNE_ABOVE:
            self._dead = {m: t for m, t in self._dead.items() if now - t < DEAD_TOKEN_MEMORY_S}
        self._dead[message_id] = now
        self._born.pop(message_id, None)
