"""A job's buttons: the follow-ups its result allows (``bot.followups.offered``), and cancel, DM. Pure, no I/O.

The core decides which follow-ups a result allows; this module only lays them out. The buttons are worded in
the job owner's language (``meta.locale`` of the job, unless a caller names one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import discord

from bot.followups import GRID_INDEXES, Action, Animate, ExtendClip, ImageAction, Reroll, is_grid, offered
from bot.presets import savable
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUp, FollowUpKind
from cogs.i18n import LocaleLike, stored_locale, t
from cogs.ui.components import FollowUpButton

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
    """The buttons of the follow-ups this job's result allows, and cancel or DM. None for no buttons."""
    locale = owner_locale(job, locale)
    allowed = offered(job)
    buttons: list[FollowUpButton] = []
    if not job.finished:
        cancel = t(locale, "render.button.cancel")
        buttons.append(_button(job, FollowUpKind.CANCEL, label=cancel, emoji="❌", style=discord.ButtonStyle.danger))
    elif job.status is not JobStatus.SUCCEEDED:
        if Reroll() in allowed:
            label = t(locale, "render.button.reroll")
            buttons.append(_button(job, FollowUpKind.REROLL, label=label, emoji="🔄", row=0))
        buttons.append(_button(job, FollowUpKind.CANCEL, emoji="❌", row=0))
    elif job.kind is JobKind.VIDEO:
        buttons.extend(_video_buttons(job, allowed, locale))
    elif is_grid(job):
        buttons.extend(_grid_buttons(job, allowed, locale))
    else:
        buttons.extend(_upscaled_buttons(job, allowed, locale))
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
    """💾 (its settings as a preset), 📩 (a copy in DMs) and ❌ (delete the result), at the end of every result."""
    save = [_button(job, FollowUpKind.SAVE, label=t(locale, "render.button.save"), emoji="💾", row=row)]
    return [
        *(save if savable(job) else []),
        _button(job, FollowUpKind.DM, label=t(locale, "render.button.dm"), emoji="📩", row=row),
        _button(job, FollowUpKind.CANCEL, emoji="❌", row=row),
    ]


def _video_buttons(job: Job, allowed: tuple[Action, ...], locale: LocaleLike) -> list[FollowUpButton]:
    buttons: list[FollowUpButton] = []
    clips = [action.clip for action in allowed if isinstance(action, ExtendClip)]
    for clip in clips:
        label = t(locale, "render.button.extend_clip", clip=clip)
        buttons.append(_button(job, FollowUpKind.EXTEND, str(clip), label=label, row=0))
    if clips:  # ✏️ Extend… picks one of the same clips, with a new prompt
        manual = t(locale, "render.button.extend_manual")
        buttons.append(_button(job, FollowUpKind.EXTEND_MANUAL, label=manual, emoji="✏️", row=1))
    if Reroll() in allowed:
        label = t(locale, "render.button.reroll")
        buttons.append(_button(job, FollowUpKind.REROLL, label=label, emoji="🔄", row=1))
    return buttons + _closing_buttons(job, row=1, locale=locale)


def _grid_buttons(job: Job, allowed: tuple[Action, ...], locale: LocaleLike) -> list[FollowUpButton]:
    row = 0
    buttons: list[FollowUpButton] = []
    # Animate N (a /video grid's) upscales image N, then animates it.
    animate = [
        _button(
            job,
            FollowUpKind.ANIMATE_QUADRANT,
            str(action.image),
            label=t(locale, "render.button.animate_image", index=action.image),
            emoji="🎬",
            style=discord.ButtonStyle.primary,
            row=row,
        )
        for action in allowed
        if isinstance(action, Animate) and action.image is not None
    ]
    buttons.extend(animate)
    row += bool(animate)
    for prefix, key in (("upscale", "render.button.upscale_n"), ("variation", "render.button.vary_n")):
        present = [index for index in GRID_INDEXES if ImageAction(f"{prefix}{index}") in allowed]
        buttons.extend(
            _button(job, FollowUpKind.IMAGE, f"{prefix}{index}", label=t(locale, key, index=index), row=row)
            for index in present
        )
        row += bool(present)
    if Reroll() in allowed:  # the API's reroll of the grid, as Midjourney's 🔄 (an IMAGE button since the start)
        buttons.append(_button(job, FollowUpKind.IMAGE, "reroll", emoji="🔄", row=row))
    return buttons + _closing_buttons(job, row=row, locale=locale)


def _upscaled_buttons(job: Job, allowed: tuple[Action, ...], locale: LocaleLike) -> list[FollowUpButton]:
    row = 0
    buttons: list[FollowUpButton] = []
    if Animate() in allowed:  # a video of this one image, with the motion the member picks
        for motion in ("low", "high"):
            label = t(locale, "render.button.animate_motion", motion=t(locale, f"render.motion.{motion}"))
            buttons.append(
                _button(
                    job, FollowUpKind.ANIMATE, motion, label=label, emoji="🎬", style=discord.ButtonStyle.primary, row=0
                )
            )
        row = 1
    for names in _UPSCALED_ROWS:
        present = [name for name in names if ImageAction(name) in allowed]
        for name in present:
            emoji, labelled = UPSCALED_BUTTONS[name]
            text = t(locale, f"render.button.{name}") if labelled else None
            buttons.append(_button(job, FollowUpKind.IMAGE, name, label=text, emoji=emoji, row=row))
        row += bool(present)
    return buttons + _closing_buttons(job, row=row, locale=locale)
