"""A job as a Discord message: one embed and the buttons its state allows. Pure functions, no I/O.

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

from bot.acedata.models import GRID_ACTIONS, UPSCALED_ACTIONS
from bot.options import CLIPS_PER_VIDEO
from bot.store.models import Job, JobKind, JobStatus
from bot.text import duration, progress_bar, shorten
from cogs.common import FollowUp, FollowUpKind
from cogs.ui.components import FollowUpButton

#: Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_LIMIT: Final = 256
DESCRIPTION_LIMIT: Final = 4096
FIELD_NAME_LIMIT: Final = 256
FIELD_VALUE_LIMIT: Final = 1024
FIELD_COUNT_LIMIT: Final = 25
FOOTER_LIMIT: Final = 2048
AUTHOR_LIMIT: Final = 256
EMBED_TOTAL_LIMIT: Final = 6000

SANDBOX_NOTE: Final = "Sandbox: made by the built-in emulator, nothing is charged"
TOO_LARGE_NOTE: Final = "too large to attach here"
#: A queued job: where it stands in its owner's queue, and what it waits for.
QUEUED_LINE: Final = "⏳ Queued — {position} in line; starts when {waits_for} finishes"
QUEUED_NEXT: Final = "next"
WAITS_FOR_ONE: Final = "your running job"
WAITS_FOR_MANY: Final = "one of your {count} running jobs"

_REASON_LIMIT: Final = 600
_NOTE_LIMIT: Final = 600
_LINKS_LIMIT: Final = 1800
_LINKED_URL_LIMIT: Final = 900
_IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp", ".gif")
_VIDEO_SUFFIXES: Final = (".mp4", ".webm", ".mov")
_NUMBERED = re.compile(r"(upscale|variation)([1-4])")
#: Actions whose result is one image (not a grid): only such an image can be animated.
_SINGLE_IMAGE = re.compile(r"upscale[1-4]|upscale_[24]x")

COLOURS: Final[Mapping[JobStatus, discord.Colour]] = {
    JobStatus.QUEUED: discord.Colour.light_grey(),
    JobStatus.SUBMITTING: discord.Colour.light_grey(),
    JobStatus.RUNNING: discord.Colour.blurple(),
    JobStatus.SUCCEEDED: discord.Colour.green(),
    JobStatus.FAILED: discord.Colour.red(),
    JobStatus.TIMED_OUT: discord.Colour.orange(),
    JobStatus.CANCELLED: discord.Colour.dark_grey(),
}

#: Follow-ups on an upscaled image, with Midjourney's labels: (emoji, label); pans are emoji-only, as in Midjourney.
UPSCALED_BUTTONS: Final[Mapping[str, tuple[str, str | None]]] = {
    "upscale_2x": ("🔍", "Upscale (2x)"),
    "upscale_4x": ("🔍", "Upscale (4x)"),
    "variation_subtle": ("🔀", "Vary (Subtle)"),
    "variation_strong": ("🔀", "Vary (Strong)"),
    "zoom_out_2x": ("🔭", "Zoom Out 2x"),
    "zoom_out_1_5x": ("🔭", "Zoom Out 1.5x"),
    "pan_left": ("⬅️", None),
    "pan_right": ("➡️", None),
    "pan_up": ("⬆️", None),
    "pan_down": ("⬇️", None),
}
_UPSCALED_ROWS: Final = (
    ("upscale_2x", "upscale_4x", "variation_subtle", "variation_strong"),
    ("zoom_out_2x", "zoom_out_1_5x"),
    ("pan_left", "pan_right", "pan_up", "pan_down"),
)

_IMAGE_TITLES: Final[Mapping[str, str]] = {
    "generate": "🖼️ Imagine",
    "reroll": "🔄 Reroll",
    "upscale_2x": "🔍 Upscale (2x)",
    "upscale_4x": "🔍 Upscale (4x)",
    "variation_subtle": "🔀 Vary (Subtle)",
    "variation_strong": "🔀 Vary (Strong)",
    "zoom_out_2x": "🔭 Zoom out 2x",
    "zoom_out_1_5x": "🔭 Zoom out 1.5x",
    "pan_left": "⬅️ Pan left",
    "pan_right": "➡️ Pan right",
    "pan_up": "⬆️ Pan up",
    "pan_down": "⬇️ Pan down",
}


@dataclass(frozen=True, slots=True)
class QueueSpot:
    """Where a queued job stands: 1 is next; ``running_limit`` is how many of the owner's jobs run meanwhile."""

    position: int
    running_limit: int | None = None


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th... 11th, 12th, 13th, 21st."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def queued_line(spot: QueueSpot) -> str:
    """The status of a queued job: "⏳ Queued — 2nd in line; starts when one of your 2 running jobs finishes"."""
    limit = spot.running_limit
    waits_for = WAITS_FOR_MANY.format(count=limit) if limit is not None and limit > 1 else WAITS_FOR_ONE
    position = QUEUED_NEXT if spot.position <= 1 else ordinal(spot.position)
    return QUEUED_LINE.format(position=position, waits_for=waits_for)


@dataclass(frozen=True)
class RenderedJob:
    """What to send or edit: the embeds, the buttons (None for none) and the message text (never user text)."""

    embeds: list[discord.Embed]
    view: discord.ui.View | None
    content: str | None = None


def job_meta(job: Job) -> Mapping[str, Any]:
    """The job's bot-side metadata (``video_grid``, ``then_animate``, ``clip``, ``motion``...), never None."""
    return job.meta if isinstance(job.meta, Mapping) else {}


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


def job_title(job: Job) -> str:
    """``🎬 Video``, ``🎬 Extend · clip 2``, ``🔍 Upscale · image 2``, ``🔀 Vary (Subtle)``..."""
    meta = job_meta(job)
    if job.kind is JobKind.VIDEO:
        if job.action == "extend":
            clip = _extended_clip(job)
            return f"🎬 Extend · clip {clip}" if clip else "🎬 Extend"
        motion = meta.get("motion")
        if motion in ("low", "high"):
            return f"🎬 Animate ({str(motion).capitalize()} motion)"
        return "🎬 Video"
    numbered = _NUMBERED.fullmatch(job.action)
    if numbered is not None:
        word, index = numbered.groups()
        if word == "upscale" and isinstance(meta.get("then_animate"), Mapping):
            return f"🎬 Animate · image {index}"
        return f"🔍 Upscale · image {index}" if word == "upscale" else f"🔀 Vary · image {index}"
    if job.action == "generate" and meta.get("video_grid"):
        return "🎬 Video · choose a start frame"
    title = _IMAGE_TITLES.get(job.action)
    return title or f"🖼️ {job.action.replace('_', ' ').capitalize()}"


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
) -> RenderedJob:
    """The message for ``job``: one embed (prompt, parameters, status, picture) and ``job_view(job)``.

    ``attachments`` are the names of the files sent with the message; an image among them is shown in the
    embed as ``attachment://NAME`` (else the job's own URL). ``links`` are result URLs that did not fit the
    upload limit, shown as links. ``note`` is a line of the caller's own text (markdown allowed). ``now``
    is the current Unix time, for the estimate of time left. ``allowance_text`` (what the owner has left
    today, plain text) goes in the footer; ``queue`` is where a queued job stands in its owner's queue.
    """
    clock = time.time() if now is None else now
    embed = discord.Embed(
        title=shorten(job_title(job), TITLE_LIMIT),
        colour=COLOURS.get(job.status, discord.Colour.light_grey()),
        timestamp=dt.datetime.fromtimestamp(job.created_at, tz=dt.UTC),
    )
    if owner_name:
        embed.set_author(name=shorten(owner_name, AUTHOR_LIMIT), icon_url=owner_avatar or None)
    for name, value in _parameter_fields(job)[: FIELD_COUNT_LIMIT - 1]:
        embed.add_field(name=name, value=value, inline=True)
    embed.add_field(name="Job", value=f"`{job.id}`", inline=True)
    footer = " · ".join(
        part for part in (f"Job {job.id}", (allowance_text or "").strip(), SANDBOX_NOTE if sandbox else "") if part
    )
    embed.set_footer(text=shorten(footer, FOOTER_LIMIT))
    _set_picture(embed, job, attachments)

    status = queued_line(queue) if queue is not None and job.status is JobStatus.QUEUED else _status(job, clock)
    tail = "\n\n".join(part for part in (status, _links(job, links), _note(note)) if part)
    # Title, author, fields and footer count towards the 6,000 as well; the prompt gets what is left.
    room = min(DESCRIPTION_LIMIT, EMBED_TOTAL_LIMIT - len(embed)) - len(tail) - len("****\n\n")
    prompt = job.prompt.strip()
    shown = f"**{fit_escaped(prompt, room)}**" if prompt and room > 20 else ""
    embed.description = "\n\n".join(part for part in (shown, tail) if part)
    return RenderedJob(embeds=[embed], view=job_view(job))


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


def job_view(job: Job) -> discord.ui.View | None:
    """The buttons this job's state allows, and only actions the API listed for it. None for no buttons."""
    buttons: list[FollowUpButton] = []
    if not job.finished:
        buttons.append(_button(job, FollowUpKind.CANCEL, label="Cancel", emoji="❌", style=discord.ButtonStyle.danger))
    elif job.status is not JobStatus.SUCCEEDED:
        buttons.append(_button(job, FollowUpKind.REROLL, label="Reroll", emoji="🔄", row=0))
        buttons.append(_button(job, FollowUpKind.CANCEL, emoji="❌", row=0))
    elif job.kind is JobKind.VIDEO:
        buttons.extend(_video_buttons(job))
    elif any(action in GRID_ACTIONS for action in job.actions):
        buttons.extend(_grid_buttons(job))
    else:
        buttons.extend(_upscaled_buttons(job))
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


def _closing_buttons(job: Job, row: int) -> list[FollowUpButton]:
    """📩 (a copy in DMs) and ❌ (delete the result), at the end of every finished result."""
    return [
        _button(job, FollowUpKind.DM, label="DM", emoji="📩", row=row),
        _button(job, FollowUpKind.CANCEL, emoji="❌", row=row),
    ]


def _video_buttons(job: Job) -> list[FollowUpButton]:
    buttons: list[FollowUpButton] = []
    if job.video_id:  # an extend names the video by its id; without one there is nothing to extend
        clips = min(len(job.video_urls), CLIPS_PER_VIDEO) or CLIPS_PER_VIDEO
        for clip in range(1, clips + 1):
            buttons.append(_button(job, FollowUpKind.EXTEND, str(clip), label=f"Extend {clip}", row=0))
        buttons.append(_button(job, FollowUpKind.EXTEND_MANUAL, label="Extend…", emoji="✏️", row=1))
    buttons.append(_button(job, FollowUpKind.REROLL, label="Reroll", emoji="🔄", row=1))
    return buttons + _closing_buttons(job, row=1)


def _grid_buttons(job: Job) -> list[FollowUpButton]:
    allowed = set(job.actions)
    row = 0
    buttons: list[FollowUpButton] = []
    if job_meta(job).get("video_grid"):
        # Animate N upscales image N, then animates it: only offered where the API allows upscale N.
        animate = [
            _button(
                job,
                FollowUpKind.ANIMATE_QUADRANT,
                str(index),
                label=f"Animate {index}",
                emoji="🎬",
                style=discord.ButtonStyle.primary,
                row=row,
            )
            for index in range(1, 5)
            if f"upscale{index}" in allowed
        ]
        buttons.extend(animate)
        row += bool(animate)
    for prefix, letter in (("upscale", "U"), ("variation", "V")):
        present = [index for index in range(1, 5) if f"{prefix}{index}" in allowed]
        buttons.extend(
            _button(job, FollowUpKind.IMAGE, f"{prefix}{index}", label=f"{letter}{index}", row=row) for index in present
        )
        row += bool(present)
    if "reroll" in allowed:
        buttons.append(_button(job, FollowUpKind.IMAGE, "reroll", emoji="🔄", row=row))
    return buttons + _closing_buttons(job, row=row)


def _upscaled_buttons(job: Job) -> list[FollowUpButton]:
    allowed = set(job.actions) & set(UPSCALED_ACTIONS)
    row = 0
    buttons: list[FollowUpButton] = []
    single = bool(allowed) or _SINGLE_IMAGE.fullmatch(job.action) is not None
    if job.image_url and single:  # Animate makes a video from this one image, so it needs the image's URL
        for motion in ("low", "high"):
            label = f"Animate ({motion.capitalize()} motion)"
            buttons.append(
                _button(
                    job, FollowUpKind.ANIMATE, motion, label=label, emoji="🎬", style=discord.ButtonStyle.primary, row=0
                )
            )
        row = 1
    for names in _UPSCALED_ROWS:
        present = [name for name in names if name in allowed]
        for name in present:
            emoji, text = UPSCALED_BUTTONS[name]
            buttons.append(_button(job, FollowUpKind.IMAGE, name, label=text, emoji=emoji, row=row))
        row += bool(present)
    return buttons + _closing_buttons(job, row=row)


# -- embed parts ------------------------------------------------------------------------------------------


def _extended_clip(job: Job) -> int | None:
    clip = job_meta(job).get("clip")
    if isinstance(clip, int) and not isinstance(clip, bool):
        return clip
    index = job.params.get("video_index")
    if isinstance(index, int) and not isinstance(index, bool):
        return index + 1
    return None


def _link(label: str, url: str) -> str:
    """A markdown link; parentheses and spaces in the URL are encoded so they cannot end the link early."""
    safe = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{label}]({safe})"


def _url_field(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return None
    return _link("open", url) if len(url) <= _LINKED_URL_LIMIT else "set (the link is too long to show)"


def _parameter_fields(job: Job) -> list[tuple[str, str]]:
    """(name, value) pairs for the parameters that shaped the job, each value within the field limits."""
    params = job.params
    meta = job_meta(job)
    fields: list[tuple[str, str]] = []

    def add(name: str, value: Any) -> None:
        if value not in (None, "", False):
            fields.append((name, shorten(str(value), FIELD_VALUE_LIMIT)))

    if job.kind is JobKind.VIDEO:
        add("Mode", params.get("mode"))
        add("Resolution", params.get("resolution"))
        add("Loop", "on" if params.get("loop") else None)
        add("End frame", _url_field(params.get("end_image_url")))
        motion = meta.get("motion")
        add("Motion", str(motion).capitalize() if motion in ("low", "high") else None)
        return fields
    add("Mode", params.get("mode"))
    plan = meta.get("then_animate") if isinstance(meta.get("then_animate"), Mapping) else meta.get("video_options")
    if isinstance(plan, Mapping):  # a grid or an upscale on its way to a video: what the video will be
        parts = [str(plan[key]) for key in ("resolution", "mode") if plan.get(key)]
        if plan.get("motion") in ("low", "high"):
            parts.append(f"{plan['motion']} motion")
        if plan.get("loop"):
            parts.append("loop")
        if plan.get("end_image_url"):
            parts.append("own end frame")
        if plan.get("bs") in (1, 2):
            parts.append(f"{plan['bs']} clip{'s' if plan['bs'] > 1 else ''}")
        add("Video", " · ".join(parts))
    return fields


def _status(job: Job, now: float) -> str:
    status = job.status
    if status is JobStatus.QUEUED:
        return f"⏳ Waiting to start · queued {relative_time(job.created_at)}"
    if status is JobStatus.SUBMITTING:
        return f"📨 Submitting · asked {relative_time(job.created_at)}"
    if status is JobStatus.RUNNING:
        started = job.submitted_at or job.created_at
        line = f"{progress_bar(job.progress)} · started {relative_time(started)}"
        if 0 < job.progress < 100 and now > started:
            left = (now - started) * (100 - job.progress) / job.progress
            line += f" · about {duration(left)} left"
        return line
    took = duration((job.finished_at or job.updated_at) - job.created_at)
    reason = job.error_message or job.error_code
    if status is JobStatus.SUCCEEDED:
        return f"✅ Done in {took}" + _success_hint(job)
    if status is JobStatus.FAILED:
        return f"❌ Failed: {fit_escaped(reason or 'the API gave no reason', _REASON_LIMIT)}"
    if status is JobStatus.TIMED_OUT:
        return f"⌛ Timed out: {fit_escaped(reason or f'no result after {took}', _REASON_LIMIT)}"
    return "🚫 Cancelled" + (f": {fit_escaped(reason, _REASON_LIMIT)}" if reason else "")


def _success_hint(job: Job) -> str:
    meta = job_meta(job)
    if job.kind is JobKind.VIDEO:
        return " · Extend a clip to make it about 4 s longer" if job.video_id else ""
    if isinstance(meta.get("then_animate"), Mapping):
        return " · animating it now"
    if meta.get("video_grid") and any(action.startswith("upscale") for action in job.actions):
        return " · pick a start frame with 🎬 Animate"
    return ""


def _links(job: Job, links: Sequence[str]) -> str:
    if not links:
        return ""
    word = "Clip" if job.kind is JobKind.VIDEO else "Image"
    shown: list[str] = []
    size = 0
    for index, url in enumerate(links, start=1):
        link = _link(f"{word} {index}", url)
        if size + len(link) + 3 > _LINKS_LIMIT:
            shown.append(f"{len(links) - index + 1} more not shown")
            break
        shown.append(link)
        size += len(link) + 3
    return f"🔗 {' · '.join(shown)} ({TOO_LARGE_NOTE})"


def _note(note: str | None) -> str:
    return shorten(note.strip(), _NOTE_LIMIT) if note and note.strip() else ""


def _set_picture(embed: discord.Embed, job: Job, attachments: Sequence[str]) -> None:
    """The cover, grid or upscale, as the embed's image (a thumbnail when the clips themselves are attached)."""
    names = [name for name in attachments if name.lower().endswith(_IMAGE_SUFFIXES)]
    url: str | None = f"attachment://{names[0]}" if names else job.image_url
    if url is None and job.kind is JobKind.VIDEO and not job.finished:
        start = job.params.get("image_url")  # the start frame, while its video is being made
        url = start if isinstance(start, str) and start.startswith(("http://", "https://")) else None
    if not url:
        return
    if any(name.lower().endswith(_VIDEO_SUFFIXES) for name in attachments):
        # Discord shows attached clips above the embed; a full-size cover below them would repeat them.
        embed.set_thumbnail(url=url)
    else:
        embed.set_image(url=url)
