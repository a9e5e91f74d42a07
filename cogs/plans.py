"""How a follow-up becomes a job: the API request (and the job's meta) for a click on a job's message.

Pure functions of the job a follow-up is on: each raises UserFacingError when the follow-up does not fit
that job. The checks that need the store (how often a video was extended) stay with ``cogs.actions``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Final

from bot import frames
from bot.acedata.models import ApiRequest, ImagineAction, ImagineGenerate, ImagineMode, VideoExtend, VideoGenerate
from bot.options import CLIPS_PER_VIDEO, clean_prompt, extend_request
from bot.store import EMPTY_META, JobMeta, VideoOptions
from bot.store import meta as job_meta
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.i18n import msg

#: The motions an Animate may ask for, and the clips per video that ``--bs`` may ask for.
MOTIONS: Final = job_meta.MOTIONS
BATCH_SIZES: Final = job_meta.BATCH_SIZES

NOT_OFFERED: Final = msg("actions.not_offered")
_MOTION_PARAM = re.compile(r"\s--motion\s+\S+", re.IGNORECASE)
_BATCH_PARAM = re.compile(r"\s--bs(?:\s+(?!--)\S+)?(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Plan:
    """The job a follow-up will submit."""

    request: ApiRequest
    meta: JobMeta = EMPTY_META


def clip_number(arg: str | None) -> int:
    if arg is None or not arg.isdigit() or not 1 <= int(arg) <= CLIPS_PER_VIDEO:
        raise UserFacingError(msg("actions.pick_clip", limit=CLIPS_PER_VIDEO))
    return int(arg)


def require_video_result(job: Job) -> str:
    if job.kind is not JobKind.VIDEO:
        raise UserFacingError(msg("actions.only_videos"))
    if job.status is not JobStatus.SUCCEEDED or not job.video_id:
        raise UserFacingError(msg("actions.video_unfinished"))
    return job.video_id


def _imagine_mode(job: Job) -> ImagineMode:
    request = job.request
    return request.mode if isinstance(request, ImagineGenerate | ImagineAction) else "fast"


def video_options(meta: JobMeta) -> VideoOptions:
    """The /video options a job carries for the video step (the defaults when it carries none); an end frame
    (``--end``) only without a loop."""
    options = meta.video_options or VideoOptions()
    return dataclasses.replace(options, end_image_url=None) if options.loop else options


def _inherited(job: Job) -> JobMeta:
    """What a follow-up's job keeps of its parent's meta: the /video options for a later video step."""
    return JobMeta(video_options=job.meta.video_options)


def _grid_meta(job: Job) -> JobMeta:
    """A new grid made from a /video grid is one too (it gets the Animate buttons)."""
    meta = _inherited(job)
    return dataclasses.replace(meta, video_grid=True) if meta.video_options is not None else meta


def _plan_reroll(job: Job) -> Plan:
    request = job.request
    if job.kind is JobKind.VIDEO:
        again: ApiRequest
        if job.action == "extend" and isinstance(request, VideoExtend):
            again = request
        elif isinstance(request, VideoGenerate) and request.image_url:
            again = dataclasses.replace(request, prompt=request.prompt or job.prompt)
        else:
            raise UserFacingError(msg("actions.no_start_frame"))
        meta = frames.with_frames(_inherited(job), frames.inherited(job))
        return Plan(again, dataclasses.replace(meta, motion=job.meta.motion))
    mode = _imagine_mode(job)
    if job.status is JobStatus.SUCCEEDED and job.image_id and "reroll" in job.actions:
        return Plan(ImagineAction("reroll", job.image_id, mode=mode), _grid_meta(job))
    asked = request.prompt if job.action == "generate" and isinstance(request, ImagineGenerate) else None
    return Plan(ImagineGenerate(prompt=clean_prompt(asked or job.prompt), mode=mode), _grid_meta(job))


def _plan_image(job: Job, action: str) -> Plan:
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        raise UserFacingError(msg("actions.image_unfinished"))
    if action not in job.actions:
        raise UserFacingError(NOT_OFFERED)
    request = ImagineAction(action, job.image_id, mode=_imagine_mode(job))
    makes_grid = action == "reroll" or action.startswith("variation")
    return Plan(request, _grid_meta(job) if makes_grid else _inherited(job))


def with_motion(prompt: str, motion: str) -> str:
    """The prompt with exactly one ``--motion`` parameter, the one asked for."""
    return clean_prompt(f"{_MOTION_PARAM.sub('', ' ' + prompt).strip()} --motion {motion}")


def with_batch_size(prompt: str, size: int | None) -> str:
    """The prompt with the ``--bs`` the /video command was given (none when ``size`` is None)."""
    if size is None:
        return prompt
    return clean_prompt(f"{_BATCH_PARAM.sub('', ' ' + prompt).strip()} --bs {size}")


def _plan_animate(job: Job, arg: str) -> Plan:
    motion = next((known for known in MOTIONS if known == arg), None)
    if motion is None:
        raise UserFacingError(msg("actions.pick_motion"))
    image_url = job.raw_image_url or job.image_url
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not image_url:
        raise UserFacingError(msg("actions.animate_unfinished"))
    if "upscale1" in job.actions:
        raise UserFacingError(msg("actions.animate_grid"))
    options = video_options(job.meta)
    request = VideoGenerate(
        prompt=with_batch_size(with_motion(job.prompt, motion), options.batch_size),
        image_url=image_url,
        end_image_url=options.end_image_url,
        loop=options.loop,
        mode=options.mode,
        resolution=options.resolution,
    )
    return Plan(request, JobMeta(motion=motion, video_options=options, frames=frames.animated_from(job)))


def _plan_animate_quadrant(job: Job, arg: str) -> Plan:
    if arg not in ("1", "2", "3", "4"):
        raise UserFacingError(msg("actions.pick_image"))
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        raise UserFacingError(msg("actions.grid_unfinished"))
    action = f"upscale{arg}"
    if action not in job.actions:
        raise UserFacingError(NOT_OFFERED)
    options = video_options(job.meta)
    request = ImagineAction(action, job.image_id, mode=_imagine_mode(job))
    return Plan(request, JobMeta(then_animate=options, video_options=options))


def plan_follow_up(job: Job, follow_up: FollowUp) -> Plan:
    """The request a submitting follow-up other than an extend makes; UserFacingError when it does not fit."""
    kind = follow_up.kind
    if kind is FollowUpKind.REROLL:
        return _plan_reroll(job)
    if kind is FollowUpKind.IMAGE:
        return _plan_image(job, follow_up.arg or "")
    if kind is FollowUpKind.ANIMATE:
        return _plan_animate(job, follow_up.arg or "")
    if kind is FollowUpKind.ANIMATE_QUADRANT:
        return _plan_animate_quadrant(job, follow_up.arg or "")
    raise UserFacingError(msg("actions.does_nothing"))


def plan_extend(job: Job, clip: int, video_id: str, prompt: str) -> Plan:
    """Extend clip ``clip`` of the video ``video_id`` (``job``'s result) with ``prompt``."""
    made = job.request
    video = made if isinstance(made, VideoGenerate | VideoExtend) else None
    request = extend_request(
        video_id,
        clip,
        prompt=prompt,
        mode=video.mode if video is not None else "fast",
        resolution=(video.resolution if video is not None else None) or "720p",
    )
    return Plan(request, dataclasses.replace(_inherited(job), clip=clip))
