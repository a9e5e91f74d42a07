"""Types shared by the cogs: follow-up actions, their custom ids, and the user-facing error."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from cogs.i18n import LocaleLike, Phrase

#: Every custom id the bot makes: ``mj:{kind}:{job id}`` plus an optional ``:{arg}``.
CUSTOM_ID_PATTERN = r"mj:(?P<kind>[a-z]+):(?P<job>[a-z0-9]{6,16})(?::(?P<arg>[a-z0-9_]{1,40}))?"
_CUSTOM_ID = re.compile(CUSTOM_ID_PATTERN)


class FollowUpKind(enum.StrEnum):
    """What a button or a reaction asks for. The value is the custom id's short tag."""

    EXTEND = "ext"  # arg: the clip, "1" to "4"
    EXTEND_MANUAL = "extm"  # opens the modal to edit the prompt and pick the clip
    REROLL = "rr"
    CANCEL = "x"
    IMAGE = "img"  # arg: the API action, e.g. upscale2, variation_subtle, pan_left
    ANIMATE = "anim"  # arg: "low" or "high" motion
    ANIMATE_QUADRANT = "animq"  # arg: the grid quadrant, "1" to "4"
    DM = "dm"
    SAVE = "save"  # the result's settings as one of the member's presets (a modal asks the name)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """One follow-up on one job; its custom id holds nothing but this immutable key."""

    kind: FollowUpKind
    job_id: str
    arg: str | None = None
    prompt: str | None = None

    def custom_id(self) -> str:
        text = f"mj:{self.kind.value}:{self.job_id}"
        return f"{text}:{self.arg}" if self.arg else text

    @classmethod
    def parse(cls, custom_id: str) -> FollowUp | None:
        match = _CUSTOM_ID.fullmatch(custom_id)
        if match is None:
            return None
        try:
            kind = FollowUpKind(match["kind"])
        except ValueError:
            return None
        return cls(kind, match["job"], match["arg"])


class UserFacingError(Exception):
    """Shown to the member as it is, in an ephemeral reply; nothing is logged as an error.

    Given a ``Phrase`` (such as ``msg("jobs.bad_id")``), it is shown in the member's language (``str()`` of the
    error is the English text).
    """

    def __init__(self, message: str | Phrase) -> None:
        super().__init__(str(message))
        self.msg = message if isinstance(message, Phrase) else None

    def localised(self, locale: LocaleLike) -> str:
        return self.msg.render(locale) if self.msg is not None else str(self)
