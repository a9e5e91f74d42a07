"""The footer line that lets a result be made again: where it came from and every parameter it was made with.

``/video · prompt: waves crash --motion high · mode fast · 720p · loop · start frame`` or, for a follow-up,
``upscale2 of job abc123 · prompt: … · mode fast``. Frames are named, never linked (their links expire, and a
footer shows no links); the prompt is the part that is shortened when the line must fit Discord's footer.
"""

from __future__ import annotations

from typing import Final

import discord

from bot.acedata.models import ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.store.models import Job, JobKind
from bot.text import shorten
from cogs.i18n import LocaleLike, t, tn

#: A prompt is never cut shorter than this: below it, the prompt is left out rather than shown as a stub.
_MIN_PROMPT: Final = 12


def reproduction(job: Job, room: int, locale: LocaleLike = None) -> str:
    """The job's origin and parameters in at most ``room`` characters (the prompt shortened to fit)."""
    sep = t(locale, "render.separator")
    request = job.request
    head = [_origin(job, locale)]
    tail: list[str] = []
    prompt = job.prompt
    if isinstance(request, VideoGenerate | VideoExtend | ImagineGenerate | ImagineAction):
        prompt = request.prompt or job.prompt
        tail.append(t(locale, "render.repro.mode", mode=request.mode))
    if isinstance(request, VideoGenerate | VideoExtend) and request.resolution:
        tail.append(request.resolution)
    if isinstance(request, VideoGenerate):
        tail += [t(locale, "render.repro.loop")] if request.loop else []
        tail.append(t(locale, "render.repro.start_frame"))
    if isinstance(request, VideoGenerate | VideoExtend) and request.end_image_url:
        tail.append(t(locale, "render.repro.end_frame"))
    if isinstance(request, VideoExtend):
        tail.append(t(locale, "render.repro.clip", clip=request.video_index + 1))
    options = job.meta.then_animate or job.meta.video_options
    if job.kind is JobKind.IMAGINE and options is not None:
        video = [options.resolution, t(locale, "render.repro.mode", mode=options.mode)]
        video += [t(locale, "render.repro.loop")] if options.loop else []
        video += [t(locale, f"render.plan.motion_{options.motion}")] if options.motion else []
        video += [t(locale, "render.repro.end_frame")] if options.end_image_url else []
        video += [tn(locale, "render.plan.clips", options.batch_size)] if options.batch_size else []
        tail.append(t(locale, "render.repro.video", options=", ".join(video)))
    fixed = sep.join([*head, *tail])
    if len(fixed) > room:
        return shorten(fixed, room)
    prompt = discord.utils.escape_mentions(" ".join(prompt.split()))  # a footer shows no markdown, but pings nobody
    label = t(locale, "render.repro.prompt", prompt="")
    left = room - len(fixed) - len(sep) - len(label)
    if not prompt or left < min(_MIN_PROMPT, len(prompt)):
        return fixed
    return sep.join([*head, t(locale, "render.repro.prompt", prompt=shorten(prompt, left)), *tail])


def _origin(job: Job, locale: LocaleLike) -> str:
    """``/video`` or ``/imagine`` for a job a command made, else the follow-up and the job it was made from."""
    if job.parent_id is not None:
        return t(locale, "render.repro.from_job", action=job.action, job=job.parent_id)
    command = "video" if job.kind is JobKind.VIDEO or job.meta.video_grid else "imagine"
    return f"/{command}"
