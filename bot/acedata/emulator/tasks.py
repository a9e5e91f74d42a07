"""Emulated tasks: what each one will produce, and the JSON shapes the API returns for it."""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from bot.acedata.models import GRID_SIZE, TaskStatus

from .media import CLIP_SIDE, Picture, Rgb

TaskType = Literal["imagine", "videos"]
Delivery = Literal["async", "callback", "hold", "stream"]

#: Progress snapshots per task (streams and ndjson callbacks): at 0, 20, 40, 60 and 80 %.
PROGRESS_STEPS = 5
FINAL_STEP = PROGRESS_STEPS
_SIZE_FIELDS = ("image_width", "image_height", "raw_image_width", "raw_image_height")


@dataclass(frozen=True, slots=True)
class ImageOutput:
    """The picture an imagine task produces: a grid, or an upscaled single image."""

    image_id: str
    grid: bool
    actions: tuple[str, ...]
    colours: tuple[Rgb, ...]
    size: tuple[int, int]
    raw_size: tuple[int, int]
    split_images: bool = False


@dataclass(frozen=True, slots=True)
class VideoOutput:
    """The four clips a video task produces, as indexes into the shipped clips."""

    video_id: str
    clips: tuple[int, int, int, int]
    cover: Rgb


@dataclass(frozen=True, slots=True)
class CallbackDelivery:
    """One callback POST as it went: the payload, the receiver's status (``None``: no answer)."""

    payload: Mapping[str, Any]
    status: int | None
    attempts: int
    delivered: bool


@dataclass(eq=False)
class Task:
    """One accepted task. Its state up to the end is a function of the clock."""

    id: str
    type: TaskType
    action: str
    trace_id: str
    request: dict[str, Any]
    created_at: float
    duration: float
    delivery: Delivery
    media_base: str
    output: ImageOutput | VideoOutput
    planned_error: tuple[str, str] | None = None
    callback_url: str | None = None
    callback_progress: bool = False
    finished_at: float | None = None
    response: dict[str, Any] | None = None
    callbacks: list[CallbackDelivery] = field(default_factory=list)
    watchers: list[asyncio.Queue[dict[str, Any]]] = field(default_factory=list)

    @property
    def due_at(self) -> float:
        return self.created_at + self.duration

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def succeeded(self) -> bool:
        return self.response is not None and self.response.get("success") is True

    def step_time(self, step: int) -> float:
        return self.created_at + self.duration * step / PROGRESS_STEPS

    def progress_at(self, now: float) -> int:
        if self.finished:
            return 100
        if self.duration <= 0:
            return 99
        return max(0, min(99, int(100 * (now - self.created_at) / self.duration)))

    # -- JSON shapes ---------------------------------------------------------------------------

    def image_url(self, name: str) -> str:
        return f"{self.media_base}/media/images/{self.id}/{name}"

    def video_url(self, name: str) -> str:
        return f"{self.media_base}/media/videos/{self.id}/{name}"

    def snapshot(self, progress: int) -> dict[str, Any]:
        """An in-flight line of a stream (or ndjson callback)."""
        line: dict[str, Any] = {"success": True, "task_id": self.id, "progress": progress}
        if self.type == "imagine":
            line["image_url"] = self.image_url("preview.png")
            line["actions"] = []
        else:
            line["video_urls"] = []
        return line

    def final_response(self, success: bool, error: tuple[str, str]) -> dict[str, Any]:
        if not success:
            code, message = error
            return {"success": False, "task_id": self.id, "error": {"code": code, "message": message}}
        output = self.output
        if isinstance(output, VideoOutput):
            return {
                "success": True,
                "task_id": self.id,
                "video_id": output.video_id,
                "progress": 100,
                "image_url": self.video_url("cover.png"),
                "image_width": CLIP_SIDE,
                "image_height": CLIP_SIDE,
                "video_urls": [self.video_url(f"{index}.mp4") for index in range(GRID_SIZE)],
            }
        response: dict[str, Any] = {
            "success": True,
            "task_id": self.id,
            "image_id": output.image_id,
            "progress": 100,
            "image_url": self.image_url("image.png"),
            "image_width": output.size[0],
            "image_height": output.size[1],
            "raw_image_url": self.image_url("raw.png"),
            "raw_image_width": output.raw_size[0],
            "raw_image_height": output.raw_size[1],
            "actions": list(output.actions),
        }
        if output.grid and output.split_images:
            response["sub_image_urls"] = [self.image_url(f"{n}.png") for n in range(1, GRID_SIZE + 1)]
        return response

    def record(self, now: float, *, legacy: bool) -> dict[str, Any]:
        """The task as ``/midjourney/tasks`` returns it."""
        if self.response is not None:
            response = present(self.response, legacy=legacy)
        else:
            response = {"task_id": self.id, "progress": self.progress_at(now)}
        elapsed = None if self.finished_at is None else round(self.finished_at - self.created_at, 3)
        return {
            "id": self.id,
            "type": self.type,
            "trace_id": self.trace_id,
            "request": self.request,
            "response": response,
            "created_at": self.created_at,
            "started_at": self.created_at,
            "finished_at": self.finished_at,
            "duration" if legacy else "elapsed": elapsed,
        }

    def picture(self, name: str) -> Picture | None:
        """What ``/media/images/<id>/<name>`` or ``/media/videos/<id>/<name>`` shows, if it exists now."""
        output = self.output
        if name == "preview.png":
            if self.finished or not isinstance(output, ImageOutput):
                return None  # previews are temporary: gone once the task ends
            width, height = output.size
            return Picture(tuple(_dim(c) for c in output.colours), width, height)
        if not self.succeeded:
            return None
        if isinstance(output, VideoOutput):
            return Picture((output.cover,), CLIP_SIDE, CLIP_SIDE) if name == "cover.png" else None
        if name in ("image.png", "raw.png"):
            width, height = output.size if name == "image.png" else output.raw_size
            return Picture(output.colours, width, height)
        if output.grid and output.split_images and name in ("1.png", "2.png", "3.png", "4.png"):
            width, height = output.size
            return Picture((output.colours[int(name[0]) - 1],), width // 2, height // 2)
        return None

    def clip_for(self, name: str) -> int | None:
        """Which shipped clip ``/media/videos/<id>/<name>`` is, once the task succeeded."""
        output = self.output
        if not isinstance(output, VideoOutput) or not self.succeeded:
            return None
        if name in ("0.mp4", "1.mp4", "2.mp4", "3.mp4"):
            return output.clips[int(name[0])]
        return None

    def view(self, now: float) -> TaskView:
        if self.response is None:
            status = TaskStatus.RUNNING
        else:
            status = TaskStatus.SUCCEEDED if self.succeeded else TaskStatus.FAILED
        output = self.output
        return TaskView(
            id=self.id,
            type=self.type,
            action=self.action,
            delivery=self.delivery,
            status=status,
            progress=self.progress_at(now),
            request=MappingProxyType(self.request),
            response=None if self.response is None else MappingProxyType(self.response),
            created_at=self.created_at,
            due_at=self.due_at,
            finished_at=self.finished_at,
            callbacks=tuple(self.callbacks),
            image_id=output.image_id if isinstance(output, ImageOutput) else None,
            video_id=output.video_id if isinstance(output, VideoOutput) else None,
        )


@dataclass(frozen=True, slots=True)
class TaskView:
    """A read-only snapshot of a task, for assertions."""

    id: str
    type: TaskType
    action: str
    delivery: Delivery
    status: TaskStatus
    progress: int
    request: Mapping[str, Any]
    response: Mapping[str, Any] | None
    created_at: float
    due_at: float
    finished_at: float | None
    callbacks: tuple[CallbackDelivery, ...]
    #: The image or video id the task issues (or will issue, if it succeeds).
    image_id: str | None
    video_id: str | None


def present(response: Mapping[str, Any], *, legacy: bool) -> dict[str, Any]:
    """A result as sent to a client; with ``legacy`` the sizes become strings."""
    shown = dict(response)
    if legacy:
        for key in _SIZE_FIELDS:
            if key in shown:
                shown[key] = str(shown[key])
    return shown


def _dim(colour: Rgb) -> Rgb:
    r, g, b = colour
    return (r // 2 + 40, g // 2 + 40, b // 2 + 40)


class TaskStore:
    """Tasks by id, by trace id and by creation time, plus the image and video ids they issue."""

    def __init__(self) -> None:
        self._by_id: dict[str, Task] = {}
        self._by_trace: dict[str, Task] = {}
        self._ordered: list[Task] = []
        self._created: list[float] = []
        self._images: dict[str, Task] = {}
        self._videos: dict[str, Task] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Task]:
        return iter(self._ordered)

    def add(self, task: Task) -> None:
        self._by_id[task.id] = task
        self._by_trace[task.trace_id] = task
        at = bisect.bisect_right(self._created, task.created_at)
        self._created.insert(at, task.created_at)
        self._ordered.insert(at, task)
        if isinstance(task.output, ImageOutput):
            self._images[task.output.image_id] = task
        else:
            self._videos[task.output.video_id] = task

    def get(self, task_id: str) -> Task | None:
        return self._by_id.get(task_id)

    def by_trace(self, trace_id: str) -> Task | None:
        return self._by_trace.get(trace_id)

    def image_owner(self, image_id: str) -> Task | None:
        """The task that issues ``image_id`` (which exists only once that task succeeded)."""
        return self._images.get(image_id)

    def video_owner(self, video_id: str) -> Task | None:
        return self._videos.get(video_id)

    def has_media_id(self, media_id: str) -> bool:
        return media_id in self._images or media_id in self._videos

    def created_between(self, low: float | None, high: float | None) -> list[Task]:
        """Tasks created in ``[low, high]``, oldest first."""
        start = 0 if low is None else bisect.bisect_left(self._created, low)
        end = len(self._created) if high is None else bisect.bisect_right(self._created, high)
        return self._ordered[start:end]
