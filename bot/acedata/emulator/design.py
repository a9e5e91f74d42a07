"""What a new emulated task turns out to be: whether it fails, and the picture or video it shows."""

from __future__ import annotations

import random

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS

from .media import IMAGE_SIDE, RAW_SIDE, aspect_size, blend, palette
from .tasks import ImageOutput, TaskStore, VideoOutput
from .validation import Submission

_FINAL_ACTIONS_AFTER_BIG_UPSCALE = tuple(a for a in UPSCALED_ACTIONS if a not in ("upscale_2x", "upscale_4x"))
#: How far each follow-up moves away from the picture it starts from (0 = same colours).
_DRIFT = {
    "reroll": 1.0,
    "variation_subtle": 0.15,
    "variation_strong": 0.45,
    "zoom_out_2x": 0.25,
    "zoom_out_1_5x": 0.2,
}


class TaskDesigner:
    """Owns the emulator's dice: a seeded generator for failures and looks, and a system one for media ids.

    Seeded, so a run can be repeated. Ids never come from it, so a restarted sandbox cannot hand out an id that a
    bot's store already holds.
    """

    def __init__(self, seed: int | None, store: TaskStore) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - not security
        self._ids = random.SystemRandom()
        self._store = store

    def fails(self, rate: float) -> bool:
        """Whether a new task fails, at ``rate`` (a roll only when the rate is above zero)."""
        return rate > 0 and self._rng.random() < rate

    def _new_media_id(self) -> str:
        while True:
            media_id = str(self._ids.randrange(10**18, 10**19))
            if not self._store.has_media_id(media_id):
                return media_id

    def image_output(self, submission: Submission, task_id: str) -> ImageOutput:
        """The picture an imagine task shows: a new one, or one made from its parent's by the action."""
        action = submission.action
        parent = submission.parent_image
        fresh = palette(f"{submission.prompt}|{task_id}")
        if parent is None:
            width, height = aspect_size(submission.prompt, IMAGE_SIDE)
            colours = fresh
        else:
            width, height = _fit(parent.size, IMAGE_SIDE)
            if action.startswith("upscale") and action[-1].isdigit():
                colours = (parent.colours[int(action[-1]) - 1],)
            elif action in ("upscale_2x", "upscale_4x"):
                colours = parent.colours
                factor = 2 if action == "upscale_2x" else 4
                width, height = parent.size[0] * factor, parent.size[1] * factor
            elif action.startswith("variation") and action[-1].isdigit():
                anchor = parent.colours[int(action[-1]) - 1]
                colours = tuple(blend(anchor, colour, 0.3) for colour in fresh)
            else:
                drift = _DRIFT.get(action, 0.3)
                colours = tuple(blend(parent.colours[i % len(parent.colours)], fresh[i], drift) for i in range(4))
        grid = len(colours) == 4
        if grid:
            actions = GRID_ACTIONS
            scale = RAW_SIDE / IMAGE_SIDE
            raw_size = (round(width * scale), round(height * scale))
        else:
            actions = _FINAL_ACTIONS_AFTER_BIG_UPSCALE if action in ("upscale_2x", "upscale_4x") else UPSCALED_ACTIONS
            raw_size = (width, height)
        return ImageOutput(
            image_id=self._new_media_id(),
            grid=grid,
            actions=actions,
            colours=colours,
            size=(width, height),
            raw_size=raw_size,
            split_images=submission.split_images,
        )

    def video_output(self, submission: Submission, task_id: str) -> VideoOutput:
        """The video a videos task shows: four clips, and a cover drawn from its parent's when it has one."""
        parent = submission.parent_video
        start = self._rng.randrange(4) if parent is None else parent.clips[submission.video_index] + 1
        clips = (start % 4, (start + 1) % 4, (start + 2) % 4, (start + 3) % 4)
        cover = palette(f"{submission.prompt}|{task_id}", 1)[0]
        if parent is not None:
            cover = blend(parent.cover, cover, 0.3)
        return VideoOutput(video_id=self._new_media_id(), clips=clips, cover=cover)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """``size`` scaled so that its longest side is ``side``."""
    width, height = size
    longest = max(width, height, 1)
    return max(2, round(width * side / longest)), max(2, round(height * side / longest))
