"""Typed requests to, and results from, the Ace Data Cloud Midjourney API.

Raw JSON never leaves ``bot.acedata``: requests know how to turn themselves into a body, and
results are parsed here, at the boundary, into immutable typed objects. The parsers are lenient
where the API's own documentation contradicts itself (sizes as strings or ints, a missing
``success``, ``duration`` instead of ``elapsed``, ``{}`` for an unknown task).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, TypeGuard

VideoMode = Literal["fast", "turbo"]
ImagineMode = Literal["fast", "relax", "turbo"]
Resolution = Literal["480p", "720p"]

VIDEO_MODES: tuple[VideoMode, ...] = ("fast", "turbo")
IMAGINE_MODES: tuple[ImagineMode, ...] = ("fast", "relax", "turbo")
RESOLUTIONS: tuple[Resolution, ...] = ("480p", "720p")

#: Midjourney makes four of each: the images of a grid and the clips of a video, numbered 1 to 4 as members count.
GRID_SIZE: Final = 4

#: Follow-ups offered on a grid (generate, variationN, reroll).
GRID_ACTIONS: tuple[str, ...] = (
    "upscale1",
    "upscale2",
    "upscale3",
    "upscale4",
    "reroll",
    "variation1",
    "variation2",
    "variation3",
    "variation4",
)
#: Follow-ups offered on an upscaled single image.
UPSCALED_ACTIONS: tuple[str, ...] = (
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
)

JsonObject = dict[str, Any]


class Endpoint(enum.StrEnum):
    """The API paths the bot uses."""

    IMAGINE = "/midjourney/imagine"
    VIDEOS = "/midjourney/videos"
    TASKS = "/midjourney/tasks"


@dataclass(frozen=True, slots=True)
class VideoGenerate:
    """Animate a start frame (``/midjourney/videos``, action ``generate``)."""

    prompt: str
    image_url: str
    end_image_url: str | None = None
    loop: bool = False
    mode: VideoMode = "fast"
    resolution: Resolution = "720p"

    endpoint = Endpoint.VIDEOS
    action = "generate"

    def to_body(self) -> JsonObject:
        body: JsonObject = {
            "action": "generate",
            "prompt": self.prompt,
            "image_url": self.image_url,
            "loop": self.loop,
            "mode": self.mode,
            "resolution": self.resolution,
        }
        if self.end_image_url:
            body["end_image_url"] = self.end_image_url
        return body


@dataclass(frozen=True, slots=True)
class VideoExtend:
    """Extend one of the four clips of an earlier video (``video_index`` is 0-based)."""

    video_id: str
    video_index: int
    prompt: str | None = None
    mode: VideoMode = "fast"
    resolution: Resolution | None = None
    end_image_url: str | None = None

    endpoint = Endpoint.VIDEOS
    action = "extend"

    def to_body(self) -> JsonObject:
        body: JsonObject = {
            "action": "extend",
            "video_id": self.video_id,
            "video_index": self.video_index,
            "mode": self.mode,
        }
        if self.prompt:
            body["prompt"] = self.prompt
        if self.resolution:
            body["resolution"] = self.resolution
        if self.end_image_url:
            body["end_image_url"] = self.end_image_url
        return body


@dataclass(frozen=True, slots=True)
class ImagineGenerate:
    """Make a 2x2 grid from a prompt (``/midjourney/imagine``, action ``generate``)."""

    prompt: str
    mode: ImagineMode = "fast"
    translation: bool = False
    split_images: bool = False

    endpoint = Endpoint.IMAGINE
    action = "generate"

    def to_body(self) -> JsonObject:
        body: JsonObject = {"action": "generate", "prompt": self.prompt, "mode": self.mode}
        if self.translation:
            body["translation"] = True
        if self.split_images:
            body["split_images"] = True
        return body


@dataclass(frozen=True, slots=True)
class ImagineAction:
    """A follow-up on an earlier image (upscaleN, variationN, reroll, zoom, pan, ...)."""

    action_name: str
    image_id: str
    prompt: str | None = None
    mode: ImagineMode = "fast"

    endpoint = Endpoint.IMAGINE

    @property
    def action(self) -> str:
        return self.action_name

    def to_body(self) -> JsonObject:
        body: JsonObject = {"action": self.action_name, "image_id": self.image_id, "mode": self.mode}
        if self.prompt:
            body["prompt"] = self.prompt
        return body


ApiRequest = VideoGenerate | VideoExtend | ImagineGenerate | ImagineAction


class TaskStatus(enum.StrEnum):
    """Where a task stands, as read from a task record or a callback."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# TaskResult and TaskRecord are named tuples rather than frozen dataclasses: a poll tick builds two of
# them for each of a thousand tasks, and a frozen dataclass sets every field through object.__setattr__,
# which makes building one several times slower than building a tuple of the same fields.


class TaskResult(NamedTuple):
    """The ``response`` object of a task: what the synchronous call or the callback returns."""

    task_id: str | None
    success: bool | None
    progress: int | None = None
    image_id: str | None = None
    image_url: str | None = None
    image_width: int | None = None
    image_height: int | None = None
    raw_image_url: str | None = None
    raw_image_width: int | None = None
    raw_image_height: int | None = None
    sub_image_urls: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    video_id: str | None = None
    video_urls: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None

    @property
    def status(self) -> TaskStatus:
        if self.success is True:
            # ndjson lines and per-progress callbacks say success: true long before the end.
            if self.progress is not None and self.progress < 100:
                return TaskStatus.RUNNING
            return TaskStatus.SUCCEEDED
        if self.success is False or self.error_code is not None:
            return TaskStatus.FAILED
        return TaskStatus.RUNNING

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> TaskResult:
        # Only the keys present are converted: a progress snapshot has two or three, and a poll parses
        # a thousand snapshots per tick.
        fields: dict[str, Any] = {}
        for key, value in data.items():
            convert = _RESULT_FIELDS.get(key)
            if convert is not None and value is not None:
                fields[key] = convert(value)
        error = data.get("error")
        if error is not None and _is_mapping(error):
            fields["error_code"] = _opt_str(error.get("code")) or "unknown"
            fields["error_message"] = _opt_str(error.get("message"))
        success = data.get("success")
        return cls(fields.pop("task_id", None), success if success is True or success is False else None, **fields)


_FAILED_STATES = frozenset({"failed", "error", "cancelled", "canceled"})
_NO_REQUEST: Final[Mapping[str, Any]] = MappingProxyType({})


class TaskRecord(NamedTuple):
    """One entry of ``/midjourney/tasks``: a task and, once it has one, its result."""

    task_id: str
    type: str | None
    trace_id: str | None
    created_at: float | None
    started_at: float | None = None
    finished_at: float | None = None
    elapsed: float | None = None
    result: TaskResult | None = None
    state: str | None = None
    request: Mapping[str, Any] = _NO_REQUEST  # read-only

    @property
    def status(self) -> TaskStatus:
        if self.state and self.state.lower() in _FAILED_STATES:
            return TaskStatus.FAILED
        if self.result is None:
            return TaskStatus.RUNNING
        return self.result.status

    @property
    def progress(self) -> int | None:
        return self.result.progress if self.result else None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> TaskRecord | None:
        """Parse a record; ``None`` for the ``{}`` that an unknown id returns.

        ``request`` is a read-only view of the record's own request object, not a copy: it is only read
        (to reconcile), and a poll need not copy a thousand of them.
        """
        get = data.get
        task_id = _opt_str(get("id")) or _opt_str(get("task_id"))
        if not task_id:
            return None
        elapsed = _opt_float(get("elapsed"))
        if elapsed is None:
            elapsed = _opt_float(get("duration"))
        response = get("response")
        result = TaskResult.parse(response) if response and _is_mapping(response) else None
        request = get("request")
        view: Mapping[str, Any]
        if type(request) is dict:
            view = MappingProxyType(request)
        else:
            view = MappingProxyType(dict(request)) if _is_mapping(request) else _NO_REQUEST
        return cls(
            task_id,
            _opt_str(get("type")),
            _opt_str(get("trace_id")),
            _opt_float(get("created_at")),
            _opt_float(get("started_at")),
            _opt_float(get("finished_at")),
            elapsed,
            result,
            _opt_str(get("state")),
            view,
        )


# The converters check the type the API actually sends first: these run for every key of every record.


def _opt_str(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None:
        return None
    text = str(value)
    return text or None


def _opt_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _opt_float(value: Any) -> float | None:
    if type(value) is float:
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _str_tuple(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        return ()
    return tuple(item if type(item) is str else str(item) for item in value if item)


_Converter = Callable[[Any], Any]
#: TaskResult's fields taken straight from the key of the same name, and how each is read.
_RESULT_FIELDS: Final[dict[str, _Converter]] = {
    "task_id": _opt_str,
    "progress": _opt_int,
    "image_id": _opt_str,
    "image_url": _opt_str,
    "image_width": _opt_int,
    "image_height": _opt_int,
    "raw_image_url": _opt_str,
    "raw_image_width": _opt_int,
    "raw_image_height": _opt_int,
    "sub_image_urls": _str_tuple,
    "actions": _str_tuple,
    "video_id": _opt_str,
    "video_urls": _str_tuple,
}


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, without the ABC machinery for the dict that JSON gives."""
    return type(value) is dict or isinstance(value, Mapping)
