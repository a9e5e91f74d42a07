"""The modes and resolutions a follow-up uses when its job does not say: decided here, once.

An image follow-up keeps the mode of the grid it acts on; a video step of an image job takes the
job's /video options (``VideoOptions``' defaults when it has none); an extension keeps the mode and
resolution its video was made with.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from bot.acedata.models import (
    ImagineAction,
    ImagineGenerate,
    ImagineMode,
    Resolution,
    VideoExtend,
    VideoGenerate,
    VideoMode,
)
from bot.store import JobMeta, VideoOptions
from bot.store.models import Job

DEFAULT_IMAGINE_MODE: Final[ImagineMode] = "fast"
DEFAULT_VIDEO_MODE: Final[VideoMode] = "fast"
DEFAULT_RESOLUTION: Final[Resolution] = "720p"


def imagine_mode(job: Job) -> ImagineMode:
    """The mode of an image follow-up: the one its grid was made in."""
    request = job.request
    return request.mode if isinstance(request, ImagineGenerate | ImagineAction) else DEFAULT_IMAGINE_MODE


def video_options(meta: JobMeta) -> VideoOptions:
    """The /video options a job carries for the video step (the defaults when it carries none); an end frame
    (``--end``) only without a loop."""
    options = meta.video_options or VideoOptions()
    return dataclasses.replace(options, end_image_url=None) if options.loop else options


def video_settings(job: Job) -> tuple[VideoMode, Resolution]:
    """The mode and resolution of a video made from the video ``job`` (an extension): the ones it was made with."""
    made = job.request
    if not isinstance(made, VideoGenerate | VideoExtend):
        return DEFAULT_VIDEO_MODE, DEFAULT_RESOLUTION
    return made.mode, made.resolution or DEFAULT_RESOLUTION
