"""A job's buttons: the follow-ups its state allows, and only actions the API listed for it. Pure, no I/O.

The buttons are worded in the job owner's language (``meta.locale`` of the job, unless a caller names one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

import discord

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS
from bot.options import CLIPS_PER_VIDEO
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUp, FollowUpKind
from cogs.i18n import LocaleLike, stored_locale, t
from cogs.ui.components import FollowUpButton

#: Actions whose result is one image (not a grid): only such an image can be animated.
_SINGLE_IMAGE = re.compile(r"upscale[1-4]|upscale_[24]x")

#: Follow-ups on an upscaled image, with Midjourney's labels (``render.button.<action>``); pans are emoji-only,
#: as in Midjourney.
UPSCALED_BUTTONS: Final[Mapping[str, tuple[str, bool]]] = {
    "upscale_2x": ("🔍", True),
    "upscale_4x": ("🔍", True),
    "variation_subtle": ("🔀", True),
    "variation_strong": ("🔀", True),
    "zoom_out_2x": ("🔭", True),
    "zoom_out_1_5x": ("🔭", True),
    "pan_left": ("⬅️", False),
    "pan_right": ("➡️", False),
    "pan_up": ("⬆️", False),
    "pan_down": ("⬇️", False),
}
_UPSCALED_ROWS: Final = (
    ("upscale_2x", "upscale_4x", "variation_subtle", "variation_strong"),
    ("zoom_out_2x", "zoom_out_1_5x"),
    ("pan_left", "pan_right", "pan_up", "pan_down"),
)


def owner_locale(job: Job, locale: LocaleLike = None) -> LocaleLike:
    """``locale`` when given, else the locale the job's owner started it in (English when unknown)."""
    return locale if locale is not None else stored_locale(job.meta)


class JobView(discord.ui.View):
    """A job's buttons, which discord.py never keeps: nothing about a posted message lives in memory.

    A click reaches ``FollowUpButton`` through the dynamic items the bot registered, the same way
    before and after a restart. A kept view would only add ways to go stale: discord.py holds every
    sent view, gives one sent in an ephemeral follow-up a 15-minute timeout, and refuses it on a
    webhook without the bot's state.
    """

    def __init__(self) -> None:
        super().__init__(timeout=None)

    def is_dispatchable(self) -> bool:
        # discord.py keeps a sent view (and requires a webhook with state) only if this is true.
        return False


def job_view(job: Job, locale: LocaleLike = None) -> discord.ui.View | None:
    """The buttons this job's state allows, and only actions the API listed for it. None for no buttons."""
    locale = owner_locale(job, locale)
    buttons: list[FollowUpButton] = []
    if not job.finished:
        cancel = t(locale, "render.button.cancel")
        buttons.append(_button(job, FollowUpKind.CANCEL, label=cancel, emoji="❌", style=discord.ButtonStyle.danger))
    elif job.status is not JobStatus.SUCCEEDED:
        buttons.append(_button(job, FollowUpKind.REROLL, label=t(locale, "render.button.reroll"), emoji="🔄", row=0))
        buttons.append(_button(job, FollowUpKind.CANCEL, emoji="❌", row=0))
    elif job.kind is JobKind.VIDEO:
        buttons.extend(_video_buttons(job, locale))
    elif any(action in GRID_ACTIONS for action in job.actions):
        buttons.extend(_grid_buttons(job, locale))
    else:
        buttons.extend(_upscaled_buttons(job, locale))
    if not buttons:
        return None
    view = JobView()
    for button in buttons:
        view.add_item(button)
    return view


# -- buttons -------------------------------------------------------------------------------------------------


def _button(
    job: Job,
    kind: FollowUpKind,
    arg: str | None = None,
    *,
    label: str | None = None,
    emoji: str | None = None,
    style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    row: int | None = None,
) -> FollowUpButton:
    return FollowUpButton(FollowUp(kind, job.id, arg), label=label, emoji=emoji, style=style, row=row)


def _closing_buttons(job: Job, row: int, locale: LocaleLike) -> list[FollowUpButton]:
    """📩 (a copy in DMs) and ❌ (delete the result), at the end of every finished result."""
    return [
        _button(job, FollowUpKind.DM, label=t(locale, "render.button.dm"), emoji="📩", row=row),
        _button(job, FollowUpKind.CANCEL, emoji="❌", row=row),
    ]


def _video_buttons(job: Job, locale: LocaleLike) -> list[FollowUpButton]:
    buttons: list[FollowUpButton] = []
    if job.video_id:  # an extend names the video by its id; without one there is nothing to extend
        clips = min(len(job.video_urls), CLIPS_PER_VIDEO) or CLIPS_PER_VIDEO
        for clip in range(1, clips + 1):
            label = t(locale, "render.button.extend_clip", clip=clip)
            buttons.append(_button(job, FollowUpKind.EXTEND, str(clip), label=label, row=0))
        manual = t(locale, "render.button.extend_manual")
        buttons.append(_button(job, FollowUpKind.EXTEND_MANUAL, label=manual, emoji="✏️", row=1))
    buttons.append(_button(job, FollowUpKind.REROLL, label=t(locale, "render.button.reroll"), emoji="🔄", row=1))
    return buttons + _closing_buttons(job, row=1, locale=locale)


def _grid_buttons(job: Job, locale: LocaleLike) -> list[FollowUpButton]:
    allowed = set(job.actions)
    row = 0
    buttons: list[FollowUpButton] = []
    if job.meta.video_grid:
        # Animate N upscales image N, then animates it: only offered where the API allows upscale N.
        animate = [
            _button(
                job,
                FollowUpKind.ANIMATE_QUADRANT,
                str(index),
                label=t(locale, "render.button.animate_image", index=index),
                emoji="🎬",
                style=discord.ButtonStyle.primary,
                row=row,
            )
            for index in range(1, 5)
            if f"upscale{index}" in allowed
        ]
        buttons.extend(animate)
        row += bool(animate)
    for prefix, key in (("upscale", "render.button.upscale_n"), ("variation", "render.button.vary_n")):
        present = [index for index in range(1, 5) if f"{prefix}{index}" in allowed]
        buttons.extend(
            _button(job, FollowUpKind.IMAGE, f"{prefix}{index}", label=t(locale, key, index=index), row=row)
            for index in present
        )
        row += bool(present)
    if "reroll" in allowed:
        buttons.append(_button(job, FollowUpKind.IMAGE, "reroll", emoji="🔄", row=row))
    return buttons + _closing_buttons(job, row=row, locale=locale)


def _upscaled_buttons(job: Job, locale: LocaleLike) -> list[FollowUpButton]:
    allowed = set(job.actions) & set(UPSCALED_ACTIONS)
    row = 0
    buttons: list[FollowUpButton] = []
    single = bool(allowed) or _SINGLE_IMAGE.fullmatch(job.action) is not None
    if job.image_url and single:  # Animate makes a video from this one image, so it needs the image's URL
        for motion in ("low", "high"):
            label = t(locale, "render.button.animate_motion", motion=t(locale, f"render.motion.{motion}"))
            buttons.append(
                _button(
                    job, FollowUpKind.ANIMATE, motion, label=label, emoji="🎬", style=discord.ButtonStyle.primary, row=0
                )
            )
        row = 1
    for names in _UPSCALED_ROWS:
        present = [name for name in names if name in allowed]
        for name in present:
            emoji, labelled = UPSCALED_BUTTONS[name]
            text = t(locale, f"render.button.{name}") if labelled else None
            buttons.append(_button(job, FollowUpKind.IMAGE, name, label=text, emoji=emoji, row=row))
        row += bool(present)
    return buttons + _closing_buttons(job, row=row, locale=locale)
