"""The planner: given a job and an action, the typed request it makes, or a typed refusal.

Discord (buttons, reactions, the extend modal), the CLI and the chained video all plan here, so a
follow-up obeys the same rules wherever it is asked for. :func:`plan` is a pure function of the job;
:func:`plan_for` adds what needs the store (how many times a video was extended already).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final, Protocol

from bot import frames
from bot.acedata.models import ApiRequest, ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.options import InputError, clean_prompt, extend_request
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
from .offers import allows, clips_of

#: The prompt's input errors (``bot.options.clean_prompt``), as the refusals that word them.
_PROMPT_REFUSALS: Final[Mapping[str | None, RefusalCode]] = {
    "input.prompt_empty": RefusalCode.PROMPT_EMPTY,
    "input.prompt_too_long": RefusalCode.PROMPT_TOO_LONG,
    "input.prompt_expands": RefusalCode.PROMPT_EXPANDS,
}


class JobReader(Protocol):
    """What counting a video's extensions needs from the store."""

    async def get_job(self, job_id: str) -> Job | None: ...


def plan(job: Job, action: Action, *, extends: int = 0) -> Plan | Refusal:
    """What ``action`` on ``job`` makes; ``extends`` is how many extensions ``job``'s video is made of.

    Never raises for an action or a job: what does not fit is a refusal, the most specific one first, and
    any action that ``offered(job)`` does not list is refused even when a request could be made of it.
    """
    try:
        outcome = _plan(job, action, extends)
    except InputError as error:  # the prompt it would send (its own, or the one given) is not one to send
        return Refusal(_PROMPT_REFUSALS[error.key], error.params)
    if isinstance(outcome, Plan) and not allows(job, action):
        return Refusal(RefusalCode.NOT_OFFERED if job.finished else RefusalCode.JOB_UNFINISHED)
    return outcome


def _plan(job: Job, action: Action, extends: int) -> Plan | Refusal:
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
    """How many extensions ``job``'s video is made of (at most ``MAX_EXTENDS``, which is all the limit needs).

    An extension records the count when it is planned, and a reroll of it the same count, so one read of the
    job answers. A job made before the count was recorded is counted from its ancestors (itself first) that
    extended their parent: a reroll of an extension is an extension of the same video again, not one more (it
    extends its parent's parent), so it is passed over, however many rerolls there are, and the extension it
    repeats is counted.
    """
    count = 0
    current: Job | None = job
    seen: set[str] = set()
    while current is not None and current.action == "extend" and count < MAX_EXTENDS and current.id not in seen:
        if current.meta.extends is not None:
            return min(count + current.meta.extends, MAX_EXTENDS)
        seen.add(current.id)
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
    return Plan(request, dataclasses.replace(_inherited(job), clip=action.clip, extends=extends + 1))


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
        # Made again, an extension is as many extensions deep as the one it repeats.
        extends = job.meta.extends if job.action == "extend" else None
        return Plan(again, dataclasses.replace(meta, motion=job.meta.motion, extends=extends))
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
