"""User options -> typed API requests, checked before any credit is spent.

Shared by the CLI and the Discord commands, so both refuse the same inputs with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from bot.acedata.models import (
    GRID_SIZE,
    IMAGINE_MODES,
    RESOLUTIONS,
    VIDEO_MODES,
    ImagineGenerate,
    ImagineMode,
    Resolution,
    VideoExtend,
    VideoGenerate,
    VideoMode,
)
from bot.readings import MAX_FILTERED_CHARS, reading_length
from bot.text import strip_invisible

#: The longest prompt the bot accepts. The API documents no limit; Midjourney prompts past a few
#: hundred words stop adding anything, and Discord shows at most 4,096 characters in an embed.
MAX_PROMPT_CHARS = 2000
MAX_URL_CHARS = 2048


class InputError(ValueError):
    """A user's option is wrong; the message says which one and what to do.

    ``key`` and ``params`` name the same message for the bot's language files (``input.*``), so a member
    reads it in their own language; the text given here is the English one the CLI prints.
    """

    def __init__(self, message: str, *, key: str | None = None, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.params: dict[str, object] = dict(params or {})


def clean_prompt(prompt: str) -> str:
    """The prompt as it is stored, shown and sent: invisible and control characters taken out, white space
    collapsed. Stripping rather than refusing keeps an innocent paste working; a prompt with nothing else in
    it is refused as empty."""
    text = " ".join(strip_invisible(prompt).split())
    if not text:
        raise InputError(
            "The prompt is empty: describe what should happen, for example `waves crash on rocks`.",
            key="input.prompt_empty",
        )
    if len(text) > MAX_PROMPT_CHARS:
        length, limit = f"{len(text):,}", f"{MAX_PROMPT_CHARS:,}"
        raise InputError(
            f"The prompt is {length} characters long; the limit is {limit}. Shorten it and try again.",
            key="input.prompt_too_long",
            params={"length": length, "limit": limit},
        )
    # The word filter reads the whole prompt spelled out (U+FDFA alone is 18 letters): bound what it reads.
    reading = reading_length(text)
    if reading > MAX_FILTERED_CHARS:
        length, limit = f"{reading:,}", f"{MAX_FILTERED_CHARS:,}"
        raise InputError(
            f"The prompt reads as {length} characters once its ligatures and special symbols are spelled out "
            f"(some count as several letters); the limit is {limit}. Write them as plain letters, or shorten "
            "the prompt.",
            key="input.prompt_expands",
            params={"length": length, "limit": limit},
        )
    return text


def check_image_url(url: str, *, option: str = "image_url") -> str:
    """Accept only absolute http(s) URLs; return the URL stripped of surrounding space."""
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"`{option}` must be an http:// or https:// link to an image, got `{value[:100]}`.",
            key="input.url_scheme",
            params={"option": option, "value": value[:100]},
        )
    if len(value) > MAX_URL_CHARS:
        raise InputError(
            f"`{option}` is longer than {MAX_URL_CHARS} characters; use a shorter link.",
            key="input.url_too_long",
            params={"option": option, "limit": MAX_URL_CHARS},
        )
    if any(ch.isspace() for ch in value):
        raise InputError(
            f"`{option}` contains spaces; paste one link only.", key="input.url_spaces", params={"option": option}
        )
    return value


def video_request(
    prompt: str,
    image_url: str,
    *,
    end_image_url: str | None = None,
    loop: bool = False,
    mode: str = "fast",
    resolution: str = "720p",
    names: tuple[str, str, str] = ("image_url", "end_image_url", "loop"),
) -> VideoGenerate:
    """``names`` are what the caller calls the start frame, end frame and loop options (the CLI: its flags)."""
    text = clean_prompt(prompt)
    start = check_image_url(image_url, option=names[0])
    end = check_image_url(end_image_url, option=names[1]) if end_image_url else None
    if loop and end:
        raise InputError(
            f"`{names[2]}` and an end frame can't be combined: a loop ends on its start frame. Drop one of them.",
            key="input.loop_and_end",
        )
    return VideoGenerate(
        prompt=text,
        image_url=start,
        end_image_url=end,
        loop=loop,
        mode=video_mode(mode),
        resolution=video_resolution(resolution),
    )


def extend_request(
    video_id: str, clip: int, *, prompt: str | None, mode: str = "fast", resolution: str | None = None
) -> VideoExtend:
    """``clip`` is 1-based, as users count; the API's ``video_index`` is 0-based."""
    if not 1 <= clip <= GRID_SIZE:
        raise InputError(
            f"Pick a clip from 1 to {GRID_SIZE}, got {clip}.",
            key="input.clip_range",
            params={"limit": GRID_SIZE, "clip": clip},
        )
    text = clean_prompt(prompt) if prompt and prompt.strip() else None
    return VideoExtend(
        video_id=video_id,
        video_index=clip - 1,
        prompt=text,
        mode=video_mode(mode),
        resolution=video_resolution(resolution) if resolution else None,
    )


def imagine_request(prompt: str, *, mode: str = "fast") -> ImagineGenerate:
    if mode not in IMAGINE_MODES:
        choices = ", ".join(IMAGINE_MODES)
        raise InputError(
            f"`mode` must be one of {choices}, got `{mode}`.",
            key="input.imagine_mode",
            params={"choices": choices, "mode": mode},
        )
    imagine_mode: ImagineMode = "fast" if mode == "fast" else "relax" if mode == "relax" else "turbo"
    return ImagineGenerate(prompt=clean_prompt(prompt), mode=imagine_mode)


def video_mode(mode: str) -> VideoMode:
    if mode == "fast":
        return "fast"
    if mode == "turbo":
        return "turbo"
    choices = ", ".join(VIDEO_MODES)
    raise InputError(
        f"`mode` must be one of {choices} for videos, got `{mode}`.",
        key="input.video_mode",
        params={"choices": choices, "mode": mode},
    )


def video_resolution(resolution: str) -> Resolution:
    if resolution == "480p":
        return "480p"
    if resolution == "720p":
        return "720p"
    choices = ", ".join(RESOLUTIONS)
    raise InputError(
        f"`resolution` must be one of {choices}, got `{resolution}`.",
        key="input.resolution",
        params={"choices": choices, "resolution": resolution},
    )
