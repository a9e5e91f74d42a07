"""What a result allows: the one list of follow-ups that every front end and the planner read.

Discord's buttons are built from :func:`offered`, a reaction acts only when its action is offered, the CLI
prints the offered actions as its next steps, and :func:`bot.followups.plan` refuses any action not offered.
"""

from __future__ import annotations

import re
from typing import Final

from bot.acedata.models import GRID_ACTIONS, GRID_SIZE, UPSCALED_ACTIONS
from bot.store.models import Job, JobKind, JobStatus

from .actions import Action, Animate, ExtendClip, ImageAction, Reroll

#: The numbers members give an image of a grid or a clip of a video.
GRID_INDEXES: Final = tuple(range(1, GRID_SIZE + 1))
#: Actions whose result is one image (not a grid): only such an image can be animated.
_SINGLE_IMAGE: Final = re.compile(rf"upscale[1-{GRID_SIZE}]|upscale_[24]x")


def clips_of(job: Job) -> int:
    """How many clips a video has to extend: as many as its result holds (``--bs 1`` makes one), at most four."""
    return min(len(job.video_urls), GRID_SIZE) if job.video_urls else GRID_SIZE


def is_grid(job: Job) -> bool:
    """Whether an image result is a grid: the API lists a grid's follow-ups (U1, V1, reroll...) for it."""
    return job.kind is JobKind.IMAGINE and any(action in GRID_ACTIONS for action in job.actions)


def is_single_image(job: Job) -> bool:
    """Whether an image result is one image (an upscale): by the follow-ups listed, else by the action made it."""
    if job.kind is not JobKind.IMAGINE or is_grid(job):
        return False
    return any(action in UPSCALED_ACTIONS for action in job.actions) or _SINGLE_IMAGE.fullmatch(job.action) is not None


def offered(job: Job) -> tuple[Action, ...]:
    """The follow-ups a job's result allows, in the order they are shown.

    Nothing while the job runs; a reroll when it did not succeed; a video's clips and a reroll; a grid's
    upscales, variations and reroll the API listed, with Animate N on a grid /video made; an upscaled image's
    actions the API listed, and Animate when it has an image to animate.
    """
    if not job.finished:
        return ()
    if job.status is not JobStatus.SUCCEEDED:
        return (Reroll(),)
    if job.kind is JobKind.VIDEO:
        clips = tuple(ExtendClip(clip) for clip in range(1, clips_of(job) + 1)) if job.video_id else ()
        return (*clips, Reroll())
    listed = set(job.actions)
    if is_grid(job):
        animate = [Animate(image=n) for n in GRID_INDEXES if job.meta.video_grid and f"upscale{n}" in listed]
        numbered = [
            ImageAction(f"{prefix}{n}")
            for prefix in ("upscale", "variation")
            for n in GRID_INDEXES
            if f"{prefix}{n}" in listed
        ]
        return (*animate, *numbered, *([Reroll()] if "reroll" in listed else []))
    animate_one = [Animate()] if is_single_image(job) and (job.raw_image_url or job.image_url) else []
    return (*animate_one, *(ImageAction(name) for name in UPSCALED_ACTIONS if name in listed))


def normalized(action: Action) -> Action:
    """The action as :func:`offered` lists it: without the prompt or motion a member chose; the grid's "reroll"
    button (an API action) as the reroll it is."""
    if isinstance(action, ExtendClip):
        return ExtendClip(action.clip)
    if isinstance(action, Animate):
        return Animate(image=action.image)
    if isinstance(action, ImageAction) and action.name == "reroll":
        return Reroll()
    return action


def allows(job: Job, action: Action) -> bool:
    """Whether ``job``'s result offers ``action`` (whatever prompt or motion it carries)."""
    return normalized(action) in offered(job)
