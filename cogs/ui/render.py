"""A job as a Discord message: one embed and the buttons its state allows. Pure functions, no I/O.

Everything is worded in the job owner's language (``meta.locale`` of the job, unless a caller names one):
everyone in the channel sees the same message, and it answers the member who asked.

The buttons are built in ``cogs.ui.views`` (``job_view``, re-exported here).

Everything a member typed (the prompt) and everything the API said (a failure reason) is escaped for
markdown and mentions, and every piece is cut to fit Discord's limits, so no job can make a message
that Discord refuses.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import discord

from bot.acedata.models import GRID_SIZE, ImagineAction, ImagineGenerate, VideoExtend, VideoGenerate
from bot.store.models import Job, JobKind, JobStatus
from bot.text import duration, progress_bar, shorten
from cogs.i18n import SOURCE_LOCALE, LocaleLike, catalog, t, tn
from cogs.ui.footer import reproduction
from cogs.ui.queueing import QueueSpot, queued_line
from cogs.ui.views import UPSCALED_BUTTONS, JobView, job_view, owner_locale

#: Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT: Final = 256
DESCRIPTION_LIMIT: Final = 4096
FIELD_NAME_LIMIT: Final = 256
FIELD_VALUE_LIMIT: Final = 1024
FIELD_COUNT_LIMIT: Final = 25
FOOTER_LIMIT: Final = 2048
AUTHOR_LIMIT: Final = 256
EMBED_TOTAL_LIMIT: Final = 6000

#: The footer note of jobs made in sandbox mode, and the note on result links (in English; see ``render.*``).
SANDBOX_NOTE: Final = t(SOURCE_LOCALE, "render.sandbox_note")
TOO_LARGE_NOTE: Final = t(SOURCE_LOCALE, "render.too_large_note")

_REASON_LIMIT: Final = 600
_NOTE_LIMIT: Final = 600
_LINKS_LIMIT: Final = 1800
_LINKED_URL_LIMIT: Final = 900
_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_VIDEO_SUFFIXES: Final = (".mp4", ".webm", ".mov")
_NUMBERED = re.compile(rf"(upscale|variation)([1-{GRID_SIZE}])")

COLOURS: Final[Mapping[JobStatus, discord.Colour]] = {
    JobStatus.QUEUED: discord.Colour.light_grey(),
    JobStatus.SUBMITTING: discord.Colour.light_grey(),
    JobStatus.RUNNING: discord.Colour.blurple(),
    JobStatus.SUCCEEDED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.TIMED_OUT: discord.Colour.orange(),
    JobStatus.CANCELLED: discord.Colour.dark_grey(),
}

__all__ = [
    "AUTHOR_LIMIT",
    "COLOURS",
    "DESCRIPTION_LIMIT",
    "EMBED_TOTAL_LIMIT",
    "FIELD_COUNT_LIMIT",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "SANDBOX_NOTE",
    "TITLE_LIMIT",
    "TOO_LARGE_NOTE",
    "UPSCALED_BUTTONS",
    "JobView",
    "QueueSpot",
    "RenderedJob",
    "escape_user_text",
    "fit_escaped",
    "job_title",
    "job_view",
    "owner_locale",
    "parameter_fields",
    "queued_line",
    "relative_time",
    "render_job",
]

#: Image actions with a title of their own (``render.action.<action>``).
_IMAGE_TITLES: Final = frozenset(
    {
        "generate",
        "reroll",
        "upscale_2x",
        "upscale_4x",
        "variation_subtle",
        "variation_strong",
        "zoom_out_2x",
        "zoom_out_1_5x",
        "pan_left",
        "pan_right",
        "pan_up",
        "pan_down",
    }
)


@dataclass(frozen=True)
class RenderedJob:
    """What to send or edit: the embeds, the buttons (None for none) and the message text (never user text)."""

    embeds: list[discord.Embed]
    view: discord.ui.View | None
    content: str | None = None


def _word(locale: LocaleLike, table: str, value: object) -> str:
    """``value`` (a mode, a motion) in words when the language files have it, else as the API names it."""
    key = f"{table}.{value}"
    return t(locale, key) if catalog().has(key) else str(value)


def escape_user_text(text: str) -> str:
    """Markdown and mentions escaped: a prompt shows as typed and can never ping anyone."""
    return discord.utils.escape_markdown(discord.utils.escape_mentions(text))


def fit_escaped(text: str, limit: int) -> str:
    """``escape_user_text(text)``, cut (with an ellipsis) so the escaped result has at most ``limit`` characters.

    The text is cut before it is escaped, so a cut never leaves half an escape behind.
    """
    escaped = escape_user_text(text)
    if len(escaped) <= limit:
        return escaped
    if limit <= 1:
        return "…"[:limit]
    low, high = 0, len(text)
    while low < high:  # the longest prefix whose escaped form, plus the ellipsis, fits
        middle = (low + high + 1) // 2
        if len(escape_user_text(text[:middle].rstrip())) + 1 <= limit:
            low = middle
        else:
            high = middle - 1
    return escape_user_text(text[:low].rstrip()) + "…"


def relative_time(timestamp: float) -> str:
    """A Discord timestamp (``<t:1700000000:R>``) that every client shows as "2 minutes ago" and keeps current."""
    return f"<t:{int(timestamp)}:R>"


def job_title(job: Job, locale: LocaleLike = None) -> str:
    """``🎬 Video``, ``🎬 Extend · clip 2``, ``🔍 Upscale · image 2``, ``🔀 Vary (Subtle)``..."""
    locale = owner_locale(job, locale)
    meta = job.meta
    if job.kind is JobKind.VIDEO:
        if job.action == "extend":
            clip = _extended_clip(job)
            return t(locale, "render.title.extend_clip", clip=clip) if clip else t(locale, "render.title.extend")
        motion = meta.motion
        if motion is not None:
            return t(locale, "render.title.animate_motion", motion=t(locale, f"render.motion.{motion}"))
        return t(locale, "render.title.video")
    numbered = _NUMBERED.fullmatch(job.action)
    if numbered is not None:
        word, index = numbered.groups()
        if word == "upscale" and meta.then_animate is not None:
            return t(locale, "render.title.animate_image", index=index)
        key = "render.title.upscale_image" if word == "upscale" else "render.title.vary_image"
        return t(locale, key, index=index)
    if job.action == "generate" and meta.video_grid:
        return t(locale, "render.title.video_grid")
    if job.action in _IMAGE_TITLES:
        return t(locale, f"render.action.{job.action}")
    return f"🖼️ {job.action.replace('_', ' ').capitalize()}"


def render_job(
    job: Job,
    *,
    owner_name: str | None,
    owner_avatar: str | None = None,
    sandbox: bool,
    attachments: Sequence[str] = (),
    links: Sequence[str] = (),
    note: str | None = None,
    now: float | None = None,
    allowance_text: str | None = None,
    queue: QueueSpot | None = None,
    locale: LocaleLike = None,
) -> RenderedJob:
    """The message for ``job``: one embed (prompt, parameters, status, picture) and ``job_view(job)``.

    ``attachments`` are the names of the files sent with the message; an image among them is shown in the
    embed as ``attachment://NAME`` (else the job's own URL). ``links`` are result URLs that did not fit the
    upload limit, shown as links. ``note`` is a line of the caller's own text (markdown allowed). ``now``
    is the current Unix time, for the estimate of time left. ``allowance_text`` (what the owner has left
    today, plain text) goes in the footer; ``queue`` is where a queued job stands in its owner's queue.
    ``locale`` is the language of the message (by default the owner's, as stored with the job).
    """
    locale = owner_locale(job, locale)
    clock = time.time() if now is None else now
    embed = discord.Embed(
        title=shorten(job_title(job, locale), TITLE_LIMIT),
        colour=COLOURS.get(job.status, discord.Colour.light_grey()),
        timestamp=dt.datetime.fromtimestamp(job.created_at, tz=dt.UTC),
    )
    if owner_name:
        embed.set_author(name=shorten(owner_name, AUTHOR_LIMIT), icon_url=owner_avatar or None)
    for name, value in _parameter_fields(job, locale)[: FIELD_COUNT_LIMIT - 1]:
        embed.add_field(name=name, value=value, inline=True)
    embed.add_field(name=t(locale, "render.field.job"), value=f"`{job.id}`", inline=True)
    parts = (
        t(locale, "render.footer_job", job=job.id),
        (allowance_text or "").strip(),
        t(locale, "render.sandbox_note") if sandbox else "",
    )
    footer = t(locale, "render.separator").join(part for part in parts if part)
    if job.finished:  # a result shows all it was made with, so it can be made again
        room = FOOTER_LIMIT - len(footer) - len(t(locale, "render.separator"))
        made_with = reproduction(job, room, locale)
        footer = t(locale, "render.separator").join(part for part in (parts[0], made_with, *parts[1:]) if part)
    embed.set_footer(text=shorten(footer, FOOTER_LIMIT))
    _set_picture(embed, job, attachments)

    if queue is not None and job.status is JobStatus.QUEUED:
        status = queued_line(queue, locale, now=clock)
    else:
        status = _status(job, clock, locale)
    tail = "\n\n".join(part for part in (status, _links(job, links, locale), _note(note)) if part)
    # Title, author, fields and footer count towards the 6,000 as well; the prompt gets what is left.
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(embed)) - len(tail) - len("****\n\n")
    prompt = job.prompt.strip()
    shown = f"**{fit_escaped(prompt, room)}**" if prompt and room > 20 else ""
    embed.description = "\n\n".join(part for part in (shown, tail) if part)
    return RenderedJob(embeds=[embed], view=job_view(job, locale))


# -- embed parts ------------------------------------------------------------------------------------------


def _extended_clip(job: Job) -> int | None:
    if job.meta.clip is not None:
        return job.meta.clip
    request = job.request
    return request.video_index + 1 if isinstance(request, VideoExtend) else None


def _link(label: str, url: str) -> str:
    """A markdown link; parentheses and spaces in the URL are encoded so they cannot end the link early."""
    safe = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{label}]({safe})"


def _url_field(url: Any, locale: LocaleLike) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    if len(url) > _LINKED_URL_LIMIT:
        return t(locale, "render.link_too_long")
    return _link(t(locale, "render.link_open"), url)


def parameter_fields(job: Job, locale: LocaleLike = None) -> list[tuple[str, str]]:
    """The parameters shown on a job's message, as (name, value) pairs: a job's confirmation card shows them too."""
    return _parameter_fields(job, owner_locale(job, locale))


def _parameter_fields(job: Job, locale: LocaleLike) -> list[tuple[str, str]]:
    """(name, value) pairs for the parameters that shaped the job, each value within the field limits."""
    request = job.request
    meta = job.meta
    fields: list[tuple[str, str]] = []

    def add(field: str, value: Any) -> None:
        if value not in (None, "", False):
            fields.append((t(locale, f"render.field.{field}"), shorten(str(value), FIELD_VALUE_LIMIT)))

    def mode(value: Any) -> str | None:
        return _word(locale, "render.mode", value) if value else None

    if job.kind is JobKind.VIDEO:
        if isinstance(request, VideoGenerate | VideoExtend):
            add("mode", mode(request.mode))
            add("resolution", request.resolution)
            add("loop", t(locale, "render.loop_on") if isinstance(request, VideoGenerate) and request.loop else None)
            add("end_frame", _url_field(request.end_image_url, locale))
        motion = meta.motion
        add("motion", t(locale, f"render.motion.{motion}") if motion is not None else None)
        return fields
    add("mode", mode(request.mode) if isinstance(request, ImagineGenerate | ImagineAction) else None)
    plan = meta.then_animate or meta.video_options
    if plan is not None:  # a grid or an upscale on its way to a video: what the video will be
        parts = [plan.resolution, _word(locale, "render.mode", plan.mode)]
        if plan.motion is not None:
            parts.append(t(locale, f"render.plan.motion_{plan.motion}"))
        if plan.loop:
            parts.append(t(locale, "render.plan.loop"))
        if plan.end_image_url:
            parts.append(t(locale, "render.plan.own_end_frame"))
        if plan.batch_size in (1, 2):
            parts.append(tn(locale, "render.plan.clips", plan.batch_size))
        add("video", t(locale, "render.separator").join(parts))
    return fields


def _status(job: Job, now: float, locale: LocaleLike) -> str:
    status = job.status
    if status is JobStatus.QUEUED:
        return t(locale, "render.status.queued", when=relative_time(job.created_at))
    if status is JobStatus.SUBMITTING:
        return t(locale, "render.status.submitting", when=relative_time(job.created_at))
    if status is JobStatus.RUNNING:
        started = job.submitted_at or job.created_at
        bar, when = progress_bar(job.progress), relative_time(started)
        if 0 < job.progress < 100 and now > started:
            left = duration((now - started) * (100 - job.progress) / job.progress)
            return t(locale, "render.status.running_left", bar=bar, when=when, left=left)
        return t(locale, "render.status.running", bar=bar, when=when)
    took = duration((job.finished_at or job.updated_at) - job.created_at)
    reason = job.error_message or job.error_code
    if status is JobStatus.SUCCEEDED:
        done = t(locale, "render.status.done", took=took)
        hint = _success_hint(job, locale)
        return t(locale, "render.separator").join((done, hint)) if hint else done
    if status is JobStatus.FAILED:
        shown = fit_escaped(reason or t(locale, "render.status.no_reason"), _REASON_LIMIT)
        return t(locale, "render.status.failed", reason=shown)
    if status is JobStatus.TIMED_OUT:
        shown = fit_escaped(reason or t(locale, "render.status.no_result", took=took), _REASON_LIMIT)
        return t(locale, "render.status.timed_out", reason=shown)
    if reason:
        return t(locale, "render.status.cancelled_reason", reason=fit_escaped(reason, _REASON_LIMIT))
    return t(locale, "render.status.cancelled")


def _success_hint(job: Job, locale: LocaleLike) -> str:
    meta = job.meta
    if job.kind is JobKind.VIDEO:
        return t(locale, "render.hint.extend") if job.video_id else ""
    if meta.then_animate is not None:
        return t(locale, "render.hint.animating")
    if meta.video_grid and any(action.startswith("upscale") for action in job.actions):
        return t(locale, "render.hint.pick_frame")
    return ""


def _links(job: Job, links: Sequence[str], locale: LocaleLike) -> str:
    if not links:
        return ""
    word = "render.link_clip" if job.kind is JobKind.VIDEO else "render.link_image"
    shown: list[str] = []
    size = 0
    for index, url in enumerate(links, start=1):
        link = _link(t(locale, word, index=index), url)
        if size + len(link) + 3 > _LINKS_LIMIT:
            shown.append(t(locale, "render.more_links", count=len(links) - index + 1))
            break
        shown.append(link)
        size += len(link) + 3
    joined = t(locale, "render.separator").join(shown)
    return t(locale, "render.links", links=joined, note=t(locale, "render.too_large_note"))


def _note(note: str | None) -> str:
    return shorten(note.strip(), _NOTE_LIMIT) if note and note.strip() else ""


def _set_picture(embed: discord.Embed, job: Job, attachments: Sequence[str]) -> None:
    """The cover, grid or upscale, as the embed's image (a thumbnail when the clips themselves are attached)."""
    names = [name for name in attachments if name.lower().endswith(_IMAGE_SUFFIXES)]
    url: str | None = f"attachment://{names[0]}" if names else job.image_url
    if url is None and job.kind is JobKind.VIDEO and not job.finished:
        request = job.request  # the start frame, while its video is being made
        start = request.image_url if isinstance(request, VideoGenerate) else ""
        url = start if start.startswith(("http://", "https://")) else None
    if not url:
        return
    if any(name.lower().endswith(_VIDEO_SUFFIXES) for name in attachments):
        # Discord shows attached clips above the embed; a full-size cover below them would repeat them.
        embed.set_thumbnail(url=url)
    else:
        embed.set_image(url=url)
