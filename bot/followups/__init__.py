"""Follow-ups in the core: what extend, reroll, animate, upscale, vary, zoom or pan on a job makes, or why not.

Discord, the CLI and chained jobs all call :func:`plan` (or :func:`plan_for`, which counts a video's
extensions in the store): one rule set for the extend limit, motion, modes and resolutions, and for
which actions a result allows.
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
from .animate import chained_video, with_batch_size, with_motion
from .defaults import imagine_mode, video_options, video_settings
from .plan import JobReader, extendable, extends_of, offered, plan, plan_for

__all__ = [
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
    "chained_video",
    "extendable",
    "extends_of",
    "imagine_mode",
    "number",
    "offered",
    "plan",
    "plan_for",
    "video_options",
    "video_settings",
    "with_batch_size",
    "with_motion",
]
