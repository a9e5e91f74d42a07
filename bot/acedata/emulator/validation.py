"""Checks of submit and task-lookup bodies, with the API's 400/403 answers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.acedata.models import GRID_ACTIONS, IMAGINE_MODES, RESOLUTIONS, UPSCALED_ACTIONS, VIDEO_MODES

from .tasks import Delivery, ImageOutput, TaskType, VideoOutput

#: Default of the ``timeout`` field: how long a held request waits before 504.
DEFAULT_TIMEOUT_S = 480.0
DEFAULT_BATCH_LIMIT = 12
MAX_PROMPT_IMAGES = 5
#: Actions the API knows but the emulated results never offer (so they are always refused as unavailable).
_OTHER_IMAGINE_ACTIONS = (
    "variation_region",
    "upscale_subtle",
    "upscale_creative",
    "square",
    "redo_upscale_2x",
    "redo_upscale_4x",
    "redo_upscale_subtle",
    "redo_upscale_creative",
)
IMAGINE_ACTIONS = frozenset(("generate", *GRID_ACTIONS, *UPSCALED_ACTIONS, *_OTHER_IMAGINE_ACTIONS))
VIDEO_ACTIONS = ("generate", "extend")
_QUALITIES = frozenset({".25", "0.25", ".5", "0.5", "1", "2", "4"})
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


class ApiProblem(Exception):
    """An error answer: HTTP status plus the envelope's code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiProblem:
    return ApiProblem(400, "bad_request", message)


@dataclass(frozen=True, slots=True)
class Submission:
    """A valid imagine or videos request, ready to become a task."""

    type: TaskType
    action: str
    prompt: str
    delivery: Delivery
    timeout: float
    callback_url: str | None = None
    callback_progress: bool = False
    split_images: bool = False
    parent_image: ImageOutput | None = None
    parent_video: VideoOutput | None = None
    video_index: int = 0


@dataclass(frozen=True, slots=True)
class BatchQuery:
    """A ``retrieve_batch``: by ids/trace ids, or (neither given) by creation time."""

    ids: tuple[str, ...] | None
    trace_ids: tuple[str, ...] | None
    offset: int
    limit: int
    created_at_min: float | None
    created_at_max: float | None
    type: str | None


def check_imagine(
    body: Mapping[str, Any],
    *,
    ndjson: bool,
    moderation_words: tuple[str, ...],
    find_image: Callable[[str], ImageOutput | None],
) -> Submission:
    action = _action(body, IMAGINE_ACTIONS, "generate")
    _enum(body, "mode", IMAGINE_MODES)
    for flag in ("split_images", "translation", "hd", "style_reference", "moodboard"):
        _boolean(body, flag)
    quality = body.get("quality")
    if quality is not None and str(quality) not in _QUALITIES:
        raise bad_request("quality must be one of .25, .5, 1, 2, 4")
    prompt = _prompt(body)
    parent: ImageOutput | None = None
    if action == "generate":
        if not prompt:
            raise bad_request("prompt is required")
        _check_image_prompt(prompt)
    else:
        image_id = body.get("image_id")
        if not isinstance(image_id, str) or not image_id:
            raise bad_request(f"image_id is required for action '{action}'")
        parent = find_image(image_id)
        if parent is None:
            raise bad_request(f"image_id '{image_id}' is unknown or its task has not finished")
        if action == "variation_region" and not body.get("mask"):
            raise bad_request("mask is required for variation_region")
        if action not in parent.actions:
            allowed = ", ".join(parent.actions) or "none"
            raise bad_request(f"action '{action}' is not available for image '{image_id}'; available: {allowed}")
    _moderate(prompt, moderation_words)
    return Submission(
        type="imagine",
        action=action,
        prompt=prompt,
        split_images=body.get("split_images") is True,
        parent_image=parent,
        **_delivery(body, ndjson),
    )


def check_videos(
    body: Mapping[str, Any],
    *,
    ndjson: bool,
    moderation_words: tuple[str, ...],
    find_video: Callable[[str], VideoOutput | None],
) -> Submission:
    action = _action(body, VIDEO_ACTIONS, "generate")
    _enum(body, "mode", VIDEO_MODES)
    _enum(body, "resolution", RESOLUTIONS)
    _boolean(body, "loop")
    prompt = _prompt(body)
    end_image_url = _url(body, "end_image_url")
    if body.get("loop") is True and end_image_url:
        raise bad_request("loop cannot be combined with end_image_url: a loop ends on its first frame")
    parent: VideoOutput | None = None
    index = 0
    if action == "generate":
        if not _url(body, "image_url"):
            raise bad_request("image_url is required: a video starts from an image")
    else:
        video_id = body.get("video_id")
        if not isinstance(video_id, str) or not video_id:
            raise bad_request("video_id is required for extend")
        raw_index = body.get("video_index", 0)
        if isinstance(raw_index, bool) or not isinstance(raw_index, int) or not 0 <= raw_index <= 3:
            raise bad_request("video_index must be an integer from 0 to 3")
        index = raw_index
        parent = find_video(video_id)
        if parent is None:
            raise bad_request(f"video_id '{video_id}' is unknown or its task has not finished")
    _moderate(prompt, moderation_words)
    return Submission(
        type="videos",
        action=action,
        prompt=prompt,
        parent_video=parent,
        video_index=index,
        **_delivery(body, ndjson),
    )


def check_batch(body: Mapping[str, Any]) -> BatchQuery:
    ids = _string_list(body, "ids")
    trace_ids = _string_list(body, "trace_ids")
    offset = _integer(body, "offset", 0, minimum=0)
    limit = _integer(body, "limit", DEFAULT_BATCH_LIMIT, minimum=1)
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        raise bad_request("type must be a string")
    return BatchQuery(
        ids=ids,
        trace_ids=trace_ids,
        offset=offset,
        limit=limit,
        created_at_min=_number(body, "created_at_min"),
        created_at_max=_number(body, "created_at_max"),
        type=kind or None,
    )


def leading_image_urls(prompt: str) -> list[str]:
    """The image URLs at the start of a prompt (image prompts and blends)."""
    urls = []
    for word in prompt.split():
        if not _URL.match(word):
            break
        urls.append(word)
    return urls


def _check_image_prompt(prompt: str) -> None:
    urls = leading_image_urls(prompt)
    if len(urls) > MAX_PROMPT_IMAGES:
        raise bad_request(f"at most {MAX_PROMPT_IMAGES} image URLs may lead the prompt, got {len(urls)}")
    if len(urls) == 1 and not prompt.split()[1:]:
        raise bad_request("an image prompt needs text or a second image")


def _moderate(prompt: str, words: tuple[str, ...]) -> None:
    for word in words:
        if word and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", prompt, re.IGNORECASE):
            raise ApiProblem(403, "forbidden", f"The prompt was refused by content moderation: '{word}' is not allowed")


def _delivery(body: Mapping[str, Any], ndjson: bool) -> dict[str, Any]:
    callback_url = body.get("callback_url")
    if callback_url is not None and (not isinstance(callback_url, str) or not _URL.match(callback_url)):
        raise bad_request("callback_url must be an http(s) URL")
    is_async = _boolean(body, "async")
    timeout = body.get("timeout")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_S
    elif isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise bad_request("timeout must be a positive number of seconds")
    delivery: Delivery
    if callback_url:
        delivery = "callback"
    elif is_async:
        delivery = "async"
    else:
        delivery = "stream" if ndjson else "hold"
    return {
        "delivery": delivery,
        "timeout": float(timeout),
        "callback_url": callback_url or None,
        "callback_progress": bool(callback_url) and ndjson,
    }


def _action(body: Mapping[str, Any], known: frozenset[str] | tuple[str, ...], default: str) -> str:
    action = body.get("action")
    if action is None:
        return default
    if not isinstance(action, str) or action not in known:
        raise bad_request(f"unknown action '{action}'")
    return action


def _prompt(body: Mapping[str, Any]) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise bad_request("prompt must be a string")
    return prompt.strip()


def _enum(body: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    value = body.get(name)
    if value is not None and value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, got '{value}'")


def _boolean(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise bad_request(f"{name} must be a boolean")
    return value is True


def _url(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _URL.match(value):
        raise bad_request(f"{name} must be an http(s) URL")
    return value


def _string_list(body: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"{name} must be a list of strings")
    return tuple(value)


def _integer(body: Mapping[str, Any], name: str, default: int, *, minimum: int) -> int:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise bad_request(f"{name} must be an integer of at least {minimum}")
    return value


def _number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request(f"{name} must be a number (Unix seconds)")
    return float(value)
