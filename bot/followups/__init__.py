"""Follow-ups in the core: what extend, reroll, animate, upscale, vary, zoom or pan on a job makes, or why not.

Discord, the CLI and chained jobs all call :func:`plan` (or :func:`plan_for`, which counts a video's
extensions in the store): one rule set for the extend limit, motion, modes and resolutions. Which actions a
result allows is :func:`offered`: Discord's buttons and reactions and the CLI's next steps come from it, and
:func:`plan` refuses what it does not list.
"""

from .actions import (
    MAX_EXTENDS,
    Action,
    Animate,
    ExtendClip,
    ImageAction,
    Plan,
    Refusal,
    RefusalCode,
    Reroll,
    number,
)
from .animate import plan_chained_video, with_batch_size, with_motion
from .defaults import imagine_mode, video_options, video_settings
from .offers import GRID_INDEXES, allows, clips_of, is_grid, is_single_image, normalized, offered
from .plan import JobReader, extendable, extends_of, plan, plan_for

__all__ = [
    "GRID_INDEXES",
    "MAX_EXTENDS",
    "Action",
    "Animate",
    "ExtendClip",
    "ImageAction",
    "JobReader",
    "Plan",
    "Refusal",
    "RefusalCode",
    "Reroll",
    "allows",
    "clips_of",
    "extendable",
    "extends_of",
    "imagine_mode",
    "is_grid",
    "is_single_image",
    "normalized",
    "number",
    "offered",
    "plan",
    "plan_chained_video",
    "plan_for",
    "video_options",
    "video_settings",
    "with_batch_size",
    "with_motion",
]
