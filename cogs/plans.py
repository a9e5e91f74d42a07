"""How a follow-up becomes a job: the API request (and the job's meta) for a click on a job's message.

Pure functions of the job a follow-up is on: each raises UserFacingError when the follow-up does not fit
that job. The checks that need the store (how often a video was extended) stay with ``cogs.actions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bot import frames
from bot.acedata.models import (
    IMAGINE_MODES,
    RESOLUTIONS,
    VIDEO_MODES,
    ApiRequest,
    ImagineAction,
    ImagineGenerate,
    ImagineMode,
    Resolution,
    VideoExtend,
    VideoGenerate,
    VideoMode,
)
from bot.options import CLIPS_PER_VIDEO, clean_prompt, extend_request
from bot.store.models import Job, JobKind, JobStatus
from cogs.common import FollowUp, FollowUpKind, UserFacingError
from cogs.i18n import msg

MOTIONS: Final = ("low", "high")
#: Clips per video that ``--bs`` may ask for.
BATCH_SIZES: Final = (1, 2, 4)

NOT_OFFERED: Final = msg("actions.not_offered")
_MOTION_PARAM = re.compile(r"\s--motion\s+\S+", re.IGNORECASE)
_BATCH_PARAM = re.compile(r"\s--bs(?:\s+(?!--)\S+)?(?=\s|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Plan:
    """The job a follow-up will submit."""

    request: ApiRequest
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def then_animate(self) -> Mapping[str, Any] | None:
        """The options of the video this job is to be animated into once it succeeds (Animate 1-4)."""
        chained = self.meta.get("then_animate")
        return chained if isinstance(chained, Mapping) else None


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


def _video_mode(value: object) -> VideoMode:
    for mode in VIDEO_MODES:
        if value == mode:
            return mode
    return "fast"


def _imagine_mode(value: object) -> ImagineMode:
    for mode in IMAGINE_MODES:
        if value == mode:
            return mode
    return "fast"


def _resolution(value: object) -> Resolution:
    for resolution in RESOLUTIONS:
        if value == resolution:
            return resolution
    return "720p"


def video_options(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The /video options a job carries for the video step: mode, resolution, loop, and when given the motion,
    the end frame (``end_image_url``, from ``--end``) and the clip count (``bs``, from ``--bs``)."""
    raw = meta.get("video_options")
    options: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    result: dict[str, Any] = {
        "mode": _video_mode(options.get("mode")),
        "resolution": _resolution(options.get("resolution")),
        "loop": options.get("loop") is True,
    }
    if options.get("motion") in MOTIONS:
        result["motion"] = options["motion"]
    end = options.get("end_image_url")
    if isinstance(end, str) and end and not result["loop"]:
        result["end_image_url"] = end
    if options.get("bs") in BATCH_SIZES:
        result["bs"] = options["bs"]
    return result


def _inherited(job: Job) -> dict[str, Any]:
    """What a follow-up's job keeps of its parent's meta: the /video options for a later video step."""
    return {"video_options": dict(job.meta["video_options"])} if isinstance(job.meta.get("video_options"), dict) else {}


def _grid_meta(job: Job) -> dict[str, Any]:
    """A new grid made from a /video grid is one too (it gets the Animate buttons)."""
    meta = _inherited(job)
    if meta:
        meta["video_grid"] = True
    return meta


def _plan_reroll(job: Job) -> Plan:
    params = job.params
    if job.kind is JobKind.VIDEO:
        request: ApiRequest
        if job.action == "extend":
            request = VideoExtend(
                video_id=str(params.get("video_id") or ""),
                video_index=int(params.get("video_index") or 0),
                prompt=str(params["prompt"]) if params.get("prompt") else None,
                mode=_video_mode(params.get("mode")),
                resolution=_resolution(params["resolution"]) if params.get("resolution") else None,
                end_image_url=str(params["end_image_url"]) if params.get("end_image_url") else None,
            )
        else:
            image_url = params.get("image_url")
            if not image_url:
                raise UserFacingError(msg("actions.no_start_frame"))
            request = VideoGenerate(
                prompt=str(params.get("prompt") or job.prompt),
                image_url=str(image_url),
                end_image_url=str(params["end_image_url"]) if params.get("end_image_url") else None,
                loop=params.get("loop") is True,
                mode=_video_mode(params.get("mode")),
                resolution=_resolution(params.get("resolution")),
            )
        meta = {**_inherited(job), **frames.frames_meta(frames.inherited(job))}
        if job.meta.get("motion") in MOTIONS:
            meta["motion"] = job.meta["motion"]
        return Plan(request, meta)
    mode = _imagine_mode(params.get("mode"))
    if job.status is JobStatus.SUCCEEDED and job.image_id and "reroll" in job.actions:
        return Plan(ImagineAction("reroll", job.image_id, mode=mode), _grid_meta(job))
    prompt = str(params.get("prompt") or job.prompt) if job.action == "generate" else job.prompt
    return Plan(ImagineGenerate(prompt=clean_prompt(prompt), mode=mode), _grid_meta(job))


def _plan_image(job: Job, action: str) -> Plan:
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        raise UserFacingError(msg("actions.image_unfinished"))
    if action not in job.actions:
        raise UserFacingError(NOT_OFFERED)
    request = ImagineAction(action, job.image_id, mode=_imagine_mode(job.params.get("mode")))
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


def _plan_animate(job: Job, motion: str) -> Plan:
    if motion not in MOTIONS:
        raise UserFacingError(msg("actions.pick_motion"))
    image_url = job.raw_image_url or job.image_url
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not image_url:
        raise UserFacingError(msg("actions.animate_unfinished"))
    if "upscale1" in job.actions:
        raise UserFacingError(msg("actions.animate_grid"))
    options = video_options(job.meta)
    request = VideoGenerate(
        prompt=with_batch_size(with_motion(job.prompt, motion), options.get("bs")),
        image_url=image_url,
        end_image_url=options.get("end_image_url"),
        loop=options["loop"],
        mode=options["mode"],
        resolution=options["resolution"],
    )
    return Plan(request, {"motion": motion, "video_options": options, **frames.animated_from(job)})


def _plan_animate_quadrant(job: Job, arg: str) -> Plan:
    if arg not in ("1", "2", "3", "4"):
        raise UserFacingError(msg("actions.pick_image"))
    if job.kind is not JobKind.IMAGINE or job.status is not JobStatus.SUCCEEDED or not job.image_id:
        raise UserFacingError(msg("actions.grid_unfinished"))
    action = f"upscale{arg}"
    if action not in job.actions:
        raise UserFacingError(NOT_OFFERED)
    options = video_options(job.meta)
    request = ImagineAction(action, job.image_id, mode=_imagine_mode(job.params.get("mode")))
    return Plan(request, {"then_animate": {"motion": None, **options}, "video_options": options})


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
    params = job.params
    request = extend_request(
        video_id,
        clip,
        prompt=prompt,
        mode=_video_mode(params.get("mode")),
        resolution=_resolution(params.get("resolution")),
    )
    return Plan(request, {"clip": clip, **_inherited(job)})
