"""The planner: given a job and an action, the typed request it makes, or a typed refusal.

Discord (buttons, reactions, the extend modal), the CLI and the chained video all plan here, so a
follow-up obeys the same rules wherever it is asked for. :func:`plan` is a pure function of the job;
:func:`plan_for` adds what needs the store (how many times a video was extended already).
"""

from __future__ import annotations

import dataclasses
from typing import Final, Protocol

from bot import frames
from bot.acedata.models import ApiRequest, ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.options import CLIPS_PER_VIDEO, clean_prompt, extend_request
from bot.store import JobMeta
from bot.store.models import Job, JobKind, JobStatus

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
    pick_clip,
)
from .animate import plan_animate
from .defaults import imagine_mode, video_settings

_GRID_UPSCALES: Final = frozenset({"upscale1", "upscale2", "upscale3", "upscale4"})
#: How far up a video's ancestors the extend count looks (rerolls of extensions sit between extensions).
_LINEAGE_LIMIT: Final = 64


class JobReader(Protocol):
    """What counting a video's extensions needs from the store."""

    async def get_job(self, job_id: str) -> Job | None: ...


def plan(job: Job, action: Action, *, extends: int = 0) -> Plan | Refusal:
    """What ``action`` on ``job`` makes; ``extends`` is how many extensions ``job``'s video is made of."""
    if isinstance(action, ExtendClip):
        return _plan_extend(job, action, extends)
    if isinstance(action, Reroll):
        return _plan_reroll(job)
    if isinstance(action, Animate):
        return plan_animate(job, action)
    return _plan_image(job, action)


async def plan_for(reader: JobReader, job: Job, action: Action) -> Plan | Refusal:
    """:func:`plan`, with the extensions of ``job``'s video counted from the store when ``action`` extends."""
    extends = await extends_of(reader, job) if isinstance(action, ExtendClip) else 0
    return plan(job, action, extends=extends)


def extendable(job: Job, extends: int) -> Refusal | None:
    """Why ``job``'s video cannot be extended (unfinished, not a video, or at the limit); None when it can."""
    if job.kind is not JobKind.VIDEO:
        return Refusal(RefusalCode.ONLY_VIDEOS)
    if job.status is not JobStatus.SUCCEEDED or not job.video_id:
        return Refusal(RefusalCode.VIDEO_UNFINISHED)
    if extends >= MAX_EXTENDS:
        return Refusal(RefusalCode.EXTEND_LIMIT, {"count": MAX_EXTENDS})
    return None


async def extends_of(reader: JobReader, job: Job) -> int:
    """How many extensions ``job``'s video is made of: its ancestors (itself first) that extended their parent.

    A reroll of an extension is an extension of the same video again, not one more: it extends its
    parent's parent, so it is passed over, and the extension it repeats is counted.
    """
    count = 0
    current: Job | None = job
    for _ in range(_LINEAGE_LIMIT):
        if current is None or current.action != "extend" or count >= MAX_EXTENDS:
            break
        parent = await reader.get_job(current.parent_id) if current.parent_id else None
        if _extends_parent(current, parent):
            count += 1
        current = parent
    return count


def _extends_parent(job: Job, parent: Job | None) -> bool:
    if job.meta.clip is not None:
        return True
    request = job.request
    return isinstance(request, VideoExtend) and parent is not None and parent.video_id == request.video_id


def _plan_extend(job: Job, action: ExtendClip, extends: int) -> Plan | Refusal:
    if not 1 <= action.clip <= clips_of(job):
        return pick_clip(clips_of(job))
    refusal = extendable(job, extends)
    if refusal is not None or job.video_id is None:
        return refusal or Refusal(RefusalCode.VIDEO_UNFINISHED)
    mode, resolution = video_settings(job)
    prompt = action.prompt if action.prompt and action.prompt.strip() else job.prompt
    request = extend_request(job.video_id, action.clip, prompt=prompt, mode=mode, resolution=resolution)
    return Plan(request, dataclasses.replace(_inherited(job), clip=action.clip))


def _inherited(job: Job) -> JobMeta:
    """What a follow-up's job keeps of its parent's meta: the /video options for a later video step."""
    return JobMeta(video_options=job.meta.video_options)


def _grid_meta(job: Job) -> JobMeta:
    """A new grid made from a /video grid is one too (it gets the Animate buttons)."""
    meta = _inherited(job)
    return dataclasses.replace(meta, video_grid=True) if meta.video_options is not None else meta


def _plan_reroll(job: Job) -> Plan | Refusal:
    request = job.request
    if job.kind is JobKind.VIDEO:
        again: ApiRequest
        if job.action == "extend" and isinstance(request, VideoExtend):
            again = request
        elif isinstance(request, VideoGenerate) and request.image_url:
            again = dataclasses.replace(request, prompt=request.prompt or job.prompt)
        else:
            return Refusal(RefusalCode.NO_START_FRAME)
        meta = frames.with_frames(_inherited(job), frames.inherited(job))
        return Plan(again, dataclasses.replace(meta, motion=job.meta.motion))
    mode = imagine_mode(job)
    if job.status is JobStatus.SUCCEEDED and job.image_id and "reroll" in job.actions:
        return Plan(ImagineAction("reroll", job.image_id, mode=mode), _grid_meta(job))
    asked = request.prompt if job.action == "generate" and isinstance(request, ImagineGenerate) else None
    return Plan(ImagineGenerate(prompt=clean_prompt(asked or job.prompt), mode=mode), _grid_meta(job))


def _plan_image(job: Job, action: ImageAction) -> Plan | Refusal:
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        return Refusal(RefusalCode.IMAGE_UNFINISHED)
    if action.name not in job.actions:
        return Refusal(RefusalCode.NOT_OFFERED)
    request = ImagineAction(action.name, job.image_id, mode=imagine_mode(job))
    makes_grid = action.name == "reroll" or action.name.startswith("variation")
    return Plan(request, _grid_meta(job) if makes_grid else _inherited(job))


def clips_of(job: Job) -> int:
    """How many clips a video has to extend: as many as its result holds (``--bs 1`` makes one), at most four."""
    return min(len(job.video_urls), CLIPS_PER_VIDEO) if job.video_urls else CLIPS_PER_VIDEO


def offered(job: Job) -> tuple[Action, ...]:
    """The follow-ups a finished job's result allows: extend and reroll for a video, the API's actions for an
    image, and Animate (of an upscaled image, or of each image of a grid). Nothing before the job succeeds."""
    if job.status is not JobStatus.SUCCEEDED:
        return ()
    if job.kind is JobKind.VIDEO:
        clips = tuple(ExtendClip(clip) for clip in range(1, clips_of(job) + 1)) if job.video_id else ()
        return (*clips, Reroll())
    actions: list[Action] = [ImageAction(name) for name in job.actions if name != "reroll"]
    if "reroll" in job.actions:
        actions.append(Reroll())
    if "upscale1" in job.actions:  # a grid: any of its images, upscaled first
        actions.extend(Animate(image=int(name[-1])) for name in job.actions if name in _GRID_UPSCALES)
    elif job.raw_image_url or job.image_url:
        actions.append(Animate())
    return tuple(actions)
