"""What a member or an operator asks of a finished job, and what it gets: a Plan, or a Refusal.

An :data:`Action` is typed: the front ends (Discord buttons, reactions and modals, the CLI) turn a
click or a command into one, and :func:`bot.followups.plan` decides what it makes. A
:class:`Refusal` names its reason by code and parameters; the cogs word it in the member's language
(the message ``actions.<code>``), the CLI prints :meth:`Refusal.english`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.acedata.models import GRID_SIZE, ApiRequest
from bot.store import EMPTY_META, JobMeta

#: Midjourney extends a video at most four times (about 21 s in all).
MAX_EXTENDS: Final = 4
_NUMBER: Final = re.compile(r"[1-9][0-9]{0,2}")


@dataclass(frozen=True, slots=True)
class ExtendClip:
    """Extend clip ``clip`` (1-based) of a finished video, with a new prompt or (None) the video's own."""

    clip: int
    prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Reroll:
    """Make the job again: the same request (a video), or the grid again (an image)."""


@dataclass(frozen=True, slots=True)
class Animate:
    """Make a video of an image.

    ``image`` None animates the job's own (upscaled) image; 1 to ``GRID_SIZE`` upscales that image of a grid
    first, and the video follows once the upscale succeeds. ``motion`` ("low" or "high") replaces any
    ``--motion`` of the prompt; None keeps the motion of the job's video options (and else the prompt's own).
    """

    image: int | None = None
    motion: str | None = None


@dataclass(frozen=True, slots=True)
class ImageAction:
    """An action the API offers on an image result: ``upscale2``, ``variation_subtle``, ``pan_left``..."""

    name: str


Action = ExtendClip | Reroll | Animate | ImageAction


class RefusalCode(enum.StrEnum):
    """Why a follow-up does not fit its job. The value names the message ``actions.<value>``."""

    PICK_CLIP = "pick_clip"
    ONLY_VIDEOS = "only_videos"
    VIDEO_UNFINISHED = "video_unfinished"
    EXTEND_LIMIT = "extend_limit"
    NO_START_FRAME = "no_start_frame"
    IMAGE_UNFINISHED = "image_unfinished"
    NOT_OFFERED = "not_offered"
    PICK_MOTION = "pick_motion"
    ANIMATE_UNFINISHED = "animate_unfinished"
    ANIMATE_GRID = "animate_grid"
    PICK_IMAGE = "pick_image"
    GRID_UNFINISHED = "grid_unfinished"
    JOB_UNFINISHED = "job_unfinished"
    PROMPT_EMPTY = "prompt_empty"
    PROMPT_TOO_LONG = "prompt_too_long"
    PROMPT_EXPANDS = "prompt_expands"


#: The English words of each refusal, for a front end without a language of its own (the CLI).
_ENGLISH: Final[Mapping[RefusalCode, str]] = {
    RefusalCode.PICK_CLIP: "Pick a clip from 1 to {limit}.",
    RefusalCode.ONLY_VIDEOS: "Only videos can be extended.",
    RefusalCode.VIDEO_UNFINISHED: "This video is not finished; extend it once its clips are here.",
    RefusalCode.EXTEND_LIMIT: (
        "This video has been extended {count} times, the most Midjourney allows. Start a new one, using a frame "
        "you like as its start image."
    ),
    RefusalCode.NO_START_FRAME: "This video has no start frame on record, so it can't be made again.",
    RefusalCode.IMAGE_UNFINISHED: "This image is not finished yet; try again once it is.",
    RefusalCode.NOT_OFFERED: "That action is not offered on this image.",
    RefusalCode.PICK_MOTION: "Pick low or high motion.",
    RefusalCode.ANIMATE_UNFINISHED: "This image is not finished yet; animate it once it is.",
    RefusalCode.ANIMATE_GRID: "Animate works on one image: pick one of the grid first.",
    RefusalCode.PICK_IMAGE: "Pick an image from 1 to {limit}.",
    RefusalCode.GRID_UNFINISHED: "This grid is not finished yet; animate an image once it is.",
    RefusalCode.JOB_UNFINISHED: "This job is not finished yet; try again once it is.",
    RefusalCode.PROMPT_EMPTY: "The prompt is empty: describe what should happen, for example `waves crash on rocks`.",
    RefusalCode.PROMPT_TOO_LONG: (
        "The prompt is {length} characters long; the limit is {limit}. Shorten it and try again."
    ),
    RefusalCode.PROMPT_EXPANDS: (
        "The prompt reads as {length} characters once its ligatures and special symbols are spelled out (some count "
        "as several letters); the limit is {limit}. Write them as plain letters, or shorten the prompt."
    ),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What a follow-up makes: the request to send, and the new job's meta."""

    request: ApiRequest
    meta: JobMeta = EMPTY_META


@dataclass(frozen=True, slots=True)
class Refusal:
    """A follow-up that does not fit its job: nothing is sent, and nothing is charged."""

    code: RefusalCode
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The message that words it for a member (``actions.*`` in the bot's language files)."""
        return f"actions.{self.code.value}"

    def english(self) -> str:
        return _ENGLISH[self.code].format(**self.params)


def pick_clip(limit: int = GRID_SIZE) -> Refusal:
    """A clip number the video does not have (it has ``limit`` clips)."""
    return Refusal(RefusalCode.PICK_CLIP, {"limit": limit})


def number(text: str | None) -> int:
    """A button's numeric argument (``"2"``), 0 when it is none: the planner refuses 0 as out of range."""
    return int(text) if text is not None and _NUMBER.fullmatch(text) else 0
