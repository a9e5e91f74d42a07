"""The emulator's tasks in a JSON file, so a restarted sandbox still knows the jobs a bot's store holds.

Writes are coalesced (at most one per ``SAVE_INTERVAL_S``; the first change after a quiet spell is
written at once) and atomic: a temporary file in the same folder, fsync, then ``os.replace``. The
file is encoded on the event loop but written from a worker thread, so a large file never stalls
the loop. A file that cannot be read is moved aside as ``<name>.corrupt`` and the emulator starts
empty: losing emulated tasks is better than a sandbox that will not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .media import Rgb
from .tasks import CallbackDelivery, Delivery, ImageOutput, Task, TaskType, VideoOutput

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
#: Shortest time between two writes of the file.
SAVE_INTERVAL_S = 0.5
_TYPES: tuple[TaskType, ...] = ("imagine", "videos")
_DELIVERIES: tuple[Delivery, ...] = ("async", "callback", "hold", "stream")
_T = TypeVar("_T")


class StateFileError(ValueError):
    """The file exists but does not hold tasks this version can read."""


class StateFile:
    """Loads the tasks once, then saves them (from ``tasks()``) a little after each ``touch``."""

    def __init__(self, path: Path, tasks: Callable[[], Iterable[Task]], *, interval_s: float = SAVE_INTERVAL_S) -> None:
        self.path = path
        self._tasks = tasks
        self._interval_s = interval_s
        #: How many times the file was written: a burst of changes costs one write per interval.
        self.saves = 0
        self._dirty = False
        self._last_write = -float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Task[None] | None = None

    def load(self, *, set_aside: bool = True) -> list[Task]:
        """The saved tasks; none when there is no file, or when it is unreadable (then set aside, unless the file
        is someone else's: a reader that only looks leaves it alone)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            log.info("emulator: no state file at %s yet; starting with no tasks", self.path)
            return []
        except OSError as exc:
            return self._set_aside(f"it cannot be read ({exc})") if set_aside else []
        try:
            return decode_state(json.loads(raw))
        except ValueError as exc:  # StateFileError, JSONDecodeError and UnicodeDecodeError are all ValueErrors
            if not set_aside:
                log.warning("emulator: state file %s is unusable (%s); its tasks are not served", self.path, exc)
                return []
            return self._set_aside(str(exc))

    def _set_aside(self, reason: str) -> list[Task]:
        corrupt = self.path.with_name(self.path.name + ".corrupt")
        try:
            os.replace(self.path, corrupt)
        except OSError as exc:
            log.warning(
                "emulator: state file %s is unusable: %s; could not move it aside (%s); starting with no tasks",
                self.path,
                reason,
                exc,
            )
        else:
            log.warning(
                "emulator: state file %s is unusable: %s; moved it to %s and starting with no tasks",
                self.path,
                reason,
                corrupt,
            )
        return []

    def touch(self) -> None:
        """Note a change; it reaches the file within ``interval_s`` (or at ``close``)."""
        self._dirty = True
        if self._timer is not None or self._writing is not None:
            return  # a write is planned or under way; it (or the one after it) takes this change
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # outside the event loop: the next change, or close(), writes it
        delay = max(0.0, self._last_write + self._interval_s - time.monotonic())
        self._timer = loop.call_later(delay, self._start_write)

    async def flush(self) -> None:
        """Write now if anything changed since the last write (after a write under way)."""
        if self._writing is not None:
            await asyncio.shield(self._writing)
        self._cancel_timer()
        if self._dirty:
            self._writing = asyncio.get_running_loop().create_task(self._write(), name="emulator-state-save")
            await asyncio.shield(self._writing)

    async def close(self) -> None:
        """Write what is left and plan no more writes (a later ``touch`` plans them again)."""
        await self.flush()
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_write(self) -> None:
        self._timer = None
        self._writing = asyncio.get_running_loop().create_task(self._write(), name="emulator-state-save")

    async def _write(self) -> None:
        self._dirty = False
        try:
            payload = {"version": FORMAT_VERSION, "tasks": [encode_task(task) for task in self._tasks()]}
            await asyncio.to_thread(write_atomically, self.path, payload)
        except (OSError, TypeError, ValueError) as exc:
            self._dirty = True  # kept for the next change or close(); no retry loop against a full disk
            log.warning("emulator: could not save the tasks to %s: %s", self.path, exc)
            return
        finally:
            self._last_write = time.monotonic()
            self._writing = None
        self.saves += 1
        if self._dirty and self._timer is None:  # changed while writing: write again, one interval on
            self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._start_write)


def write_atomically(path: Path, payload: Mapping[str, Any]) -> None:
    """Replace ``path`` with ``payload`` as JSON, so that a reader sees the old file or the new one, whole."""
    data = json.dumps(payload, separators=(",", ":")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable, where the platform allows it
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


# -- encoding -------------------------------------------------------------------------------------


def encode_task(task: Task) -> dict[str, Any]:
    """A task as plain JSON (its waiters are not kept: no held request or stream outlives the process)."""
    output = task.output
    if isinstance(output, ImageOutput):
        encoded_output: dict[str, Any] = {
            "kind": "image",
            "image_id": output.image_id,
            "grid": output.grid,
            "actions": list(output.actions),
            "colours": [list(colour) for colour in output.colours],
            "size": list(output.size),
            "raw_size": list(output.raw_size),
            "split_images": output.split_images,
        }
    else:
        encoded_output = {
            "kind": "video",
            "video_id": output.video_id,
            "clips": list(output.clips),
            "cover": list(output.cover),
        }
    return {
        "id": task.id,
        "type": task.type,
        "action": task.action,
        "trace_id": task.trace_id,
        "request": task.request,
        "created_at": task.created_at,
        "duration": task.duration,
        "delivery": task.delivery,
        "media_base": task.media_base,
        "output": encoded_output,
        "planned_error": None if task.planned_error is None else list(task.planned_error),
        "callback_url": task.callback_url,
        "callback_progress": task.callback_progress,
        "finished_at": task.finished_at,
        "response": task.response,
        "callbacks": [
            {"payload": dict(c.payload), "status": c.status, "attempts": c.attempts, "delivered": c.delivered}
            for c in task.callbacks
        ],
    }


def decode_state(data: Any) -> list[Task]:
    """The tasks of a parsed state file; ``StateFileError`` names the first thing wrong with it."""
    top = _Fields(data, "the file")
    version = top.value("version", int)
    if version != FORMAT_VERSION:
        raise StateFileError(f"format version {version!r} is not supported (expected {FORMAT_VERSION})")
    entries = top.value("tasks", list)
    return [decode_task(entry, f"task #{number}") for number, entry in enumerate(entries, 1)]


def decode_task(data: Any, where: str = "a task") -> Task:
    fields = _Fields(data, where)
    task_type = fields.value("type", str)
    delivery = fields.value("delivery", str)
    if task_type not in _TYPES or delivery not in _DELIVERIES:
        raise StateFileError(f"{where} has an unknown type or delivery ({task_type!r}, {delivery!r})")
    planned = fields.optional("planned_error", list)
    if planned is not None and (len(planned) != 2 or not all(isinstance(part, str) for part in planned)):
        raise StateFileError(f"{where}: planned_error must be [code, message]")
    output = _Fields(fields.value("output", dict), f"the output of {where}")
    return Task(
        id=fields.value("id", str),
        type=task_type,
        action=fields.value("action", str),
        trace_id=fields.value("trace_id", str),
        request=fields.value("request", dict),
        created_at=fields.number("created_at"),
        duration=fields.number("duration"),
        delivery=delivery,
        media_base=fields.value("media_base", str),
        output=_decode_output(output),
        planned_error=None if planned is None else (planned[0], planned[1]),
        callback_url=fields.optional("callback_url", str),
        callback_progress=fields.value("callback_progress", bool),
        finished_at=fields.optional_number("finished_at"),
        response=fields.optional("response", dict),
        callbacks=[_decode_callback(entry, where) for entry in fields.value("callbacks", list)],
    )


def _decode_output(output: _Fields) -> ImageOutput | VideoOutput:
    kind = output.value("kind", str)
    if kind == "image":
        colours = tuple(_rgb(colour, output.where) for colour in output.value("colours", list))
        if len(colours) not in (1, 4):
            raise StateFileError(f"{output.where} must have 1 or 4 colours")
        return ImageOutput(
            image_id=output.value("image_id", str),
            grid=output.value("grid", bool),
            actions=tuple(_strings(output.value("actions", list), output.where)),
            colours=colours,
            size=_pair(output.value("size", list), output.where),
            raw_size=_pair(output.value("raw_size", list), output.where),
            split_images=output.value("split_images", bool),
        )
    if kind == "video":
        clips = output.value("clips", list)
        if len(clips) != 4 or not all(_is_int(clip) and 0 <= clip < 4 for clip in clips):
            raise StateFileError(f"{output.where}: clips must be four indexes 0-3")
        return VideoOutput(
            video_id=output.value("video_id", str),
            clips=(clips[0], clips[1], clips[2], clips[3]),
            cover=_rgb(output.value("cover", list), output.where),
        )
    raise StateFileError(f"{output.where} has an unknown kind {kind!r}")


def _decode_callback(data: Any, where: str) -> CallbackDelivery:
    fields = _Fields(data, f"a callback of {where}")
    status = fields.optional("status", int)
    return CallbackDelivery(
        payload=fields.value("payload", dict),
        status=status,
        attempts=fields.value("attempts", int),
        delivered=fields.value("delivered", bool),
    )


class _Fields:
    """Typed reads of one JSON object, each failing with a message that says where."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise StateFileError(f"{where} is not a JSON object")
        self._data: dict[str, Any] = data
        self.where = where

    def value(self, key: str, kind: type[_T]) -> _T:
        value = self._data.get(key)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise StateFileError(f"{self.where}: {key} is missing or not a {kind.__name__}")
        return value

    def optional(self, key: str, kind: type[_T]) -> _T | None:
        return None if self._data.get(key) is None else self.value(key, kind)

    def optional_number(self, key: str) -> float | None:
        return None if self._data.get(key) is None else self.number(key)

    def number(self, key: str) -> float:
        value = self._data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StateFileError(f"{self.where}: {key} is missing or not a number")
        return float(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: list[Any], where: str) -> tuple[int, int]:
    if len(value) != 2 or not all(_is_int(part) and part > 0 for part in value):
        raise StateFileError(f"{where}: a size must be two positive integers")
    return value[0], value[1]


def _rgb(value: Any, where: str) -> Rgb:
    if not isinstance(value, list) or len(value) != 3 or not all(_is_int(c) and 0 <= c <= 255 for c in value):
        raise StateFileError(f"{where}: a colour must be three integers 0-255")
    return value[0], value[1], value[2]


def _strings(value: list[Any], where: str) -> list[str]:
    if not all(isinstance(item, str) for item in value):
        raise StateFileError(f"{where}: actions must be strings")
    return value
