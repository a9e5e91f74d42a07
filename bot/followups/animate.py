"""Animate: a video of an image result, by 🎬 Animate on an upscaled image, or by Animate N on a grid (the
image is upscaled first, and :class:`bot.jobs.ChainRunner` submits the video :func:`plan_chained_video` plans once
the upscale succeeds).

One rule makes both videos' prompts: the motion chosen (a click on "Animate (Low motion)", or the
``--motion`` of /video kept in the grid's video options) replaces any ``--motion`` the prompt has, and
the ``--bs`` of the video options replaces any the prompt has. A choice made for this video says more
than a parameter the prompt was written with for its image. When nothing was chosen the prompt is
sent as it is.

The parameters are the bot's own, so they do not count against the prompt's length limit, which the
member's words met when the job was made.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Final

from bot import frames
from bot.acedata.models import GRID_SIZE, ImagineAction, VideoGenerate
from bot.store import JobMeta, VideoOptions
from bot.store.meta import MOTIONS, Motion
from bot.store.models import Job, JobKind, JobStatus
from bot.text import strip_invisible

from .actions import Animate, Plan, Refusal, RefusalCode
from .defaults import imagine_mode, video_options
from .offers import is_single_image

_MOTION_PARAM: Final = re.compile(r"(?<!\S)--motion(?:[\s=]+(?!--)\S+)?(?=\s|$)", re.IGNORECASE)
_BATCH_PARAM: Final = re.compile(r"(?<!\S)--bs(?:[\s=]+(?!--)\S+)?(?=\s|$)", re.IGNORECASE)


def _tidy(text: str) -> str:
    return " ".join(strip_invisible(text).split())


def with_motion(prompt: str, motion: Motion | None) -> str:
    """The prompt with exactly one ``--motion`` parameter, the one asked for (as it is when None)."""
    if motion is None:
        return _tidy(prompt)
    return _tidy(f"{_MOTION_PARAM.sub(' ', prompt)} --motion {motion}")


def with_batch_size(prompt: str, size: int | None) -> str:
    """The prompt with the ``--bs`` the video options ask for (as it is when None)."""
    if size is None:
        return _tidy(prompt)
    return _tidy(f"{_BATCH_PARAM.sub(' ', prompt)} --bs {size}")


def motion_of(text: str | None) -> Motion | None:
    """The motion named by ``text``, None when it names none."""
    return next((known for known in MOTIONS if known == text), None)


def video_of(job: Job, options: VideoOptions, motion: Motion | None) -> VideoGenerate | None:
    """The video of ``job``'s result image with ``options`` and ``motion``; None when it has no image yet."""
    image_url = job.raw_image_url or job.image_url
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not image_url:
        return None
    end_image_url = None if options.loop else options.end_image_url
    return VideoGenerate(
        prompt=with_batch_size(with_motion(job.prompt, motion), options.batch_size),
        image_url=image_url,
        end_image_url=end_image_url,
        loop=options.loop,
        mode=options.mode,
        resolution=options.resolution,
    )


def plan_animate(job: Job, action: Animate) -> Plan | Refusal:
    """🎬 Animate (``action.image`` None) or Animate N (upscale image N, then animate it)."""
    if action.image is not None:
        return _plan_animate_image(job, action)
    chosen = motion_of(action.motion)
    if action.motion is not None and chosen is None:
        return Refusal(RefusalCode.PICK_MOTION)
    options = video_options(job.meta)
    motion = chosen or options.motion
    request = video_of(job, options, motion)
    if request is None:
        return Refusal(RefusalCode.ANIMATE_UNFINISHED)
    if not is_single_image(job):
        return Refusal(RefusalCode.ANIMATE_GRID)
    return Plan(request, JobMeta(motion=motion, video_options=options, frames=frames.animated_from(job)))


def _plan_animate_image(job: Job, action: Animate) -> Plan | Refusal:
    if action.image is None or not 1 <= action.image <= GRID_SIZE:
        return Refusal(RefusalCode.PICK_IMAGE, {"limit": GRID_SIZE})
    if action.motion is not None and motion_of(action.motion) is None:
        return Refusal(RefusalCode.PICK_MOTION)
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        return Refusal(RefusalCode.GRID_UNFINISHED)
    upscale = f"upscale{action.image}"
    if upscale not in job.actions:
        return Refusal(RefusalCode.NOT_OFFERED)
    options = video_options(job.meta)
    chosen = motion_of(action.motion)
    then = dataclasses.replace(options, motion=chosen) if chosen is not None else options
    request = ImagineAction(upscale, job.image_id, mode=imagine_mode(job))
    return Plan(request, JobMeta(then_animate=then, video_options=options))


def plan_chained_video(upscale: Job) -> Plan | None:
    """The video an upscale made by Animate N asks for in ``meta.then_animate``; None if there is nothing to do.

    The video's meta names the upscale it is chained from (it takes over the upscale's messages), its
    motion, and its owner's language.
    """
    options = upscale.meta.then_animate
    if options is None:
        return None
    request = video_of(upscale, options, options.motion)
    if request is None:
        return None
    meta = JobMeta(chained_from=upscale.id, motion=options.motion, locale=upscale.meta.locale)
    return Plan(request, meta)
